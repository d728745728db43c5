/**
 * `audiolm convert bark`: Bark (suno-ai/bark) checkpoints → three transformer components
 * (docs/transformer-format.md): `semantic.safetensors` (text.pt / text_2.pt: GPT read with Bark's
 * merged context, i.e. `inputCodebooks` 2 sharing one table), `coarse.safetensors` (coarse.pt /
 * coarse_2.pt: a plain causal GPT) and `fine.safetensors` (fine.pt / fine_2.pt: FineGPT, one
 * input table per codebook, one head per predicted codebook, non-causal), plus `bark.json` with
 * Bark's generation constants for a Bark pipeline (our model.json pipeline cannot express Bark's
 * text conditioning, token offsets and merged context, so no model.json is written).
 *
 * A checkpoint is Bark's `torch.save({"model_args": {...GPTConfig fields}, "model": state_dict})`
 * read by the safe pickle reader (nothing in it runs); older files name both vocabularies
 * `vocab_size`; torch.compile's `_orig_mod.` key prefix is stripped. Only Bark's own layout is
 * read (Hugging Face's BarkModel layout is not).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

import { AudioLMError } from "../errors.js";
import { type WeightTensor, loadCheckpoint, loadWeights, writeComponent } from "./weights.js";

export type BarkStage = "semantic" | "coarse" | "fine";

/** The transformer config written for one Bark stage. */
export interface BarkStageConfig {
  family: "transformer";
  vocabSize: number;
  outputSize: number;
  dim: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffDim: number;
  ff: "gelu";
  norm: "layernorm";
  normBias: boolean;
  normEps: number;
  prenorm: true;
  finalNorm: true;
  position: "learned";
  maxPositions: number;
  causal: boolean;
  attnBias: boolean;
  ffBias: boolean;
  headBias: false;
  inputCodebooks: number;
  outputHeads: number;
  sharedInputEmbedding: boolean;
}

export interface ConvertBarkOptions {
  /** Storage dtype of the written weights (default F32). */
  dtype?: "F32" | "F16" | "BF16";
  /** With a directory holding both: "large" (text_2.pt …, Bark's default) or "small" (text.pt …). Default: large when present. */
  variant?: "large" | "small";
  /**
   * The text tokenizer's vocab.txt (bert-base-multilingual-cased's) to copy into the output
   * directory as vocab.txt (directory conversions; default: SRC/vocab.txt when present).
   */
  vocab?: string;
}

export interface ConvertBarkResult {
  /** Written component paths by stage. */
  files: Partial<Record<BarkStage, string>>;
  configs: Partial<Record<BarkStage, BarkStageConfig>>;
  /** The bark.json written with the generation constants (directory conversions only). */
  constants?: string;
  /** The vocab.txt copied beside bark.json (directory conversions with a vocabulary). */
  vocab?: string;
}

/** Bark's generation constants (bark/generation.py), written to bark.json for a Bark pipeline. */
export const BARK_CONSTANTS = {
  contextWindowSize: 1024,
  semanticRateHz: 49.9,
  semanticVocabSize: 10000,
  semanticPadToken: 10000,
  semanticInferToken: 129599,
  textEncodingOffset: 10048,
  textPadToken: 129595,
  textTokenizer: "bert-base-multilingual-cased",
  maxTextTokens: 256,
  semanticHistoryTokens: 256,
  codebookSize: 1024,
  nCoarseCodebooks: 2,
  nFineCodebooks: 8,
  coarseRateHz: 75,
  coarseSemanticPadToken: 12048,
  coarseInferToken: 12050,
  maxCoarseHistory: 630,
  coarseSlidingWindowLen: 60,
  fineWindow: 1024,
  fineHistory: 512,
  sampleRate: 24000,
  codec: "encodec_24khz",
  codecBandwidthKbps: 6,
};

const STAGE_FILES: Record<BarkStage, string> = { semantic: "text", coarse: "coarse", fine: "fine" };

