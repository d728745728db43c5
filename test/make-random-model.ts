// A small AudioLM model directory with random weights, for tests and benches: a tiny EnCodec codec
// at 16 kHz (50 Hz frames, 4 levels × 64 codes), semantic K = 32 at 25 Hz, and three transformer
// stages (dim 32, 2 layers, 2 heads, T5 positions, pre-norm LayerNorm). Weights are scaled so the
// logits spread over a few units: sampling is neither uniform nor greedy-like.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { type SafetensorsTensorInput, writeSafetensors } from "../lib/formats/safetensors.js";

export interface RandomModelOptions {
  /** Fine stage: causal decoder over flattened tokens, or Bark-style non-causal (default autoregressive). */
  fineMode?: "autoregressive" | "nonCausal";
  /** Weight seed (default 1). */
  seed?: number;
  /** Transformer width (default 32) and layers (default 2). */
  dim?: number;
  layers?: number;
  /** Semantic window / hop in tokens (default 64 / 32). */
  semanticWindow?: number;
  semanticHop?: number;
  /** Coarse window / hop in acoustic frames (default 100 / 50). */
  coarseWindow?: number;
  coarseHop?: number;
  /** The prompt's first frames every coarse window keeps (coarse.window.anchor, default 0). */
  coarseAnchor?: number;
  /** Fine window / hop in frames (default 50 / 25). */
  fineWindow?: number;
  fineHop?: number;
  /** Remove consecutive duplicate semantic tokens (default false). */
  dedupe?: boolean;
  /** A model without a fine stage: the coarse levels are all the codec decodes (default false). */
  noFine?: boolean;
}

const K = 32;
const C = 64;
const Q = 4;
const QC = 2;

function gaussian(seed: number): (n: number, std: number) => Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return (n, std) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    return out;
  };
}

function codecTensors(rand: (n: number, std: number) => Float32Array): { config: object; tensors: SafetensorsTensorInput[] } {
  const nf = 4;
  const ratios = [8, 5, 4, 2];
  const dimension = 16;
  const config = {
    family: "encodec", sampleRate: 16000, channels: 1, dimension, nFilters: nf, nResidualLayers: 1, ratios, kernelSize: 7, lastKernelSize: 7,
    residualKernelSize: 3, dilationBase: 2, compress: 2, trueSkip: false, lstmLayers: 0, causal: true, padMode: "reflect", norm: "weight_norm",
    trimRightRatio: 1, codebookSize: C, codebookDim: dimension, numQuantizers: Q, targetBandwidths: [1, 2],
  };
  const tensors: SafetensorsTensorInput[] = [];
  const conv = (p: string, cout: number, cin: number, k: number, transposed = false) => {
    const shape = transposed ? [cin, cout, k] : [cout, cin, k];
    tensors.push({ name: `${p}conv.weight`, dtype: "F32", shape, data: rand(cout * cin * k, 1 / Math.sqrt(cin * k)) });
    tensors.push({ name: `${p}conv.bias`, dtype: "F32", shape: [cout], data: rand(cout, 0.01) });
  };
  const res = (p: string, dim: number) => {
    conv(`${p}block.1.`, dim / 2, dim, 3);
    conv(`${p}block.3.`, dim, dim / 2, 1);
    conv(`${p}shortcut.`, dim, dim, 1);
  };
  let i = 0;
  let mult = 1;
  const e = (j: number) => `encoder.layers.${j}.`;
  conv(e(i++), nf, 1, 7);
  for (const r of [...ratios].reverse()) {
    res(e(i++), nf * mult);
    i++; // ELU
    conv(e(i++), nf * mult * 2, nf * mult, 2 * r);
    mult *= 2;
  }
  i++; // ELU
  conv(e(i++), dimension, nf * mult, 7);
  i = 0;
  const d = (j: number) => `decoder.layers.${j}.`;
  conv(d(i++), nf * mult, dimension, 7);
  for (const r of ratios) {
    i++; // ELU
    conv(d(i++), nf * mult / 2, nf * mult, 2 * r, true);
    mult /= 2;
    res(d(i++), nf * mult);
  }
  i++; // ELU
  conv(d(i++), 1, nf, 7);
  for (let q = 0; q < Q; q++) tensors.push({ name: `quantizer.layers.${q}.codebook.embed`, dtype: "F32", shape: [C, dimension], data: rand(C * dimension, 1) });
  return { config, tensors };
}

