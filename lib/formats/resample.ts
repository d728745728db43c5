/**
 * Band-limited sample-rate conversion: a windowed-sinc (Kaiser window) polyphase resampler.
 *
 * Integer rates are reduced to an exact rational ratio `up / down` (via their gcd) and use a
 * precomputed polyphase table, one normalised filter row per output phase. Non-integer rates, or
 * ratios with very many phases, use a finely sampled kernel table with linear interpolation.
 * The signal is treated as zero outside its support (like `scipy.signal.resample_poly`).
 */
import { invalidArgument } from "../errors.js";
import { checkResampledLength, checkSampleRate } from "../limits.js";

/** Zero crossings of the sinc on each side of the kernel centre (in units of the filter's cutoff). */
const ZERO_CROSSINGS = 32;
/** Cutoff as a fraction of the lower of the two Nyquist frequencies. */
const ROLLOFF = 0.945;
/** Kaiser window shape parameter (about 100 dB stopband attenuation). */
const KAISER_BETA = 10;
/** Largest polyphase table (phases × taps) built before switching to the interpolated kernel. */
const MAX_TABLE = 1 << 18;
/** Kernel samples per input sample in the interpolated-kernel path. */
const OVERSAMPLE = 1024;

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 500; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** The windowed-sinc kernel; `tau` in input samples. */
function makeKernel(scale: number, halfWidth: number): (tau: number) => number {
  const i0Beta = besselI0(KAISER_BETA);
  return (tau: number): number => {
    const r = tau / halfWidth;
    if (r <= -1 || r >= 1) return 0;
    const arg = Math.PI * scale * tau;
    const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
    return scale * sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta);
  };
}

/** ceil(len * up / down) for non-negative integers, exact even past 2^53. */
function ceilRatio(len: number, up: number, down: number): number {
  const prod = len * up;
  if (prod < 2 ** 52) return Math.ceil(prod / down);
  const p = BigInt(len) * BigInt(up);
  const d = BigInt(down);
  return Number((p + d - 1n) / d);
}

/**
 * Resamples a mono signal from `fromRate` to `toRate` with a band-limited (Kaiser-windowed sinc,
 * 32 zero crossings, cutoff 0.945 of the lower Nyquist frequency) polyphase filter.
 *
 * The output has `ceil(x.length * toRate / fromRate)` samples; output sample `n` is the signal
 * evaluated at input time `n * fromRate / toRate`. When the rates are equal a copy is returned.
 *
 * @param x - The input samples.
 * @param fromRate - The input sample rate in Hz (finite, > 0).
 * @param toRate - The output sample rate in Hz (finite, > 0).
 * @returns A new Float32Array at `toRate`.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` on a non-Float32Array input or a bad rate.
 */
export function resample(x: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(x instanceof Float32Array)) invalidArgument("x", "a Float32Array", x);
  checkSampleRate(fromRate, "fromRate");
  checkSampleRate(toRate, "toRate");
  if (fromRate === toRate) return x.slice();
  checkResampledLength(x.length, fromRate, toRate, "x");
  const len = x.length;

  const scale = Math.min(1, toRate / fromRate) * ROLLOFF;
  const halfWidth = ZERO_CROSSINGS / scale;
  const K = Math.ceil(halfWidth);
  const T = 2 * K;
  const kernel = makeKernel(scale, halfWidth);

  const integerRates =
    Number.isInteger(fromRate) && Number.isInteger(toRate) && fromRate <= 2 ** 31 && toRate <= 2 ** 31;
  if (integerRates) {
    const g = gcd(fromRate, toRate);
    const up = toRate / g;
    const down = fromRate / g;
    const outLen = ceilRatio(len, up, down);
    if (len === 0) return new Float32Array(0);
    if (up * T <= MAX_TABLE) return resamplePolyphase(x, up, down, outLen, K, kernel);
    return resampleInterpolated(x, fromRate / toRate, outLen, K, kernel);
  }
  const outLen = Math.ceil((len * toRate) / fromRate);
  if (len === 0) return new Float32Array(0);
  return resampleInterpolated(x, fromRate / toRate, outLen, K, kernel);
}

function resamplePolyphase(
  x: Float32Array,
  up: number,
  down: number,
  outLen: number,
  K: number,
  kernel: (tau: number) => number,
): Float32Array {
  const T = 2 * K;
  const len = x.length;
  // Row p holds the taps for fractional offset p/up; tap j multiplies x[i - K + 1 + j].
  const table = new Float64Array(up * T);
  for (let p = 0; p < up; p++) {
    const frac = p / up;
    let sum = 0;
    const row = p * T;
    for (let j = 0; j < T; j++) {
      const w = kernel(frac + (K - 1) - j);
      table[row + j] = w;
      sum += w;
    }
    const inv = 1 / sum;
    for (let j = 0; j < T; j++) table[row + j] *= inv;
  }

  const y = new Float32Array(outLen);
  let i = 0; // floor(n * down / up)
  let p = 0; // (n * down) mod up
  for (let n = 0; n < outLen; n++) {
    const start = i - K + 1;
    const row = p * T;
    let acc = 0;
    if (start >= 0 && start + T <= len) {
      for (let j = 0; j < T; j++) acc += table[row + j] * x[start + j];
    } else {
      const j0 = Math.max(0, -start);
      const j1 = Math.min(T, len - start);
      for (let j = j0; j < j1; j++) acc += table[row + j] * x[start + j];
    }
    y[n] = acc;
    p += down;
    if (p >= up) {
      const q = Math.floor(p / up);
      i += q;
      p -= q * up;
    }
  }
  return y;
}

function resampleInterpolated(
  x: Float32Array,
  step: number,
  outLen: number,
  K: number,
  kernel: (tau: number) => number,
): Float32Array {
  const len = x.length;
  // Symmetric kernel sampled at tau = m / OVERSAMPLE, m = 0..K*OVERSAMPLE (+1 guard sample).
  const tableLen = K * OVERSAMPLE + 2;
  const table = new Float64Array(tableLen);
  for (let m = 0; m < tableLen; m++) table[m] = kernel(m / OVERSAMPLE);
  const at = (tau: number): number => {
    const pos = Math.abs(tau) * OVERSAMPLE;
    const m = Math.floor(pos);
    if (m >= tableLen - 1) return 0;
    const f = pos - m;
    return table[m] + f * (table[m + 1] - table[m]);
  };

  const y = new Float32Array(outLen);
  for (let n = 0; n < outLen; n++) {
    const t = n * step;
    const i = Math.floor(t);
    const frac = t - i;
    const start = i - K + 1;
    let acc = 0;
    let wsum = 0;
    for (let j = 0; j < 2 * K; j++) {
      const w = at(frac + (K - 1) - j);
      wsum += w;
      const k = start + j;
      if (k >= 0 && k < len) acc += w * x[k];
    }
    y[n] = wsum !== 0 ? acc / wsum : 0;
  }
  return y;
}

/**
 * Planar audio (`channels` equal blocks, channel 0's samples first) with each channel resampled on
 * its own; planar again. One channel is {@link resample} itself.
 */
export function resamplePlanar(x: Float32Array, channels: number, fromRate: number, toRate: number): Float32Array {
  if (channels === 1) return resample(x, fromRate, toRate);
  const n = x.length / channels;
  const parts = Array.from({ length: channels }, (_, c) => resample(x.subarray(c * n, (c + 1) * n), fromRate, toRate));
  const out = new Float32Array(parts[0]!.length * channels);
  parts.forEach((q, c) => out.set(q, c * q.length));
  return out;
}