function bad(path: string, msg: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${path}: ${msg}`);
}

function readInt(args: Map<unknown, unknown>, key: string, path: string, fallback?: string): number {
  let v = args.get(key);
  if (v === undefined && fallback !== undefined) v = args.get(fallback);
  if (typeof v === "bigint") v = Number(v);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) bad(path, `model_args.${key} must be a positive integer but is ${String(v)}`);
  return v;
}

/** Maps one Bark state-dict name (prefix stripped) to ours; null = ignored buffer; undefined = unknown. */
function ourName(name: string, fine: boolean, shape: number[]): string | null | undefined {
  let m: RegExpMatchArray | null;
  if (!fine && name === "transformer.wte.weight") return "tok_emb.weight";
  if (fine && (m = name.match(/^transformer\.wtes\.(\d+)\.weight$/))) return `tok_emb.${m[1]}.weight`;
  if (name === "transformer.wpe.weight") return "pos_emb.weight";
  if ((m = name.match(/^transformer\.ln_f\.(weight|bias)$/))) return `final_norm.${m[1]}`;
  if (!fine && name === "lm_head.weight") return "head.weight";
  if (fine && (m = name.match(/^lm_heads\.(\d+)\.weight$/))) return `head.${m[1]}.weight`;
  if ((m = name.match(/^transformer\.h\.(\d+)\.(.+)$/))) {
    const [, i, rest] = m;
    const map: Record<string, string> = {
      "ln_1.weight": "attn_norm.weight",
      "ln_1.bias": "attn_norm.bias",
      "ln_2.weight": "ff_norm.weight",
      "ln_2.bias": "ff_norm.bias",
      "attn.c_attn.weight": "attn.qkv.weight",
      "attn.c_attn.bias": "attn.qkv.bias",
      "attn.c_proj.weight": "attn.o.weight",
      "attn.c_proj.bias": "attn.o.bias",
      "mlp.c_fc.weight": "ff.up.weight",
      "mlp.c_fc.bias": "ff.up.bias",
      "mlp.c_proj.weight": "ff.down.weight",
      "mlp.c_proj.bias": "ff.down.bias",
    };
    // the causal-mask buffer nanoGPT registers when it has no flash attention
    if (rest === "attn.bias" && shape.length === 4) return null;
    if (map[rest]) return `layers.${i}.${map[rest]}`;
  }
  return undefined;
}

/** Converts one Bark checkpoint (a stage) to a transformer component. */
export async function convertBarkCheckpoint(
  srcPath: string,
  stage: BarkStage,
  outPath: string,
  opts: ConvertBarkOptions = {},
): Promise<BarkStageConfig> {
  const { tensors, object } = await loadCheckpoint(srcPath);
  if (!(object instanceof Map)) bad(srcPath, "is not a Bark checkpoint (expected a dict with model_args and model)");
  const args = object.get("model_args");
  if (!(args instanceof Map)) bad(srcPath, "has no model_args dict: not a Bark checkpoint");
  if (!object.has("model")) bad(srcPath, "has no model state dict: not a Bark checkpoint");
  // The state dict sits under "model."; torch.compile adds "_orig_mod.".
  const named = new Map<string, WeightTensor>();
  for (const [full, t] of tensors) {
    if (!full.startsWith("model.")) continue;
    let name = full.slice("model.".length);
    if (name.startsWith("_orig_mod.")) name = name.slice("_orig_mod.".length);
    named.set(name, t);
  }
  return convertBarkStage(named, args, stage, outPath, srcPath, opts);
}

/**
 * Converts one stage given its tensors under Bark's own names (nanoGPT style: transformer.h.N.…)
 * and its GPTConfig fields.
 */
async function convertBarkStage(
  tensors: Map<string, WeightTensor>,
  args: Map<unknown, unknown>,
  stage: BarkStage,
  outPath: string,
  srcPath: string,
  opts: ConvertBarkOptions,
): Promise<BarkStageConfig> {
  const fine = stage === "fine";
  const D = readInt(args, "n_embd", srcPath);
  const H = readInt(args, "n_head", srcPath);
  const L = readInt(args, "n_layer", srcPath);
  const block = readInt(args, "block_size", srcPath);
  const vin = readInt(args, "input_vocab_size", srcPath, "vocab_size");
  const vout = readInt(args, "output_vocab_size", srcPath, "vocab_size");
  if (D % H) bad(srcPath, `n_embd ${D} is not a multiple of n_head ${H}`);
  let total = 1;
  let given = 0;
  if (fine) {
    total = readInt(args, "n_codes_total", srcPath);
    given = readInt(args, "n_codes_given", srcPath);
    if (given >= total) bad(srcPath, `n_codes_given ${given} must be below n_codes_total ${total}`);
  } else if (args.has("n_codes_total")) {
    bad(srcPath, `model_args has n_codes_total: a FineGPT checkpoint, not the ${stage} GPT`);
  }

  // Rename, rejecting what we do not know.
  const src = new Map<string, WeightTensor>();
  const unknown: string[] = [];
  for (const [name, t] of tensors) {
    const ours = ourName(name, fine, t.shape);
    if (ours === undefined) unknown.push(name);
    else if (ours !== null) src.set(ours, t);
  }
  if (unknown.length) bad(srcPath, `unknown tensors in the Bark ${stage} state dict: ${unknown.slice(0, 8).join(", ")}${unknown.length > 8 ? ` (+${unknown.length - 8} more)` : ""}`);
  if (src.size === 0) bad(srcPath, "the model state dict holds no tensors");

  const normBias = src.has("layers.0.attn_norm.bias");
  const attnBias = src.has("layers.0.attn.qkv.bias");
  const ffBias = src.has("layers.0.ff.up.bias");
  const out = new Map<string, WeightTensor>();
  const take = (name: string, shape: number[]): WeightTensor => {
    const t = src.get(name);
    if (!t) bad(srcPath, `the Bark ${stage} state dict lacks ${name} (our name)`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      bad(srcPath, `${name} has shape [${t.shape}] but model_args imply [${shape}]`);
    }
    src.delete(name);
    return t;
  };
  const put = (name: string, shape: number[]): void => void out.set(name, take(name, shape));
  if (fine) for (let c = 0; c < total; c++) put(`tok_emb.${c}.weight`, [vin, D]);
  else put("tok_emb.weight", [vin, D]);
  put("pos_emb.weight", [block, D]);
  for (let i = 0; i < L; i++) {
    const p = `layers.${i}`;
    for (const n of ["attn_norm", "ff_norm"]) {
      put(`${p}.${n}.weight`, [D]);
      if (normBias) put(`${p}.${n}.bias`, [D]);
    }
    const qkv = take(`${p}.attn.qkv.weight`, [3 * D, D]);
    const qkvB = attnBias ? take(`${p}.attn.qkv.bias`, [3 * D]) : null;
    ["q", "k", "v"].forEach((n, j) => {
      out.set(`${p}.attn.${n}.weight`, { shape: [D, D], data: qkv.data.slice(j * D * D, (j + 1) * D * D) });
      if (qkvB) out.set(`${p}.attn.${n}.bias`, { shape: [D], data: qkvB.data.slice(j * D, (j + 1) * D) });
    });
    put(`${p}.attn.o.weight`, [D, D]);
    if (attnBias) put(`${p}.attn.o.bias`, [D]);
    put(`${p}.ff.up.weight`, [4 * D, D]);
    put(`${p}.ff.down.weight`, [D, 4 * D]);
    if (ffBias) {
      put(`${p}.ff.up.bias`, [4 * D]);
      put(`${p}.ff.down.bias`, [D]);
    }
  }
  put("final_norm.weight", [D]);
  if (normBias) put("final_norm.bias", [D]);
  if (fine) for (let h = 0; h < total - given; h++) put(`head.${h}.weight`, [vout, D]);
  else put("head.weight", [vout, D]);
  if (src.size) bad(srcPath, `unexpected tensors for model_args (n_layer ${L}): ${[...src.keys()].slice(0, 8).join(", ")}`);

  const config: BarkStageConfig = {
    family: "transformer",
    vocabSize: vin,
    outputSize: vout,
    dim: D,
    layers: L,
    heads: H,
    kvHeads: H,
    headDim: D / H,
    ffDim: 4 * D,
    ff: "gelu",
    norm: "layernorm",
    normBias,
    normEps: 1e-5,
    prenorm: true,
    finalNorm: true,
    position: "learned",
    maxPositions: block,
    causal: !fine,
    attnBias,
    ffBias,
    headBias: false,
    inputCodebooks: fine ? total : stage === "semantic" ? 2 : 1,
    outputHeads: fine ? total - given : 1,
    sharedInputEmbedding: stage === "semantic",
  };
  await writeComponent(outPath, out, config, { source: basename(srcPath), dtype: opts.dtype ?? "F32" });
  return config;
}

function stageOfFile(path: string): BarkStage | undefined {
  const b = basename(path).toLowerCase();
  if (/^(text|semantic)/.test(b)) return "semantic";
  if (b.startsWith("coarse")) return "coarse";
  if (b.startsWith("fine")) return "fine";
  return undefined;
}

/**
 * Converts Bark checkpoints into `outDir`. `src` is a directory holding text(_2).pt,
 * coarse(_2).pt and fine(_2).pt (all three stages are written, plus bark.json, plus vocab.txt
 * copied from `opts.vocab` or SRC/vocab.txt when present), or one of those files (that stage only;
 * the stage comes from the file name).
 */
export async function convertBark(src: string, outDir: string, opts: ConvertBarkOptions = {}): Promise<ConvertBarkResult> {
  if (!existsSync(src)) throw new AudioLMError("ERR_AUDIOLM_IO", `${src} does not exist`);
  if (opts.vocab !== undefined && !existsSync(opts.vocab)) throw new AudioLMError("ERR_AUDIOLM_IO", `the vocabulary ${opts.vocab} does not exist`);
  await mkdir(outDir, { recursive: true });
  const result: ConvertBarkResult = { files: {}, configs: {} };
  if (!statSync(src).isDirectory()) {
    const stage = stageOfFile(src);
    if (!stage) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `cannot tell the Bark stage of ${src}: name it text*.pt, coarse*.pt or fine*.pt`);
    }
    const out = join(outDir, `${stage}.safetensors`);
    result.configs[stage] = await convertBarkCheckpoint(src, stage, out, opts);
    result.files[stage] = out;
    return result;
  }
  if (isHuggingFaceBark(src)) {
    const configs = await convertBarkHuggingFace(src, outDir, opts);
    for (const stage of ["semantic", "coarse", "fine"] as BarkStage[]) {
      result.configs[stage] = configs[stage];
      result.files[stage] = join(outDir, `${stage}.safetensors`);
    }
  } else for (const stage of ["semantic", "coarse", "fine"] as BarkStage[]) {
    const stem = STAGE_FILES[stage];
    const large = join(src, `${stem}_2.pt`);
    const small = join(src, `${stem}.pt`);
    const pick = opts.variant === "small" ? [small] : opts.variant === "large" ? [large] : [large, small];
    const file = pick.find((p) => existsSync(p));
    if (!file) throw new AudioLMError("ERR_AUDIOLM_IO", `${src} has no ${pick.map((p) => basename(p)).join(" or ")}`);
    const out = join(outDir, `${stage}.safetensors`);
    result.configs[stage] = await convertBarkCheckpoint(file, stage, out, opts);
    result.files[stage] = out;
  }
  const constants = join(outDir, "bark.json");
  const fine = result.configs.fine!;
  const doc = {
    format: "bark",
    note: "Bark generation constants (suno-ai/bark generation.py) for a Bark pipeline; the components follow docs/transformer-format.md",
    components: { semantic: "semantic.safetensors", coarse: "coarse.safetensors", fine: "fine.safetensors" },
    fineCodesGiven: fine.inputCodebooks - fine.outputHeads,
    ...BARK_CONSTANTS,
  };
  await writeFile(constants, JSON.stringify(doc, null, 2) + "\n");
  result.constants = constants;
  const vocab = opts.vocab ?? join(src, "vocab.txt");
  if (existsSync(vocab)) {
    const out = join(outDir, "vocab.txt");
    if (resolve(vocab) !== resolve(out)) await copyFile(vocab, out);
    result.vocab = out;
  }
  return result;
}

// ---- Hugging Face BarkModel layout ----

const HF_PREFIX: Record<BarkStage, string> = { semantic: "semantic.", coarse: "coarse_acoustics.", fine: "fine_acoustics." };
const HF_CONFIG: Record<BarkStage, string> = { semantic: "semantic_config", coarse: "coarse_acoustics_config", fine: "fine_acoustics_config" };
const HF_RULES: Array<[RegExp, string]> = [
  [/^input_embeds_layer\.weight$/, "transformer.wte.weight"],
  [/^input_embeds_layers\.(\d+)\.weight$/, "transformer.wtes.$1.weight"],
  [/^position_embeds_layer\.weight$/, "transformer.wpe.weight"],
  [/^layers\.(\d+)\.layernorm_1\.(weight|bias)$/, "transformer.h.$1.ln_1.$2"],
  [/^layers\.(\d+)\.layernorm_2\.(weight|bias)$/, "transformer.h.$1.ln_2.$2"],
  [/^layers\.(\d+)\.attn\.att_proj\.(weight|bias)$/, "transformer.h.$1.attn.c_attn.$2"],
  [/^layers\.(\d+)\.attn\.out_proj\.(weight|bias)$/, "transformer.h.$1.attn.c_proj.$2"],
  [/^layers\.(\d+)\.mlp\.in_proj\.(weight|bias)$/, "transformer.h.$1.mlp.c_fc.$2"],
  [/^layers\.(\d+)\.mlp\.out_proj\.(weight|bias)$/, "transformer.h.$1.mlp.c_proj.$2"],
  [/^layernorm_final\.(weight|bias)$/, "transformer.ln_f.$1"],
  [/^lm_head\.weight$/, "lm_head.weight"],
  [/^lm_heads\.(\d+)\.weight$/, "lm_heads.$1.weight"],
];

/** A directory holding a Hugging Face BarkModel (config.json with semantic_config and weights). */
function isHuggingFaceBark(dir: string): boolean {
  const config = join(dir, "config.json");
  if (!existsSync(config)) return false;
  try {
    return typeof JSON.parse(readFileSync(config, "utf8")).semantic_config === "object";
  } catch {
    return false;
  }
}

/** Bark's GPTConfig fields from a Hugging Face sub-model config (hidden_size, num_layers, ...). */
function hfArgs(cfg: Record<string, unknown>): Map<unknown, unknown> {
  const pick = (...keys: string[]) => keys.map((k) => cfg[k]).find((v) => v !== undefined);
  const args = new Map<unknown, unknown>([
    ["n_embd", pick("hidden_size", "n_embd")],
    ["n_head", pick("num_heads", "n_head")],
    ["n_layer", pick("num_layers", "n_layer")],
    ["block_size", pick("block_size")],
    ["input_vocab_size", pick("input_vocab_size")],
    ["output_vocab_size", pick("output_vocab_size")],
  ]);
  if (cfg.n_codes_total !== undefined) args.set("n_codes_total", cfg.n_codes_total);
  if (cfg.n_codes_given !== undefined) args.set("n_codes_given", cfg.n_codes_given);
  return args;
}

/**
 * Converts a Hugging Face `BarkModel` (model.safetensors or pytorch_model.bin with config.json
 * beside it; `semantic.*`, `coarse_acoustics.*`, `fine_acoustics.*` tensors) into three stage
 * components in `outDir`. Its `codec_model.*` (EnCodec, Hugging Face layout) is left out: convert
 * the EnCodec checkpoint with `audiolm convert encodec` and save it as `codec.safetensors`.
 */
export async function convertBarkHuggingFace(src: string, outDir: string, opts: ConvertBarkOptions = {}): Promise<Record<BarkStage, BarkStageConfig>> {
  const file = statSync(src).isDirectory()
    ? [join(src, "model.safetensors"), join(src, "pytorch_model.bin")].find((f) => existsSync(f))
    : src;
  if (!file) bad(src, "holds neither model.safetensors nor pytorch_model.bin");
  const configPath = join(dirname(file), "config.json");
  if (!existsSync(configPath)) bad(file, `a Hugging Face BarkModel needs its config.json beside it (${configPath})`);
  let config: Record<string, Record<string, unknown>>;
  try {
    config = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (err) {
    bad(configPath, `cannot read it as JSON: ${(err as Error).message}`);
  }
  const all = await loadWeights(file);
  mkdirSync(outDir, { recursive: true });
  const out = {} as Record<BarkStage, BarkStageConfig>;
  for (const stage of ["semantic", "coarse", "fine"] as BarkStage[]) {
    const sub = config[HF_CONFIG[stage]];
    if (!sub || typeof sub !== "object") bad(configPath, `lacks ${HF_CONFIG[stage]}`);
    const named = new Map<string, WeightTensor>();
    const unknown: string[] = [];
    for (const [name, t] of all) {
      if (!name.startsWith(HF_PREFIX[stage])) continue;
      const rest = name.slice(HF_PREFIX[stage].length);
      if (/^layers\.\d+\.attn\.(bias|masked_bias)$/.test(rest)) continue; // causal-mask buffers
      const rule = HF_RULES.find(([re]) => re.test(rest));
      if (rule) named.set(rest.replace(rule[0], rule[1]), t);
      else unknown.push(name);
    }
    if (unknown.length) bad(file, `unknown tensors in the Hugging Face Bark ${stage} model: ${unknown.slice(0, 8).join(", ")}`);
    out[stage] = await convertBarkStage(named, hfArgs(sub), stage, join(outDir, `${stage}.safetensors`), file, opts);
  }
  return out;
}
