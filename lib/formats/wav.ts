/**
 * WAV reading and writing.
 *
 * Reading parses the RIFF container with the `wavefile` package (RIFF, RIFX and RF64 containers)
 * and decodes the samples here: integer PCM in 8 (unsigned), 16, 24 and 32-bit containers, IEEE
 * float 32/64-bit, G.711 A-law and µ-law, plain or WAVE_FORMAT_EXTENSIBLE, any channel count
 * (downmixed to mono by averaging, unless `channels` asks for more). Writing produces a canonical
 * RIFF WAV, 32-bit float or 16-bit PCM. Multi-channel samples are planar in memory (channel 0's
 * samples, then channel 1's: what a stereo codec takes) and interleaved in the file.
 */
import { readFile, writeFile } from "node:fs/promises";
import wavefile from "wavefile";
import { AudioLMError, describe, invalidArgument } from "../errors.js";
import { checkResampledLength, checkSampleRate, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from "../limits.js";
import { resamplePlanar } from "./resample.js";

/** Decoded audio: mono samples in [-1, 1] (floats may exceed it) and their rate. */
export interface WavAudio {
  /** Mono samples (multi-channel input is averaged), at `sampleRate`; planar with `channels` > 1 asked for. */
  samples: Float32Array;
  /** Sample rate of `samples` in Hz (the requested rate when resampling was asked for). */
  sampleRate: number;
  /** Number of channels in the file, before the downmix. */
  channels: number;
  /** Duration in seconds: samples per channel / `sampleRate`. */
  duration: number;
}

/** Options for {@link readWav} and {@link decodeWav}. */
export interface ReadWavOptions {
  /** Resample the audio to this rate in Hz; left out, the file's rate is kept. */
  sampleRate?: number;
  /**
   * Channels of `samples` (planar): 1 (default) averages the file's channels; N keeps a file's N
   * channels and copies a mono file to all N. Other counts are an ERR_AUDIOLM_INVALID_WAV error.
   */
  channels?: number;
}

/** Options for {@link writeWav} and {@link encodeWav}. */
export interface WriteWavOptions {
  /** Sample format: 32-bit IEEE float (default) or 16-bit signed PCM (clipped to [-1, 1]). */
  format?: "f32" | "s16";
  /** Channels of `samples` (planar, default 1); the file stores them interleaved. */
  channels?: number;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

const FORMAT_NAMES: Record<number, string> = {
  0x0002: "Microsoft ADPCM",
  0x0011: "IMA ADPCM",
  0x0031: "GSM 6.10",
  0x0050: "MPEG",
  0x0055: "MPEG Layer 3",
  0x00ff: "AAC",
};

interface WavFmt {
  chunkSize: number;
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
  subformat: number[];
}

interface ParsedWave {
  container: string;
  fmt: WavFmt;
  data: { chunkSize: number; samples: Uint8Array };
}

function wavError(source: string, what: string, cause?: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_INVALID_WAV", `${source} ${what}`, cause === undefined ? undefined : { cause });
}

function alawToLinear(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return a & 0x80 ? t : -t;
}

function mulawToLinear(u: number): number {
  u = ~u & 0xff;
  let t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

let alawTable: Float32Array | undefined;
let mulawTable: Float32Array | undefined;
function g711Table(format: number): Float32Array {
  if (format === WAVE_FORMAT_ALAW) {
    if (!alawTable) {
      alawTable = new Float32Array(256);
      for (let i = 0; i < 256; i++) alawTable[i] = alawToLinear(i) / 32768;
    }
    return alawTable;
  }
  if (!mulawTable) {
    mulawTable = new Float32Array(256);
    for (let i = 0; i < 256; i++) mulawTable[i] = mulawToLinear(i) / 32768;
  }
  return mulawTable;
}

function checkReadOptions(opts: ReadWavOptions | undefined): { rate: number | undefined; channels: number } {
  if (opts === undefined) return { rate: undefined, channels: 1 };
  if (opts === null || typeof opts !== "object") invalidArgument("opts", "an options object", opts);
  const rate = opts.sampleRate === undefined ? undefined : checkSampleRate(opts.sampleRate, "opts.sampleRate");
  const channels = opts.channels ?? 1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) invalidArgument("opts.channels", "an integer from 1 to 64", opts.channels);
  return { rate, channels };
}

function parseContainer(bytes: Uint8Array, source: string): ParsedWave {
  if (bytes.length === 0) throw wavError(source, "is empty");
  const tag = (off: number): string => String.fromCharCode(bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]);
  if (bytes.length < 12 || !["RIFF", "RIFX", "RF64"].includes(tag(0)) || tag(8) !== "WAVE") {
    throw wavError(source, `is not a WAV file (expected a RIFF/WAVE header, received ${bytes.length} bytes starting with ${JSON.stringify(tag(0).replace(/[^\x20-\x7e]/g, "?"))})`);
  }
  const wav = new wavefile.WaveFile();
  try {
    wav.fromBuffer(bytes);
  } catch (err) {
    throw wavError(source, `could not be parsed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  return wav as unknown as ParsedWave;
}

/** Decodes a WAV image into float samples (mono, or planar `want` channels); `source` names the file in errors. */
function decodeWavImpl(bytes: Uint8Array, source: string, targetRate: number | undefined, want: number): WavAudio {
  const wav = parseContainer(bytes, source);
  const fmt = wav.fmt;
  if (!(fmt.chunkSize >= 16)) throw wavError(source, `has a truncated "fmt " chunk (${fmt.chunkSize} bytes, expected at least 16)`);
  let format = fmt.audioFormat;
  if (format === WAVE_FORMAT_EXTENSIBLE) {
    if (fmt.chunkSize < 40 || fmt.subformat.length < 1 || !Number.isFinite(fmt.subformat[0])) {
      throw wavError(source, `has a WAVE_FORMAT_EXTENSIBLE "fmt " chunk of ${fmt.chunkSize} bytes (expected at least 40)`);
    }
    format = fmt.subformat[0];
  }
  const channels = fmt.numChannels;
  const sampleRate = fmt.sampleRate;
  const bits = fmt.bitsPerSample;
  const blockAlign = fmt.blockAlign;
  if (!Number.isInteger(channels) || channels < 1) throw wavError(source, `declares ${channels} channels`);
  if (!Number.isInteger(sampleRate) || sampleRate < MIN_SAMPLE_RATE || sampleRate > MAX_SAMPLE_RATE) {
    throw wavError(source, `declares a sample rate of ${sampleRate} Hz (supported: ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE} Hz)`);
  }
  if (!Number.isInteger(bits) || bits < 1) throw wavError(source, `declares ${bits} bits per sample`);
  const width = blockAlign / channels;
  if (!Number.isInteger(width) || width < Math.ceil(bits / 8)) {
    throw wavError(source, `has an inconsistent block align of ${blockAlign} bytes for ${channels} channel(s) of ${bits}-bit samples`);
  }

  let kind: "u8" | "int" | "float" | "g711";
  if (format === WAVE_FORMAT_PCM) {
    if (width > 4) throw wavError(source, `uses unsupported ${bits}-bit integer PCM in ${width}-byte containers (supported: 8, 16, 24 and 32-bit)`);
    kind = width === 1 ? "u8" : "int";
  } else if (format === WAVE_FORMAT_IEEE_FLOAT) {
    if (!((bits === 32 && width === 4) || (bits === 64 && width === 8))) {
      throw wavError(source, `uses unsupported ${bits}-bit IEEE float samples (supported: 32 and 64-bit)`);
    }
    kind = "float";
  } else if (format === WAVE_FORMAT_ALAW || format === WAVE_FORMAT_MULAW) {
    if (width !== 1) throw wavError(source, `uses G.711 samples of ${width} bytes (expected 1)`);
    kind = "g711";
  } else {
    const hex = "0x" + format.toString(16).padStart(4, "0");
    const name = FORMAT_NAMES[format];
    throw wavError(source, `uses unsupported format code ${hex}${name ? ` (${name})` : ""}; supported are PCM, IEEE float, A-law and µ-law`);
  }

  const all = wav.data.samples;
  const dataLen = Math.min(Number(wav.data.chunkSize) || 0, all.length);
  const frames = Math.floor(dataLen / blockAlign);
  if (frames === 0) throw wavError(source, "contains no audio samples (empty data chunk)");

  const le = wav.container !== "RIFX";
  const view = new DataView(all.buffer, all.byteOffset, dataLen);
  if (want > 1 && channels !== want && channels !== 1) throw wavError(source, `has ${channels} channels; ${want} (or 1) were asked for`);
  const keep = want > 1 && channels === want;
  const out = new Float32Array(keep ? frames * channels : frames);
  const inv = 1 / channels;
  const table = kind === "g711" ? g711Table(format) : undefined;
  for (let f = 0; f < frames; f++) {
    let acc = 0;
    const base = f * blockAlign;
    for (let c = 0; c < channels; c++) {
      const off = base + c * width;
      let v: number;
      switch (kind) {
        case "u8":
          v = (all[off] - 128) / 128;
          break;
        case "g711":
          v = table![all[off]];
          break;
        case "float":
          v = width === 4 ? view.getFloat32(off, le) : view.getFloat64(off, le);
          if (!Number.isFinite(v)) {
            throw wavError(source, `contains a non-finite sample (${v}) at frame ${f}, channel ${c}`);
          }
          break;
        default:
          if (width === 2) v = view.getInt16(off, le) / 32768;
          else if (width === 4) v = view.getInt32(off, le) / 2147483648;
          else {
            // 24-bit: assemble the three bytes, sign-extend.
            const b0 = all[off];
            const b1 = all[off + 1];
            const b2 = all[off + 2];
            const u = le ? b0 | (b1 << 8) | (b2 << 16) : b2 | (b1 << 8) | (b0 << 16);
            v = ((u << 8) >> 8) / 8388608;
          }
      }
      if (keep) out[c * frames + f] = v;
      acc += v;
    }
    if (!keep) out[f] = channels === 1 ? acc : acc * inv;
  }

  // Planar channels as read, each resampled on its own; or the (resampled) mono signal copied to each.
  const resampling = targetRate !== undefined && targetRate !== sampleRate;
  const rate = resampling ? targetRate : sampleRate;
  const read = keep ? want : 1;
  if (resampling) checkResampledLength(out.length / read, sampleRate, targetRate, source);
  let samples = resampling ? resamplePlanar(out, read, sampleRate, targetRate) : out;
  if (want > read) {
    const mono = samples;
    samples = new Float32Array(mono.length * want);
    for (let c = 0; c < want; c++) samples.set(mono, c * mono.length);
  }
  return { samples, sampleRate: rate, channels, duration: samples.length / want / rate };
}

/**
 * Decodes a WAV file image held in memory into mono float samples.
 *
 * Supports integer PCM (8-bit unsigned, 16, 24 and 32-bit signed), IEEE float (32/64-bit), A-law
 * and µ-law, WAVE_FORMAT_EXTENSIBLE and RIFX/RF64 containers. Channels are averaged to mono;
 * integers are scaled by 1/2^(bits-1) (8-bit: `(u - 128) / 128`).
 *
 * @param bytes - The whole WAV file.
 * @param opts - `sampleRate`: resample to this rate (Hz).
 * @returns The mono samples, their rate, the file's channel count and the duration in seconds.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_WAV` for empty, malformed or unsupported data, zero
 *   samples, or non-finite float samples; `ERR_AUDIOLM_INVALID_ARGUMENT` for bad arguments.
 */
export function decodeWav(bytes: Uint8Array, opts?: ReadWavOptions): WavAudio {
  if (!(bytes instanceof Uint8Array)) invalidArgument("bytes", "a Uint8Array", bytes);
  const { rate, channels } = checkReadOptions(opts);
  return decodeWavImpl(bytes, `WAV data (${bytes.length} bytes)`, rate, channels);
}

/**
 * Reads a WAV file (or an in-memory WAV image) into mono float samples; see {@link decodeWav}
 * for the supported formats.
 *
 * @param pathOrBytes - A file path, or the whole WAV file as bytes.
 * @param opts - `sampleRate`: resample to this rate (Hz).
 * @returns The mono samples, their rate, the file's channel count and the duration in seconds.
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_WAV`
 *   when it is not a usable WAV file, `ERR_AUDIOLM_INVALID_ARGUMENT` for bad arguments.
 */
export async function readWav(pathOrBytes: string | Uint8Array, opts?: ReadWavOptions): Promise<WavAudio> {
  const { rate, channels } = checkReadOptions(opts);
  if (pathOrBytes instanceof Uint8Array) return decodeWavImpl(pathOrBytes, `WAV data (${pathOrBytes.length} bytes)`, rate, channels);
  if (typeof pathOrBytes !== "string" || pathOrBytes.length === 0) {
    invalidArgument("pathOrBytes", "a file path or a Uint8Array", pathOrBytes);
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pathOrBytes);
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `Could not read WAV file ${JSON.stringify(pathOrBytes)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return decodeWavImpl(bytes, `WAV file ${JSON.stringify(pathOrBytes)}`, rate, channels);
}

function checkWriteArgs(samples: Float32Array, sampleRate: number, opts: WriteWavOptions | undefined): { format: "f32" | "s16"; channels: number } {
  if (!(samples instanceof Float32Array)) invalidArgument("samples", "a Float32Array", samples);
  if (typeof sampleRate !== "number" || !Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0xffffffff) {
    invalidArgument("sampleRate", "a positive integer sample rate (Hz)", sampleRate);
  }
  if (opts !== undefined && (opts === null || typeof opts !== "object")) invalidArgument("opts", "an options object", opts);
  const format = opts?.format ?? "f32";
  if (format !== "f32" && format !== "s16") invalidArgument("opts.format", '"f32" or "s16"', format);
  const channels = opts?.channels ?? 1;
  if (!Number.isInteger(channels) || channels < 1 || channels > 64) invalidArgument("opts.channels", "an integer from 1 to 64", opts?.channels);
  if (samples.length % channels !== 0) invalidArgument("samples", `planar audio of ${channels} channels (a length divisible by ${channels})`, samples);
  return { format, channels };
}

function nonFinite(v: number, i: number): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected finite samples for samples but received ${describe(v)} at index ${i}`);
}

/**
 * Encodes mono float samples as a WAV file image: 32-bit IEEE float (default; the samples are
 * stored as they are and must be finite) or 16-bit PCM (clipped to [-1, 1], scaled by 32768 —
 * the inverse of the reader's 1/32768 — rounded to nearest, half away from zero, and clamped to
 * [-32768, 32767]; NaN is rejected).
 *
 * @param samples - Mono samples, nominally in [-1, 1].
 * @param sampleRate - A positive integer sample rate in Hz.
 * @param opts - `format`: `"f32"` (default) or `"s16"`.
 * @returns The complete WAV file.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for a non-Float32Array, a bad rate or
 *   format, NaN samples (or ±Infinity in `"f32"` mode), or audio too long for a RIFF file.
 */
export function encodeWav(samples: Float32Array, sampleRate: number, opts?: WriteWavOptions): Uint8Array {
  const { format, channels } = checkWriteArgs(samples, sampleRate, opts);
  const n = samples.length;
  const frames = n / channels;
  // File order: frame-major (interleaved); sample i of the file is planar index at(i).
  const at = (i: number): number => (channels === 1 ? i : (i % channels) * frames + Math.floor(i / channels));
  const width = format === "f32" ? 4 : 2;
  const dataBytes = n * width;
  const headerBytes = format === "f32" ? 12 + 26 + 12 + 8 : 12 + 24 + 8;
  if (headerBytes + dataBytes - 8 > 0xffffffff) {
    invalidArgument("samples", "at most 4 GiB of audio data for a WAV file", samples);
  }
  const out = new Uint8Array(headerBytes + dataBytes);
  const view = new DataView(out.buffer);
  let p = 0;
  const tag = (s: string): void => {
    for (let i = 0; i < 4; i++) out[p + i] = s.charCodeAt(i);
    p += 4;
  };
  const u32 = (v: number): void => {
    view.setUint32(p, v, true);
    p += 4;
  };
  const u16 = (v: number): void => {
    view.setUint16(p, v, true);
    p += 2;
  };
  tag("RIFF");
  u32(out.length - 8);
  tag("WAVE");
  tag("fmt ");
  u32(format === "f32" ? 18 : 16);
  u16(format === "f32" ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM);
  u16(channels);
  u32(sampleRate);
  u32(sampleRate * width * channels);
  u16(width * channels);
  u16(width * 8);
  if (format === "f32") {
    u16(0); // cbSize
    tag("fact");
    u32(4);
    u32(frames);
  }
  tag("data");
  u32(dataBytes);
  if (format === "f32") {
    for (let i = 0; i < n; i++) {
      const v = samples[at(i)];
      if (!Number.isFinite(v)) throw nonFinite(v, at(i));
      view.setFloat32(p, v, true);
      p += 4;
    }
  } else {
    for (let i = 0; i < n; i++) {
      let v = samples[at(i)];
      if (Number.isNaN(v)) throw nonFinite(v, at(i));
      v = v > 1 ? 1 : v < -1 ? -1 : v;
      const s = v * 32768;
      const q = s < 0 ? -Math.round(-s) : Math.round(s);
      view.setInt16(p, q > 32767 ? 32767 : q, true);
      p += 2;
    }
  }
  return out;
}

/**
 * Writes mono float samples to a WAV file; see {@link encodeWav} for the formats.
 *
 * @param path - The file to create or overwrite.
 * @param samples - Mono samples, nominally in [-1, 1].
 * @param sampleRate - A positive integer sample rate in Hz.
 * @param opts - `format`: `"f32"` (default) or `"s16"`.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for bad arguments, `ERR_AUDIOLM_IO` when
 *   the file cannot be written.
 */
export async function writeWav(path: string, samples: Float32Array, sampleRate: number, opts?: WriteWavOptions): Promise<void> {
  if (typeof path !== "string" || path.length === 0) invalidArgument("path", "a file path", path);
  const bytes = encodeWav(samples, sampleRate, opts);
  try {
    await writeFile(path, bytes);
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `Could not write WAV file ${JSON.stringify(path)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
