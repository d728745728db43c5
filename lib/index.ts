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
export { Codec, type CodecCodes, type CodecSegment, type DecodeOptions, type EncodeOptions } from "./codec.js";
export { AudioLMError, type AudioLMErrorCode } from "./errors.js";
export { type Device, type LoadOptions } from "./options.js";
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
export { native as nativeAddon } from "./native.js";
export type { NativeInfo } from "./addon-types.js";
export * from "./wav.js";
export * from "./npy.js";
export { resample } from "./resample.js";
export { loadTorchCheckpoint, flattenStateDict } from "./torch-checkpoint.js";
export {
  AudioLM,
  type GenerateOptions,
  type GenerateResult,
  type StreamChunk,
  type RunOptions,
  type SemanticOptions,
  type CoarseOptions,
  type FineOptions,
} from "./audiolm.js";
export { type ModelConfig, MODEL_FORMAT, parseModelJson, readModelJson } from "./model-json.js";
export { type LevelCodes } from "./stages.js";
export { type GenerationProgress, type ProgressBar, createProgressBar, formatProgress } from "./progress.js";
export { Transformer, TransformerSession } from "./transformer.js";
export type { SamplingOptions, TokenRange, RangeSchedule, TransformerConfig, GenerateStepOptions, GenerateStepResult } from "./transformer-types.js";
export { SemanticTokenizer, type TokenizeOptions } from "./semantic-tokenizer.js";
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
} from "./bark.js";
export { WordPieceTokenizer, basicTokenize, normalizeBarkText, type WordPieceOptions } from "./wordpiece.js";
