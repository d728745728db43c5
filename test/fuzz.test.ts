// The package fuzzes itself: seeded mutations of the real files it reads (WAV, npy/npz, Bark
// voices, safetensors headers and whole components, model.json, PyTorch zip and pickle files,
// vocab files) and of API options. Every outcome must be a result or an ERR_AUDIOLM_* error: an
// uncoded error, a hang (a case over HANG_MS) or a crash (native loads run in a child process,
// whose death by a signal names the case) fails the suite.
//
// Budget: AUDIOLM_FUZZ_CASES (default 2000 in all, shared by the formats) and AUDIOLM_FUZZ_SEED
// (default 20261208); a longer run is `AUDIOLM_FUZZ_CASES=50000 npx vitest run test/fuzz.test.ts`.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { AudioLMError } from "../lib/errors.js";
import { decodeNpy, decodeNpz } from "../lib/formats/npy.js";
import { decodeSafetensors, parseSafetensorsHeader } from "../lib/formats/safetensors.js";
import { parseTorchCheckpoint } from "../lib/formats/torch-checkpoint.js";
import { decodeWav } from "../lib/formats/wav.js";
import { Codec } from "../lib/models/codec.js";
import { parseModelJson } from "../lib/models/model-json.js";
import { WordPieceTokenizer } from "../lib/models/wordpiece.js";
import { tempDir } from "./helpers.js";
import { mutateBytes, mutateJson, rng } from "./fuzz/mutate.js";

const ROOT = join(import.meta.dirname, "..");
const FIX = join(ROOT, "test", "fixtures");
const TOTAL = Number(process.env.AUDIOLM_FUZZ_CASES ?? 2000);
const SEED = Number(process.env.AUDIOLM_FUZZ_SEED ?? 20261208);
const HANG_MS = 5000;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Outcomes of one format's cases, printed at the end. */
const report: Array<{ format: string; cases: number; ok: number; coded: number; ms: number }> = [];
afterAll(() => {
  console.log(`fuzz (seed ${SEED}, ${TOTAL} cases in all):`);
  for (const r of report) console.log(`  ${r.format.padEnd(22)} ${String(r.cases).padStart(5)} cases: ${r.ok} results, ${r.coded} coded errors, ${r.ms.toFixed(0)} ms`);
});

const share = (weight: number) => Math.max(1, Math.round(TOTAL * weight));
const files = (dir: string, ext: RegExp) => readdirSync(dir).filter((f) => ext.test(f)).map((f) => join(dir, f));

/**
 * Runs `cases` mutations of the seed inputs through `parse`; returns the failures (uncoded errors
 * and hangs), each with what reproduces it.
 */
async function fuzz<T>(format: string, seeds: T[], cases: number, mutate: (x: T, r: () => number) => T, parse: (x: T) => unknown) {
  const r = rng(SEED ^ hash(format));
  const failures: string[] = [];
  let ok = 0, coded = 0;
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const input = mutate(seeds[i % seeds.length]!, r);
    const c0 = performance.now();
    try {
      await parse(input);
      ok++;
    } catch (err) {
      if (err instanceof AudioLMError && err.code.startsWith("ERR_AUDIOLM_")) coded++;
      else failures.push(`case ${i}: uncoded ${(err as Error)?.name}: ${(err as Error)?.message?.slice(0, 160)}`);
    }
    const ms = performance.now() - c0;
    if (ms > HANG_MS) failures.push(`case ${i}: took ${ms.toFixed(0)} ms (a hang)`);
  }
  report.push({ format, cases, ok, coded, ms: performance.now() - t0 });
  return failures;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

const bytes = (paths: string[]) => paths.map((p) => new Uint8Array(readFileSync(p)));

