/**
 * `audiolm convert encodec`: an EnCodec checkpoint (Meta's original layout, e.g.
 * `encoder.model.0.conv.conv.weight_g`, or Hugging Face's EncodecModel layout, e.g.
 * `encoder.layers.0.conv.weight_g` / `...parametrizations.weight.original0`) → one codec
 * component (.safetensors) in the engine's layout (Hugging Face names, weight norm kept as
 * weight_g/weight_v and folded by the engine at load) with its config in `audiolm.config`.
 *
 * Layer structure (ratios, residual units, LSTM depth, kernel sizes, codebooks) is read off the
 * tensor shapes; what the weights cannot say (sample rate, causality, padding mode, dilation
 * growth, bandwidths, segments and normalisation) comes from a config file, else from the published
 * models' values (24 kHz for a mono codec, 48 kHz for a stereo one).
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

import { AudioLMError } from "../errors.js";
import { type WeightTensor, loadWeights, writeComponent } from "./weights.js";

/** The codec config stored in a component's `audiolm.config`. */
export interface EncodecConfig {
  family: "encodec";
  sampleRate: number;
  channels: number;
  dimension: number;
  nFilters: number;
  nResidualLayers: number;
  ratios: number[];
  kernelSize: number;
  lastKernelSize: number;
  residualKernelSize: number;
  dilationBase: number;
  compress: number;
  trueSkip: boolean;
  lstmLayers: number;
  causal: boolean;
  padMode: "reflect" | "zero" | "replicate";
  norm: "weight_norm" | "time_group_norm" | "none";
  trimRightRatio: number;
  codebookSize: number;
  codebookDim: number;
  numQuantizers: number;
  targetBandwidths: number[];
  /** Seconds per segment, 0 for none (EnCodec 48 kHz: 1). */
  segment: number;
  /** Overlap of consecutive segments, a fraction of their length (48 kHz: 0.01). */
  overlap: number;
  /** Scale each segment to unit RMS before encoding (48 kHz: true). */
  normalize: boolean;
}

/** Settings the weights cannot tell; any of them may be overridden. */
export interface EncodecHyperParams {
  sampleRate?: number;
  causal?: boolean;
  padMode?: "reflect" | "zero" | "replicate";
  dilationBase?: number;
  trimRightRatio?: number;
  targetBandwidths?: number[];
  segment?: number;
  overlap?: number;
  normalize?: boolean;
}

export interface ConvertEncodecOptions {
  /** A JSON file of hyper-parameters: ours (camelCase), the reference's argument names, or HF's config.json. */
  configPath?: string;
  overrides?: EncodecHyperParams;
  /** Storage dtype of the written weights (default F32). */
  dtype?: "F32" | "F16" | "BF16";
}

const ORIGINAL_RULES: Array<[RegExp, string]> = [
  [/^(encoder|decoder)\.model\.(\d+)\.block\.(\d+)\.conv\.conv\.(.+)$/, "$1.layers.$2.block.$3.conv.$4"],
  [/^(encoder|decoder)\.model\.(\d+)\.block\.(\d+)\.conv\.norm\.(.+)$/, "$1.layers.$2.block.$3.norm.$4"],
  [/^(encoder|decoder)\.model\.(\d+)\.shortcut\.conv\.conv\.(.+)$/, "$1.layers.$2.shortcut.conv.$3"],
  [/^(encoder|decoder)\.model\.(\d+)\.shortcut\.conv\.norm\.(.+)$/, "$1.layers.$2.shortcut.norm.$3"],
  [/^(encoder|decoder)\.model\.(\d+)\.conv\.conv\.(.+)$/, "$1.layers.$2.conv.$3"],
  [/^(encoder|decoder)\.model\.(\d+)\.conv\.norm\.(.+)$/, "$1.layers.$2.norm.$3"],
  [/^decoder\.model\.(\d+)\.convtr\.convtr\.(.+)$/, "decoder.layers.$1.conv.$2"],
  [/^decoder\.model\.(\d+)\.convtr\.norm\.(.+)$/, "decoder.layers.$1.norm.$2"],
  [/^(encoder|decoder)\.model\.(\d+)\.lstm\.(.+)$/, "$1.layers.$2.lstm.$3"],
  [/^quantizer\.vq\.layers\.(\d+)\._codebook\.embed$/, "quantizer.layers.$1.codebook.embed"],
];
// Training state that inference never reads.
const SKIP = /(^quantizer\.(vq\.)?layers\.\d+\._?codebook\.(inited|cluster_size|embed_avg)$)/;
const CANONICAL =
  /^(encoder|decoder)\.layers\.\d+\.((block\.\d+\.|shortcut\.)?(conv\.(weight|weight_g|weight_v|bias)|norm\.(weight|bias))|lstm\.(weight|bias)_(ih|hh)_l\d+)$|^quantizer\.layers\.\d+\.codebook\.embed$/;

