/**
 * `model.json`: the manifest of a model directory (docs/model-format.md). It names the component
 * files (codec, semantic tokenizer, the three transformer stages) and holds the pipeline settings
 * the components do not: token rates, each stage's vocabulary layout, window sizes and default
 * sampling. Parsing validates every field and fills the documented defaults; errors are
 * `ERR_AUDIOLM_INVALID_MODEL` naming the file and the field.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";

import { AudioLMError, describe } from "../errors.js";
import type { SamplingOptions, TransformerConfig } from "./transformer-types.js";

/** The `format` string of the version of model.json this package reads. */
export const MODEL_FORMAT = "audiolm-node/model@1";

/** Component files, relative to the model directory; `null` when the model has none. */
export interface ModelComponents {
  codec: string;
  semanticTokenizer: string | null;
  semantic: string | null;
  coarse: string;
  fine: string | null;
}

/** Stage 1: semantic tokens. Ids: `offset + k` for token k in [0, K), then EOS and BOS. */
export interface SemanticSection {
  /** K: number of semantic token values. */
  codebookSize: number;
  /** Semantic tokens per second of audio. */
  rate: number;
  /** Remove consecutive duplicates from the semantic sequences the stage reads and writes. */
  dedupe: boolean;
  vocab: { offset: number; eos: number; bos: number };
  /** Most semantic tokens in the stage's sequence (after BOS). */
  window: number;
  /** New tokens per window; the next window keeps `window − hop` tokens as history. */
  hop: number;
}

/** The codec's acoustic tokens as the stages see them. */
export interface AcousticSection {
  /** Code frames per second (must equal the codec's frame rate). */
  rate: number;
  /** C: codes per RVQ level (must equal the codec's). */
  codebookSize: number;
  /** Q': RVQ levels made by the coarse stage. */
  coarseLevels: number;
  /** Q − Q': RVQ levels made by the fine stage (0: the model has no fine stage). */
  fineLevels: number;
}

/** Stage 2: coarse acoustic tokens. */
export interface CoarseSection {
  /** Semantic token k is `semanticOffset + k`; coarse level l code c is `acousticOffset + l·C + c`. */
  vocab: { semanticOffset: number; acousticOffset: number; sep: number; bos: number };
  /**
   * Most semantic tokens and acoustic frames in one window; `hop` new frames per window. `anchor`
   * (default 0): the prompt's first frames that every window keeps once it has moved past them.
   */
  window: { semanticFrames: number; acousticFrames: number; hop: number; anchor: number };
}

/** Stage 3: fine acoustic tokens. */
export interface FineSection {
  /** `autoregressive`: a causal decoder over flattened tokens; `nonCausal`: Bark-style, one pass per level. */
  mode: "autoregressive" | "nonCausal";
  /**
   * Autoregressive mode: coarse level l code c is `coarseOffset + l·C + c`, fine level l (Q' ≤ l < Q)
   * code c is `fineOffset + (l − Q')·C + c`. Non-causal mode: codes are the raw c of each codebook.
   */
  vocab: { coarseOffset: number; fineOffset: number; sep: number; bos: number };
  /** Most frames in one window; `hop` new frames per window. */
  window: { frames: number; hop: number };
}

/** A parsed, validated model.json with every default filled in. */
export interface ModelConfig {
  format: typeof MODEL_FORMAT;
  name: string;
  family: "audiolm";
  components: ModelComponents;
  semantic: SemanticSection;
  acoustic: AcousticSection;
  coarse: CoarseSection;
  /** `null` when `acoustic.fineLevels` is 0. */
  fine: FineSection | null;
  /**
   * Default sampling per stage (a request's options override them field by field), and what
   * unconditional generation changes in them (it has no acoustic prompt to hold on to).
   */
  sampling: {
    semantic: SamplingOptions;
    coarse: SamplingOptions;
    fine: SamplingOptions;
    unconditional: { semantic?: SamplingOptions; coarse?: SamplingOptions; fine?: SamplingOptions };
  };
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(readonly source: string) {}

