/**
 * The whole native module as TypeScript sees it: the one place where TypeScript meets C++
 * (native/addon/). Keep it in step with the addon's exports.
 */

import type { TransformerConfig } from "../models/transformer-types.js";

export interface NativeInfo {
  cudaCompiled: boolean;
  cudaStatus: string;
  cudaDriverVersion: number;
  cudaRuntimeVersion: number;
  gpus: Array<{ index: number; name: string; computeCapability: string; totalMemory: number; multiprocessors: number }>;
  threads: number;
  cpuKernels: string;
  buildType: "release" | "debug";
}

export interface NativeCodecConfig {
  sampleRate: number;
  channels: number;
  dimension: number;
  hopLength: number;
  frameRate: number;
  codebookSize: number;
  numQuantizers: number;
  causal: boolean;
  /** Each segment is scaled to unit RMS before encoding (EnCodec 48 kHz). */
  normalize: boolean;
  /** Samples per segment (0: the whole waveform is one segment) and between segment starts. */
  segmentLength: number;
  segmentStride: number;
  targetBandwidths: number[];
  weightBytes: number;
  /** The backend whose memory holds the weights (`cpu`, or `strict` in tests). */
  backend: string;
}

export interface NativeCodec {
  config(): NativeCodecConfig;
  /** Each waveform is [channels × samples] planar; resolves to codes [levels × frames] per item. */
  encode(waveforms: Float32Array[], levels: number): Promise<{ codes: Int32Array[]; frames: number[] }>;
  /** Each entry is [levels × frames]; resolves to [channels × frames·hop] per item. */
  decode(codes: Int32Array[], levels: number): Promise<Float32Array[]>;
  /** Encoder output before quantisation, [dimension × frames]. */
  embed(waveforms: [Float32Array]): Promise<{ data: Float32Array; dimension: number; frames: number }>;
  dispose(): void;
}

/** The transformer config as the addon reports it: the public config plus build facts. */
export interface NativeTransformerConfig extends TransformerConfig {
  ff: string;
  norm: string;
  prenorm: boolean;
  weightBytes: number;
  /** The backend whose memory holds the weights (`cpu`, or `strict` in tests). */
  backend: string;
}

export interface NativeGenerateRequest {
  steps: number;
  temperature: number[];
  topK: number[];
  topP: number[];
  seeds: number[];
  ranges?: Array<{ lo: number; hi: number; extra: number[] }>;
  origins?: number[];
  eos?: number;
  /** Per row: its guide row (classifier-free guidance) or -1; with guideScale. */
  guide?: number[];
  guideScale?: number[];
}

export interface NativeSession {
  prefill(prompts: Int32Array[], contexts?: Float32Array[]): Promise<void>;
  generate(req: NativeGenerateRequest): Promise<{ tokens: Int32Array[]; stopped: boolean[] }>;
  extend(tokens: Int32Array[]): Promise<void>;
  nextLogits(): Float32Array[];
  lengths(): number[];
  abort(): void;
  dispose(): void;
}

export interface NativeTransformer {
  config(): NativeTransformerConfig;
  logits(tokens: Int32Array[], contexts: Float32Array[] | undefined, head: number): Promise<Float32Array[]>;
  createSession(batch: number, capacity: number): NativeSession;
  dispose(): void;
}

export interface NativeSemanticTokenizerConfig {
  frontend: "hubert" | "mfcc";
  /** Input sample rate (Hz). */
  sampleRate: number;
  /** Tokens per second (sampleRate / hopLength). */
  frameRate: number;
  /** Samples per token. */
  hopLength: number;
  /** The shortest input (samples) that makes one token; shorter input is rejected. */
  minSamples: number;
  /** k-means centroids: the token vocabulary. */
  clusters: number;
  /** HuBERT encoder layer whose output is clustered (0: after the encoder's input norm); 0 for mfcc. */
  layer: number;
  /** Width of the clustered features (HuBERT hidden size, or 39 for MFCC). */
  featureDim: number;
  weightBytes: number;
  /** The backend whose memory holds the weights (`cpu`, or `strict` in tests). */
  backend: string;
}

export interface NativeSemanticTokenizer {
  config(): NativeSemanticTokenizerConfig;
  /** One Int32Array of tokens per waveform (16 kHz mono, at least minSamples, finite). */
  tokenize(waveforms: Float32Array[]): Promise<Int32Array[]>;
  /** The clustered features per waveform, [frames × dim] row-major. */
  features(waveforms: Float32Array[]): Promise<Array<{ data: Float32Array; frames: number; dim: number }>>;
  dispose(): void;
}

export interface NativeAddon {
  /**
   * Loaders put the model in a backend's memory: "cpu" (the default; the strict test backend
   * when AUDIOLM_BACKEND=strict) or "strict". An unknown name rejects with ERR_AUDIOLM_UNSUPPORTED.
   */
  loadTransformer(path: string, backend?: string): Promise<NativeTransformer>;
  info(): NativeInfo;
  setThreads(n: number): number;
  loadCodec(path: string, backend?: string): Promise<NativeCodec>;
  loadSemanticTokenizer(path: string, backend?: string): Promise<NativeSemanticTokenizer>;
}
