/**
 * `audiolm convert hubert`: a HuBERT checkpoint — Hugging Face `HubertModel` (model.safetensors
 * or pytorch_model.bin, config.json beside it) or fairseq (`hubert_base_ls960.pt`: weights under
 * `model`; its pickled config objects are read as inert records, never executed) — plus k-means
 * centroids → one semantic-tokenizer component (HuBERT layer L features + nearest centroid).
 * Tensor names in the component are Hugging Face's; layers past L are dropped.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

import { AudioLMError } from "../errors.js";
import { readCentroids } from "./kmeans.js";
import { type WeightTensor, findSetting, loadCheckpoint, writeComponent } from "./weights.js";

/** HuBERT hyper-parameters stored in the component (`hubert` section of its config). */
export interface HubertConfig {
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  convDim: number[];
  convKernel: number[];
  convStride: number[];
  convBias: boolean;
  featExtractNorm: "group" | "layer";
  posConvKernel: number;
  posConvGroups: number;
  layerNormEps: number;
  doStableLayerNorm: boolean;
}

export interface ConvertHubertOptions {
  /** k-means centroids: sklearn joblib, .npy, or a `convert kmeans` component. Required. */
  kmeans: string;
  /** Encoder layer whose output is clustered (1-based; default 9, as audiolm-pytorch). */
  layer?: number;
  /** Hugging Face config.json (default: beside the checkpoint, when present). */
  configPath?: string;
  dtype?: "F32" | "F16" | "BF16";
}

const FAIRSEQ_RULES: Array<[RegExp, string]> = [
  [/^feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)$/, "feature_extractor.conv_layers.$1.conv.$2"],
  [/^feature_extractor\.conv_layers\.0\.2\.(weight|bias)$/, "feature_extractor.conv_layers.0.layer_norm.$1"],
  [/^feature_extractor\.conv_layers\.(\d+)\.2\.1\.(weight|bias)$/, "feature_extractor.conv_layers.$1.layer_norm.$2"],
  [/^layer_norm\.(weight|bias)$/, "feature_projection.layer_norm.$1"],
  [/^post_extract_proj\.(weight|bias)$/, "feature_projection.projection.$1"],
  [/^encoder\.pos_conv\.0\.(weight_g|weight_v|weight|bias)$/, "encoder.pos_conv_embed.conv.$1"],
  [/^encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)$/, "encoder.layers.$1.attention.$2_proj.$3"],
  [/^encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)$/, "encoder.layers.$1.layer_norm.$2"],
  [/^encoder\.layers\.(\d+)\.fc1\.(weight|bias)$/, "encoder.layers.$1.feed_forward.intermediate_dense.$2"],
  [/^encoder\.layers\.(\d+)\.fc2\.(weight|bias)$/, "encoder.layers.$1.feed_forward.output_dense.$2"],
];
const SKIP = /^(mask_emb|label_embs_concat|final_proj\.|masked_spec_embed|lm_head\.|encoder\.pos_conv_embed\.conv\.weight_[gv]_|label_embs)/;
const HF =
  /^(feature_extractor\.conv_layers\.\d+\.(conv|layer_norm)\.(weight|bias)|feature_projection\.(layer_norm|projection)\.(weight|bias)|encoder\.pos_conv_embed\.conv\.(weight|weight_g|weight_v|bias)|encoder\.layer_norm\.(weight|bias)|encoder\.layers\.\d+\.(attention\.(q|k|v|out)_proj|layer_norm|feed_forward\.(intermediate|output)_dense|final_layer_norm)\.(weight|bias))$/;

/** Maps fairseq or Hugging Face names to Hugging Face's; throws on names it does not know. */
export function canonicalHubertNames(names: string[]): Map<string, string> {
  const fairseq = names.some((n) => /(^|\.)post_extract_proj\./.test(n));
  const out = new Map<string, string>();
  const unknown: string[] = [];
  for (const name of names) {
    let n = name;
    if (fairseq) {
      if (!n.startsWith("model.") && names.some((x) => x.startsWith("model."))) continue; // other top-level entries
      n = n.replace(/^model\./, "");
    } else {
      n = n.replace(/^hubert\./, "");
    }
    if (SKIP.test(n)) continue;
    n = n.replace(/\.parametrizations\.weight\.original0$/, ".weight_g").replace(/\.parametrizations\.weight\.original1$/, ".weight_v");
    if (fairseq) for (const [re, rep] of FAIRSEQ_RULES) if (re.test(n)) { n = n.replace(re, rep); break; }
    if (HF.test(n)) out.set(name, n);
    else unknown.push(name);
  }
  if (unknown.length) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT",
      `not a HuBERT checkpoint: ${unknown.length} tensor(s) match neither the fairseq nor the Hugging Face layout, e.g. ${unknown.slice(0, 5).join(", ")}`);
  }
  return out;
}

function shape(t: Map<string, WeightTensor>, name: string): number[] {
  const v = t.get(name);
  if (!v) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `HuBERT checkpoint lacks ${name}`);
  return v.shape;
}

