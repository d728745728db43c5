// `audiolm generate --text` with a Bark model directory, as a user runs it (the compiled
// dist/cli/main.js; rebuild with `npx tsc -p tsconfig.json`): convert the small random Bark models of
// test/fixtures/bark_generation (their vocab.txt is copied beside bark.json), then text → tokens
// without a codec and text → WAV with the small EnCodec fixture as the codec.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { decodeNpz, npyToInt32, readNpy, readNpz } from "../lib/formats/npy.js";
import { decodeWav } from "../lib/formats/wav.js";
import { tempDir } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");
const FIX = join(ROOT, "test", "fixtures");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: tmp.dir });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("audiolm generate with a Bark model", () => {
  const bark = join(tmp.dir, "bark");
  const withCodec = join(tmp.dir, "bark-codec");

  beforeAll(() => {
    for (const d of [bark, withCodec]) {
      const r = run("convert", "bark", join(FIX, "bark_generation"), "-o", d, "--json");
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).vocab).toBe(join(d, "vocab.txt"));
      // the fixture models use a small vocabulary: its constants replace Bark's
      const json = JSON.parse(readFileSync(join(d, "bark.json"), "utf8"));
      const { cases: _c, ...constants } = JSON.parse(readFileSync(join(FIX, "bark_generation", "constants.json"), "utf8"));
      writeFileSync(join(d, "bark.json"), JSON.stringify({ ...json, ...constants }));
    }
    // a 4-codebook, 64-code EnCodec at 8 kHz, hop 8: enough for the 4 × 32-code fixture codes
    const r = run("convert", "encodec", join(FIX, "encodec", "causal", "model.th"), "-o", join(withCodec, "codec.safetensors"));
    expect(r.code, r.stderr).toBe(0);
  });

  it("--tokens-out without a codec: text → text ids, semantic, coarse and fine tokens", async () => {
    const r = run("generate", "-m", bark, "--text", "the quick  brown fox.", "--seed", "4", "--tokens-out", "t.npz", "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.family).toBe("bark");
    expect(summary.outputs).toEqual([]);
    expect(summary.rows).toHaveLength(1);
    const npz = await readNpz(join(tmp.dir, "t.npz"));
    expect(Array.from(npyToInt32(npz.get("text_tokens")!))).toEqual([5, 6, 7, 8, 39]);
    const sem = npz.get("semantic_prompt")!;
    const coarse = npz.get("coarse_prompt")!;
    const fine = npz.get("fine_prompt")!;
    expect(sem.shape).toEqual([summary.rows[0].semanticTokens]);
    expect(coarse.shape).toEqual([2, summary.rows[0].frames]);
    expect(fine.shape).toEqual([4, summary.rows[0].frames]);
    expect(Array.from(npyToInt32(fine)).slice(0, 2 * fine.shape[1])).toEqual(Array.from(npyToInt32(coarse)));

    // the same seed gives the same tokens; a directory of .npy files per output for several texts
    const r2 = run("generate", "-m", bark, "--text", "the quick brown fox.", "--text", "hello world", "--seed", "4", "--tokens-out", "dir", "--json");
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout).tokensOut).toEqual([join("dir", "0"), join("dir", "1")]);
    const fine0 = await readNpy(join(tmp.dir, "dir", "0", "fine.npy"));
    expect(Array.from(npyToInt32(fine0))).toEqual(Array.from(npyToInt32(fine)));
    expect(Array.from(npyToInt32(await readNpy(join(tmp.dir, "dir", "1", "text.npy"))))).toEqual([13, 14]);

    // without a codec there is no audio to write
    const r3 = run("generate", "-m", bark, "--text", "hello", "-o", "x.wav");
    expect(r3.code).toBe(1);
    expect(r3.stderr).toMatch(/ERR_AUDIOLM_IO.*no codec.safetensors/);
    expect(existsSync(join(tmp.dir, "x.wav"))).toBe(false);
  });

  it("writes WAVs of the generated length with a codec: several texts and --batch → OUT-k.wav", () => {
    const r = run("generate", "-m", withCodec, "--text", "hello world", "--text", "the sun", "--batch", "2", "--seed", "7", "-o", "out.wav", "--tokens-out", "v.npz", "--json");
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.outputs).toEqual(["out-0.wav", "out-1.wav", "out-2.wav", "out-3.wav"]);
    expect(summary.rows.map((x: { seed: number; text: string }) => [x.text, x.seed])).toEqual([
      ["hello world", 7],
      ["hello world", 8],
      ["the sun", 9],
      ["the sun", 10],
    ]);
    for (let k = 0; k < 4; k++) {
      const wav = decodeWav(readFileSync(join(tmp.dir, `out-${k}.wav`)));
      expect(wav.sampleRate).toBe(8000);
      expect(wav.samples.length).toBe(summary.rows[k].frames * 8); // hop 8
      expect(summary.rows[k].frames).toBeGreaterThan(0);
    }
    // a written .npz is a voice: generate again with it as the history prompt
    const r2 = run("generate", "-m", withCodec, "--text", "the sky", "--voice", "v-1.npz", "--seed", "1", "-o", "voiced.wav", "--pcm16");
    expect(r2.code, r2.stderr).toBe(0);
    expect(decodeWav(readFileSync(join(tmp.dir, "voiced.wav"))).samples.length).toBeGreaterThan(0);
  });

  it("usage errors: no --text, AudioLM-only options, --text without a Bark model, empty text", () => {
    let r = run("generate", "-m", bark, "--tokens-out", "t.npz");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing --text/);
    r = run("generate", "-m", bark, "--text", "hello");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing -o\/--output or --tokens-out/);
    r = run("generate", "-m", bark, "--text", "hello", "--seconds", "3", "--tokens-out", "t.npz");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--seconds is not an option of Bark/);
    r = run("generate", "-m", tmp.dir, "--text", "hello", "-o", "x.wav");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--text and --voice need a Bark model directory/);
    r = run("generate", "-m", bark, "--text", " \t ", "--tokens-out", "t.npz");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/ERR_AUDIOLM_INVALID_ARGUMENT.*non-empty text/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    r = run("generate", "-m", bark, "--text", "hello", "--top-k-fine", "5", "--tokens-out", "t.npz");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--top-k-fine is not an option of Bark generation/);
    r = run("generate", "-m", bark, "--text", "hello", "--top-p-semantic", "0", "--tokens-out", "t.npz");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/ERR_AUDIOLM_INVALID_ARGUMENT.*semantic\.topP/);
  });

  it("top-k and top-p reach the semantic and coarse stages", () => {
    const toks = (f: string) => JSON.stringify([...decodeNpz(readFileSync(join(tmp.dir, f)))].map(([k, a]) => [k, Array.from(a.data as ArrayLike<number>)]));
    const base = ["generate", "-m", bark, "--text", "hello world", "--seed", "2", "--temperature-semantic", "1.5", "--temperature-coarse", "1.5"];
    expect(run(...base, "--tokens-out", "hot.npz").code).toBe(0);
    let r = run(...base, "--top-k-semantic", "1", "--top-k-coarse", "1", "--tokens-out", "k1.npz");
    expect(r.code, r.stderr).toBe(0);
    r = run(...base, "--top-p-semantic", "1e-6", "--top-p-coarse", "1e-6", "--tokens-out", "p0.npz");
    expect(r.code, r.stderr).toBe(0);
    expect(toks("k1.npz")).toEqual(toks("p0.npz")); // both keep only the most likely token
    expect(toks("k1.npz")).not.toEqual(toks("hot.npz"));
  });

  it("--min-eos-p sets or turns off the semantic stage's early stop", () => {
    const base = ["generate", "-m", bark, "--text", "hello world", "--seed", "2"];
    let r = run(...base, "--min-eos-p", "none", "--tokens-out", "none.npz", "--json");
    expect(r.code, r.stderr).toBe(0);
    // at 0 the first step already stops, and the request says so
    r = run(...base, "--min-eos-p", "0", "--tokens-out", "zero.npz");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/ERR_AUDIOLM_INVALID_ARGUMENT.*stopped before its first token/);
    r = run(...base, "--min-eos-p", "1.5", "--tokens-out", "x.npz");
    expect(r.code).toBe(2);  // bad input
    expect(r.stderr).toMatch(/ERR_AUDIOLM_INVALID_ARGUMENT.*minEosP/);
    r = run(...base, "--min-eos-p", "often", "--tokens-out", "x.npz");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--min-eos-p expects a number/);
    r = run("generate", "-m", join(tmp.dir, "nowhere"), "--min-eos-p", "0.3", "-o", "x.wav");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--min-eos-p is an option of Bark generation/);
  });

  it("help describes the Bark options", () => {
    const r = run("generate", "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--text TEXT/);
    expect(r.stdout).toMatch(/--voice VOICE\.npz/);
    expect(run("convert", "bark", "--help").stdout).toMatch(/--vocab PATH/);
  });
});

