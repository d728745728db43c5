/**
 * Semantic tokens: self-supervised speech features (HuBERT layer L, or MFCC + deltas) assigned to
 * their nearest k-means centroid, as AudioLM's semantic stage expects.
 */
import type { NativeSemanticTokenizer } from "../native/addon-types.js";
import { native } from "../native/loader.js";
import { NativeModel } from "../native/native-model.js";
import type { LoadOptions } from "../native/options.js";
import { checkWaveforms } from "./audio-input.js";
import { readWav } from "../formats/wav.js";

export interface TokenizeOptions {
  /** Sample rate of the input when it is not the tokenizer's (it is resampled). */
  sampleRate?: number;
}

/** A loaded semantic tokenizer (`.safetensors` made by `audiolm convert hubert` or `convert kmeans --mfcc`). */
export class SemanticTokenizer extends NativeModel<NativeSemanticTokenizer> {
  readonly #config: ReturnType<NativeSemanticTokenizer["config"]>;

  private constructor(handle: NativeSemanticTokenizer) {
    super(handle, "SemanticTokenizer");
    this.#config = handle.config();
  }

  /** Loads a semantic-tokenizer component. */
  static async load(path: string, opts?: LoadOptions): Promise<SemanticTokenizer> {
    return new SemanticTokenizer(await NativeModel.open("SemanticTokenizer", path, opts, (p, device) => native().loadSemanticTokenizer(p, device)));
  }

  /** `hubert` or `mfcc`. */
  get frontend(): string { return this.#config.frontend; }
  /** Input sample rate (Hz). */
  get sampleRate(): number { return this.#config.sampleRate; }
  /** Tokens per second. */
  get frameRate(): number { return this.#config.frameRate; }
  /** Number of k-means clusters (the semantic vocabulary). */
  get clusters(): number { return this.#config.clusters; }

  #inputs(wav: Float32Array | Float32Array[], opts: TokenizeOptions): Float32Array[] {
    return checkWaveforms(wav, opts.sampleRate, this.sampleRate);
  }

  /** Semantic tokens of one waveform (an Int32Array) or of each of a batch (an array of them). */
  async tokenize(wav: Float32Array, opts?: TokenizeOptions): Promise<Int32Array>;
  async tokenize(wav: Float32Array[], opts?: TokenizeOptions): Promise<Int32Array[]>;
  async tokenize(wav: Float32Array | Float32Array[], opts: TokenizeOptions = {}): Promise<Int32Array | Int32Array[]> {
    const handle = this.handle();
    const inputs = this.#inputs(wav, opts);
    const out: Int32Array[] = await this.invoke(() => handle.tokenize(inputs));
    return Array.isArray(wav) ? out : out[0];
  }

  /** Tokens of a WAV file (any rate, depth and channel count). */
  async tokenizeFile(path: string): Promise<Int32Array> {
    const { samples } = await readWav(path, { sampleRate: this.sampleRate });
    return this.tokenize(samples);
  }

  /** The features that are clustered ([frames × dim] per item): HuBERT layer L or MFCC. */
  async features(wav: Float32Array | Float32Array[], opts: TokenizeOptions = {}): Promise<Array<{ data: Float32Array; frames: number; dim: number }>> {
    const handle = this.handle();
    return this.invoke(() => handle.features(this.#inputs(wav, opts)));
  }
}
