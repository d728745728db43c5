// The model shipped in models/default (trained by training/): the main command's model must load and
// make finite, audible audio of the requested length, unconditionally, as a continuation of an
// example prompt, and as a speaker conversion, through the API and the CLI.
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AudioLM } from "../lib/models/audiolm.js";
import { decodeWav } from "../lib/formats/wav.js";
import { tempDir } from "./helpers.js";

const ROOT = join(import.meta.dirname, "..");
const MODEL = join(ROOT, "models", "default");
const CLI = join(ROOT, "dist", "cli", "main.js");
const EXAMPLES = join(ROOT, "examples");
const tmp = tempDir("audiolm-default-");
let lm: AudioLM;

beforeAll(async () => {
  lm = await AudioLM.load(MODEL);
});
afterAll(async () => {
  await lm?.dispose();
  tmp.cleanup();
});

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / x.length);
}

/**
 * Finite, exactly `samples` long, not silent (peak above -40 dBFS and RMS above -60 dBFS: the model
 * starts with the short pause its training utterances start with, so 2 s can be quiet on average),
 * and not full-scale noise (RMS below -1 dBFS).
 */
function expectAudio(x: Float32Array, samples: number): void {
  expect(x.length).toBe(samples);
  expect(x.every(Number.isFinite)).toBe(true);
  expect(x.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(0.01);
  expect(rms(x)).toBeGreaterThan(1e-3);
  expect(rms(x)).toBeLessThan(0.9);
}

function examplePrompts(): string[] {
  return readdirSync(EXAMPLES).filter((f) => f.endsWith(".wav")).sort().map((f) => join(EXAMPLES, f));
}

describe("models/default", () => {
  it("is within the 30 MB budget and names its components", () => {
    const files = readdirSync(MODEL);
    const total = files.reduce((n, f) => n + statSync(join(MODEL, f)).size, 0);
    expect(total).toBeLessThan(30e6);
    const manifest = JSON.parse(readFileSync(join(MODEL, "model.json"), "utf8"));
    for (const f of Object.values(manifest.components)) expect(files).toContain(f);
    expect(lm.sampleRate).toBe(16000);
  });

  it("generates 2 s unconditionally: finite, non-silent, the right length, seeded", async () => {
    const a = await lm.generate({ seconds: 2, seed: 7 });
    expectAudio(a.audio[0], 32000);
    const b = await lm.generate({ seconds: 2, seed: 7 });
    expect(b.audio[0]).toEqual(a.audio[0]);
  });

  it("refuses content outside acoustic mode and content with semanticPrompt", async () => {
    const [p0, p1] = examplePrompts();
    await expect(lm.generate({ mode: "continuation", prompt: p0, content: p1, seconds: 1 })).rejects.toMatchObject({ code: "ERR_AUDIOLM_INVALID_ARGUMENT" });
    await expect(lm.generate({ content: p1, semanticPrompt: Int32Array.from([1, 2, 3]) })).rejects.toThrow(/semanticPrompt is given for content/);
  });

  it("continues an example prompt and converts a speaker (acoustic mode)", async () => {
    const [p0, p1] = examplePrompts();
    expect(p1).toBeDefined();
    const cont = await lm.generate({ prompt: p0, seconds: 1.5, seed: 1 });
    expectAudio(cont.audio[0], 24000);
    const conv = await lm.generate({ prompt: p0, content: p1, seconds: 1.5, seed: 1 });
    expectAudio(conv.audio[0], 24000);
  });

  it("`audiolm generate` uses it without -m", () => {
    const out = join(tmp.dir, "cli.wav");
    // 2 s, as above: a single second can be all of the opening pause (seed 3 is, at coarse hop 25).
    const r = spawnSync(process.execPath, [CLI, "generate", "--seconds", "2", "--seed", "3", "-o", out, "--json"], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const wav = decodeWav(readFileSync(out));
    expect(wav.sampleRate).toBe(16000);
    expectAudio(wav.samples, 32000);
  });
});
