/**
 * The sizes the package accepts, stated once: every boundary that takes a sample rate, a length
 * or a count checks it here, before it allocates or computes, and a refusal names the field, the
 * value and the limit.
 */
import { AudioLMError, type AudioLMErrorCode, describe } from "./errors.js";

/** Sample rates (Hz) of WAV files and of every `sampleRate` option: 1 kHz to 768 kHz. */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 768_000;
/** Samples per channel of one waveform, after any resampling (2^30: 4 GiB of f32). */
export const MAX_SAMPLES = 2 ** 30;

function refuse(code: AudioLMErrorCode, message: string): never {
  throw new AudioLMError(code, message);
}

/** A sample rate within [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]; `code` lets a WAV header's field fail as ERR_AUDIOLM_INVALID_WAV. */
export function checkSampleRate(rate: unknown, name: string, code: AudioLMErrorCode = "ERR_AUDIOLM_INVALID_ARGUMENT"): number {
  if (typeof rate !== "number" || !Number.isFinite(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    refuse(code, `Expected a sample rate from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz for ${name} but received ${describe(rate)}`);
  }
  return rate;
}

/** The length `samples` at `from` Hz has at `to` Hz, refused when it passes MAX_SAMPLES. */
export function checkResampledLength(samples: number, from: number, to: number, name: string): number {
  const n = Math.ceil((samples * to) / from);
  if (n > MAX_SAMPLES) {
    refuse("ERR_AUDIOLM_INVALID_ARGUMENT", `${name}: ${samples} samples at ${from} Hz would be ${n} at ${to} Hz, more than the ${MAX_SAMPLES} a waveform may hold`);
  }
  return n;
}
