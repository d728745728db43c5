/**
 * The AudioLM pipeline: semantic → coarse acoustic → fine acoustic tokens → codec decoder.
 * TypeScript plans each window (lib/models/stages.ts); the native sessions run every per-token loop.
 */
import { randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { Codec, type CodecCodes } from "./codec.js";
import { AudioLMError, invalidArgument } from "../errors.js";
import { type ModelConfig, checkComponents, readModelJson } from "./model-json.js";
import type { LoadOptions } from "../native/options.js";
import { Pipeline, Run, type Stages } from "./pipeline.js";
import { BarkModel } from "./bark.js";
import { type LevelCodes, dedupeConsecutive, semanticTokensFor, sliceLevels } from "./stages.js";
import { Transformer } from "./transformer.js";
import { resample } from "../formats/resample.js";
import { SemanticTokenizer } from "./semantic-tokenizer.js";
import type { SamplingOptions } from "./transformer-types.js";
import { readWav } from "../formats/wav.js";
import type { CoarseOptions, FineOptions, GenerateOptions, GenerateResult, RunOptions, SemanticOptions, StreamChunk } from "./audiolm-types.js";

export type { LevelCodes } from "./stages.js";
export type { GenerationProgress } from "./progress.js";
export type * from "./audiolm-types.js";

/** Frames a stream holds back until later frames exist (a non-causal decoder looks ahead). */
const STREAM_LOOKAHEAD_FRAMES = 4;

/** One array for all rows or one per row → exactly `batch` arrays, validated. */
function perRow<T>(value: T | T[] | undefined, batch: number, name: string, check: (v: unknown, name: string) => T): T[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    const v = check(value, name);
    return new Array<T>(batch).fill(v);
  }
  if (value.length !== 1 && value.length !== batch) invalidArgument(name, `one value or ${batch} (batchSize) values`, value);
  const items = value.map((v, i) => check(v, `${name}[${i}]`));
  return items.length === 1 ? new Array<T>(batch).fill(items[0]) : items;
}

/** A loaded AudioLM model: codec, semantic/coarse/fine transformer stages and their settings. */
export class AudioLM {
  readonly #config: ModelConfig | null;
  readonly #pipeline: Pipeline | null;
  #tokenizer: SemanticTokenizer | null;
  /** Set when the directory holds a Bark model (bark.json) instead of model.json. */
  #bark: BarkModel | null;

  private constructor(parts: { config: ModelConfig; codec: Codec; stages: Stages; tokenizer: SemanticTokenizer | null } | { bark: BarkModel }) {
    if ("bark" in parts) {
      this.#config = null;
      this.#pipeline = null;
      this.#tokenizer = null;
      this.#bark = parts.bark;
    } else {
      this.#config = parts.config;
      this.#pipeline = new Pipeline(parts.config, parts.codec, parts.stages);
      this.#tokenizer = parts.tokenizer;
      this.#bark = null;
    }
  }

