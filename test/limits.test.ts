// Well-formed but absurd sizes get a coded error at the boundary, at once, before any work: each
// case here used to run for minutes or end in an uncoded RangeError / TypeError.
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Codec } from "../lib/models/codec.js";
import { AudioLM } from "../lib/models/audiolm.js";
import { Transformer } from "../lib/models/transformer.js";
import { decodeWav, encodeWav } from "../lib/formats/wav.js";
import { resample } from "../lib/formats/resample.js";
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from "../lib/limits.js";

const DEFAULT = join("models", "default");

/** A WAV whose header declares `rate` Hz (the byte rate follows it). */
function wavAt(rate: number): Uint8Array {
  const bytes = encodeWav(new Float32Array(100).fill(0.1), 16000);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(24, rate, true);
  view.setUint32(28, (rate * 4) >>> 0, true);
  return bytes;
}

/** Runs fn and returns the error, timing it: a refusal must come at once. */
async function refusal(fn: () => unknown): Promise<{ code?: string; message: string; ms: number }> {
  const t0 = performance.now();
  try {
    await fn();
  } catch (err) {
    return { code: (err as { code?: string }).code, message: (err as Error).message, ms: performance.now() - t0 };
  }
  throw new Error("expected a refusal");
}

describe("limits at the boundary", () => {
  it("refuses a WAV whose sample-rate field is 1 Hz or 2^31 − 1 Hz, naming the field and the range", async () => {
    for (const rate of [1, 2_147_483_647]) {
      const e = await refusal(() => decodeWav(wavAt(rate), { sampleRate: 16000 }));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_WAV");
      expect(e.message).toMatch(new RegExp(`${rate} Hz.*${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz`));
      expect(e.ms).toBeLessThan(1000);
    }
    // The edges of the range are accepted.
    expect(decodeWav(wavAt(MIN_SAMPLE_RATE)).sampleRate).toBe(MIN_SAMPLE_RATE);
    expect(decodeWav(wavAt(MAX_SAMPLE_RATE)).sampleRate).toBe(MAX_SAMPLE_RATE);
  });

  it("refuses sampleRate options of 0.5 Hz, 1e9 Hz and 2^53 Hz at once", async () => {
    await using codec = await Codec.load(join(DEFAULT, "codec.safetensors"));
    const x = new Float32Array(1600).fill(0.1);
    for (const sampleRate of [0.5, 1e9, 2 ** 53]) {
      const e = await refusal(() => codec.encode(x, { sampleRate }));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
      expect(e.message).toMatch(/sample rate from 1000 to 768000 Hz for sampleRate/);
      expect(e.ms).toBeLessThan(1000);
      expect((await refusal(() => decodeWav(wavAt(16000), { sampleRate }))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
      expect((await refusal(() => resample(x, 16000, sampleRate))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    }
  });

  it("refuses 100,000 tokens to transformer.logits() against the model's context", async () => {
    await using t = await Transformer.load(join(DEFAULT, "semantic.safetensors"));
    const e = await refusal(() => t.logits([new Int32Array(100_000).fill(1)]));
    expect(e.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    expect(e.message).toMatch(new RegExp(`at most ${t.config.maxPositions} positions.*tokens\\[0\\].*100000`));
    expect(e.ms).toBeLessThan(1000);
  });

  it("refuses a signal that is not an AbortSignal with a coded error", async () => {
    await using lm = await AudioLM.load(DEFAULT);
    for (const call of [() => lm.generate({ seconds: 1, signal: {} as AbortSignal }), async () => { for await (const _ of lm.stream({ seconds: 1, signal: {} as AbortSignal })); }]) {
      const e = await refusal(call);
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
      expect(e.message).toMatch(/an AbortSignal for signal but received an object/);
    }
  });
});
