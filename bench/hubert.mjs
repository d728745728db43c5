#!/usr/bin/env node
// HuBERT-base (to layer 9) + k-means tokenization speed, seconds of audio per second, beside
// PyTorch eager on the same weights and input in the same run (bench/torch_hubert.py) where
// PyTorch is installed, with the ratio. The model (random weights, Hugging Face layout) comes
// from scripts/hubert-reference.py --make; without PyTorch the bench says so and stops.
//
//   node bench/hubert.mjs [--dir /tmp/hubert-full] [--runs 5]
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { SemanticTokenizer, convertHubert, decodeNpy, nativeAddon } = await import(join(root, "dist", "index.js"));
const { values: opt } = parseArgs({ options: {
  dir: { type: "string", default: "/tmp/hubert-full" }, runs: { type: "string", default: "5" },
  python: { type: "string", default: "/usr/bin/python3" }, out: { type: "string", default: join(root, "bench", "out") } } });
const runs = Number(opt.runs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const torchOk = existsSync(opt.python) && spawnSync(opt.python, ["-c", "import torch, sklearn"]).status === 0;
if (!torchOk) {
  console.log(`HuBERT bench skipped: PyTorch and scikit-learn are needed (${opt.python}) to make the reference model`);
  process.exit(0);
}
if (!existsSync(join(opt.dir, "model.safetensors"))) {
  const r = spawnSync(opt.python, [join(root, "scripts", "hubert-reference.py"), "--make", opt.dir], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("scripts/hubert-reference.py --make failed");
}
const component = join(opt.dir, "bench-tokenizer.safetensors");
await convertHubert(join(opt.dir, "model.safetensors"), component, { kmeans: join(opt.dir, "kmeans.joblib"), layer: 9 });
const input = decodeNpy(readFileSync(join(opt.dir, "input_5s.npy"))).data;
const seconds = input.length / 16000;

const tok = await SemanticTokenizer.load(component);
async function ours() {
  await tok.tokenize(input); // warm-up
  const ts = [];
  for (let r = 0; r < runs; r++) { const t = performance.now(); await tok.tokenize(input); ts.push((performance.now() - t) / 1000); }
  return median(ts);
}
function torch() {
  const r = spawnSync(opt.python, [join(root, "bench", "torch_hubert.py"), "--model", join(opt.dir, "model.safetensors"), "--input", join(opt.dir, "input_5s.npy"),
    "--layer", "9", "--runs", String(runs)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/torch_hubert.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()).median_s;
}
const o = [await ours()], t = [torch()];
o.push(await ours());
t.push(torch());
await tok.dispose();
const oursS = median(o), torchS = median(t);
const info = nativeAddon().info();
const result = { bench: "hubert", model: "HuBERT-base to layer 9 + 500-cluster k-means, random weights", audioSeconds: seconds, threads: info.threads,
  ours: { seconds: oursS, realtime: seconds / oursS }, pytorch: { seconds: torchS, realtime: seconds / torchS, note: "eager forward to layer 9 (no k-means)" }, ratio: torchS / oursS };
console.log(`\nHuBERT-base layer 9, ${seconds} s input, ${info.threads} threads`);
console.log(`audiolm-node (features + k-means): ${result.ours.realtime.toFixed(1)} s of audio / s`);
console.log(`PyTorch eager (features only):     ${result.pytorch.realtime.toFixed(1)} s of audio / s`);
console.log(`ratio: ${result.ratio.toFixed(2)}x`);
mkdirSync(opt.out, { recursive: true });
writeFileSync(join(opt.out, "hubert.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