  /**
   * Loads a model directory (model.json and its components; docs/model-format.md).
   *
   * @throws AudioLMError `ERR_AUDIOLM_IO` / `ERR_AUDIOLM_INVALID_MODEL` for a missing or invalid
   *   manifest or component, or components that do not fit the manifest.
   */
  static async load(dir: string, opts?: LoadOptions): Promise<AudioLM> {
    if (typeof dir !== "string" || dir.length === 0) invalidArgument("AudioLM.load dir", "a model directory path", dir);
    if (!existsSync(join(dir, "model.json")) && existsSync(join(dir, "bark.json"))) {
      return new AudioLM({ bark: await BarkModel.load(dir, opts) });
    }
    const config = await readModelJson(dir);
    const loaded: Array<Codec | Transformer | SemanticTokenizer> = [];
    const track = <T extends Codec | Transformer | SemanticTokenizer>(p: Promise<T>) => p.then((x) => (loaded.push(x), x));
    const c = config.components;
    try {
      const [codec, semantic, coarse, fine, tokenizer] = await Promise.all([
        track(Codec.load(join(dir, c.codec), opts)),
        c.semantic === null ? null : track(Transformer.load(join(dir, c.semantic), opts)),
        track(Transformer.load(join(dir, c.coarse), opts)),
        c.fine === null ? null : track(Transformer.load(join(dir, c.fine), opts)),
        c.semanticTokenizer === null ? null : track(SemanticTokenizer.load(join(dir, c.semanticTokenizer), opts)),
      ]);
      checkComponents(config, { codec, semantic: semantic?.config ?? null, coarse: coarse.config, fine: fine?.config ?? null }, join(dir, "model.json"));
      if (tokenizer) {
        const where = join(dir, "model.json");
        if (tokenizer.clusters !== config.semantic.codebookSize) {
          throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${where}: the semantic tokenizer has ${tokenizer.clusters} clusters but semantic.codebookSize is ${config.semantic.codebookSize}`);
        }
        if (Math.abs(tokenizer.frameRate - config.semantic.rate) > 0.01 * config.semantic.rate) {
          throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${where}: the semantic tokenizer makes ${tokenizer.frameRate} tokens/s but semantic.rate is ${config.semantic.rate}`);
        }
      }
      return new AudioLM({ config, codec, stages: { semantic, coarse, fine }, tokenizer });
    } catch (err) {
      await Promise.all(loaded.map((x) => x.dispose()));
      throw err;
    }
  }

  /** The parsed model.json (AudioLM-family models; a Bark model has `bark` instead). */
  get config(): ModelConfig { return this.#audiolm("config").config; }
  /** The codec (owned by this model). */
  get codec(): Codec { return this.#live().codec; }
  /** Output sample rate in Hz. */
  get sampleRate(): number {
    if (this.#bark) {
      const rate = this.#bark.codec?.sampleRate;
      if (rate === undefined) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "this Bark model has no codec.safetensors, so it makes tokens, not audio");
      return rate;
    }
    return this.#live().codec.sampleRate;
  }
  /** The Bark model behind this object when the directory held bark.json, else null. */
  get bark(): BarkModel | null { return this.#bark; }

  /** The AudioLM-family parts; a Bark model answers ERR_AUDIOLM_UNSUPPORTED naming `what`. */
  #audiolm(what: string): { config: ModelConfig; pipeline: Pipeline } {
    if (!this.#pipeline || !this.#config) {
      throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${what} is not available for a Bark model: use generate({ text, voice }) or lm.bark (BarkModel)`);
    }
    return { config: this.#config, pipeline: this.#pipeline };
  }

  #cfg(): ModelConfig {
    return this.#audiolm("this call").config;
  }

  #pipe(): Pipeline {
    return this.#audiolm("this call").pipeline;
  }

  #live(): { codec: Codec; stages: Stages } {
    return this.#audiolm("this call").pipeline.live();
  }

  // -------------------------------------------------------------------------------------------
  // Validation

  #runOptions(o: RunOptions): { batch: number; seeds: number[] } {
    const batch = o.batchSize ?? 1;
    if (!Number.isInteger(batch) || batch < 1 || batch > 4096) invalidArgument("batchSize", "an integer from 1 to 4096", batch);
    const seed = o.seed ?? randomInt(0, 2 ** 31);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed + batch > Number.MAX_SAFE_INTEGER) invalidArgument("seed", "a non-negative integer below 2^53", seed);
    if (o.chunkSize !== undefined && (!Number.isInteger(o.chunkSize) || o.chunkSize < 1 || o.chunkSize > 1 << 16)) invalidArgument("chunkSize", "an integer from 1 to 65536", o.chunkSize);
    if (o.onProgress !== undefined && typeof o.onProgress !== "function") invalidArgument("onProgress", "a function", o.onProgress);
    return { batch, seeds: Array.from({ length: batch }, (_, r) => seed + r) };
  }

  #sampling(stage: "semantic" | "coarse" | "fine", given: SamplingOptions | undefined, name: string, unconditional = false): SamplingOptions {
    if (given !== undefined && (typeof given !== "object" || given === null)) invalidArgument(name, "sampling options { temperature, topK, topP }", given);
    const defaults = this.#cfg().sampling;
    const s = { ...defaults[stage], ...(unconditional ? defaults.unconditional[stage] : {}), ...(given ?? {}) };
    if (s.temperature !== undefined && (typeof s.temperature !== "number" || !Number.isFinite(s.temperature) || s.temperature < 0)) invalidArgument(`${name}.temperature`, "a number ≥ 0", s.temperature);
    if (s.topK !== undefined && (!Number.isInteger(s.topK) || s.topK < 0)) invalidArgument(`${name}.topK`, "an integer ≥ 0", s.topK);
    if (s.topP !== undefined && (typeof s.topP !== "number" || !(s.topP > 0 && s.topP <= 1))) invalidArgument(`${name}.topP`, "a number in (0, 1]", s.topP);
    if (s.guidance !== undefined) {
      if (stage === "fine") invalidArgument(`${name}.guidance`, "no guidance (it applies to the semantic and coarse stages only)", s.guidance);
      if (typeof s.guidance !== "number" || !Number.isFinite(s.guidance) || s.guidance < 0) invalidArgument(`${name}.guidance`, "a number ≥ 0", s.guidance);
    }
    return s;
  }

  #semanticTokens = (v: unknown, name: string): Int32Array => {
    const K = this.#cfg().semantic.codebookSize;
    if (!(v instanceof Int32Array)) invalidArgument(name, "an Int32Array of semantic tokens", v);
    for (let i = 0; i < v.length; i++) if (!(v[i] >= 0 && v[i] < K)) invalidArgument(`${name}[${i}]`, `a semantic token from 0 to ${K - 1}`, v[i]);
    return v;
  };

  #codes = (levels: number) => (v: unknown, name: string): LevelCodes => {
    const C = this.#cfg().acoustic.codebookSize;
    const c = v as LevelCodes;
    if (!c || typeof c !== "object" || !(c.data instanceof Int32Array) || !Array.isArray(c.shape) || c.shape.length !== 2) {
      invalidArgument(name, "codes { data: Int32Array, shape: [levels, frames] }", v);
    }
    const [L, T] = c.shape;
    if (!Number.isInteger(L) || !Number.isInteger(T) || L < levels || T < 0 || c.data.length !== L * T) {
      invalidArgument(`${name}.shape`, `[levels ≥ ${levels}, frames] matching data`, c.shape);
    }
    for (let i = 0; i < levels * T; i++) if (!(c.data[i] >= 0 && c.data[i] < C)) invalidArgument(`${name} level ${Math.floor(i / T)} frame ${i % T}`, `a code from 0 to ${C - 1}`, c.data[i]);
    return L === levels ? c : sliceLevels(c, 0, levels);
  };

  #acousticPrompt(v: GenerateOptions["acousticPrompt"], batch: number, levels: number): LevelCodes[] | undefined | Float32Array {
    if (v === undefined || v instanceof Float32Array) return v;
    const cc = v as CodecCodes;
    if (!Array.isArray(v) && cc && Array.isArray(cc.shape) && cc.shape.length === 3 && cc.data instanceof Int32Array) {
      const [B, L, T] = cc.shape;
      if (cc.data.length !== B * L * T) invalidArgument("acousticPrompt.data", `${B * L * T} entries for shape [${cc.shape}]`, cc.data);
      const items = Array.from({ length: B }, (_, b) => {
        const t = cc.frames?.[b] ?? T;
        const data = new Int32Array(L * t);
        for (let l = 0; l < L; l++) data.set(cc.data.subarray((b * L + l) * T, (b * L + l) * T + t), l * t);
        return { data, shape: [L, t] as [number, number] };
      });
      return perRow(items, batch, "acousticPrompt", this.#codes(levels));
    }
    return perRow(v as LevelCodes | LevelCodes[], batch, "acousticPrompt", this.#codes(levels));
  }

  /** Semantic tokens of prompt or content audio (a waveform at the codec's rate or a WAV path). */
  async #tokenizeAudio(src: Float32Array | string, what: string, run: Run): Promise<Int32Array> {
    const tokenizer = this.#tokenizer;
    if (!tokenizer) {
      throw new AudioLMError(
        "ERR_AUDIOLM_UNSUPPORTED",
        `${what} audio needs its semantic tokens, and this model has no semantic tokenizer (components.semanticTokenizer): pass them as semanticPrompt ` +
          "(with the prompt audio, or with acousticPrompt)",
      );
    }
    const audio = typeof src === "string"
      ? (await readWav(src, { sampleRate: tokenizer.sampleRate })).samples
      : src.length > 0 ? resample(src, this.#live().codec.sampleRate, tokenizer.sampleRate) : src;
    if (audio.length === 0) invalidArgument(what, "a non-empty waveform", src);
    return run.call(tokenizer.tokenize(audio));
  }

  // -------------------------------------------------------------------------------------------
  // The whole pipeline

  /** Validates a request and builds its rows; runs the semantic stage. */
  async #prepare(o: GenerateOptions, run: Run) {
    if (!o || typeof o !== "object") invalidArgument("options", "an object", o);
    const m = this.#cfg();
    const { codec } = this.#live();
    const { batch, seeds } = this.#runOptions(o);
    const hasPrompt = o.prompt !== undefined || o.semanticPrompt !== undefined || o.acousticPrompt !== undefined;
    const mode = o.mode ?? (o.content !== undefined ? "acoustic" : hasPrompt ? "continuation" : "unconditional");
    if (!["unconditional", "continuation", "acoustic"].includes(mode)) invalidArgument("mode", '"unconditional", "continuation" or "acoustic"', mode);
    if (mode === "unconditional" && hasPrompt) invalidArgument(o.prompt !== undefined ? "prompt" : o.semanticPrompt !== undefined ? "semanticPrompt" : "acousticPrompt", "no prompt in unconditional mode", o.prompt ?? o.semanticPrompt ?? o.acousticPrompt);
    if (o.seconds !== undefined || mode !== "acoustic") {
      if (typeof o.seconds !== "number" || !Number.isFinite(o.seconds) || o.seconds <= 0 || o.seconds > 86400) invalidArgument("seconds", "a positive number of seconds", o.seconds);
    }
    const u = mode === "unconditional";
    const sampling = { semantic: this.#sampling("semantic", o.semantic, "semantic", u), coarse: this.#sampling("coarse", o.coarse, "coarse", u), fine: this.#sampling("fine", o.fine, "fine", u) };
    const Q = m.acoustic.coarseLevels + m.acoustic.fineLevels;
    if (o.prompt !== undefined && o.acousticPrompt !== undefined) invalidArgument("acousticPrompt", "nothing when prompt is given (the prompt is the acoustic prompt)", o.acousticPrompt);
    if (o.prompt !== undefined && !(o.prompt instanceof Float32Array) && (typeof o.prompt !== "string" || o.prompt === "")) invalidArgument("prompt", "a Float32Array or a WAV path", o.prompt);
    let semanticPrompts = perRow(o.semanticPrompt, batch, "semanticPrompt", this.#semanticTokens);
    if (semanticPrompts?.some((s) => s.length === 0)) invalidArgument("semanticPrompt", "non-empty Int32Arrays of semantic tokens", o.semanticPrompt);
    if (o.content !== undefined) {
      if (mode !== "acoustic") invalidArgument("content", 'nothing outside mode "acoustic"', o.content);
      if (semanticPrompts !== undefined) invalidArgument("content", "nothing when semanticPrompt is given", o.content);
      if (!(o.content instanceof Float32Array) && (typeof o.content !== "string" || o.content === "")) invalidArgument("content", "a Float32Array or a WAV path", o.content);
      semanticPrompts = new Array<Int32Array>(batch).fill(await this.#tokenizeAudio(o.content, "content", run));
    }
    if (o.prompt !== undefined && semanticPrompts === undefined) {
      semanticPrompts = new Array<Int32Array>(batch).fill(await this.#tokenizeAudio(o.prompt, "prompt", run));
    }
    if (mode !== "unconditional" && semanticPrompts === undefined) {
      invalidArgument("semanticPrompt", `semantic tokens or prompt audio (${mode} mode needs them)`, undefined);
    }
    let acoustic = this.#acousticPrompt(o.acousticPrompt, batch, Q);
    let wave: Float32Array | undefined = acoustic instanceof Float32Array ? acoustic : undefined;
    if (typeof o.prompt === "string") wave = (await readWav(o.prompt, { sampleRate: codec.sampleRate })).samples;
    else if (o.prompt instanceof Float32Array) wave = o.prompt;
    if (wave) {
      if (wave.length === 0) invalidArgument(o.prompt !== undefined ? "prompt" : "acousticPrompt", "a non-empty waveform", wave);
      const enc = await codec.encode(wave, { quantizers: Q });
      acoustic = new Array<LevelCodes>(batch).fill({ data: enc.data, shape: [Q, enc.shape[2]] });
    }
    const acousticPrompts = acoustic as LevelCodes[] | undefined;

    const hop = codec.hopLength;
    let seconds = o.seconds;
    if (mode === "acoustic") {
      const have = Math.min(...semanticPrompts!.map((s) => s.length));
      seconds ??= have / m.semantic.rate;
      const need = semanticTokensFor(Math.ceil((seconds * codec.sampleRate) / hop), m.semantic.rate, m.acoustic.rate);
      if (have + 1 < need) invalidArgument("semanticPrompt", `${need} semantic tokens for ${seconds} s (acoustic mode)`, semanticPrompts!.find((s) => s.length === have));
    }
    const samples = Math.round(seconds! * codec.sampleRate);
    if (samples < 1) invalidArgument("seconds", "at least one sample's worth of seconds", seconds);
    const frames = Math.ceil(samples / hop);
    const count = semanticTokensFor(frames, m.semantic.rate, m.acoustic.rate);

    run.check();
    let semanticOut: Int32Array[];
    if (mode === "acoustic") semanticOut = semanticPrompts!.map((s) => s.subarray(0, Math.min(count, s.length)));
    else {
      semanticPrompts ??= new Array<Int32Array>(batch).fill(new Int32Array(0));
      const prompts = (semanticPrompts = semanticPrompts.map((p) => (m.semantic.dedupe ? dedupeConsecutive(p) : p)));
      semanticOut = await this.#pipe().runSemantic(run, prompts.map((prompt, r) => ({ seed: seeds[r], prompt })), count, sampling.semantic);
    }
    const rows = this.#pipe().rows(seeds, acousticPrompts, Q, frames, (r) =>
      mode === "acoustic"
        ? { semantic: semanticOut[r], semanticStart: 0 }
        : { semantic: Int32Array.from([...semanticPrompts![r], ...semanticOut[r]]), semanticStart: semanticPrompts![r].length },
    );
    return { rows, frames, samples, seeds, sampling, semanticOut };
  }

  /**
   * Generates audio: the semantic stage (unless mode is `acoustic`), then coarse and fine acoustic
   * tokens in sliding windows, then the codec decoder.
   *
   * @returns One waveform per row of exactly round(seconds · sampleRate) samples (the
   *   continuation only, without the prompt), with the tokens behind it.
   * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` naming a bad option, `ERR_AUDIOLM_ABORTED`
   *   when `signal` aborts, `ERR_AUDIOLM_UNSUPPORTED` for prompt audio without semantic tokens.
   */
  async generate(opts: GenerateOptions): Promise<GenerateResult> {
    if (this.#bark) return this.#generateBark(opts);
    if (opts && (opts.text !== undefined || opts.textTokens !== undefined || opts.voice !== undefined)) {
      invalidArgument(opts.text !== undefined ? "text" : opts.textTokens !== undefined ? "textTokens" : "voice", "nothing (text and voices need a Bark model; this one has no text stage)", opts.text ?? opts.textTokens ?? opts.voice);
    }
    this.#live();
    const run = new Run(opts ?? {});
    try {
      run.check();
      const req = await this.#prepare(opts, run);
      for await (const _ of this.#pipe().acousticStages(run, req.rows, req.frames, req.sampling));
      run.check();
      const audio = await this.#pipe().decodeRange(req.rows, 0, req.frames);
      const { coarseLevels: Qc, fineLevels: Qf } = this.#cfg().acoustic;
      return {
        audio: audio.map((a) => a.slice(0, req.samples)),
        sampleRate: this.sampleRate,
        seeds: req.seeds,
        tokens: {
          semantic: req.semanticOut,
          coarse: req.rows.map((r) => sliceLevels(r.codes, 0, Qc, r.promptFrames)),
          fine: req.rows.map((r) => sliceLevels(r.codes, Qc, Qc + Qf, r.promptFrames)),
        },
      };
    } finally {
      run.close();
    }
  }

  /**
   * Generates like {@link generate} and yields audio as windows finish: the semantic stage runs
   * first in full; then after each coarse window, the fine windows it enables run and the newly
   * complete frames are decoded (with 1 s of earlier frames as decoder context, holding back the
   * last few frames until later ones exist). Pieces of a row concatenate to exactly
   * round(seconds · sampleRate) samples.
   */
  async *stream(opts: GenerateOptions): AsyncGenerator<StreamChunk> {
    this.#live();
    const run = new Run(opts ?? {});
    try {
      run.check();
      const req = await this.#prepare(opts, run);
      const hop = this.codec.hopLength;
      let emitted = 0;
      let index = 0;
      const emit = async (framesDone: number, final: boolean): Promise<StreamChunk | null> => {
        const upto = final ? req.samples : Math.min(req.samples, Math.max(0, framesDone - STREAM_LOOKAHEAD_FRAMES) * hop);
        if (upto <= emitted) return null;
        const from = Math.floor(emitted / hop);
        const audio = await this.#pipe().decodeRange(req.rows, from, framesDone);
        const chunk = { audio: audio.map((a) => a.slice(emitted - from * hop, upto - from * hop)), index: index++, sampleRate: this.sampleRate };
        emitted = upto;
        return chunk;
      };
      for await (const done of this.#pipe().acousticStages(run, req.rows, req.frames, req.sampling)) {
        run.check();
        const chunk = await emit(done, false);
        if (chunk) yield chunk;
      }
      run.check();
      const last = await emit(req.frames, true);
      if (last) yield last;
    } finally {
      run.close();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Token-level entry points

  /** Generates `count` semantic tokens per row after an optional semantic prompt (raw tokens in [0, K)). */
  async generateSemantic(opts: SemanticOptions): Promise<Int32Array[]> {
    if (!opts || typeof opts !== "object") invalidArgument("options", "an object", opts);
    const { batch, seeds } = this.#runOptions(opts);
    if (!Number.isInteger(opts.count) || opts.count < 1) invalidArgument("count", "a positive integer", opts.count);
    const sampling = this.#sampling("semantic", opts.sampling, "sampling");
    const prompts = perRow(opts.prompt, batch, "prompt", this.#semanticTokens) ?? new Array<Int32Array>(batch).fill(new Int32Array(0));
    const run = new Run(opts);
    try {
      run.check();
      return await this.#pipe().runSemantic(run, prompts.map((prompt, r) => ({ seed: seeds[r], prompt })), opts.count, sampling);
    } finally {
      run.close();
    }
  }

  /** Generates coarse codes [Q', frames] per row from semantic tokens (and optional acoustic history). */
  async generateCoarse(opts: CoarseOptions): Promise<LevelCodes[]> {
    if (!opts || typeof opts !== "object") invalidArgument("options", "an object", opts);
    const m = this.#cfg();
    const { batch, seeds } = this.#runOptions(opts);
    const semantic = perRow(opts.semantic, batch, "semantic", this.#semanticTokens);
    if (!semantic) invalidArgument("semantic", "an Int32Array of semantic tokens", opts.semantic);
    const start = opts.semanticStart ?? 0;
    if (!Number.isInteger(start) || start < 0 || semantic.some((s) => s.length <= start)) invalidArgument("semanticStart", "an index inside every semantic array", start);
    const prompts = perRow(opts.acousticPrompt, batch, "acousticPrompt", this.#codes(m.acoustic.coarseLevels));
    const frames = opts.frames ?? Math.floor(((Math.min(...semantic.map((s) => s.length)) - start) * m.acoustic.rate) / m.semantic.rate + 1e-9);
    if (!Number.isInteger(frames) || frames < 1) invalidArgument("frames", "a positive integer", frames);
    const sampling = this.#sampling("coarse", opts.sampling, "sampling");
    const rows = this.#pipe().rows(seeds, prompts, m.acoustic.coarseLevels, frames, (r) => ({ semantic: semantic[r], semanticStart: start }));
    const run = new Run(opts);
    try {
      const coarse = this.#pipe().coarseRunner(run, rows, frames, sampling);
      while (!coarse.done()) await coarse.advance();
      return rows.map((r) => sliceLevels(r.codes, 0, m.acoustic.coarseLevels, r.promptFrames));
    } finally {
      run.close();
    }
  }

  /** Generates fine codes [Q − Q', frames] per row from coarse codes (and optional full-code history). */
  async generateFine(opts: FineOptions): Promise<LevelCodes[]> {
    if (!opts || typeof opts !== "object") invalidArgument("options", "an object", opts);
    const m = this.#cfg();
    const { coarseLevels: Qc, fineLevels: Qf } = m.acoustic;
    if (Qf === 0) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "this model has no fine stage");
    const { batch, seeds } = this.#runOptions(opts);
    const coarse = perRow(opts.coarse, batch, "coarse", this.#codes(Qc));
    if (!coarse) invalidArgument("coarse", "coarse codes { data, shape: [levels, frames] }", opts.coarse);
    const frames = coarse[0].shape[1];
    if (frames < 1 || coarse.some((c) => c.shape[1] !== frames)) invalidArgument("coarse", `codes of ${frames} ≥ 1 frames for every row`, opts.coarse);
    const prompts = perRow(opts.acousticPrompt, batch, "acousticPrompt", this.#codes(Qc + Qf));
    const sampling = this.#sampling("fine", opts.sampling, "sampling");
    const rows = this.#pipe().rows(seeds, prompts, Qc + Qf, frames, () => ({ semantic: new Int32Array(0), semanticStart: 0 }));
    rows.forEach((r, i) => {
      const T = r.codes.shape[1];
      for (let l = 0; l < Qc; l++) r.codes.data.set(coarse[i].data.subarray(l * frames, (l + 1) * frames), l * T + r.promptFrames);
    });
    const run = new Run(opts);
    try {
      await this.#pipe().fineRunner(run, rows, frames, sampling).advance(frames);
      return rows.map((r) => sliceLevels(r.codes, Qc, Qc + Qf, r.promptFrames));
    } finally {
      run.close();
    }
  }

  /** Decodes codes [Q, frames] (coarse and fine levels together) to one waveform per item. */
  async decode(codes: LevelCodes | LevelCodes[], opts: { lengths?: number[] } = {}): Promise<Float32Array[]> {
    const { codec } = this.#live();
    const items = Array.isArray(codes) ? codes : [codes];
    if (items.length === 0) invalidArgument("codes", "codes or a non-empty array of codes", codes);
    const Q = this.#cfg().acoustic.coarseLevels + this.#cfg().acoustic.fineLevels;
    const checked = items.map((c, i) => this.#codes(Q)(c, Array.isArray(codes) ? `codes[${i}]` : "codes"));
    const T = Math.max(...checked.map((c) => c.shape[1]));
    if (T < 1) invalidArgument("codes", "codes with at least one frame", codes);
    const data = new Int32Array(items.length * Q * T).fill(-1);
    checked.forEach((c, b) => {
      for (let l = 0; l < Q; l++) data.set(c.data.subarray(l * c.shape[1], (l + 1) * c.shape[1]), (b * Q + l) * T);
    });
    return codec.decode({ data, shape: [items.length, Q, T], frames: checked.map((c) => c.shape[1]) }, opts);
  }

  /** Text to speech with a Bark model: one row per text, through BarkModel. */
  async #generateBark(o: GenerateOptions): Promise<GenerateResult> {
    const bark = this.#bark!;
    if (!o || typeof o !== "object") invalidArgument("options", "an object", o);
    for (const key of ["mode", "prompt", "content", "semanticPrompt", "acousticPrompt", "seconds", "batchSize", "chunkSize"] as const) {
      if ((o as Record<string, unknown>)[key] !== undefined) invalidArgument(key, "nothing for a Bark model (it takes text, textTokens, voice, seed and sampling)", (o as Record<string, unknown>)[key]);
    }
    for (const stage of ["semantic", "coarse", "fine"] as const) {
      if (o[stage]?.guidance !== undefined) invalidArgument(`${stage}.guidance`, "nothing for a Bark model (guidance is an AudioLM semantic- and coarse-stage option)", o[stage]!.guidance);
    }
    const sampling = (s: SamplingOptions | undefined) => (s ? { temperature: s.temperature, topK: s.topK, topP: s.topP } : undefined);
    const seed = o.seed ?? randomInt(2 ** 31);
    const common = { voice: o.voice, seed, semantic: sampling(o.semantic), coarse: sampling(o.coarse), fine: o.fine ? { temperature: o.fine.temperature } : undefined };
    const results = Array.isArray(o.text)
      ? await bark.generate({ ...common, text: o.text })
      : [await bark.generate({ ...common, text: o.text, textTokens: o.textTokens })];
    const audio = results.map((r) => {
      if (!r.audio) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "this Bark model has no codec.safetensors: use lm.bark.generate() for tokens");
      return r.audio;
    });
    return {
      audio,
      sampleRate: results[0].sampleRate!,
      seeds: results.map((_, i) => seed + i),
      tokens: {
        semantic: results.map((r) => r.semantic),
        coarse: results.map((r) => r.coarse),
        fine: results.map((r) => ({ data: r.codes.data.slice(r.coarse.shape[0] * r.codes.shape[1]), shape: [r.codes.shape[0] - r.coarse.shape[0], r.codes.shape[1]] as [number, number] })),
      },
    };
  }

  /** Frees the codec and the stages. Idempotent; later calls throw ERR_AUDIOLM_DISPOSED. */
  async dispose(): Promise<void> {
    const tokenizer = this.#tokenizer;
    const bark = this.#bark;
    this.#tokenizer = null;
    await Promise.all([this.#pipeline?.dispose(), tokenizer?.dispose(), bark?.dispose()]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
