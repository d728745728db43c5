/**
 * The whole native module as TypeScript sees it: the one place where TypeScript meets C++
 * (native/addon/). Keep it in step with the addon's exports.
 */

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
  targetBandwidths: number[];
  weightBytes: number;
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

export interface NativeAddon {
  info(): NativeInfo;
  setThreads(n: number): number;
  loadCodec(path: string): Promise<NativeCodec>;
}
