/**
 * Semantic tokens: self-supervised speech features (HuBERT layer L, or MFCC + deltas) assigned to
 * their nearest k-means centroid, as AudioLM's semantic stage expects.
 */
import type { NativeSemanticTokenizer } from "../native/addon-types.js";
import { AudioLMError, invalidArgument } from "../errors.js";
import { native, rethrow } from "../native/loader.js";
import { type LoadOptions, resolveLoadOptions } from "../native/options.js";
import { checkWaveforms } from "./audio-input.js";
import { readWav } from "../formats/wav.js";

const asyncDispose: symbol = (Symbol as unknown as { asyncDispose?: symbol }).asyncDispose ?? Symbol.for("nodejs.asyncDispose");

export interface TokenizeOptions {
  /** Sample rate of the input when it is not the tokenizer's (it is resampled). */
  sampleRate?: number;
}

/** A loaded semantic tokenizer (`.safetensors` made by `audiolm convert hubert` or `convert kmeans --mfcc`). */
export class SemanticTokenizer {
  #native: NativeSemanticTokenizer | null;
  readonly #config: ReturnType<NativeSemanticTokenizer["config"]>;

  private constructor(handle: NativeSemanticTokenizer) {
    this.#native = handle;
    this.#config = handle.config();
  }

  /** Loads a semantic-tokenizer component. */
  static async load(path: string, opts?: LoadOptions): Promise<SemanticTokenizer> {
    if (typeof path !== "string" || path.length === 0) invalidArgument("SemanticTokenizer.load path", "a non-empty string", path);
    resolveLoadOptions(opts, "SemanticTokenizer.load");
    try {
      return new SemanticTokenizer(await native().loadSemanticTokenizer(path));
    } catch (err) {
      rethrow(err);
    }
  }

  /** `hubert` or `mfcc`. */
  get frontend(): string { return this.#config.frontend; }
  /** Input sample rate (Hz). */
  get sampleRate(): number { return this.#config.sampleRate; }
  /** Tokens per second. */
  get frameRate(): number { return this.#config.frameRate; }
  /** Number of k-means clusters (the semantic vocabulary). */
  get clusters(): number { return this.#config.clusters; }

  #handle(): NativeSemanticTokenizer {
    if (!this.#native) throw new AudioLMError("ERR_AUDIOLM_DISPOSED", "this SemanticTokenizer was disposed");
    return this.#native;
  }

  #inputs(wav: Float32Array | Float32Array[], opts: TokenizeOptions): Float32Array[] {
    return checkWaveforms(wav, opts.sampleRate, this.sampleRate);
  }

  /** Semantic tokens of one waveform (an Int32Array) or of each of a batch (an array of them). */
  async tokenize(wav: Float32Array, opts?: TokenizeOptions): Promise<Int32Array>;
  async tokenize(wav: Float32Array[], opts?: TokenizeOptions): Promise<Int32Array[]>;
  async tokenize(wav: Float32Array | Float32Array[], opts: TokenizeOptions = {}): Promise<Int32Array | Int32Array[]> {
    const handle = this.#handle();
    const inputs = this.#inputs(wav, opts);
    let out: Int32Array[];
    try {
      out = await handle.tokenize(inputs);
    } catch (err) {
      rethrow(err);
    }
    return Array.isArray(wav) ? out : out[0];
  }

  /** Tokens of a WAV file (any rate, depth and channel count). */
  async tokenizeFile(path: string): Promise<Int32Array> {
    const { samples } = await readWav(path, { sampleRate: this.sampleRate });
    return this.tokenize(samples);
  }

  /** The features that are clustered ([frames × dim] per item): HuBERT layer L or MFCC. */
  async features(wav: Float32Array | Float32Array[], opts: TokenizeOptions = {}): Promise<Array<{ data: Float32Array; frames: number; dim: number }>> {
    const handle = this.#handle();
    try {
      return await handle.features(this.#inputs(wav, opts));
    } catch (err) {
      rethrow(err);
    }
  }

  /** Frees the native model. Idempotent. */
  async dispose(): Promise<void> {
    this.#native?.dispose();
    this.#native = null;
  }

  async [asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