/** Reads the architecture off the tensor shapes, with strides and heads from config.json when given. */
export function inferHubertConfig(t: Map<string, WeightTensor>, hf: Record<string, unknown> = {}): HubertConfig {
  const convDim: number[] = [];
  const convKernel: number[] = [];
  for (let i = 0; t.has(`feature_extractor.conv_layers.${i}.conv.weight`); i++) {
    const s = shape(t, `feature_extractor.conv_layers.${i}.conv.weight`);
    convDim.push(s[0]);
    convKernel.push(s[2]);
  }
  if (convDim.length === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", "HuBERT checkpoint has no feature-extractor convolutions");
  const [hiddenSize] = shape(t, "feature_projection.projection.weight");
  let layers = 0;
  while (t.has(`encoder.layers.${layers}.attention.q_proj.weight`)) layers++;
  const [intermediateSize] = shape(t, "encoder.layers.0.feed_forward.intermediate_dense.weight");
  const pos = t.get("encoder.pos_conv_embed.conv.weight_v") ?? t.get("encoder.pos_conv_embed.conv.weight");
  if (!pos) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", "HuBERT checkpoint lacks the positional convolution");
  const defaultStrides = convDim.length === 7 ? [5, 2, 2, 2, 2, 2, 2] : convKernel.map((k) => Math.max(1, Math.floor(k / 2)));
  const num = (k: string, d: number) => (typeof hf[k] === "number" ? (hf[k] as number) : d);
  return {
    hiddenSize,
    layers,
    heads: num("num_attention_heads", hiddenSize >= 1024 ? 16 : 12),
    intermediateSize,
    convDim,
    convKernel,
    convStride: Array.isArray(hf.conv_stride) ? (hf.conv_stride as number[]) : defaultStrides,
    convBias: t.has("feature_extractor.conv_layers.0.conv.bias"),
    featExtractNorm: t.has("feature_extractor.conv_layers.1.layer_norm.weight") ? "layer" : "group",
    posConvKernel: pos.shape[2],
    posConvGroups: hiddenSize / pos.shape[1],
    layerNormEps: num("layer_norm_eps", 1e-5),
    doStableLayerNorm: hf.do_stable_layer_norm === true,
  };
}

/**
 * Hyper-parameters of a fairseq checkpoint, in Hugging Face's names: heads from
 * `encoder_attention_heads`, strides from `conv_feature_layers` (a Python list expression such as
 * "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2", parsed as text, never evaluated).
 */
export function fairseqSettings(object: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const heads = findSetting(object, "encoder_attention_heads");
  if (typeof heads === "number") out.num_attention_heads = heads;
  const layers = findSetting(object, "conv_feature_layers");
  if (typeof layers === "string") {
    const strides: number[] = [];
    for (const term of layers.split("+")) {
      const m = term.trim().match(/^\[\s*\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*\](?:\s*\*\s*(\d+))?$/);
      if (!m) return out; // an unusual expression: leave the strides to the defaults
      for (let i = 0; i < Number(m[4] ?? 1); i++) strides.push(Number(m[3]));
    }
    out.conv_stride = strides;
  }
  const eps = findSetting(object, "layer_norm_eps");
  if (typeof eps === "number") out.layer_norm_eps = eps;
  return out;
}

/** Converts HuBERT + k-means to a semantic-tokenizer component at `out`; returns its config. */
export async function convertHubert(src: string, out: string, opts: ConvertHubertOptions): Promise<object> {
  if (!opts?.kmeans) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", "a semantic tokenizer needs k-means centroids: pass --kmeans FILE");
  const { tensors: raw, object } = await loadCheckpoint(src);
  const names = canonicalHubertNames([...raw.keys()]);
  const all = new Map<string, WeightTensor>();
  for (const [from, to] of names) all.set(to, raw.get(from)!);
  const configPath = opts.configPath ?? (existsSync(join(dirname(src), "config.json")) ? join(dirname(src), "config.json") : undefined);
  let hf: Record<string, unknown> = {};
  if (configPath) {
    try {
      hf = JSON.parse(readFileSync(configPath, "utf8"));
    } catch (err) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `cannot read the HuBERT config ${configPath}: ${(err as Error).message}`);
    }
  }
  if (!configPath && object !== null) hf = fairseqSettings(object);
  const hubert = inferHubertConfig(all, hf);
  if (hubert.doStableLayerNorm) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "HuBERT with do_stable_layer_norm (the large/xlarge variant) is not supported yet");
  const layer = opts.layer ?? Math.min(9, hubert.layers);
  if (!Number.isInteger(layer) || layer < 0 || layer > hubert.layers) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a layer from 0 to ${hubert.layers} but received ${layer}`);
  }
  const km = await readCentroids(opts.kmeans);
  if (km.dim !== hubert.hiddenSize) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `the k-means centroids are ${km.dim}-dimensional but HuBERT's hidden size is ${hubert.hiddenSize}`);
  }
  const kept = new Map<string, WeightTensor>();
  for (const [name, t] of all) {
    const m = name.match(/^encoder\.layers\.(\d+)\./);
    if (m && Number(m[1]) >= layer) continue; // only layers 1..L run
    kept.set(name, t);
  }
  kept.set("kmeans.centroids", { shape: [km.clusters, km.dim], data: km.data });
  const config = {
    family: "semantic-tokenizer",
    frontend: "hubert",
    sampleRate: typeof hf.sampling_rate === "number" ? hf.sampling_rate : 16000,
    layer,
    clusters: km.clusters,
    hubert: { ...hubert, layers: layer },
  };
  await writeComponent(out, kept, config, { source: basename(src), dtype: opts.dtype ?? "F32" });
  return config;
}