  fail(field: string, expected: string, got: unknown): never {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${this.source}: expected ${expected} for ${field} but found ${describe(got)}`);
  }

  problem(message: string): never {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${this.source}: ${message}`);
  }

  obj(v: unknown, field: string): Obj {
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(field, "an object", v);
    return v as Obj;
  }

  optObj(v: unknown, field: string): Obj {
    return v === undefined ? {} : this.obj(v, field);
  }

  int(o: Obj, key: string, field: string, min: number, max = 2 ** 31 - 1, dflt?: number): number {
    const v = o[key] ?? dflt;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.fail(`${field}.${key}`, `an integer from ${min} to ${max}`, o[key]);
    }
    return v;
  }

  positive(o: Obj, key: string, field: string): number {
    const v = o[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) this.fail(`${field}.${key}`, "a positive number", v);
    return v;
  }

  bool(o: Obj, key: string, field: string, dflt: boolean): boolean {
    const v = o[key] ?? dflt;
    if (typeof v !== "boolean") this.fail(`${field}.${key}`, "a boolean", v);
    return v;
  }

  file(o: Obj, key: string, nullable: boolean): string | null {
    const v = o[key] ?? (nullable ? null : undefined);
    if (v === null && nullable) return null;
    if (typeof v !== "string" || v.length === 0 || v.includes("\0")) {
      this.fail(`components.${key}`, nullable ? "a file name or null" : "a file name", o[key]);
    }
    return v;
  }

  sampling(v: unknown, field: string, stage: "semantic" | "coarse" | "fine"): SamplingOptions {
    const o = this.optObj(v, field);
    const out: SamplingOptions = {};
    const guided = stage !== "fine";
    const keys = guided ? ["temperature", "topK", "topP", "guidance"] : ["temperature", "topK", "topP"];
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.fail(`${field}.${k}`, guided ? "temperature, topK, topP or guidance" : "temperature, topK or topP (guidance is a semantic- and coarse-stage field)", k);
    if (o.temperature !== undefined) {
      if (typeof o.temperature !== "number" || !Number.isFinite(o.temperature) || o.temperature < 0) this.fail(`${field}.temperature`, "a number ≥ 0", o.temperature);
      out.temperature = o.temperature;
    }
    if (o.topK !== undefined) out.topK = this.int(o, "topK", field, 0);
    if (o.topP !== undefined) {
      if (typeof o.topP !== "number" || !(o.topP > 0 && o.topP <= 1)) this.fail(`${field}.topP`, "a number in (0, 1]", o.topP);
      out.topP = o.topP;
    }
    if (o.guidance !== undefined) {
      if (typeof o.guidance !== "number" || !Number.isFinite(o.guidance) || o.guidance < 0) this.fail(`${field}.guidance`, "a number ≥ 0", o.guidance);
      out.guidance = o.guidance;
    }
    return out;
  }
}

/** Ids of a layout must not collide: each [lo, hi) range and each single id is disjoint from the others. */
function checkDisjoint(r: Reader, section: string, parts: Array<[string, number, number]>): void {
  for (let i = 0; i < parts.length; i++) {
    for (let j = i + 1; j < parts.length; j++) {
      const [a, alo, ahi] = parts[i];
      const [b, blo, bhi] = parts[j];
      if (alo < bhi && blo < ahi) r.problem(`${section}: ${a} [${alo}, ${ahi}) overlaps ${b} [${blo}, ${bhi})`);
    }
  }
}

/**
 * Parses and validates the JSON of a model.json.
 *
 * @param json - The parsed JSON value.
 * @param source - How to name the file in error messages.
 * @returns The config with defaults filled in (see docs/model-format.md).
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_MODEL` naming the first invalid field.
 */
