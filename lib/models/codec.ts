/**
 * The neural audio codec (EnCodec / SEANet family): waveform ⇄ residual-vector-quantised codes.
 *
 * Multi-channel audio is planar: one Float32Array holding channel 0's samples, then channel 1's.
 * Segmented codecs (EnCodec 48 kHz: `segmentLength` > 0 or `normalize`) are planned here, as the
 * reference EncodecModel does it: the waveform is cut into segments starting every `segmentStride`
 * samples, each is divided by its scale (1e-8 + the RMS of its channel mean) when the codec
 * normalises, and each is encoded alone; decoding scales every segment back and joins them by
 * overlap-add with triangular weights. The engine's native model runs one segment at a time.
 */
import type { NativeCodec, NativeCodecConfig } from "../native/addon-types.js";
import { AudioLMError, invalidArgument } from "../errors.js";
import { native } from "../native/loader.js";
import { NativeModel } from "../native/native-model.js";
import type { LoadOptions } from "../native/options.js";
import { checkWaveforms, planarSpan } from "./audio-input.js";

/** One segment of an item of a segmented codec: its code frames and the volume it was divided by. */
export interface CodecSegment {
  frames: number;
  scale: number;
}

/** Codes of a batch: `data` is [batch, quantizers, frames] row-major; shorter items are padded with -1. */
export interface CodecCodes {
  data: Int32Array;
  shape: [batch: number, quantizers: number, frames: number];
  /** Valid frames of each item (the rest of its row is -1). */
  frames: number[];
  /**
   * Segmented codecs only: each item's segments in order; the item's frames are theirs end to end.
   * {@link Codec.decode} needs them to undo the scales and overlap the segments; without them an
   * item is decoded as one segment of scale 1.
   */
  segments?: CodecSegment[][];
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

/** A loaded codec. Heavy calls are asynchronous and run off the event loop. */
export class Codec extends NativeModel<NativeCodec> {
  readonly #config: NativeCodecConfig;

  private constructor(handle: NativeCodec) {
    super(handle, "Codec");
    this.#config = handle.config();
  }

