/** Validation of waveforms handed to the models: one place for the rules and the messages. */
import { invalidArgument } from "../errors.js";
import { resamplePlanar } from "../formats/resample.js";
import { checkResampledLength, checkSampleRate } from "../limits.js";

/**
 * Checks one waveform or a batch (non-empty Float32Arrays of finite samples; planar, a whole number
 * of samples per channel, when `channels` > 1) and resamples each channel from `fromRate` (when
 * given and different) to `toRate`. Errors name the item and sample.
 */
export function checkWaveforms(wav: Float32Array | Float32Array[], fromRate: number | undefined, toRate: number, channels = 1): Float32Array[] {
  const items = Array.isArray(wav) ? wav : [wav];
  if (items.length === 0) invalidArgument("wav", "a Float32Array or a non-empty array of them", wav);
  if (fromRate !== undefined) checkSampleRate(fromRate, "sampleRate");
  return items.map((x, i) => {
    const name = Array.isArray(wav) ? `wav[${i}]` : "wav";
    if (!(x instanceof Float32Array)) invalidArgument(name, "a Float32Array", x);
    if (x.length === 0) invalidArgument(name, "a non-empty Float32Array", x);
    for (let j = 0; j < x.length; j++) if (!Number.isFinite(x[j])) invalidArgument(`${name}[${j}]`, "a finite sample", x[j]);
    if (x.length % channels !== 0) invalidArgument(name, `planar audio of ${channels} channels (a length divisible by ${channels})`, x);
    if (fromRate === undefined || fromRate === toRate) return x;
    checkResampledLength(x.length / channels, fromRate, toRate, name);
    return resamplePlanar(x, channels, fromRate, toRate);
  });
}

/** Samples [from, to) of every channel of planar audio, planar (a view when there is one channel). */
export function planarSpan(x: Float32Array, channels: number, from: number, to: number): Float32Array {
  if (channels === 1) return x.subarray(from, to);
  const n = x.length / channels;
  const out = new Float32Array((to - from) * channels);
  for (let c = 0; c < channels; c++) out.set(x.subarray(c * n + from, c * n + to), c * (to - from));
  return out;
}