function transformerTensors(
  rand: (n: number, std: number) => Float32Array,
  o: { vocabSize: number; outputSize: number; dim: number; layers: number; causal: boolean; inputCodebooks?: number; outputHeads?: number },
): { config: object; tensors: SafetensorsTensorInput[] } {
  const D = o.dim;
  const F = 2 * D;
  const heads = 2;
  const inputCodebooks = o.inputCodebooks ?? 1;
  const outputHeads = o.outputHeads ?? 1;
  const config = {
    family: "transformer", vocabSize: o.vocabSize, outputSize: o.outputSize, dim: D, layers: o.layers, heads, ffDim: F, ff: "gelu",
    norm: "layernorm", prenorm: true, position: "t5", t5Buckets: 32, t5MaxDistance: 128, causal: o.causal, inputCodebooks, outputHeads,
  };
  const tensors: SafetensorsTensorInput[] = [];
  const t = (name: string, shape: number[], std: number, mean = 0) => {
    const data = rand(shape.reduce((a, b) => a * b, 1), std);
    if (mean) for (let i = 0; i < data.length; i++) data[i] += mean;
    tensors.push({ name, dtype: "F32", shape, data });
  };
  const norm = (p: string) => {
    t(`${p}.weight`, [D], 0.1, 1);
    t(`${p}.bias`, [D], 0.1);
  };
  if (inputCodebooks === 1) t("tok_emb.weight", [o.vocabSize, D], 1);
  else for (let c = 0; c < inputCodebooks; c++) t(`tok_emb.${c}.weight`, [o.vocabSize, D], 1 / Math.sqrt(inputCodebooks));
  t("rel_bias.weight", [32, heads], 0.5);
  for (let l = 0; l < o.layers; l++) {
    const p = `layers.${l}`;
    norm(`${p}.attn_norm`);
    for (const x of ["q", "k", "v", "o"]) t(`${p}.attn.${x}.weight`, [D, D], 1 / Math.sqrt(D));
    norm(`${p}.ff_norm`);
    t(`${p}.ff.up.weight`, [F, D], 1 / Math.sqrt(D));
    t(`${p}.ff.down.weight`, [D, F], 1 / Math.sqrt(F));
  }
  norm("final_norm");
  // Final-norm outputs have unit variance: logits get a standard deviation of about 1.5.
  if (outputHeads === 1) t("head.weight", [o.outputSize, D], 1.5 / Math.sqrt(D));
  else for (let h = 0; h < outputHeads; h++) t(`head.${h}.weight`, [o.outputSize, D], 1.5 / Math.sqrt(D));
  return { config, tensors };
}

/**
 * Writes a random model directory (model.json, codec.safetensors, semantic/coarse/fine.safetensors).
 *
 * @returns The model.json object written.
 */
export async function makeRandomModel(dir: string, opts: RandomModelOptions = {}): Promise<Record<string, unknown>> {
  mkdirSync(dir, { recursive: true });
  const rand = gaussian(opts.seed ?? 1);
  const dim = opts.dim ?? 32;
  const layers = opts.layers ?? 2;
  const fineMode = opts.fineMode ?? "autoregressive";
  const write = async (name: string, x: { config: object; tensors: SafetensorsTensorInput[] }) =>
    writeSafetensors(join(dir, name), x.tensors, { "audiolm.config": JSON.stringify(x.config) });

  await write("codec.safetensors", codecTensors(rand));
  await write("semantic.safetensors", transformerTensors(rand, { vocabSize: K + 2, outputSize: K + 2, dim, layers, causal: true }));
  const coarseVocab = K + QC * C + 2;
  await write("coarse.safetensors", transformerTensors(rand, { vocabSize: coarseVocab, outputSize: coarseVocab, dim, layers, causal: true }));
  if (opts.noFine) {
    // no fine component
  } else if (fineMode === "autoregressive") {
    const v = Q * C + 2;
    await write("fine.safetensors", transformerTensors(rand, { vocabSize: v, outputSize: v, dim, layers, causal: true }));
  } else {
    await write("fine.safetensors", transformerTensors(rand, { vocabSize: C + 1, outputSize: C, dim, layers, causal: false, inputCodebooks: Q, outputHeads: Q - QC }));
  }
  const fineWindow = opts.fineWindow ?? (fineMode === "nonCausal" ? 100 : 50);
  const model = {
    format: "audiolm-node/model@1",
    name: `random-${fineMode}`,
    family: "audiolm",
    components: { codec: "codec.safetensors", semanticTokenizer: null, semantic: "semantic.safetensors", coarse: "coarse.safetensors", fine: opts.noFine ? null : "fine.safetensors" },
    semantic: { codebookSize: K, rate: 25, dedupe: opts.dedupe ?? false, vocab: { offset: 0, eos: K, bos: K + 1 }, window: opts.semanticWindow ?? 64, hop: opts.semanticHop ?? 32 },
    acoustic: { rate: 50, codebookSize: C, coarseLevels: QC, fineLevels: opts.noFine ? 0 : Q - QC },
    coarse: {
      vocab: { semanticOffset: 0, acousticOffset: K, sep: K + QC * C, bos: K + QC * C + 1 },
      window: { semanticFrames: Math.ceil((opts.coarseWindow ?? 100) / 2), acousticFrames: opts.coarseWindow ?? 100, hop: opts.coarseHop ?? 50, anchor: opts.coarseAnchor ?? 0 },
    },
    fine: opts.noFine ? undefined : {
      mode: fineMode,
      vocab: fineMode === "autoregressive" ? { coarseOffset: 0, fineOffset: QC * C, sep: Q * C, bos: Q * C + 1 } : {},
      window: { frames: fineWindow, hop: opts.fineHop ?? Math.ceil(fineWindow / 2) },
    },
    sampling: { semantic: { temperature: 0.8 }, coarse: { temperature: 0.8 }, fine: { temperature: 0.6 } },
  };
  writeFileSync(join(dir, "model.json"), JSON.stringify(model, null, 2));
  return model;
}
