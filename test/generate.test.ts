// End-to-end generation on small random models: the CLI, the three modes, determinism, batch
// independence, range restriction, abort, concurrency, a free event loop, streaming, the
// token-level entry points and argument validation.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AudioLM, type GenerateResult } from "../lib/models/audiolm.js";
import { AudioLMError } from "../lib/errors.js";
import { parseModelJson } from "../lib/models/model-json.js";
import { decodeNpy } from "../lib/formats/npy.js";
import { coarseLayout, coarseOrigin, coarsePrompt, coarseRanges, emptyCodes } from "../lib/models/stages.js";
import { Transformer } from "../lib/models/transformer.js";
import { decodeWav, encodeWav } from "../lib/formats/wav.js";
import { relL2, tempDir } from "./helpers.js";
import { makeRandomModel } from "./make-random-model.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const K = 32;
const C = 64;
const SR = 16000;
const tmp = tempDir("audiolm-generate-");
const dirs = { ar: join(tmp.dir, "ar"), nc: join(tmp.dir, "nc"), big: join(tmp.dir, "big"), dedupe: join(tmp.dir, "dedupe") };
let lm: AudioLM;
let big: AudioLM;

beforeAll(async () => {
  await Promise.all([
    makeRandomModel(dirs.ar),
    makeRandomModel(dirs.nc, { fineMode: "nonCausal", seed: 2 }),
    makeRandomModel(dirs.big, { dim: 256, layers: 4, seed: 3 }),
    makeRandomModel(dirs.dedupe, { dedupe: true, seed: 4 }),
  ]);
  [lm, big] = await Promise.all([AudioLM.load(dirs.ar), AudioLM.load(dirs.big)]);
});
afterAll(async () => {
  await Promise.all([lm?.dispose(), big?.dispose()]);
  tmp.cleanup();
});

async function rejection(p: Promise<unknown>): Promise<AudioLMError> {
  try {
    await p;
  } catch (err) {
    return err as AudioLMError;
  }
  throw new Error("expected a rejection");
}

function tokensOf(r: GenerateResult, row: number) {
  return { semantic: Array.from(r.tokens.semantic[row]), coarse: Array.from(r.tokens.coarse[row].data), fine: Array.from(r.tokens.fine[row].data) };
}

const sine = (seconds: number, hz: number) => Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => 0.4 * Math.sin((2 * Math.PI * hz * i) / SR));
const semanticTokens = (n: number, seed: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + ((i * i) % 5)) % K);

