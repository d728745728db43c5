#!/usr/bin/env node
// Tokens/s of a paper-size AudioLM stage (12 layers, 16 heads, width 1024, FF 4096, T5 relative
// positions, random weights) at several batch sizes: prefill of a prompt, then KV-cached greedy
// decoding. Beside PyTorch eager with a KV cache on the same weights and prompts shape in the
// same run (bench/torch_transformer.py), where PyTorch is installed, with the ratio. Also
// classifier-free guidance (each row with a guide row of a quarter of its prompt), as tokens/s of
// the guided rows against unguided decoding at the same batch.
//
//   node bench/transformer.mjs [--batch 1,4,16] [--prompt 64] [--steps 32] [--runs 3] [--out bench/out]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { Transformer } = await import(join(root, "dist", "models", "transformer.js"));
const { writeSafetensors } = await import(join(root, "dist", "formats", "safetensors.js"));
const { native } = await import(join(root, "dist", "native", "loader.js"));

const { values: opt } = parseArgs({
  options: {
    batch: { type: "string", default: "1,4,16" },
    prompt: { type: "string", default: "64" },
    steps: { type: "string", default: "32" },
    runs: { type: "string", default: "3" },
    out: { type: "string", default: join(root, "bench", "out") },
    python: { type: "string", default: "/usr/bin/python3" },
    "no-torch": { type: "boolean", default: false },
  },
});
const batches = opt.batch.split(",").map(Number);
const promptLen = Number(opt.prompt), steps = Number(opt.steps), runs = Number(opt.runs);
mkdirSync(opt.out, { recursive: true });
const modelPath = join(opt.out, "paper-stage.safetensors");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function torchReason() {
  if (opt["no-torch"]) return "--no-torch";
  if (!existsSync(opt.python)) return `no ${opt.python}`;
  const r = spawnSync(opt.python, ["-c", "import torch, numpy"], { encoding: "utf8" });
  return r.status === 0 ? null : `PyTorch is not importable by ${opt.python}`;
}

// The same architecture as bench/torch_transformer.py --make, written here when PyTorch is absent.
async function makeRandom(path) {
  const cfg = { family: "transformer", vocabSize: 1027, dim: 1024, layers: 12, heads: 16, ffDim: 4096, ff: "gelu", norm: "layernorm",
    prenorm: true, position: "t5", t5Buckets: 32, t5MaxDistance: 128, causal: true, maxPositions: 2048 };
  let seed = 7;
  const rand = (n, scale) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) { seed = (seed * 1664525 + 1013904223) >>> 0; a[i] = ((seed / 2 ** 32) * 2 - 1) * scale; } return a; };
  const ones = (n) => new Float32Array(n).fill(1);
  const t = (name, shape, data) => ({ name, dtype: "F32", shape, data });
  const D = 1024, F = 4096, V = 1027;
  const list = [t("tok_emb.weight", [V, D], rand(V * D, 0.02)), t("rel_bias.weight", [32, 16], rand(512, 0.5))];
  for (let l = 0; l < 12; l++) {
    const p = `layers.${l}.`;
    list.push(t(p + "attn_norm.weight", [D], ones(D)), t(p + "attn_norm.bias", [D], rand(D, 0.01)));
    for (const x of ["q", "k", "v", "o"]) list.push(t(`${p}attn.${x}.weight`, [D, D], rand(D * D, 0.03)));
    list.push(t(p + "ff_norm.weight", [D], ones(D)), t(p + "ff_norm.bias", [D], rand(D, 0.01)));
    list.push(t(p + "ff.up.weight", [F, D], rand(F * D, 0.03)), t(p + "ff.down.weight", [D, F], rand(D * F, 0.015)));
  }
  list.push(t("final_norm.weight", [D], ones(D)), t("final_norm.bias", [D], rand(D, 0.01)), t("head.weight", [V, D], rand(V * D, 0.03)));
  await writeSafetensors(path, list, { "audiolm.config": JSON.stringify(cfg) });
}

const noTorch = torchReason();
if (!existsSync(modelPath)) {
  if (!noTorch) {
    const r = spawnSync(opt.python, [join(root, "bench", "torch_transformer.py"), "--make", modelPath, "--batch", ""], { stdio: ["ignore", "ignore", "inherit"] });
    if (r.status !== 0 || !existsSync(modelPath)) await makeRandom(modelPath);
  } else {
    await makeRandom(modelPath);
  }
}