/** Maps either published layout to the engine's names; throws on tensors it does not know. */
export function canonicalEncodecNames(names: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const unknown: string[] = [];
  for (const name of names) {
    const stripped = name.replace(/^(model\.|_orig_mod\.)/, "");
    if (SKIP.test(stripped)) continue;
    let mapped = stripped
      .replace(/\.parametrizations\.weight\.original0$/, ".weight_g")
      .replace(/\.parametrizations\.weight\.original1$/, ".weight_v");
    for (const [re, rep] of ORIGINAL_RULES) {
      if (re.test(mapped)) {
        mapped = mapped.replace(re, rep);
        break;
      }
    }
    if (CANONICAL.test(mapped)) out.set(name, mapped);
    else unknown.push(name);
  }
  if (unknown.length) {
    throw new AudioLMError(
      "ERR_AUDIOLM_INVALID_CHECKPOINT",
      `not an EnCodec checkpoint: ${unknown.length} tensor(s) match neither the original nor the Hugging Face layout, ` +
        `e.g. ${unknown.slice(0, 5).join(", ")}`,
    );
  }
  return out;
}

type Kind = "conv" | "res" | "lstm" | "act";

function shapeOf(t: Map<string, WeightTensor>, name: string): number[] {
  const v = t.get(name);
  if (!v) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `EnCodec checkpoint lacks tensor ${name}`);
  return v.shape;
}
function convWeightShape(t: Map<string, WeightTensor>, prefix: string): number[] {
  for (const s of ["weight", "weight_v"]) if (t.has(`${prefix}conv.${s}`)) return t.get(`${prefix}conv.${s}`)!.shape;
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `EnCodec checkpoint lacks ${prefix}conv.weight`);
}

function layerKinds(t: Map<string, WeightTensor>, part: "encoder" | "decoder"): Kind[] {
  let max = -1;
  for (const n of t.keys()) {
    const m = n.match(new RegExp(`^${part}\\.layers\\.(\\d+)\\.`));
    if (m) max = Math.max(max, Number(m[1]));
  }
  if (max < 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `EnCodec checkpoint has no ${part} layers`);
  const kinds: Kind[] = [];
  for (let i = 0; i <= max; i++) {
    const p = `${part}.layers.${i}.`;
    const keys = [...t.keys()].filter((k) => k.startsWith(p));
    if (keys.some((k) => k.startsWith(p + "block."))) kinds.push("res");
    else if (keys.some((k) => k.startsWith(p + "lstm."))) kinds.push("lstm");
    else if (keys.length) kinds.push("conv");
    else kinds.push("act");
  }
  return kinds;
}

