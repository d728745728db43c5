/** Validation of waveforms handed to the models: one place for the rules and the messages. */
import { invalidArgument } from "./errors.js";
import { resample } from "./resample.js";

/**
 * Checks one waveform or a batch (non-empty Float32Arrays of finite samples) and resamples each
 * from `fromRate` (when given and different) to `toRate`. Errors name the item and sample.
 */
export function checkWaveforms(wav: Float32Array | Float32Array[], fromRate: number | undefined, toRate: number): Float32Array[] {
  const items = Array.isArray(wav) ? wav : [wav];
  if (items.length === 0) invalidArgument("wav", "a Float32Array or a non-empty array of them", wav);
  if (fromRate !== undefined && !(Number.isFinite(fromRate) && fromRate > 0)) invalidArgument("sampleRate", "a positive number", fromRate);
  return items.map((x, i) => {
    const name = Array.isArray(wav) ? `wav[${i}]` : "wav";
    if (!(x instanceof Float32Array)) invalidArgument(name, "a Float32Array", x);
    if (x.length === 0) invalidArgument(name, "a non-empty Float32Array", x);
    for (let j = 0; j < x.length; j++) if (!Number.isFinite(x[j])) invalidArgument(`${name}[${j}]`, "a finite sample", x[j]);
    return fromRate && fromRate !== toRate ? resample(x, fromRate, toRate) : x;
  });
}