export function parseModelJson(json: unknown, source = "model.json"): ModelConfig {
  const r: Reader = new Reader(source); // annotated so that its `never` methods narrow types
  const root = r.obj(json, "the top level");
  if (root.format !== MODEL_FORMAT) r.fail("format", JSON.stringify(MODEL_FORMAT), root.format);
  const family = root.family ?? "audiolm";
  if (family !== "audiolm") r.fail("family", '"audiolm"', family);
  const name = root.name ?? "";
  if (typeof name !== "string") r.fail("name", "a string", name);

  const c = r.obj(root.components, "components");
  const components: ModelComponents = {
    codec: r.file(c, "codec", false)!,
    semanticTokenizer: r.file(c, "semanticTokenizer", true),
    semantic: r.file(c, "semantic", true),
    coarse: r.file(c, "coarse", false)!,
    fine: r.file(c, "fine", true),
  };

  const s = r.obj(root.semantic, "semantic");
  const K = r.int(s, "codebookSize", "semantic", 1, 1 << 24);
  const sv = r.optObj(s.vocab, "semantic.vocab");
  const sOffset = r.int(sv, "offset", "semantic.vocab", 0, 2 ** 31 - 1, 0);
  const semWindow = r.int(s, "window", "semantic", 2, 1 << 20);
  const semantic: SemanticSection = {
    codebookSize: K,
    rate: r.positive(s, "rate", "semantic"),
    dedupe: r.bool(s, "dedupe", "semantic", false),
    vocab: { offset: sOffset, eos: r.int(sv, "eos", "semantic.vocab", 0, 2 ** 31 - 1, sOffset + K), bos: r.int(sv, "bos", "semantic.vocab", 0, 2 ** 31 - 1, sOffset + K + 1) },
    window: semWindow,
    hop: r.int(s, "hop", "semantic", 1, semWindow, Math.ceil(semWindow / 2)),
  };
  checkDisjoint(r, "semantic.vocab", [["semantic tokens", sOffset, sOffset + K], ["eos", semantic.vocab.eos, semantic.vocab.eos + 1], ["bos", semantic.vocab.bos, semantic.vocab.bos + 1]]);

  const a = r.obj(root.acoustic, "acoustic");
  const C = r.int(a, "codebookSize", "acoustic", 1, 1 << 24);
  const acoustic: AcousticSection = {
    rate: r.positive(a, "rate", "acoustic"),
    codebookSize: C,
    coarseLevels: r.int(a, "coarseLevels", "acoustic", 1, 64),
    fineLevels: r.int(a, "fineLevels", "acoustic", 0, 64),
  };
  const Qc = acoustic.coarseLevels;
  const Qf = acoustic.fineLevels;

  const co = r.obj(root.coarse, "coarse");
  const cv = r.optObj(co.vocab, "coarse.vocab");
  const semanticOffset = r.int(cv, "semanticOffset", "coarse.vocab", 0, 2 ** 31 - 1, 0);
  const acousticOffset = r.int(cv, "acousticOffset", "coarse.vocab", 0, 2 ** 31 - 1, semanticOffset + K);
  const cSep = r.int(cv, "sep", "coarse.vocab", 0, 2 ** 31 - 1, acousticOffset + Qc * C);
  const cw = r.obj(co.window, "coarse.window");
  const acousticFrames = r.int(cw, "acousticFrames", "coarse.window", 1, 1 << 20);
  const coarseHop = r.int(cw, "hop", "coarse.window", 1, acousticFrames, Math.ceil(acousticFrames / 2));
  const minSemantic = Math.ceil((acousticFrames * semantic.rate) / acoustic.rate - 1e-9);
  const coarse: CoarseSection = {
    vocab: { semanticOffset, acousticOffset, sep: cSep, bos: r.int(cv, "bos", "coarse.vocab", 0, 2 ** 31 - 1, cSep + 1) },
    window: {
      semanticFrames: r.int(cw, "semanticFrames", "coarse.window", 0, 1 << 20, minSemantic),
      acousticFrames,
      hop: coarseHop,
      // at most half the history, so that a window keeps its latest frames too
      anchor: r.int(cw, "anchor", "coarse.window", 0, Math.floor((acousticFrames - coarseHop) / 2), 0),
    },
  };
  if (coarse.window.semanticFrames < minSemantic) {
    r.problem(`coarse.window.semanticFrames is ${coarse.window.semanticFrames} but ${acousticFrames} acoustic frames at ${acoustic.rate} Hz span ${minSemantic} semantic tokens at ${semantic.rate} Hz`);
  }
  checkDisjoint(r, "coarse.vocab", [
    ["semantic tokens", semanticOffset, semanticOffset + K],
    ["coarse tokens", acousticOffset, acousticOffset + Qc * C],
    ["sep", cSep, cSep + 1],
    ["bos", coarse.vocab.bos, coarse.vocab.bos + 1],
  ]);

  let fine: FineSection | null = null;
  if (Qf > 0) {
    const f = r.obj(root.fine, "fine");
    const mode = f.mode ?? "autoregressive";
    if (mode !== "autoregressive" && mode !== "nonCausal") r.fail("fine.mode", '"autoregressive" or "nonCausal"', mode);
    const fv = r.optObj(f.vocab, "fine.vocab");
    const coarseOffset = r.int(fv, "coarseOffset", "fine.vocab", 0, 2 ** 31 - 1, 0);
    const fineOffset = r.int(fv, "fineOffset", "fine.vocab", 0, 2 ** 31 - 1, mode === "nonCausal" ? 0 : coarseOffset + Qc * C);
    const fSep = r.int(fv, "sep", "fine.vocab", 0, 2 ** 31 - 1, fineOffset + Qf * C);
    const fw = r.obj(f.window, "fine.window");
    const frames = r.int(fw, "frames", "fine.window", 1, 1 << 20);
    const fineSection: FineSection = {
      mode: mode as FineSection["mode"],
      vocab: { coarseOffset, fineOffset, sep: fSep, bos: r.int(fv, "bos", "fine.vocab", 0, 2 ** 31 - 1, fSep + 1) },
      window: { frames, hop: r.int(fw, "hop", "fine.window", 1, frames, Math.ceil(frames / 2)) },
    };
    fine = fineSection;
    if (mode === "autoregressive") {
      checkDisjoint(r, "fine.vocab", [
        ["coarse tokens", coarseOffset, coarseOffset + Qc * C],
        ["fine tokens", fineOffset, fineOffset + Qf * C],
        ["sep", fSep, fSep + 1],
        ["bos", fineSection.vocab.bos, fineSection.vocab.bos + 1],
      ]);
    }
    if (components.fine === null) r.fail("components.fine", `a file name (acoustic.fineLevels is ${Qf})`, null);
  } else if (components.fine !== null) {
    r.fail("acoustic.fineLevels", `an integer ≥ 1 (components.fine is ${JSON.stringify(components.fine)})`, 0);
  }

  const sm = r.optObj(root.sampling, "sampling");
  const unconditional: ModelConfig["sampling"]["unconditional"] = {};
  const un = r.optObj(sm.unconditional, "sampling.unconditional");
  for (const k of Object.keys(un)) {
    if (k !== "semantic" && k !== "coarse" && k !== "fine") r.fail(`sampling.unconditional.${k}`, "semantic, coarse or fine", k);
    unconditional[k] = r.sampling(un[k], `sampling.unconditional.${k}`, k);
  }
  return {
    format: MODEL_FORMAT,
    name,
    family: "audiolm",
    components,
    semantic,
    acoustic,
    coarse,
    fine,
    sampling: {
      semantic: r.sampling(sm.semantic, "sampling.semantic", "semantic"),
      coarse: r.sampling(sm.coarse, "sampling.coarse", "coarse"),
      fine: r.sampling(sm.fine, "sampling.fine", "fine"),
      unconditional,
    },
  };
}