describe("AudioLM.load on a Bark model directory", () => {
  it("generate({ text, voice }) speaks through BarkModel; the rest says it is a Bark model", async () => {
    const { AudioLM } = await import("../lib/models/audiolm.js");
    const { AudioLMError } = await import("../lib/errors.js");
    const dir = join(tmp.dir, "bark-codec");
    const lm = await AudioLM.load(dir);
    try {
      expect(lm.bark).not.toBeNull();
      const out = await lm.generate({ text: ["the quick  brown fox.", "brown fox"], seed: 9 });
      expect(out.audio).toHaveLength(2);
      expect(out.seeds).toEqual([9, 10]);
      expect(out.sampleRate).toBe(lm.sampleRate);
      const direct = await lm.bark!.generate({ text: "the quick  brown fox.", seed: 9 });
      expect([...out.audio[0]]).toEqual([...direct.audio!]);
      expect(out.audio[0].length).toBe(out.tokens.coarse[0].shape[1] * 8); // hop 8 at 8 kHz
      expect(out.tokens.fine[0].shape[0]).toBe(2);
      const voice = join(FIX, "bark_generation", "voice.npz");
      const voiced = await lm.generate({ text: "brown fox", voice, seed: 9 });
      expect([...voiced.audio[0]]).toEqual([...(await lm.bark!.generate({ text: "brown fox", voice, seed: 9 })).audio!]);
      await expect(lm.generate({ text: "brown fox", seconds: 2 })).rejects.toMatchObject({ code: "ERR_AUDIOLM_INVALID_ARGUMENT" });
      expect(() => lm.config).toThrow(AudioLMError);
      await expect(lm.generateSemantic({ count: 4 } as never)).rejects.toMatchObject({ code: "ERR_AUDIOLM_UNSUPPORTED" });
    } finally {
      await lm.dispose();
    }
  });
});
