/**
 * `audiolm convert audiolm-pytorch`: one lucidrains/audiolm-pytorch stage checkpoint
 * (SemanticTransformer, CoarseTransformer or FineTransformer, the plain-residual layout of
 * releases before 2.4.0; read from 2.3.1, commit 2154a74a) → one transformer component
 * (docs/transformer-format.md).
 *
 * Their checkpoints carry no hyper-parameters, so they come as a JSON config (their constructor
 * argument names in camelCase): `stage`, `dim`, `depth`, `heads`, `dimHead` (alias
 * `attnDimHead`; default 64), `numSemanticTokens`, `codebookSize`, `numCoarseQuantizers`,
 * `numFineQuantizers`, `hasCondition`, `condDim`, `addValueResidual` (default true, as theirs
 * since 2.2.0) and our `maxPositions` (the longest sequence the precomputed relative-position
 * bias table covers; default 2048). The checkpoint is the trainers' `{"model": state_dict, …}`
 * or a bare state dict.
 *
 * The trunk maps onto our format as pre-norm, bias-less LayerNorm (their `gamma` + zero `beta`
 * buffer; eps 1e-5), multi-query attention (`kvHeads` 1; `to_kv` rows split into k then v),
 * scale 1/sqrt(dimHead), GEGLU feed-forward of width int(dim·8/3) with the inner LayerNorm, a
 * final norm, and their RelativePositionBias MLP evaluated at every distance below
 * `maxPositions` into our `bias_table`. Their learned start tokens become extra input-vocabulary
 * rows, and the stages' logits become one output head with per-kind offsets (see
 * `AUDIOLM_PYTORCH_TOKENS` below and the converter's result `layout`).
 *
 * Value-residual learning (`add_value_residual`, their default since 2.2.0: every layer after the
 * first averages its self-attention values with the first layer's) becomes `valueResidual`. The
 * flag is not in their checkpoints: a checkpoint trained without it needs `addValueResidual: false`.
 *
 * Not expressible in our transformer (refused with an AudioLMError rather than converted wrongly):
 * cross-attention / prefix conditioning (`has_condition`: their cross-attention has a learned
 * null key/value and a context LayerNorm); the fine stage's 2-D (time, quantizer) position MLP
 * and start-token bias, so fine stages convert only when trained with `rel_pos_bias=False` (or
 * `flash_attn=True`). The coarse stage's relative-position bias does convert: between its
 * semantic and coarse parts the MLP bias gives way to `cross_attn_bias`, which becomes our
 * `segmentBias` (a per-token segment table and a per-head bias). The fine stage's masking of
 * coarse pad/EOS keys is not expressed either (exact for inputs without them).
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";

import { AudioLMError } from "../errors.js";
import { type WeightTensor, loadCheckpoint, writeComponent } from "./weights.js";

export type AudiolmPytorchStage = "semantic" | "coarse" | "fine";

/** The `--config` JSON: their constructor arguments (camelCase), plus our maxPositions. */
export interface AudiolmPytorchConfig {
  stage: AudiolmPytorchStage;
  dim: number;
  depth: number;
  heads?: number;
  dimHead?: number;
  attnDimHead?: number;
  numSemanticTokens?: number;
  codebookSize?: number;
  numCoarseQuantizers?: number;
  numFineQuantizers?: number;
  hasCondition?: boolean;
  audioTextCondition?: boolean;
  condDim?: number;
  addValueResidual?: boolean;
  maxPositions?: number;
}

/**
 * Where their ids sit in our single vocabulary (input ids; the output head's logits use the same
 * ids for every kind that is predicted, and have no rows for the start tokens).
 */
export interface AudiolmPytorchLayout {
  /** Each kind of token: our id = offset + (quantizer · stride) + their id, for their ids 0 … size−1. */
  segments: Array<{ kind: "semantic" | "coarse" | "fine"; offset: number; quantizers: number; stride: number; size: number }>;
  /** Our ids of the learned start tokens, in sequence order (semantic/coarse, coarse/fine). */
  startTokens: Record<string, number>;
  /** EOS ids in our numbering (semantic: their eos_id = numSemanticTokens; coarse: codebookSize per quantizer). */
  eos: Record<string, number | number[]>;
}