/**
 * Reads and validates `dir/model.json`.
 *
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_MODEL`
 *   when it is not valid JSON or not a valid manifest.
 */
export async function readModelJson(dir: string): Promise<ModelConfig> {
  const path = join(dir, "model.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `Could not read ${JSON.stringify(path)}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${path} is not valid JSON (${(err as Error).message})`, { cause: err });
  }
  return parseModelJson(json, path);
}

/** What {@link checkComponents} needs to know about the loaded components. */
export interface ComponentInfo {
  codec: { frameRate: number; codebookSize: number; numQuantizers: number; channels?: number; segmented?: boolean };
  semantic: TransformerConfig | null;
  coarse: TransformerConfig;
  fine: TransformerConfig | null;
}

/** The positions each stage's sessions need (sequence capacity), from the layouts and windows. */
export function stageCapacities(m: ModelConfig): { semantic: number; coarse: number; fine: number } {
  const Qc = m.acoustic.coarseLevels;
  const Q = Qc + m.acoustic.fineLevels;
  return {
    semantic: 1 + m.semantic.window,
    coarse: 2 + m.coarse.window.semanticFrames + m.coarse.window.acousticFrames * Qc,
    fine: m.fine === null ? 0 : m.fine.mode === "autoregressive" ? 2 + m.fine.window.frames * Q : m.fine.window.frames,
  };
}

