/** Types of the AudioLM generation API (lib/models/audiolm.ts); the pipeline reads them too. */
import type { CodecCodes } from "./codec.js";
import type { BarkVoice } from "./bark-types.js";
import type { GenerationProgress } from "./progress.js";
import type { LevelCodes } from "./stages.js";
import type { SamplingOptions } from "./transformer-types.js";

/** Options shared by every generating call. */
export interface RunOptions {
  /** Rows generated together (default 1). */
  batchSize?: number;
  /** Row r uses seed + r (default: random). The same seed gives the same tokens and audio. */
  seed?: number;
  /** Called after each chunk of tokens with the stage's progress. */
  onProgress?: (p: GenerationProgress) => void;
  /** Aborts generation within one chunk; the call rejects with ERR_AUDIOLM_ABORTED. */
  signal?: AbortSignal;
  /** Tokens per native generate call (default 32): the granularity of progress and abort. */
  chunkSize?: number;
}

/** Options of {@link AudioLM.generate} and {@link AudioLM.stream}. */
export interface GenerateOptions extends RunOptions {
  /** Default: `continuation` when a prompt is given, else `unconditional`. */
  mode?: "unconditional" | "continuation" | "acoustic";
  /** Prompt audio (mono at the codec's rate, or a WAV path); its semantic tokens come from the model's tokenizer unless `semanticPrompt` gives them. */
  prompt?: Float32Array | string;
  /**
   * Speech whose semantic tokens are the whole output's (acoustic mode, speaker conversion: the words
   * of `content` in the voice of `prompt`/`acousticPrompt`); mono at the codec's rate, or a WAV path.
   * Tokenized by the model's semantic tokenizer; not together with `semanticPrompt`.
   */
  content?: Float32Array | string;
  /** Semantic tokens of the prompt (continuation) or of the whole output (acoustic); one array for all rows or one per row. */
  semanticPrompt?: Int32Array | Int32Array[];
  /** Acoustic prompt: a waveform at the codec's rate, or codes [levels ≥ Q, frames] (one for all rows or one per row; codec.encode output works). */
  acousticPrompt?: Float32Array | LevelCodes | LevelCodes[] | CodecCodes;
  /** Seconds of audio to generate (the continuation only, prompt excluded). Acoustic mode: defaults to the semantic tokens' duration. */
  seconds?: number;
  semantic?: SamplingOptions;
  coarse?: SamplingOptions;
  fine?: SamplingOptions;
  /** Text to speak (Bark models only): one row per text. */
  text?: string | string[];
  /** Text token ids instead of `text` (Bark models only). */
  textTokens?: Int32Array;
  /** A voice preset (Bark models only): path to Bark's .npz, or a loaded voice. */
  voice?: string | BarkVoice;
}

/** What {@link AudioLM.generate} returns: per row, the generated part only. */
export interface GenerateResult {
  /** One waveform per row, exactly round(seconds · sampleRate) samples. */
  audio: Float32Array[];
  sampleRate: number;
  /** The seed of each row. */
  seeds: number[];
  tokens: {
    /** Semantic tokens of the output span (generated, or given in acoustic mode). */
    semantic: Int32Array[];
    /** Coarse codes [Q', frames]. */
    coarse: LevelCodes[];
    /** Fine codes [Q − Q', frames] (0 levels when the model has no fine stage). */
    fine: LevelCodes[];
  };
}

/** One piece of streamed audio: `audio[r]` continues row r; pieces concatenate to the whole output. */
export interface StreamChunk {
  audio: Float32Array[];
  index: number;
  sampleRate: number;
}

/** Options of {@link AudioLM.generateSemantic}. */
export interface SemanticOptions extends RunOptions {
  /** Semantic history (raw tokens in [0, K)); one for all rows or one per row. */
  prompt?: Int32Array | Int32Array[];
  /** Tokens to generate per row. */
  count: number;
  sampling?: SamplingOptions;
}

/** Options of {@link AudioLM.generateCoarse}. */
export interface CoarseOptions extends RunOptions {
  /** Semantic tokens (raw, in [0, K)) of the prompt and the output; one for all rows or one per row. */
  semantic: Int32Array | Int32Array[];
  /** Index in `semantic` that lines up with the first generated frame (default 0). */
  semanticStart?: number;
  /** Codes [≥ Q' levels, frames] of the audio before the output (its coarse levels are history). */
  acousticPrompt?: LevelCodes | LevelCodes[];
  /** Frames to generate (default: those the semantic tokens after `semanticStart` cover). */
  frames?: number;
  sampling?: SamplingOptions;
}

/** Options of {@link AudioLM.generateFine}. */
export interface FineOptions extends RunOptions {
  /** Coarse codes [≥ Q' levels, frames] of the output. */
  coarse: LevelCodes | LevelCodes[];
  /** Codes [≥ Q levels, frames] of the audio before the output (history). */
  acousticPrompt?: LevelCodes | LevelCodes[];
  sampling?: SamplingOptions;
}
