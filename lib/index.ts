/**
 * audiolm-node: AudioLM-family audio generation for Node.js.
 *
 * ```ts
 * import { Codec, readWav, writeWav } from "audiolm-node";
 * await using codec = await Codec.load("codec.safetensors");
 * const { samples } = await readWav("in.wav", { sampleRate: codec.sampleRate });
 * const codes = await codec.encode(samples, { bandwidth: 6 });
 * const [audio] = await codec.decode(codes);
 * ```
 */
export { Codec, type CodecCodes, type CodecSegment, type DecodeOptions, type EncodeOptions } from "./models/codec.js";
export { AudioLMError, type AudioLMErrorCode } from "./errors.js";
export { MAX_SAMPLE_RATE, MAX_SAMPLES, MIN_SAMPLE_RATE } from "./limits.js";
export { type Device, type LoadOptions } from "./native/options.js";
export { convertEncodec, type EncodecConfig, type ConvertEncodecOptions } from "./convert/encodec.js";
export {
  convertBark,
  convertBarkCheckpoint,
  convertBarkHuggingFace,
  BARK_CONSTANTS,
  type BarkStage,
  type BarkStageConfig,
  type ConvertBarkOptions,
  type ConvertBarkResult,
} from "./convert/bark.js";
export {
  convertAudiolmPytorch,
  audiolmPytorchLayout,
  readAudiolmPytorchConfig,
  type AudiolmPytorchConfig,
  type AudiolmPytorchLayout,
  type AudiolmPytorchStage,
  type ConvertAudiolmPytorchResult,
} from "./convert/audiolm-pytorch.js";
export { native as nativeAddon } from "./native/loader.js";
export type { NativeInfo } from "./native/addon-types.js";
export * from "./formats/wav.js";
export * from "./formats/npy.js";
export { resample } from "./formats/resample.js";
export { loadTorchCheckpoint, flattenStateDict } from "./formats/torch-checkpoint.js";
export {
  AudioLM,
  type GenerateOptions,
  type GenerateResult,
  type StreamChunk,
  type RunOptions,
  type SemanticOptions,
  type CoarseOptions,
  type FineOptions,
} from "./models/audiolm.js";
export { type ModelConfig, MODEL_FORMAT, parseModelJson, readModelJson } from "./models/model-json.js";
export { type LevelCodes } from "./models/stages.js";
export { type GenerationProgress, type ProgressBar, createProgressBar, formatProgress } from "./models/progress.js";
export { Transformer, TransformerSession } from "./models/transformer.js";
export type { SamplingOptions, TokenRange, RangeSchedule, TransformerConfig, GenerateStepOptions, GenerateStepResult } from "./models/transformer-types.js";
export { SemanticTokenizer, type TokenizeOptions } from "./models/semantic-tokenizer.js";
export { convertHubert, type ConvertHubertOptions, type HubertConfig } from "./convert/hubert.js";
export { convertKmeans, readCentroids, type Centroids } from "./convert/kmeans.js";
export {
  BarkModel,
  readBarkVoice,
  type BarkConstants,
  type BarkCodes,
  type BarkVoice,
  type BarkSamplingOptions,
  type SemanticOptions as BarkSemanticOptions,
  type CoarseOptions as BarkCoarseOptions,
  type FineOptions as BarkFineOptions,
  type BarkGenerateOptions,
  type BarkGenerateResult,
} from "./models/bark.js";
export { WordPieceTokenizer, basicTokenize, normalizeBarkText, type WordPieceOptions } from "./models/wordpiece.js";