describe("audiolm generate (CLI)", () => {
  function run(...args: string[]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: tmp.dir });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it("writes one WAV of exactly the asked length per row", () => {
    const r = run("generate", "-m", dirs.ar, "--seconds", "4", "--batch", "2", "--seed", "5", "-o", "out.wav", "--tokens-out", "toks", "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.outputs).toEqual(["out-0.wav", "out-1.wav"]);
    expect(summary.seeds).toEqual([5, 6]);
    const waves = summary.outputs.map((f: string) => decodeWav(readFileSync(join(tmp.dir, f))));
    for (const w of waves) {
      expect(w.sampleRate).toBe(SR);
      expect(w.samples.length).toBe(4 * SR);
    }
    expect(relL2(waves[0].samples, waves[1].samples)).toBeGreaterThan(0.01);
    expect(decodeNpy(readFileSync(join(tmp.dir, "toks", "semantic.npy"))).shape).toEqual([2, 100]);
    expect(decodeNpy(readFileSync(join(tmp.dir, "toks", "coarse.npy"))).shape).toEqual([2, 2, 200]);
    expect(decodeNpy(readFileSync(join(tmp.dir, "toks", "fine.npy"))).shape).toEqual([2, 2, 200]);
    expect(r.stderr).not.toMatch(/tok\/s/); // no progress bar when stderr is not a terminal
  });

  it("shows progress with --progress and fails cleanly", () => {
    let r = run("generate", "-m", dirs.ar, "--seconds", "1", "--seed", "1", "-o", "one.wav", "--progress");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/semantic \[#+\] 25\/25/);
    expect(r.stderr).toMatch(/fine \[#+\] 100\/100/);
    expect(decodeWav(readFileSync(join(tmp.dir, "one.wav"))).samples.length).toBe(SR);

    writeFileSync(join(tmp.dir, "prompt.wav"), encodeWav(sine(1, 220), SR));
    r = run("generate", "-m", dirs.ar, "--prompt", "prompt.wav", "-o", "p.wav");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_UNSUPPORTED\].*semanticPrompt/);
    r = run("generate", "-m", dirs.ar, "--seconds", "0", "-o", "x.wav");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*seconds/);
    r = run("generate", "-m", join(tmp.dir, "nowhere"), "-o", "x.wav");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_IO\].*model\.json/);
    if (!existsSync(join(ROOT, "models", "default", "model.json"))) {
      r = run("generate", "-o", "x.wav");
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no default model.*-m MODEL_DIR/);
    }
    r = run("generate", "-m", dirs.ar);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing -o\/--output/);
  });

  it("takes top-k and top-p per stage", () => {
    const tokens = (dir: string) => ["semantic", "coarse", "fine"].map((s) => Array.from(decodeNpy(readFileSync(join(tmp.dir, dir, `${s}.npy`))).data as Int32Array));
    const base = ["generate", "-m", dirs.ar, "--seconds", "1", "--seed", "9", "-o", "k.wav"];
    // top-k 1 at temperature 2 and top-p 1e-6 are greedy: the tokens of temperature 0
    let r = run(...base, "--temperature-semantic", "0", "--temperature-coarse", "0", "--temperature-fine", "0", "--tokens-out", "greedy");
    expect(r.code, r.stderr).toBe(0);
    r = run(...base, "--temperature-semantic", "2", "--top-k-semantic", "1", "--temperature-coarse", "2", "--top-p-coarse", "1e-6",
      "--temperature-fine", "2", "--top-k-fine", "1", "--tokens-out", "filtered");
    expect(r.code, r.stderr).toBe(0);
    expect(tokens("filtered")).toEqual(tokens("greedy"));
    r = run(...base, "--temperature-semantic", "2", "--temperature-coarse", "2", "--temperature-fine", "2", "--tokens-out", "hot");
    expect(r.code, r.stderr).toBe(0);
    expect(tokens("hot")).not.toEqual(tokens("greedy"));
    r = run(...base, "--top-p-coarse", "1.5");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*coarse.*topP/);
    r = run(...base, "--top-k-fine", "many");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--top-k-fine expects a number/);
  });

  it("takes --guidance-coarse", () => {
    const coarse = (dir: string) => Array.from(decodeNpy(readFileSync(join(tmp.dir, dir, "coarse.npy"))).data as Int32Array);
    // 2 s: the second coarse window has history, so guidance changes it
    const base = ["generate", "-m", dirs.ar, "--seconds", "2", "--seed", "9", "-o", "g.wav"];
    for (const [dir, extra] of [["g-default", []], ["g-zero", ["--guidance-coarse", "0"]], ["g-three", ["--guidance-coarse", "3"]]] as const) {
      const r = run(...base, ...extra, "--tokens-out", dir);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(coarse("g-zero")).toEqual(coarse("g-default"));
    expect(coarse("g-three")).not.toEqual(coarse("g-default"));
    const r = run(...base, "--guidance-coarse=-1");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/\[ERR_AUDIOLM_INVALID_ARGUMENT\].*≥ 0 for coarse.guidance/);
  });
});