/** Reads the layer structure off the weights. */
export function inferEncodecStructure(t: Map<string, WeightTensor>): Omit<EncodecConfig, keyof EncodecHyperParams | "family" | "padMode"> & { norm: EncodecConfig["norm"] } {
  const enc = layerKinds(t, "encoder");
  const first = convWeightShape(t, "encoder.layers.0.");
  const [nFilters, channels, kernelSize] = first;
  // encoder: conv, then per ratio [res × n, act, down-conv], then [lstm], act, conv
  const ratiosEncoderOrder: number[] = [];
  let nResidualLayers = -1;
  let i = 1;
  let residualKernelSize = 3;
  let compress = 2;
  let trueSkip = true;
  while (i < enc.length) {
    let res = 0;
    while (enc[i] === "res") {
      const p = `encoder.layers.${i}.`;
      const w1 = convWeightShape(t, p + "block.1.");
      residualKernelSize = w1[2];
      compress = Math.round(w1[1] / w1[0]);
      trueSkip = ![...t.keys()].some((k) => k.startsWith(p + "shortcut."));
      res++;
      i++;
    }
    // The encoder's last layer is its output conv, never a downsampling one.
    if (enc[i] !== "act" || enc[i + 1] !== "conv" || i + 1 === enc.length - 1) break;
    const down = convWeightShape(t, `encoder.layers.${i + 1}.`);
    if (down[0] !== 2 * down[1]) break; // not a downsampling conv: we reached the final block
    if (nResidualLayers >= 0 && res !== nResidualLayers) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", "EnCodec encoder stages have different numbers of residual units");
    }
    nResidualLayers = res;
    ratiosEncoderOrder.push(down[2] / 2);
    i += 2;
  }
  if (ratiosEncoderOrder.length === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", "found no downsampling stage in the EnCodec encoder");
  let lstmLayers = 0;
  if (enc[i] === "lstm") {
    while (t.has(`encoder.layers.${i}.lstm.weight_ih_l${lstmLayers}`)) lstmLayers++;
    i++;
  }
  const last = convWeightShape(t, `encoder.layers.${enc.length - 1}.`);
  let numQuantizers = 0;
  while (t.has(`quantizer.layers.${numQuantizers}.codebook.embed`)) numQuantizers++;
  if (numQuantizers === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", "EnCodec checkpoint has no quantizer codebooks");
  const [codebookSize, codebookDim] = shapeOf(t, "quantizer.layers.0.codebook.embed");
  const hasNorm = [...t.keys()].some((k) => /\.norm\.weight$/.test(k));
  const hasWeightNorm = [...t.keys()].some((k) => k.endsWith(".weight_g"));
  return {
    channels,
    dimension: last[0],
    nFilters,
    nResidualLayers: Math.max(0, nResidualLayers),
    ratios: [...ratiosEncoderOrder].reverse(),
    kernelSize,
    lastKernelSize: last[2],
    residualKernelSize,
    compress,
    trueSkip,
    lstmLayers,
    norm: hasNorm ? "time_group_norm" : hasWeightNorm ? "weight_norm" : "none",
    codebookSize,
    codebookDim,
    numQuantizers,
  };
}

/** Reads hyper-parameters from our names, the reference's argument names, or HF's config.json. */
export function readEncodecHyperParams(json: Record<string, unknown>): EncodecHyperParams {
  const pick = (...keys: string[]) => keys.map((k) => json[k]).find((v) => v !== undefined);
  const out: EncodecHyperParams = {};
  const sr = pick("sampleRate", "sample_rate", "sampling_rate");
  if (sr !== undefined) out.sampleRate = Number(sr);
  const causal = pick("causal", "use_causal_conv");
  if (causal !== undefined) out.causal = Boolean(causal);
  const pad = pick("padMode", "pad_mode");
  if (pad !== undefined) out.padMode = pad === "constant" ? "zero" : (pad as EncodecHyperParams["padMode"]);
  const dil = pick("dilationBase", "dilation_base", "dilation_growth_rate");
  if (dil !== undefined) out.dilationBase = Number(dil);
  const trim = pick("trimRightRatio", "trim_right_ratio");
  if (trim !== undefined) out.trimRightRatio = Number(trim);
  const bws = pick("targetBandwidths", "target_bandwidths");
  if (Array.isArray(bws)) out.targetBandwidths = bws.map(Number);
  // Segments: null (or absent) means none, in both the reference's and Hugging Face's configs.
  const seg = pick("segment", "chunk_length_s", "chunkLengthS");
  if (seg !== undefined) out.segment = seg === null ? 0 : Number(seg);
  const overlap = pick("overlap");
  if (overlap !== undefined && overlap !== null) out.overlap = Number(overlap);
  const norm = pick("normalize", "audio_normalize");
  if (norm !== undefined) out.normalize = Boolean(norm);
  return out;
}

/** Converts an EnCodec checkpoint file to a codec component at `outPath`; returns its config. */
export async function convertEncodec(srcPath: string, outPath: string, opts: ConvertEncodecOptions = {}): Promise<EncodecConfig> {
  const raw = await loadWeights(srcPath);
  const names = canonicalEncodecNames([...raw.keys()]);
  const tensors = new Map<string, WeightTensor>();
  for (const [from, to] of names) tensors.set(to, raw.get(from)!);
  const structure = inferEncodecStructure(tensors);

  let hyper: EncodecHyperParams = {};
  const configPath = opts.configPath ?? (existsSync(join(dirname(srcPath), "config.json")) ? join(dirname(srcPath), "config.json") : undefined);
  if (configPath) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configPath, "utf8"));
    } catch (err) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `cannot read the EnCodec config ${configPath}: ${(err as Error).message}`);
    }
    hyper = readEncodecHyperParams(json as Record<string, unknown>);
  }
  hyper = { ...hyper, ...opts.overrides };
  // Defaults: the published 24 kHz model (causal, reflect); a stereo codec is the 48 kHz one.
  const stereo = structure.channels === 2;
  const config: EncodecConfig = {
    family: "encodec",
    ...structure,
    sampleRate: hyper.sampleRate ?? (stereo ? 48000 : 24000),
    causal: hyper.causal ?? !stereo,
    padMode: hyper.padMode ?? "reflect",
    dilationBase: hyper.dilationBase ?? 2,
    trimRightRatio: hyper.trimRightRatio ?? 1,
    targetBandwidths: hyper.targetBandwidths ?? (stereo ? [3, 6, 12, 24] : [1.5, 3, 6, 12, 24]),
    segment: hyper.segment ?? (stereo ? 1 : 0),
    overlap: hyper.overlap ?? 0.01,
    normalize: hyper.normalize ?? stereo,
  };
  for (const [key, v, ok] of [
    ["segment", config.segment, config.segment >= 0 && config.segment <= 3600],
    ["overlap", config.overlap, config.overlap >= 0 && config.overlap < 1],
  ] as const) {
    if (!(Number.isFinite(v) && ok)) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `EnCodec ${key} ${v} is out of range (segment: 0 to 3600 s, overlap: [0, 1))`);
  }
  await writeComponent(outPath, tensors, config, { source: basename(srcPath), dtype: opts.dtype ?? "F32" });
  return config;
}
