/** Types of the Bark generation API (lib/models/bark.ts). */

/** Bark's generation constants as written to bark.json. */
export interface BarkConstants {
  semanticVocabSize: number;
  semanticPadToken: number;
  semanticInferToken: number;
  textEncodingOffset: number;
  textPadToken: number;
  codebookSize: number;
  nCoarseCodebooks: number;
  nFineCodebooks: number;
  coarseSemanticPadToken: number;
  coarseInferToken: number;
  semanticRateHz: number;
  coarseRateHz: number;
  fineCodesGiven: number;
  sampleRate?: number;
}

/** Codes of one item, codebook-major: `data[q * T + t]`, shape [codebooks, frames]. */
export interface BarkCodes {
  data: Int32Array;
  shape: [codebooks: number, frames: number];
}

/** A voice (history prompt): Bark's .npz with semantic_prompt, coarse_prompt, fine_prompt. */
export interface BarkVoice {
  semantic: Int32Array;
  coarse: BarkCodes;
  fine: BarkCodes;
}

export interface BarkSamplingOptions {
  /** Softmax temperature (default 0.7); 0 = argmax. */
  temperature?: number;
  /** Keep the k most likely tokens (0/undefined = off). */
  topK?: number;
  /**
   * Nucleus sampling threshold (1/undefined = off). As in the reference, it is applied to the
   * untempered probabilities, before topK and the temperature.
   */
  topP?: number;
  /** Seed of the sampler (default random). */
  seed?: number;
}

export interface SemanticOptions extends BarkSamplingOptions {
  /** The voice's semantic_prompt (its last 256 tokens are used). */
  history?: Int32Array;
  /**
   * Stop once the EOS probability reaches this (default 0.2, as the reference); null = only
   * stop on a sampled EOS (without topP, the native sampling loop runs).
   */
  minEosP?: number | null;
  /** At most this many tokens (default 768, the reference's n_tot_steps). */
  maxSteps?: number;
  /**
   * Take the most probable token instead of drawing one; the probabilities (and so `minEosP`)
   * still come from temperature, topK and topP.
   */
  greedy?: boolean;
}

export interface CoarseOptions extends BarkSamplingOptions {
  history?: { semantic: Int32Array; coarse: BarkCodes };
  /** Coarse tokens of history per window, 60…630 (default 630). */
  maxCoarseHistory?: number;
  /** Tokens per window (default 60). */
  slidingWindowLen?: number;
}

export interface FineOptions {
  /** The voice's fine_prompt (its last 512 frames are used). */
  history?: BarkCodes;
  /** Softmax temperature (default 0.5); null or 0 = argmax. */
  temperature?: number | null;
  seed?: number;
}

export interface BarkGenerateOptions {
  /**
   * The text to speak, tokenised with the model's vocab.txt (whitespace normalised as Bark does;
   * at most 256 tokens are read, as the reference). An array generates one result per text, one
   * after another (text i uses seed + i). Give `text` or `textTokens`.
   */
  text?: string | string[];
  /** Text token ids (Bark's BERT WordPiece ids, before TEXT_ENCODING_OFFSET), instead of `text`. */
  textTokens?: Int32Array;
  /** A voice: path to Bark's .npz, or a loaded one. */
  voice?: string | BarkVoice;
  seed?: number;
  semantic?: Omit<SemanticOptions, "history" | "seed">;
  coarse?: Omit<CoarseOptions, "history" | "seed">;
  fine?: Omit<FineOptions, "history" | "seed">;
}

export interface BarkGenerateResult {
  /** The text ids the semantic stage read (those of `text`, or `textTokens`). */
  textTokens: Int32Array;
  semantic: Int32Array;
  coarse: BarkCodes;
  /** All codebooks [nFineCodebooks, T]. */
  codes: BarkCodes;
  /** Decoded audio when the model has a codec. */
  audio?: Float32Array;
  sampleRate?: number;
}