export interface ConvertAudiolmPytorchResult {
  config: Record<string, unknown>;
  layout: AudiolmPytorchLayout;
}

function badCkpt(path: string, msg: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${path}: ${msg}`);
}
function badConfig(msg: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `audiolm-pytorch config: ${msg}`);
}

function posInt(cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) badConfig(`${key} must be a positive integer but is ${JSON.stringify(v)}`);
  return v;
}

/** Reads and checks a `--config` JSON (a path or an object). */
export function readAudiolmPytorchConfig(src: string | AudiolmPytorchConfig): Required<Pick<AudiolmPytorchConfig, "stage" | "dim" | "depth" | "heads" | "dimHead" | "addValueResidual" | "maxPositions">> & AudiolmPytorchConfig {
  let raw: unknown = src;
  if (typeof src === "string") {
    if (!existsSync(src)) throw new AudioLMError("ERR_AUDIOLM_IO", `${src} does not exist`);
    try {
      raw = JSON.parse(readFileSync(src, "utf8"));
    } catch (err) {
      badConfig(`${src} is not valid JSON (${(err as Error).message})`);
    }
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) badConfig("must be a JSON object");
  const c = raw as Record<string, unknown>;
  if (c.stage !== "semantic" && c.stage !== "coarse" && c.stage !== "fine") badConfig(`stage must be "semantic", "coarse" or "fine" but is ${JSON.stringify(c.stage)}`);
  const out = {
    ...(c as unknown as AudiolmPytorchConfig),
    stage: c.stage as AudiolmPytorchStage,
    dim: posInt(c, "dim"),
    depth: posInt(c, "depth"),
    heads: posInt(c, "heads", 8),
    dimHead: posInt(c, c.dimHead === undefined && c.attnDimHead !== undefined ? "attnDimHead" : "dimHead", 64),
    addValueResidual: (c.addValueResidual ?? true) as boolean,
    maxPositions: posInt(c, "maxPositions", 2048),
  };
  if (typeof out.addValueResidual !== "boolean") badConfig("addValueResidual must be a boolean");
  if (c.stage !== "fine") posInt(c, "numSemanticTokens");
  if (c.stage !== "semantic") {
    posInt(c, "codebookSize");
    posInt(c, "numCoarseQuantizers");
  }
  if (c.stage === "fine") posInt(c, "numFineQuantizers");
  if (c.hasCondition === true || c.audioTextCondition === true) {
    badConfig(
      "hasCondition: their cross-attention (a learned null key/value prepended to the context, and a per-layer context LayerNorm) and prefix conditioning cannot be expressed by our transformer; only unconditioned stages convert",
    );
  }
  return out;
}

/** Their stages' token layout in our vocabulary (see AudiolmPytorchLayout). */
export function audiolmPytorchLayout(cfg: AudiolmPytorchConfig): AudiolmPytorchLayout {
  if (cfg.stage === "semantic") {
    const S = cfg.numSemanticTokens!;
    return {
      segments: [{ kind: "semantic", offset: 0, quantizers: 1, stride: S + 1, size: S + 1 }],
      startTokens: { semantic: S + 1 },
      eos: { semantic: S },
    };
  }
  const C = cfg.codebookSize!;
  const Qc = cfg.numCoarseQuantizers!;
  if (cfg.stage === "coarse") {
    const S = cfg.numSemanticTokens!;
    const base = S + 1;
    return {
      segments: [
        { kind: "semantic", offset: 0, quantizers: 1, stride: S + 1, size: S + 1 },
        { kind: "coarse", offset: base, quantizers: Qc, stride: C + 1, size: C + 1 },
      ],
      startTokens: { semantic: base + Qc * (C + 1), coarse: base + Qc * (C + 1) + 1 },
      eos: { semantic: S, coarse: Array.from({ length: Qc }, (_, q) => base + q * (C + 1) + C) },
    };
  }
  const Qf = cfg.numFineQuantizers!;
  return {
    segments: [
      { kind: "coarse", offset: 0, quantizers: Qc, stride: C, size: C },
      { kind: "fine", offset: Qc * C, quantizers: Qf, stride: C, size: C },
    ],
    startTokens: { coarse: (Qc + Qf) * C, fine: (Qc + Qf) * C + 1 },
    eos: {},
  };
}

/** Their RelativePositionBias MLP at distances −(M−1) … M−1 → our bias_table [H, 2M−1]. */
function biasTable(net: WeightTensor[][], heads: number, M: number): WeightTensor {
  const n = 2 * M - 1;
  const table = new Float32Array(heads * n);
  let x = new Float64Array(1);
  for (let r = 0; r < n; r++) {
    x = Float64Array.of(r - (M - 1));
    net.forEach(([w, b], li) => {
      const [rows, cols] = w.shape;
      const y = new Float64Array(rows);
      for (let o = 0; o < rows; o++) {
        let s = b.data[o];
        for (let i = 0; i < cols; i++) s += w.data[o * cols + i] * x[i];
        y[o] = li < net.length - 1 ? s / (1 + Math.exp(-s)) : s; // SiLU between layers
      }
      x = y;
    });
    for (let h = 0; h < heads; h++) table[h * n + r] = x[h];
  }
  return { shape: [heads, n], data: table };
}

/** Converts one audiolm-pytorch stage checkpoint to a transformer component at `outPath`. */
export async function convertAudiolmPytorch(
  srcPath: string,
  outPath: string,
  config: string | AudiolmPytorchConfig,
  opts: { dtype?: "F32" | "F16" | "BF16" } = {},
): Promise<ConvertAudiolmPytorchResult> {
  const cfg = readAudiolmPytorchConfig(config);
  if (!existsSync(srcPath)) throw new AudioLMError("ERR_AUDIOLM_IO", `${srcPath} does not exist`);
  const { tensors } = await loadCheckpoint(srcPath);
  const wrapped = [...tensors.keys()].some((k) => k.startsWith("model."));
  const src = new Map<string, WeightTensor>();
  for (const [k, t] of tensors) {
    if (wrapped && !k.startsWith("model.")) continue; // optimizer state etc.
    src.set(wrapped ? k.slice("model.".length) : k, t);
  }
  const { stage, dim: D, depth: L, heads: H, dimHead: hd, maxPositions: M } = cfg;

  // structures our transformer cannot express, recognised by their parameters
  const has = (re: RegExp): boolean => [...src.keys()].some((k) => re.test(k));
  if (has(/^transformer\.layers\.\d+\.1\./) || has(/null_kv$/)) {
    badCkpt(srcPath, "has cross-attention layers (has_condition): their null key/value and context LayerNorm cannot be expressed by our transformer");
  }
  if (stage === "fine" && (src.has("null_pos_bias") || has(/^pos_bias_mlp\./))) {
    badCkpt(srcPath, "is a FineTransformer with rel_pos_bias: its 2-D (time, quantizer) position MLP cannot be expressed by our transformer; only rel_pos_bias=False / flash_attn checkpoints convert");
  }

  const take = (name: string, shape: number[]): WeightTensor => {
    const t = src.get(name);
    if (!t) badCkpt(srcPath, `lacks ${name}: not an audiolm-pytorch ${stage} transformer of this config (dim ${D}, depth ${L})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      badCkpt(srcPath, `${name} has shape [${t.shape}] but the config implies [${shape}]`);
    }
    src.delete(name);
    return t;
  };
  const gain = (name: string, n: number): WeightTensor => {
    const beta = src.get(`${name}.beta`);
    if (beta && beta.data.some((v) => v !== 0)) badCkpt(srcPath, `${name}.beta is not zero (their LayerNorm's bias is a zero buffer)`);
    if (beta) take(`${name}.beta`, [n]);
    return take(`${name}.gamma`, [n]);
  };

  const out = new Map<string, WeightTensor>();
  const F = Math.trunc((D * 2 * 4) / 3);
  for (let i = 0; i < L; i++) {
    const p = `transformer.layers.${i}`;
    const q = `layers.${i}`;
    out.set(`${q}.attn_norm.weight`, gain(`${p}.0.norm`, D));
    out.set(`${q}.attn.q.weight`, take(`${p}.0.to_q.weight`, [H * hd, D]));
    const kv = take(`${p}.0.to_kv.weight`, [2 * hd, D]);
    out.set(`${q}.attn.k.weight`, { shape: [hd, D], data: kv.data.slice(0, hd * D) });
    out.set(`${q}.attn.v.weight`, { shape: [hd, D], data: kv.data.slice(hd * D) });
    out.set(`${q}.attn.o.weight`, take(`${p}.0.to_out.0.weight`, [D, H * hd]));
    out.set(`${q}.ff_norm.weight`, gain(`${p}.2.0`, D));
    out.set(`${q}.ff.up.weight`, take(`${p}.2.1.weight`, [2 * F, D]));
    out.set(`${q}.ff.inner_norm.weight`, gain(`${p}.2.3`, F));
    out.set(`${q}.ff.inner_norm.bias`, { shape: [F], data: new Float32Array(F) });
    out.set(`${q}.ff.down.weight`, take(`${p}.2.5.weight`, [D, F]));
  }
  out.set("final_norm.weight", gain("transformer.norm", D));

  let position: "bias_table" | "none" = "none";
  let segmentBias = false;
  if (src.has("transformer.rel_pos_bias.net.0.0.weight")) {
    const net: WeightTensor[][] = [];
    const R = Math.trunc(D / 2);
    for (let k = 0; src.has(`transformer.rel_pos_bias.net.${k}.0.weight`); k++) {
      const w = take(`transformer.rel_pos_bias.net.${k}.0.weight`, [R, k === 0 ? 1 : R]);
      net.push([w, take(`transformer.rel_pos_bias.net.${k}.0.bias`, [R])]);
    }
    const k = net.length;
    net.push([take(`transformer.rel_pos_bias.net.${k}.weight`, [H, R]), take(`transformer.rel_pos_bias.net.${k}.bias`, [H])]);
    out.set("bias_table", biasTable(net, H, M));
    position = "bias_table";
  }

  // embeddings, start tokens and heads in our single vocabulary (see audiolmPytorchLayout)
  const layout = audiolmPytorchLayout(cfg);
  const rows = (n: number): Float32Array => new Float32Array(n * D);
  let emb: Float32Array;
  let head: Float32Array;
  let headBias: Float32Array;
  let vocab: number;
  let outputs: number;
  if (stage === "semantic") {
    const S = cfg.numSemanticTokens!;
    vocab = S + 2;
    outputs = S + 1;
    emb = rows(vocab);
    emb.set(take("semantic_embedding.weight", [S + 1, D]).data);
    emb.set(take("start_token", [D]).data, (S + 1) * D);
    head = take("to_logits.weight", [S + 1, D]).data;
    headBias = take("to_logits.bias", [S + 1]).data;
  } else if (stage === "coarse") {
    const S = cfg.numSemanticTokens!;
    const C = cfg.codebookSize!;
    const Q = cfg.numCoarseQuantizers!;
    outputs = S + 1 + Q * (C + 1);
    vocab = outputs + 2;
    emb = rows(vocab);
    emb.set(take("semantic_embedding.weight", [S + 1, D]).data);
    const ce = take("coarse_embedding.weight", [Q * (C + 1), D]).data;
    const qe = take("coarse_quantize_embedding.weight", [Q, D]).data;
    for (let q = 0; q < Q; q++) {
      for (let c = 0; c <= C; c++) {
        // their offset per quantizer is codebook_size (not codebook_size + 1): row q·C + c
        const dst = (S + 1 + q * (C + 1) + c) * D;
        for (let d = 0; d < D; d++) emb[dst + d] = ce[(q * C + c) * D + d] + qe[q * D + d];
      }
    }
    emb.set(take("semantic_start_token", [D]).data, outputs * D);
    emb.set(take("coarse_start_token", [D]).data, (outputs + 1) * D);
    head = rows(outputs);
    headBias = new Float32Array(outputs);
    if (src.has("to_semantic_logits.weight")) {
      head.set(take("to_semantic_logits.weight", [S + 1, D]).data);
      headBias.set(take("to_semantic_logits.bias", [S + 1]).data);
    }
    head.set(take("coarse_logit_weights", [Q, C + 1, D]).data, (S + 1) * D);
    if (src.has("cross_attn_bias")) {
      // rel_pos_bias: between the semantic part (its start token and tokens) and the coarse part
      // the score bias is their per-head cross_attn_bias, not the position MLP's
      const seg = new Float32Array(vocab);
      seg.fill(1, S + 1, outputs);
      seg[outputs + 1] = 1; // the coarse start token
      out.set("token_segment", { shape: [vocab], data: seg });
      out.set("segment_bias", { shape: [H], data: take("cross_attn_bias", [H, 1, 1]).data });
      segmentBias = true;
    }
  } else {
    const C = cfg.codebookSize!;
    const Qc = cfg.numCoarseQuantizers!;
    const Qf = cfg.numFineQuantizers!;
    outputs = (Qc + Qf) * C;
    vocab = outputs + 2;
    emb = rows(vocab);
    const fill = (table: string, qtable: string, Q: number, base: number): void => {
      const e = take(table, [Q * C, D]).data;
      const qe = take(qtable, [Q, D]).data;
      for (let r = 0; r < Q * C; r++) {
        const q = Math.floor(r / C);
        for (let d = 0; d < D; d++) emb[(base + r) * D + d] = e[r * D + d] + qe[q * D + d];
      }
    };
    fill("coarse_embedding.weight", "coarse_quantize_embedding.weight", Qc, 0);
    fill("fine_embedding.weight", "fine_quantize_embedding.weight", Qf, Qc * C);
    emb.set(take("coarse_start_token", [D]).data, outputs * D);
    emb.set(take("fine_start_token", [D]).data, (outputs + 1) * D);
    head = rows(outputs);
    headBias = new Float32Array(outputs);
    if (src.has("coarse_logit_weights")) head.set(take("coarse_logit_weights", [Qc, C, D]).data);
    head.set(take("fine_logit_weights", [Qf, C, D]).data, Qc * C * D);
  }
  out.set("tok_emb.weight", { shape: [vocab, D], data: emb });
  out.set("head.weight", { shape: [outputs, D], data: head });
  out.set("head.bias", { shape: [outputs], data: headBias });
  src.delete("proj_text_embed.weight"); // only used with conditioning
  if (src.size) {
    badCkpt(srcPath, `unexpected tensors for an audiolm-pytorch ${stage} transformer of depth ${L}: ${[...src.keys()].slice(0, 8).join(", ")}${src.size > 8 ? ` (+${src.size - 8} more)` : ""}`);
  }

  const written = {
    family: "transformer",
    vocabSize: vocab,
    outputSize: outputs,
    dim: D,
    layers: L,
    heads: H,
    kvHeads: 1,
    headDim: hd,
    ffDim: F,
    ff: "geglu",
    ffInnerNorm: true,
    norm: "layernorm",
    normBias: false,
    normEps: 1e-5,
    prenorm: true,
    finalNorm: true,
    position,
    maxPositions: M,
    causal: true,
    attnBias: false,
    ffBias: false,
    headBias: true,
    crossAttention: false,
    inputCodebooks: 1,
    outputHeads: 1,
    tieEmbeddings: false,
    valueResidual: cfg.addValueResidual && L > 1,
    segmentBias,
  };
  await writeComponent(outPath, out, written, { source: basename(srcPath), dtype: opts.dtype ?? "F32" });
  return { config: written, layout };
}