/**
 * Checks that the components fit the manifest: codec rate, codebook size and levels; each
 * stage's vocabulary, output size, causality, codebooks/heads and position limit.
 *
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_MODEL` naming the component and the mismatch.
 */
export function checkComponents(m: ModelConfig, info: ComponentInfo, source = "model.json"): void {
  const bad = (msg: string): never => {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${source}: ${msg}`);
  };
  const { codec } = info;
  const C = m.acoustic.codebookSize;
  const Qc = m.acoustic.coarseLevels;
  const Qf = m.acoustic.fineLevels;
  if (Math.abs(codec.frameRate - m.acoustic.rate) > 1e-6 * m.acoustic.rate) bad(`acoustic.rate is ${m.acoustic.rate} but the codec makes ${codec.frameRate} frames per second`);
  if (codec.codebookSize !== C) bad(`acoustic.codebookSize is ${C} but the codec has ${codec.codebookSize} codes per level`);
  if (Qc + Qf > codec.numQuantizers) bad(`acoustic.coarseLevels + fineLevels is ${Qc + Qf} but the codec has ${codec.numQuantizers} levels`);
  // The stages model one stream of frames from mono audio: a codec that cuts audio into scaled,
  // overlapping segments (EnCodec 48 kHz) or codes several channels gives no such stream.
  if (codec.segmented) bad("the codec cuts audio into scaled segments (as EnCodec 48 kHz does); an AudioLM model needs one that encodes a waveform whole");
  if ((codec.channels ?? 1) !== 1) bad(`the codec codes ${codec.channels} channels; an AudioLM model needs a mono codec`);
  const caps = stageCapacities(m);

  const stage = (name: string, cfg: TransformerConfig, maxId: number, maxOut: number, capacity: number) => {
    if (cfg.vocabSize <= maxId) bad(`the ${name} stage's vocabSize ${cfg.vocabSize} is too small for its token layout (largest id ${maxId})`);
    if (cfg.outputSize < maxOut) bad(`the ${name} stage's outputSize ${cfg.outputSize} is too small for its token layout (needs ${maxOut})`);
    if ((cfg.position === "learned" || cfg.position === "bias_table") && cfg.maxPositions < capacity) {
      bad(`the ${name} stage has ${cfg.maxPositions} positions but its window needs ${capacity}`);
    }
    if (cfg.crossAttention) bad(`the ${name} stage uses cross-attention, which the AudioLM pipeline does not feed`);
  };
  const causal = (name: string, cfg: TransformerConfig) => {
    if (!cfg.causal) bad(`the ${name} stage must be causal (it generates token by token)`);
    if (cfg.inputCodebooks !== 1 || cfg.outputHeads !== 1) bad(`the ${name} stage must have one input codebook and one output head`);
  };

  if (info.semantic) {
    const v = m.semantic.vocab;
    stage("semantic", info.semantic, Math.max(v.offset + m.semantic.codebookSize - 1, v.eos, v.bos), v.offset + m.semantic.codebookSize, caps.semantic);
    causal("semantic", info.semantic);
  } else if (m.components.semantic !== null) bad("the semantic stage is missing");

  const cv = m.coarse.vocab;
  stage("coarse", info.coarse, Math.max(cv.semanticOffset + m.semantic.codebookSize - 1, cv.acousticOffset + Qc * C - 1, cv.sep, cv.bos), cv.acousticOffset + Qc * C, caps.coarse);
  causal("coarse", info.coarse);

  if (m.fine && info.fine) {
    const fv = m.fine.vocab;
    if (m.fine.mode === "autoregressive") {
      stage("fine", info.fine, Math.max(fv.coarseOffset + Qc * C - 1, fv.fineOffset + Qf * C - 1, fv.sep, fv.bos), fv.fineOffset + Qf * C, caps.fine);
      causal("fine", info.fine);
    } else {
      stage("fine", info.fine, C - 1, C, caps.fine);
      if (info.fine.causal) bad("a nonCausal fine stage must be a bidirectional transformer (causal: false)");
      if (info.fine.inputCodebooks !== Qc + Qf) bad(`the fine stage has ${info.fine.inputCodebooks} input codebooks but the model uses ${Qc + Qf} levels`);
      if (info.fine.outputHeads !== Qf) bad(`the fine stage has ${info.fine.outputHeads} output heads but acoustic.fineLevels is ${Qf}`);
    }
  }
}