  /** Loads a codec component (`.safetensors` made by `audiolm convert encodec`). */
  static async load(path: string, opts?: LoadOptions): Promise<Codec> {
    return new Codec(await NativeModel.open("Codec", path, opts, (p, device) => native().loadCodec(p, device)));
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
  /** Audio channels (1 for mono codecs); waveforms are planar, channel after channel. */
  get channels(): number { return this.#config.channels; }
  /** Samples per segment (0 when the codec encodes a waveform whole). */
  get segmentLength(): number { return this.#config.segmentLength; }
  /** Samples between the starts of consecutive segments (0 without segments). */
  get segmentStride(): number { return this.#config.segmentStride; }
  /** Whether each segment is scaled to unit RMS before it is encoded. */
  get normalize(): boolean { return this.#config.normalize; }
  /** Whether encode() cuts waveforms into scaled segments (and returns `segments`). */
  get segmented(): boolean { return this.#config.segmentLength > 0 || this.#config.normalize; }

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

  /** Encodes one waveform or a batch (Float32Array in [-1, 1], planar when multi-channel) to codes [B, Q, T]. */
  async encode(wav: Float32Array | Float32Array[], opts: EncodeOptions = {}): Promise<CodecCodes> {
    const handle = this.handle();
    const inputs = checkWaveforms(wav, opts.sampleRate, this.sampleRate, this.channels);
    const levels = this.#levels(opts);
    const plan = this.segmented ? inputs.map((x) => this.#cut(x)) : inputs.map((x) => [{ audio: x, scale: 1 }]);
    const res = await this.invoke(() => handle.encode(plan.flat().map((p) => p.audio), levels));
    // Each item's segments, end to end along the frame axis.
    const frames: number[] = [];
    const pieces: Int32Array[] = [];
    const segments: CodecSegment[][] = [];
    let k = 0;
    for (const parts of plan) {
      const segs = parts.map((p, j) => ({ frames: res.frames[k + j]!, scale: p.scale }));
      const t = segs.reduce((n, sg) => n + sg.frames, 0);
      const item = new Int32Array(levels * t);
      let f0 = 0;
      segs.forEach((sg, j) => {
        const c = res.codes[k + j]!;
        for (let q = 0; q < levels; q++) item.set(c.subarray(q * sg.frames, (q + 1) * sg.frames), q * t + f0);
        f0 += sg.frames;
      });
      k += parts.length;
      frames.push(t);
      pieces.push(item);
      segments.push(segs);
    }
    const T = Math.max(...frames);
    const data = new Int32Array(inputs.length * levels * T).fill(-1);
    pieces.forEach((c, b) => {
      const t = frames[b]!;
      for (let q = 0; q < levels; q++) data.set(c.subarray(q * t, (q + 1) * t), (b * levels + q) * T);
    });
    const out: CodecCodes = { data, shape: [inputs.length, levels, T], frames };
    if (this.segmented) out.segments = segments;
    return out;
  }

  /** A planar waveform cut into the codec's segments, each divided by its scale when the codec normalises. */
  #cut(x: Float32Array): Array<{ audio: Float32Array; scale: number }> {
    const ch = this.channels;
    const n = x.length / ch;
    const len = this.segmentLength || n;
    const stride = this.segmentStride || n;
    const out: Array<{ audio: Float32Array; scale: number }> = [];
    for (let off = 0; off < n; off += stride) {
      const m = Math.min(len, n - off);
      let audio = planarSpan(x, ch, off, off + m);
      let scale = 1;
      if (this.normalize) {
        let sum = 0;
        for (let t = 0; t < m; t++) {
          let mono = 0;
          for (let c = 0; c < ch; c++) mono += audio[c * m + t]!;
          mono /= ch;
          sum += mono * mono;
        }
        scale = Math.fround(1e-8 + Math.sqrt(sum / m));
        audio = audio.map((v) => v / scale);
      }
      out.push({ audio, scale });
    }
    return out;
  }

  /** Decodes codes [B, Q, T] to one waveform per item (frames·hop samples, or `lengths`). */
  async decode(codes: CodecCodes | { data: Int32Array; shape: number[]; frames?: number[]; segments?: CodecSegment[][] }, opts: DecodeOptions = {}): Promise<Float32Array[]> {
    const handle = this.handle();
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
    const segments = this.#segmentsOf(codes.segments, frames);
    const items: Int32Array[] = [];
    for (let b = 0; b < B; b++) {
      const t = frames[b]!;
      for (let q = 0; q < Q; q++) {
        const row = codes.data.subarray((b * Q + q) * T, (b * Q + q) * T + t);
        for (let j = 0; j < t; j++) {
          if (row[j]! < 0 || row[j]! >= this.codebookSize) {
            invalidArgument(`codes[${b}, ${q}, ${j}]`, `a code from 0 to ${this.codebookSize - 1}`, row[j]);
          }
        }
      }
      // One native item per segment: levels [Q × its frames].
      let f0 = 0;
      for (const sg of segments[b]!) {
        const item = new Int32Array(Q * sg.frames);
        for (let q = 0; q < Q; q++) item.set(codes.data.subarray((b * Q + q) * T + f0, (b * Q + q) * T + f0 + sg.frames), q * sg.frames);
        items.push(item);
        f0 += sg.frames;
      }
    }
    if (opts.lengths !== undefined && (!Array.isArray(opts.lengths) || opts.lengths.length !== B)) {
      invalidArgument("lengths", `an array of ${B} sample counts`, opts.lengths);
    }
    const pieces: Float32Array[] = await this.invoke(() => handle.decode(items, Q));
    let out: Float32Array[] = [];
    let k = 0;
    for (let b = 0; b < B; b++) {
      const segs = segments[b]!;
      out.push(this.#join(pieces.slice(k, k + segs.length), segs.map((sg) => sg.scale)));
      k += segs.length;
    }
    if (opts.lengths) {
      const ch = this.channels;
      out = out.map((w, i) => planarSpan(w, ch, 0, Math.min(w.length / ch, opts.lengths![i]!)));
    }
    return out;
  }

  /** The segments of each item: as given (checked against the frames), else one of scale 1. */
  #segmentsOf(given: CodecSegment[][] | undefined, frames: number[]): CodecSegment[][] {
    if (given === undefined) return frames.map((f) => [{ frames: f, scale: 1 }]);
    if (!this.segmented) invalidArgument("codes.segments", "nothing: this codec does not cut audio into segments", given);
    if (!Array.isArray(given) || given.length !== frames.length) invalidArgument("codes.segments", `one list of segments per item (${frames.length})`, given);
    return given.map((segs, b) => {
      const name = `codes.segments[${b}]`;
      if (!Array.isArray(segs) || segs.length === 0) invalidArgument(name, "a non-empty array of { frames, scale }", segs);
      if (segs.length > 1 && this.segmentLength === 0) invalidArgument(name, "one segment (this codec normalises whole waveforms)", segs);
      // Overlap-add needs every segment to reach the next one and none longer than the first.
      const hop = this.hopLength;
      let sum = 0;
      segs.forEach((sg, j) => {
        const ok = sg && Number.isInteger(sg.frames) && sg.frames >= 1 && typeof sg.scale === "number" && Number.isFinite(sg.scale) && sg.scale > 0;
        if (!ok) invalidArgument(`${name}[${j}]`, "{ frames: a positive integer, scale: a positive finite number }", sg);
        if (j > 0 && sg.frames > segs[0]!.frames) invalidArgument(`${name}[${j}].frames`, `at most the first segment's ${segs[0]!.frames}`, sg.frames);
        if (j + 1 < segs.length && sg.frames * hop < this.segmentStride) {
          invalidArgument(`${name}[${j}].frames`, `at least ${Math.ceil(this.segmentStride / hop)} (segments start every ${this.segmentStride} samples)`, sg.frames);
        }
        sum += sg.frames;
      });
      if (sum !== frames[b]) invalidArgument(name, `segments of ${frames[b]} frames in all (the item's frames)`, sum);
      return segs;
    });
  }

  /**
   * Decoded segments (planar) scaled back and overlap-added every `segmentStride` samples with
   * triangular weights (the first segment's length sets the triangle), as the reference does.
   */
  #join(parts: Float32Array[], scales: number[]): Float32Array {
    const ch = this.channels;
    if (parts.length === 1) {
      const s = scales[0]!;
      return s === 1 ? parts[0]! : parts[0]!.map((v) => v * s);
    }
    const stride = this.segmentStride;
    const lens = parts.map((p) => p.length / ch);
    const total = stride * (parts.length - 1) + lens[lens.length - 1]!;
    const len0 = lens[0]!;
    const weight = new Float64Array(len0);
    for (let i = 0; i < len0; i++) weight[i] = 0.5 - Math.abs((i + 1) / (len0 + 1) - 0.5);
    const acc = new Float64Array(total * ch);
    const wsum = new Float64Array(total);
    parts.forEach((p, j) => {
      const off = j * stride;
      const n = lens[j]!; // at most len0: #segmentsOf and encode() keep later segments no longer than the first
      for (let i = 0; i < n; i++) wsum[off + i] += weight[i]!;
      for (let c = 0; c < ch; c++) {
        for (let i = 0; i < n; i++) acc[c * total + off + i] += weight[i]! * scales[j]! * p[c * n + i]!;
      }
    });
    const out = new Float32Array(total * ch);
    for (let c = 0; c < ch; c++) for (let i = 0; i < total; i++) out[c * total + i] = acc[c * total + i]! / wsum[i]!;
    return out;
  }

  /** The encoder's continuous output [dimension × frames] for one waveform (for tests and analysis). */
  async embed(wav: Float32Array): Promise<{ data: Float32Array; dimension: number; frames: number }> {
    const handle = this.handle();
    if (!(wav instanceof Float32Array) || wav.length === 0) invalidArgument("wav", "a non-empty Float32Array", wav);
    return this.invoke(() => handle.embed([wav]));
  }
}
