/**
 * Half-precision (IEEE float16) and bfloat16 conversions, shared by the safetensors and pickle
 * readers. One implementation of each conversion lives here.
 */
import { invalidArgument } from "../errors.js";

/** True when the host stores multi-byte numbers little-endian. */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** One number → IEEE half-precision bits, rounding to nearest even. */
function halfBits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry rolls into the exponent (up to Inf)
  return sign | h;
}

function bf16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((b + 0x7fff + ((b >>> 16) & 1)) / 0x10000) & 0xffff;
}

/**
 * Converts values to IEEE half-precision bits, rounding to nearest even (values are first rounded
 * to float32). Overflow gives ±Infinity, NaN stays a (quiet) NaN.
 *
 * @param x - The values.
 * @returns The float16 bit patterns.
 */
export function f32ToF16(x: ArrayLike<number>): Uint16Array {
  if (x === null || typeof x !== "object" || typeof x.length !== "number") invalidArgument("x", "a Float32Array or array of numbers", x);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = halfBits(x[i]);
  return out;
}

/**
 * Converts values to bfloat16 bits, rounding to nearest even (values are first rounded to
 * float32). NaN stays a (quiet) NaN.
 *
 * @param x - The values.
 * @returns The bfloat16 bit patterns.
 */
export function f32ToBf16(x: ArrayLike<number>): Uint16Array {
  if (x === null || typeof x !== "object" || typeof x.length !== "number") invalidArgument("x", "a Float32Array or array of numbers", x);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = bf16Bits(x[i]);
  return out;
}

let f16Table: Float32Array | undefined;
/** Lookup table: every float16 bit pattern → its float32 value (built on first use). */
export function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

/** IEEE half-precision bits → number. */
export function f16BitsToNumber(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}

const bf16Scratch = new Uint32Array(1);
const bf16ScratchF = new Float32Array(bf16Scratch.buffer);

/** bfloat16 bits → number. */
export function bf16BitsToNumber(bits: number): number {
  bf16Scratch[0] = (bits & 0xffff) << 16;
  return bf16ScratchF[0]!;
}

/**
 * Converts float16 bit patterns to float32 (exact).
 *
 * @param bits - IEEE half-precision bit patterns.
 */
export function f16ToF32(bits: Uint16Array): Float32Array {
  if (!(bits instanceof Uint16Array)) invalidArgument("bits", "a Uint16Array", bits);
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/**
 * Converts bfloat16 bit patterns to float32 (exact).
 *
 * @param bits - bfloat16 bit patterns.
 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  if (!(bits instanceof Uint16Array)) invalidArgument("bits", "a Uint16Array", bits);
  const out = new Float32Array(bits.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}