describe("AudioLM.generate", () => {
  it("generates unconditionally with exact lengths and in-range tokens", async () => {
    for (const model of [lm, await AudioLM.load(dirs.nc)]) {
      const out = await model.generate({ seconds: 2.5, batchSize: 2, seed: 1 });
      expect(out.sampleRate).toBe(SR);
      expect(out.audio.map((a) => a.length)).toEqual([2.5 * SR, 2.5 * SR]);
      expect(out.tokens.semantic[0].length).toBe(63);
      expect(out.tokens.coarse[0].shape).toEqual([2, 125]);
      expect(out.tokens.fine[1].shape).toEqual([2, 125]);
      for (const c of [...out.tokens.coarse, ...out.tokens.fine]) expect(c.data.every((x) => x >= 0 && x < C)).toBe(true);
      expect(out.audio[0].every(Number.isFinite)).toBe(true);
      if (model !== lm) await model.dispose();
    }
  });

  it("continues a prompt and converts a voice (acoustic mode)", async () => {
    const semanticPrompt = semanticTokens(30, 1);
    const cont = await lm.generate({ semanticPrompt, acousticPrompt: sine(1.2, 330), seconds: 2, seed: 4 });
    expect(cont.audio[0].length).toBe(2 * SR);
    expect(cont.tokens.semantic[0].length).toBe(50);
    expect(cont.tokens.coarse[0].shape).toEqual([2, 100]);
    // A semantic prompt only (no acoustic history) works too, and a prompt changes the output.
    const semOnly = await lm.generate({ mode: "continuation", semanticPrompt, seconds: 2, seed: 4 });
    expect(semOnly.tokens.semantic).toEqual(cont.tokens.semantic);
    expect(Array.from(semOnly.tokens.coarse[0].data)).not.toEqual(Array.from(cont.tokens.coarse[0].data));

    // Prompts longer than every window keep only the latest part as history.
    const nc = await AudioLM.load(dirs.nc);
    try {
      const long = await nc.generate({ semanticPrompt: semanticTokens(150, 5), acousticPrompt: sine(6, 150), seconds: 1.5, seed: 6, batchSize: 2 });
      expect(long.audio.map((a) => a.length)).toEqual([1.5 * SR, 1.5 * SR]);
      expect(long.tokens.fine[1].shape).toEqual([2, 75]);
    } finally {
      await nc.dispose();
    }

    const codes = await lm.codec.encode(sine(1, 200), { quantizers: 4 });
    const source = semanticTokens(75, 2);
    const conv = await lm.generate({ mode: "acoustic", semanticPrompt: source, acousticPrompt: codes, seed: 2, batchSize: 2 });
    expect(conv.audio.map((a) => a.length)).toEqual([3 * SR, 3 * SR]);
    expect(Array.from(conv.tokens.semantic[1])).toEqual(Array.from(source));
    expect(conv.tokens.coarse[0].shape).toEqual([2, 150]);
  });

  it("is deterministic per seed and independent of the batch", async () => {
    const a = await lm.generate({ seconds: 3, seed: 10, batchSize: 3 });
    const b = await lm.generate({ seconds: 3, seed: 10, batchSize: 3 });
    const alone = await lm.generate({ seconds: 3, seed: 11 });
    const other = await lm.generate({ seconds: 3, seed: 12 });
    expect(tokensOf(a, 0)).toEqual(tokensOf(b, 0));
    expect(Array.from(a.audio[2])).toEqual(Array.from(b.audio[2]));
    expect(tokensOf(a, 1)).toEqual(tokensOf(alone, 0));
    expect(relL2(a.audio[1], alone.audio[0])).toBeLessThan(1e-6);
    expect(tokensOf(a, 2)).toEqual(tokensOf(other, 0));
    expect(tokensOf(a, 0).semantic).not.toEqual(tokensOf(a, 1).semantic);
    expect(tokensOf(a, 0).coarse).not.toEqual(tokensOf(a, 1).coarse);

    // Rows with prompts of different lengths share a batch without changing each other.
    const p = [semanticTokens(10, 3), semanticTokens(47, 4)];
    const ragged = await lm.generate({ semanticPrompt: p, seconds: 2, seed: 20, batchSize: 2 });
    const single = await lm.generate({ semanticPrompt: p[1], seconds: 2, seed: 21 });
    expect(tokensOf(ragged, 1)).toEqual(tokensOf(single, 0));
  });

  it("restricts every coarse token to its level's range", async () => {
    const m = parseModelJson(JSON.parse(readFileSync(join(dirs.ar, "model.json"), "utf8")));
    const L = coarseLayout(m);
    const coarse = await Transformer.load(join(dirs.ar, "coarse.safetensors"));
    const session = coarse.session({ batch: 2, capacity: 252 });
    try {
      const history = emptyCodes(4, 3);
      history.data.set([1, 2, 3, 4, 5, 6]);
      const prompts = [coarsePrompt(L, semanticTokens(20, 1), history, 0, 3), coarsePrompt(L, semanticTokens(5, 2), history, 1, 3)];
      const origins = [coarseOrigin(20), coarseOrigin(5)];
      await session.prefill(prompts);
      const res = await session.generate({ steps: 41, seeds: [1, 2], sampling: { temperature: 2 }, ranges: coarseRanges(L, origins) });
      res.tokens.forEach((ids, r) => {
        expect(ids.length).toBe(41);
        ids.forEach((id, i) => {
          const level = (prompts[r].length + i - origins[r]) % 2;
          expect(id).toBeGreaterThanOrEqual(K + level * C);
          expect(id).toBeLessThan(K + (level + 1) * C);
        });
      });
    } finally {
      session.dispose();
      await coarse.dispose();
    }
  });

  it("extends rows with the KV cache: nextLogits equal the full forward's last logits", async () => {
    const coarse = await Transformer.load(join(dirs.big, "coarse.safetensors"));
    const V = coarse.config.outputSize;
    const session = coarse.session({ batch: 2, capacity: 40 });
    try {
      const rows = [semanticTokens(12, 5), semanticTokens(7, 6)];
      await session.prefill(rows.map((r) => r.slice()));
      const check = async () => {
        const full = await coarse.logits(rows);
        const next = session.nextLogits();
        rows.forEach((r, i) => {
          expect(next[i].length).toBe(V);
          // f32 cached attention against one pass over the whole row: ~1e-6 relative
          expect(relL2(next[i], full[i].subarray((r.length - 1) * V))).toBeLessThan(1e-5);
        });
      };
      await check();
      // row 0 gains three tokens, row 1 none, then both one
      const more = [Int32Array.of(3, 17, 9), new Int32Array(0)];
      await session.extend(more);
      rows[0] = Int32Array.from([...rows[0], ...more[0]]);
      await check();
      await session.extend([Int32Array.of(21), Int32Array.of(4)]);
      rows[0] = Int32Array.from([...rows[0], 21]);
      rows[1] = Int32Array.from([...rows[1], 4]);
      await check();
      expect(session.lengths()).toEqual([16, 8]);

      const err = async (p: Promise<unknown>, re: RegExp) => expect((await rejection(p)).message).toMatch(re);
      await err(session.extend([Int32Array.of(1)]), /2 rows/);
      await err(session.extend([Int32Array.of(V + 1000), new Int32Array(0)]), /token|range|vocab/i);
      await err(session.extend([new Int32Array(30), new Int32Array(0)]), /positions but the session holds 40/);
      const p = session.extend([Int32Array.of(1), Int32Array.of(1)]);
      expect(() => session.nextLogits()).toThrow(/busy/);
      await p;
    } finally {
      session.dispose();
    }
    expect(() => session.nextLogits()).toThrow(/disposed/);
    const fine = await Transformer.load(join(dirs.nc, "fine.safetensors"));
    const fs = fine.session({ batch: 1, capacity: 8 });
    try {
      await fs.prefill([new Int32Array(fine.config.inputCodebooks * 2).fill(1)]);
      await expect(fs.extend([new Int32Array(fine.config.inputCodebooks).fill(1)])).rejects.toThrow(/causal/);
    } finally {
      fs.dispose();
      await fine.dispose();
      await coarse.dispose();
    }
  });

  it("takes sampling.unconditional from model.json in unconditional mode only", async () => {
    const dir = join(tmp.dir, "uncond");
    cpSync(dirs.ar, dir, { recursive: true });
    const mj = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    const greedy = { temperature: 0 };
    mj.sampling = { ...mj.sampling, unconditional: { semantic: greedy, coarse: greedy, fine: greedy } };
    writeFileSync(join(dir, "model.json"), JSON.stringify(mj));
    const m = await AudioLM.load(dir);
    try {
      // greedy in every stage: the seed no longer matters, unconditionally
      const [a, b] = await Promise.all([m.generate({ seconds: 1, seed: 1 }), m.generate({ seconds: 1, seed: 2 })]);
      expect(tokensOf(a, 0)).toEqual(tokensOf(b, 0));
      // a request's own options still win
      const c = await m.generate({ seconds: 1, seed: 1, coarse: { temperature: 2 } });
      expect(tokensOf(c, 0).coarse).not.toEqual(tokensOf(a, 0).coarse);
      // a continuation keeps the stage defaults (not greedy): seeds differ
      const prompt = sine(1, 220);
      const semanticPrompt = semanticTokens(25, 3);
      const [p1, p2] = await Promise.all([1, 2].map((seed) => m.generate({ prompt, semanticPrompt, seconds: 1, seed })));
      expect(tokensOf(p1, 0).coarse).not.toEqual(tokensOf(p2, 0).coarse);
    } finally {
      await m.dispose();
    }
  });

  it("works without a fine stage", async () => {
    const dir = join(tmp.dir, "nofine");
    await makeRandomModel(dir, { noFine: true, seed: 5 });
    const m = await AudioLM.load(dir);
    try {
      const out = await m.generate({ seconds: 2.2, seed: 1 });
      expect(out.audio[0].length).toBe(2.2 * SR);
      expect(out.tokens.fine[0].shape).toEqual([0, 110]);
      let n = 0;
      let chunks = 0;
      for await (const c of m.stream({ seconds: 2.2, seed: 1 })) {
        n += c.audio[0].length;
        chunks++;
      }
      expect(n).toBe(2.2 * SR);
      expect(chunks).toBeGreaterThan(1);
    } finally {
      await m.dispose();
    }
  });

  it("dedupes semantic tokens when the model asks for it", async () => {
    const d = await AudioLM.load(dirs.dedupe);
    try {
      const out = await d.generate({ seconds: 3, seed: 3, batchSize: 2, semantic: { temperature: 0.3 } });
      for (const s of out.tokens.semantic) {
        expect(s.length).toBe(75);
        for (let i = 1; i < s.length; i++) expect(s[i]).not.toBe(s[i - 1]);
      }
      expect(out.audio[1].length).toBe(3 * SR);
    } finally {
      await d.dispose();
    }
  });

  it("aborts within a chunk and stays usable", async () => {
    const ctrl = new AbortController();
    const t0 = performance.now();
    const p = big.generate({ seconds: 60, seed: 1, signal: ctrl.signal });
    await new Promise((r) => setTimeout(r, 300));
    const tAbort = performance.now();
    ctrl.abort();
    const err = await rejection(p);
    const latency = performance.now() - tAbort;
    expect(err).toBeInstanceOf(AudioLMError);
    expect(err.code).toBe("ERR_AUDIOLM_ABORTED");
    expect(tAbort - t0).toBeLessThan(5000); // it was still running when aborted
    expect(latency).toBeLessThan(500);
    const after = await big.generate({ seconds: 0.5, seed: 1 });
    expect(after.audio[0].length).toBe(SR / 2);
    // An already-aborted signal rejects at once.
    expect((await rejection(lm.generate({ seconds: 1, signal: AbortSignal.abort() }))).code).toBe("ERR_AUDIOLM_ABORTED");
  });

  it("runs two requests on one model concurrently with their sequential results", async () => {
    const [x, y] = await Promise.all([lm.generate({ seconds: 3, seed: 31 }), lm.generate({ seconds: 2, seed: 32, batchSize: 2 })]);
    const xs = await lm.generate({ seconds: 3, seed: 31 });
    const ys = await lm.generate({ seconds: 2, seed: 32, batchSize: 2 });
    expect(tokensOf(x, 0)).toEqual(tokensOf(xs, 0));
    expect(tokensOf(y, 1)).toEqual(tokensOf(ys, 1));
    expect(Array.from(x.audio[0])).toEqual(Array.from(xs.audio[0]));
  });

  it("keeps the event loop free", async () => {
    let ticks = 0;
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const t0 = performance.now();
    try {
      await big.generate({ seconds: 8, seed: 2 });
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeGreaterThan(300);
    expect(ticks).toBeGreaterThanOrEqual(0.5 * (elapsed / 10));
    expect(maxGap).toBeLessThan(200);
  });

  it("streams pieces that add up to the generated audio", async () => {
    const opts = { seconds: 4.3, seed: 41, batchSize: 2 };
    const whole = await lm.generate(opts);
    const pieces: Float32Array[][] = [[], []];
    let index = 0;
    for await (const chunk of lm.stream(opts)) {
      expect(chunk.index).toBe(index++);
      chunk.audio.forEach((a, r) => pieces[r].push(a));
    }
    expect(index).toBeGreaterThan(2);
    for (let r = 0; r < 2; r++) {
      const joined = new Float32Array(pieces[r].reduce((n, a) => n + a.length, 0));
      let o = 0;
      for (const a of pieces[r]) joined.set(a, (o += a.length) - a.length);
      expect(joined.length).toBe(Math.round(4.3 * SR));
      expect(relL2(joined, whole.audio[r])).toBeLessThan(1e-4);
    }
    // Leaving a stream early frees its sessions.
    for await (const _ of lm.stream(opts)) break;
  });

  it("token-level entry points reproduce the pipeline", async () => {
    const seed = 51;
    const out = await lm.generate({ seconds: 2, seed });
    const semantic = await lm.generateSemantic({ count: 50, seed });
    expect(Array.from(semantic[0])).toEqual(Array.from(out.tokens.semantic[0]));
    const coarse = await lm.generateCoarse({ semantic, seed });
    expect(coarse[0].shape).toEqual([2, 100]);
    expect(Array.from(coarse[0].data)).toEqual(Array.from(out.tokens.coarse[0].data));
    const fine = await lm.generateFine({ coarse, seed });
    expect(Array.from(fine[0].data)).toEqual(Array.from(out.tokens.fine[0].data));
    const all = { data: Int32Array.from([...coarse[0].data, ...fine[0].data]), shape: [4, 100] as [number, number] };
    const [audio] = await lm.decode(all);
    expect(relL2(audio, out.audio[0])).toBeLessThan(1e-6);
  });

  it("rejects bad arguments, naming them", async () => {
    const bad = async (opts: unknown, name: RegExp) => {
      const err = await rejection(lm.generate(opts as never));
      expect(err.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
      expect(err.message).toMatch(name);
    };
    await bad({ seconds: 0 }, /for seconds but received number 0/);
    await bad({ seconds: -2 }, /for seconds/);
    await bad({ seconds: NaN }, /for seconds but received NaN/);
    await bad({}, /for seconds but received undefined/);
    await bad({ seconds: 1, batchSize: 0 }, /for batchSize/);
    await bad({ seconds: 1, batchSize: 1.5 }, /for batchSize/);
    await bad({ seconds: 1, seed: -1 }, /for seed/);
    await bad({ seconds: 1, mode: "karaoke" }, /for mode/);
    await bad({ seconds: 1, semanticPrompt: new Int32Array(0) }, /for semanticPrompt/);
    await bad({ seconds: 1, semanticPrompt: Int32Array.from([1, K]) }, /semanticPrompt\[1\]/);
    await bad({ seconds: 1, semanticPrompt: [Int32Array.from([1]), Int32Array.from([2])], batchSize: 3 }, /semanticPrompt/);
    await bad({ seconds: 1, mode: "acoustic" }, /for semanticPrompt/);
    await bad({ seconds: 1, mode: "unconditional", semanticPrompt: Int32Array.from([1]) }, /unconditional/);
    await bad({ seconds: 1, semantic: { temperature: -1 } }, /semantic\.temperature/);
    await bad({ seconds: 1, fine: { topP: 0 } }, /fine\.topP/);
    await bad({ seconds: 1, chunkSize: 0 }, /chunkSize/);
    await bad({ seconds: 1, semanticPrompt: Int32Array.from([1]), acousticPrompt: { data: new Int32Array(2), shape: [1, 2] } }, /acousticPrompt\.shape/);
    await bad({ seconds: 1, mode: "continuation", content: sine(0.5, 100), semanticPrompt: Int32Array.from([1]) }, /outside mode "acoustic" for content/);
    await bad({ content: sine(0.5, 100), semanticPrompt: Int32Array.from([1, 2]) }, /semanticPrompt is given for content/);
    await bad({ content: "" }, /for content/);
    const err = await rejection(lm.generate({ seconds: 1, prompt: sine(0.5, 100) }));
    expect(err.code).toBe("ERR_AUDIOLM_UNSUPPORTED");
    const noTokenizer = await rejection(lm.generate({ content: sine(0.5, 100), semanticPrompt: undefined }));
    expect(noTokenizer.code).toBe("ERR_AUDIOLM_UNSUPPORTED");
    expect(noTokenizer.message).toMatch(/content audio needs its semantic tokens/);
    expect((await rejection(AudioLM.load(join(tmp.dir, "missing")))).code).toBe("ERR_AUDIOLM_IO");
  });

  it("throws ERR_AUDIOLM_DISPOSED after dispose", async () => {
    const m = await AudioLM.load(dirs.nc);
    await m.dispose();
    await m.dispose();
    expect((await rejection(m.generate({ seconds: 1 }))).code).toBe("ERR_AUDIOLM_DISPOSED");
  });
});
