/**
 * The neural audio codec (EnCodec / SEANet family): waveform ⇄ residual-vector-quantised codes.
 */
import type { NativeCodec, NativeCodecConfig } from "./addon-types.js";
import { AudioLMError, invalidArgument } from "./errors.js";
import { native, rethrow } from "./native.js";
import { type LoadOptions, resolveLoadOptions } from "./options.js";
import { checkWaveforms } from "./audio-input.js";

/** Codes of a batch: `data` is [batch, quantizers, frames] row-major; shorter items are padded with -1. */
export interface CodecCodes {
  data: Int32Array;
  shape: [batch: number, quantizers: number, frames: number];
  /** Valid frames of each item (the rest of its row is -1). */
  frames: number[];
}

export interface EncodeOptions {
  /** Target bandwidth in kbps; picks the number of quantizers as EnCodec does. */
  bandwidth?: number;
  /** Number of quantizers to use (alternative to `bandwidth`; default: all). */
  quantizers?: number;
  /** Sample rate of the input when it differs from the codec's (it is resampled). */
  sampleRate?: number;
}

export interface DecodeOptions {
  /** Trim each item to this many samples (e.g. the original input lengths). */
  lengths?: number[];
}

const asyncDispose: symbol = (Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for("nodejs.asyncDispose");

/** A loaded codec. Heavy calls are asynchronous and run off the event loop. */
export class Codec {
  #native: NativeCodec | null;
  readonly #config: NativeCodecConfig;

  private constructor(handle: NativeCodec) {
    this.#native = handle;
    this.#config = handle.config();
  }

  /** Loads a codec component (`.safetensors` made by `audiolm convert encodec`). */
  static async load(path: string, opts?: LoadOptions): Promise<Codec> {
    if (typeof path !== "string" || path.length === 0) invalidArgument("Codec.load path", "a non-empty string", path);
    resolveLoadOptions(opts, "Codec.load");
    try {
      return new Codec(await native().loadCodec(path));
    } catch (err) {
      rethrow(err);
    }
  }

  /** Audio sample rate in Hz. */
  get sampleRate(): number { return this.#config.sampleRate; }
  /** Code frames per second (sample rate / hop length). */
  get frameRate(): number { return this.#config.frameRate; }
  /** Samples per code frame. */
  get hopLength(): number { return this.#config.hopLength; }
  /** Number of RVQ levels the codec has. */
  get numQuantizers(): number { return this.#config.numQuantizers; }
  /** Codes per codebook. */
  get codebookSize(): number { return this.#config.codebookSize; }
  /** Bandwidths (kbps) the codec was trained for, if known. */
  get targetBandwidths(): number[] { return [...this.#config.targetBandwidths]; }
  /** Audio channels (1 for mono codecs). */
  get channels(): number { return this.#config.channels; }

  /**
   * Quantizers used for a bandwidth in kbps, by EnCodec's rule: each level costs
   * log2(codebookSize) bits per frame at ceil(frameRate) frames per second.
   */
  quantizersForBandwidth(kbps: number): number {
    if (typeof kbps !== "number" || !Number.isFinite(kbps) || kbps <= 0) invalidArgument("bandwidth", "a positive number of kbps", kbps);
    const bitsPerLevel = Math.log2(this.codebookSize) * Math.ceil(this.frameRate); // bits per second
    const perLevel = bitsPerLevel / 1000;
    const n = Math.max(1, Math.floor((kbps * 1000) / bitsPerLevel));
    if (n > this.numQuantizers) {
      invalidArgument("bandwidth", `at most ${(this.numQuantizers * perLevel).toFixed(3)} kbps (${this.numQuantizers} quantizers)`, kbps);
    }
    return n;
  }

  #levels(opts: EncodeOptions): number {
    if (opts.bandwidth !== undefined && opts.quantizers !== undefined) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", "Give either bandwidth or quantizers, not both");
    }
    if (opts.bandwidth !== undefined) return this.quantizersForBandwidth(opts.bandwidth);
    if (opts.quantizers !== undefined) {
      if (!Number.isInteger(opts.quantizers) || opts.quantizers < 1 || opts.quantizers > this.numQuantizers) {
        invalidArgument("quantizers", `an integer from 1 to ${this.numQuantizers}`, opts.quantizers);
      }
      return opts.quantizers;
    }
    return this.numQuantizers;
  }

  #handle(): NativeCodec {
    if (!this.#native) throw new AudioLMError("ERR_AUDIOLM_DISPOSED", "this Codec was disposed");
    return this.#native;
  }

  /** Encodes one waveform or a batch (mono Float32Array in [-1, 1]) to codes [B, Q, T]. */
  async encode(wav: Float32Array | Float32Array[], opts: EncodeOptions = {}): Promise<CodecCodes> {
    const handle = this.#handle();
    const inputs = checkWaveforms(wav, opts.sampleRate, this.sampleRate);
    const levels = this.#levels(opts);
    let res: { codes: Int32Array[]; frames: number[] };
    try {
      res = await handle.encode(inputs, levels);
    } catch (err) {
      rethrow(err);
    }
    const T = Math.max(...res.frames);
    const data = new Int32Array(inputs.length * levels * T).fill(-1);
    res.codes.forEach((c, b) => {
      const t = res.frames[b];
      for (let q = 0; q < levels; q++) data.set(c.subarray(q * t, (q + 1) * t), (b * levels + q) * T);
    });
    return { data, shape: [inputs.length, levels, T], frames: res.frames };
  }

  /** Decodes codes [B, Q, T] to one waveform per item (frames·hop samples, or `lengths`). */
  async decode(codes: CodecCodes | { data: Int32Array; shape: number[]; frames?: number[] }, opts: DecodeOptions = {}): Promise<Float32Array[]> {
    const handle = this.#handle();
    if (!codes || typeof codes !== "object" || !(codes.data instanceof Int32Array)) {
      invalidArgument("codes", "{ data: Int32Array, shape: [B, Q, T] }", codes);
    }
    let shape = codes.shape;
    if (shape.length === 2) shape = [1, shape[0], shape[1]];
    if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      invalidArgument("codes.shape", "[B, Q, T] of positive integers", codes.shape);
    }
    const [B, Q, T] = shape;
    if (codes.data.length !== B * Q * T) invalidArgument("codes.data", `${B * Q * T} entries for shape [${shape}]`, codes.data);
    if (Q > this.numQuantizers) invalidArgument("codes.shape[1]", `at most ${this.numQuantizers} quantizers`, Q);
    const frames = codes.frames ?? new Array<number>(B).fill(T);
    if (frames.length !== B || !frames.every((f) => Number.isInteger(f) && f >= 1 && f <= T)) {
      invalidArgument("codes.frames", `${B} frame counts from 1 to ${T}`, frames);
    }
    const items: Int32Array[] = [];
    for (let b = 0; b < B; b++) {
      const t = frames[b];
      const item = new Int32Array(Q * t);
      for (let q = 0; q < Q; q++) {
        const row = codes.data.subarray((b * Q + q) * T, (b * Q + q) * T + t);
        for (let j = 0; j < t; j++) {
          if (row[j] < 0 || row[j] >= this.codebookSize) {
            invalidArgument(`codes[${b}, ${q}, ${j}]`, `a code from 0 to ${this.codebookSize - 1}`, row[j]);
          }
        }
        item.set(row, q * t);
      }
      items.push(item);
    }
    if (opts.lengths !== undefined && (!Array.isArray(opts.lengths) || opts.lengths.length !== B)) {
      invalidArgument("lengths", `an array of ${B} sample counts`, opts.lengths);
    }
    let out: Float32Array[];
    try {
      out = await handle.decode(items, Q);
    } catch (err) {
      rethrow(err);
    }
    if (opts.lengths) out = out.map((w, i) => w.subarray(0, Math.min(w.length, opts.lengths![i])));
    return out;
  }

  /** The encoder's continuous output [dimension × frames] for one waveform (for tests and analysis). */
  async embed(wav: Float32Array): Promise<{ data: Float32Array; dimension: number; frames: number }> {
    const handle = this.#handle();
    if (!(wav instanceof Float32Array) || wav.length === 0) invalidArgument("wav", "a non-empty Float32Array", wav);
    try {
      return await handle.embed([wav]);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Frees the native model. Idempotent; later calls throw ERR_AUDIOLM_DISPOSED. */
  async dispose(): Promise<void> {
    this.#native?.dispose();
    this.#native = null;
  }

  async [asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