describe("fuzz: every outcome is a result or a coded error", () => {
  it("counts an uncoded error as a failure (the check can fail)", async () => {
    const thrower = () => {
      throw new TypeError("not coded");
    };
    const failures = await fuzz("(harness check)", [new Uint8Array(8)], 3, mutateBytes, thrower);
    expect(failures).toHaveLength(3);
    expect(failures[0]).toMatch(/uncoded TypeError: not coded/);
  });

  it("WAV", async () => {
    const seeds = bytes([...files(join(FIX, "io"), /\.wav$/), join(ROOT, "examples", "low-male.wav")]).map((b) => b.subarray(0, 64 * 1024));
    expect(await fuzz("wav", seeds, share(0.15), mutateBytes, (b) => decodeWav(b, { sampleRate: 16000 }))).toEqual([]);
  });

  it("npy, npz and Bark voices", async () => {
    const npy = bytes(files(join(FIX, "io"), /\.npy$/));
    const npz = bytes([...files(join(FIX, "io"), /\.npz$/), join(FIX, "checkpoint", "arrays.npz"), join(FIX, "bark_generation", "voice.npz")]);
    expect(await fuzz("npy", npy, share(0.1), mutateBytes, (b) => decodeNpy(b))).toEqual([]);
    expect(await fuzz("npz", npz, share(0.1), mutateBytes, (b) => decodeNpz(b))).toEqual([]);
  });

  it("safetensors headers and files", async () => {
    const seeds = bytes([join(ROOT, "models", "default", "semantic-tokenizer.safetensors"), join(FIX, "transformer", "gpt_learned", "model.safetensors")]);
    expect(await fuzz("safetensors header", seeds, share(0.1), mutateBytes, (b) => parseSafetensorsHeader(b, "fuzz", b.length))).toEqual([]);
    expect(await fuzz("safetensors", seeds, share(0.05), mutateBytes, (b) => decodeSafetensors(b))).toEqual([]);
  });

  it("model.json", async () => {
    const seeds = [JSON.parse(readFileSync(join(ROOT, "models", "default", "model.json"), "utf8"))];
    expect(await fuzz("model.json", seeds, share(0.1), mutateJson, (j) => parseModelJson(j))).toEqual([]);
  });

  it("PyTorch zip and pickle files", async () => {
    const seeds = bytes([...files(join(FIX, "checkpoint"), /\.(pt|pkl)$/).filter((p) => !/big_archive/.test(p)), join(FIX, "bark", "coarse.pt")]);
    expect(await fuzz("torch / pickle", seeds, share(0.15), mutateBytes, (b) => parseTorchCheckpoint(b))).toEqual([]);
  });

  it("vocab files", async () => {
    const seeds = [readFileSync(join(FIX, "bark_generation", "vocab.txt"))].map((b) => new Uint8Array(b));
    const parse = (b: Uint8Array) => WordPieceTokenizer.fromVocabText(new TextDecoder().decode(b)).encode("hello world, ünïcode 12");
    expect(await fuzz("vocab", seeds, share(0.05), mutateBytes, parse)).toEqual([]);
  });

  it("API options", async () => {
    await using codec = await Codec.load(join(ROOT, "models", "default", "codec.safetensors"));
    const wav = new Float32Array(1600).map((_, i) => Math.sin(i / 9) * 0.3);
    const seeds = [{ bandwidth: 1.5 }, { quantizers: 2, sampleRate: 16000 }, { lengths: [1600] }];
    const call = async (o: unknown) => {
      const codes = await codec.encode(wav, o as never);
      await codec.decode(codes, o as never);
    };
    expect(await fuzz("codec options", seeds, share(0.05), mutateJson as (x: unknown, r: () => number) => never, call)).toEqual([]);
  });

  it("whole components through the native loaders (a child process sees any crash)", () => {
    const kinds = [
      { kind: "tokenizer", seed: join(ROOT, "models", "default", "semantic-tokenizer.safetensors") },
      { kind: "transformer", seed: join(FIX, "transformer", "gpt_learned", "model.safetensors") },
      { kind: "codec", seed: join(FIX, "encodec", "causal", "engine.safetensors") },
    ];
    const failures: string[] = [];
    for (const { kind, seed } of kinds) {
      const r = rng(SEED ^ hash(kind));
      const src = new Uint8Array(readFileSync(seed));
      const n = share(0.05);
      const paths = Array.from({ length: n }, (_, i) => {
        const p = join(tmp.dir, `${kind}-${i}.safetensors`);
        writeFileSync(p, mutateBytes(src, r));
        return p;
      });
      const t0 = performance.now();
      const child = spawnSync(process.execPath, [join(ROOT, "test", "fuzz", "native-child.mjs"), kind, ...paths], {
        encoding: "utf8",
        timeout: HANG_MS * n + 60_000,
        env: { ...process.env, AUDIOLM_THREADS: "1" },
      });
      const lines = child.stdout.split("\n").filter(Boolean);
      const outcomes = lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { i: number; outcome: string; code?: string; message?: string });
      const last = lines.filter((l) => l.startsWith("start ")).pop();
      if (child.signal || child.status !== 0) failures.push(`${kind}: the child ended with ${child.signal ?? `status ${child.status}`} at ${last} (${paths[Number(last?.slice(6))]}): ${child.stderr.slice(-300)}`);
      for (const o of outcomes) if (o.outcome === "uncoded") failures.push(`${kind} case ${o.i}: uncoded ${o.message}`);
      report.push({ format: `native ${kind}`, cases: outcomes.length, ok: outcomes.filter((o) => o.outcome === "ok").length, coded: outcomes.filter((o) => o.outcome === "coded").length, ms: performance.now() - t0 });
      if (outcomes.length !== n && !failures.length) failures.push(`${kind}: ${outcomes.length} of ${n} outcomes came back`);
    }
    expect(failures).toEqual([]);
  }, 600_000);
});