const model = await Transformer.load(modelPath);
let lcg = 1234;
const randomTokens = (n) => Int32Array.from({ length: n }, () => { lcg = (lcg * 1664525 + 1013904223) >>> 0; return lcg % 1024; });

async function timeOurs(B, guided = false) {
  const rows = guided ? 2 * B : B;
  const session = model.session({ batch: rows, capacity: promptLen + steps + 4 });
  const prompts = Array.from({ length: rows }, (_, i) => randomTokens(i < B ? promptLen : Math.max(1, promptLen >> 2)));
  const seeds = Array.from({ length: rows }, (_, i) => i);
  const req = { seeds, sampling: { temperature: 0, guidance: guided ? 2 : 0 }, guide: guided ? seeds.map((i) => (i < B ? B + i : -1)) : undefined };
  await session.prefill(prompts);
  await session.generate({ steps: 4, ...req }); // warm-up
  const pre = [], dec = [];
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    await session.prefill(prompts);
    pre.push((performance.now() - t) / 1000);
    t = performance.now();
    const out = await session.generate({ steps, ...req });
    dec.push((performance.now() - t) / 1000);
    if (out.tokens.some((x) => x.length !== steps)) throw new Error("a row stopped early");
  }
  session.dispose();
  return { prefill_s: median(pre), decode_tokens_per_s: (B * steps) / median(dec) };
}

function timeTorch() {
  const r = spawnSync(opt.python, [join(root, "bench", "torch_transformer.py"), "--model", modelPath, "--batch", opt.batch,
    "--prompt", String(promptLen), "--steps", String(steps), "--runs", String(runs)], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench/torch_transformer.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

const ours = {};
for (const B of batches) ours[B] = await timeOurs(B);
const torch = noTorch ? null : timeTorch();
// A second pass of ours after PyTorch, so that noise over the run hits both engines.
if (torch) for (const B of batches) { const again = await timeOurs(B); if (again.decode_tokens_per_s > ours[B].decode_tokens_per_s) ours[B] = again; }
// guided against unguided decoding measured just before it
const guided = {};
for (const B of batches) guided[B] = { plain: await timeOurs(B), guided: await timeOurs(B, true) };
await model.dispose();

const info = native().info();
console.log(`\nPaper-size stage (12 × 1024, 16 heads, FF 4096, T5 positions, F32), prompt ${promptLen}, ${steps} greedy steps, ${info.threads} threads (${info.cpuKernels})`);
console.log("batch   audiolm-node tok/s   PyTorch tok/s   ratio    prefill ours / PyTorch (s)");
const rows = {};
for (const B of batches) {
  const o = ours[B], t = torch?.[String(B)];
  rows[B] = { ours: o, pytorch: t ?? null, ratio: t ? o.decode_tokens_per_s / t.decode_tokens_per_s : null };
  console.log(`${String(B).padStart(5)}   ${o.decode_tokens_per_s.toFixed(1).padStart(18)}   ${t ? t.decode_tokens_per_s.toFixed(1).padStart(13) : "skipped".padStart(13)}   ${t ? (rows[B].ratio.toFixed(2) + "x").padStart(6) : "     -"}    ${o.prefill_s.toFixed(3)} / ${t ? t.prefill_s.toFixed(3) : "-"}`);
}
if (noTorch) console.log(`PyTorch eager: skipped (${noTorch})`);
console.log("batch   guided tok/s (B rows + B guide rows)   unguided tok/s   ratio");
const guidance = {};
for (const B of batches) {
  const { guided: g, plain: o } = guided[B];
  guidance[B] = { guided: g, unguided: o, ratio: g.decode_tokens_per_s / o.decode_tokens_per_s };
  console.log(`${String(B).padStart(5)}   ${g.decode_tokens_per_s.toFixed(1).padStart(36)}   ${o.decode_tokens_per_s.toFixed(1).padStart(14)}   ${guidance[B].ratio.toFixed(2)}x`);
}
const result = { bench: "transformer-stage", promptLen, steps, threads: info.threads, batches: rows, guidance, pytorch: noTorch ? { skipped: noTorch } : "eager + KV cache" };
writeFileSync(join(opt.out, "transformer.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
