#!/usr/bin/env node
// Bark small-size stages on this machine beside suno's reference in PyTorch eager, same run:
// semantic tokens/s (256 + 256 + 1 merged context, then KV-cached steps; by the native sampling
// loop, and by the step loop that generateSemantic's default min_eos_p stop takes, which samples in
// JavaScript from each step's logits; PyTorch's figure is its one loop), coarse tokens/s (the
// sliding-window run for --coarse-seconds of audio, KV-cached) and the fine stage's seconds for
// one 1024-frame window (codebooks 2..7), with the ratios (ours / PyTorch speed).
//
//   node bench/bark.mjs [--dir /tmp/bark-small] [--semantic-steps 64] [--coarse-seconds 1.5]
//                       [--fine-frames 1024] [--rounds 3] [--runs 1] [--bark-src /tmp/bark-ref] [--out bench/out]
//
// The model is Bark small's architecture (12 layers, 12 heads, width 768; suno/bark-small's
// vocabularies) with random weights, made by `bench/torch_bark.py --make DIR` with suno's own
// GPT / FineGPT classes into DIR (text.pt, coarse.pt, fine.pt, about 1.6 GB; never in the
// repository) and converted here with convertBark into DIR/ours. Both engines get the same inputs
// (DIR/inputs.json, seeded) and deterministic settings (top_k 1 for semantic and coarse, argmax
// fine; the semantic head's EOS row is zero so neither stops early), so both run the same number
// of steps; the outputs are compared and the agreement printed. The engines alternate for
// --rounds rounds so that machine noise hits both; each figure is the median over all runs.
// PyTorch runs with as many threads as our pool. Without PyTorch (or without the reference
// checkout) the bench says why and exits 0.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { BarkModel, convertBark, nativeAddon } = await import(join(root, "dist", "index.js"));

const { values: opt } = parseArgs({
  options: {
    dir: { type: "string", default: "/tmp/bark-small" },
    "semantic-steps": { type: "string", default: "64" },
    "coarse-seconds": { type: "string", default: "1.5" },
    "fine-frames": { type: "string", default: "1024" },
    rounds: { type: "string", default: "3" },
    runs: { type: "string", default: "1" },
    "bark-src": { type: "string", default: process.env.BARK_REF ?? "/tmp/bark-ref" },
    out: { type: "string", default: join(root, "bench", "out") },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const semSteps = Number(opt["semantic-steps"]);
const coarseSeconds = Number(opt["coarse-seconds"]);
const fineFrames = Number(opt["fine-frames"]);
const rounds = Number(opt.rounds);
const runs = Number(opt.runs);
const dir = opt.dir;
const oursDir = join(dir, "ours");
mkdirSync(opt.out, { recursive: true });

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function torchReason() {
  if (!existsSync(opt.python)) return `no ${opt.python}`;
  const r = spawnSync(opt.python, ["-c", "import torch, numpy, scipy"], { encoding: "utf8" });
  if (r.status !== 0) return `PyTorch (with numpy and scipy) is not importable by ${opt.python}`;
  if (!existsSync(join(opt["bark-src"], "bark", "generation.py"))) {
    return `no suno-ai/bark checkout at ${opt["bark-src"]} (e.g. git --git-dir=/work/.mirror/suno-ai+bark/repo archive HEAD | tar -x -C ${opt["bark-src"]})`;
  }
  return null;
}

const noTorch = torchReason();
if (noTorch) {
  console.log(`Bark bench: skipped (${noTorch}); the random Bark-small checkpoints and the reference timings need PyTorch and suno's bark code`);
  process.exit(0);
}

// Checkpoints (made once) and our conversion (redone when older than the checkpoints).
const pts = ["text.pt", "coarse.pt", "fine.pt"].map((f) => join(dir, f));
if (!pts.every((p) => existsSync(p))) {
  const r = spawnSync(opt.python, [join(root, "bench", "torch_bark.py"), "--make", dir, "--ref", opt["bark-src"]], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error("bench/torch_bark.py --make failed");
}
const newest = Math.max(...pts.map((p) => statSync(p).mtimeMs));
if (!existsSync(join(oursDir, "bark.json")) || statSync(join(oursDir, "bark.json")).mtimeMs < newest) {
  const t = performance.now();
  await convertBark(dir, oursDir, { variant: "small" });
  console.log(`converted ${dir} → ${oursDir} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
}

// Inputs, seeded, shared with the reference through DIR/inputs.json.
let lcg = 20240601;
const rand = (n, hi) => Array.from({ length: n }, () => { lcg = (lcg * 1664525 + 1013904223) >>> 0; return lcg % hi; });
const model = await BarkModel.load(oursDir);
const c = model.constants;
const inputs = {
  text: rand(200, c.textPadToken - c.textEncodingOffset),
  history: rand(256, c.semanticVocabSize),
  semanticSteps: semSteps,
  semantic: rand(Math.round(coarseSeconds * c.semanticRateHz), c.semanticVocabSize),
  coarse: [rand(fineFrames, c.codebookSize), rand(fineFrames, c.codebookSize)],
};
const inputsPath = join(dir, "inputs.json");
writeFileSync(inputsPath, JSON.stringify(inputs));
const text = Int32Array.from(inputs.text), history = Int32Array.from(inputs.history), semIn = Int32Array.from(inputs.semantic);
const coarseIn = { data: Int32Array.from([...inputs.coarse[0], ...inputs.coarse[1]]), shape: [2, fineFrames] };
const semOpts = { history, temperature: 0.7, topK: 1, minEosP: null, seed: 1 };
const coarseOpts = { temperature: 0.7, topK: 1, seed: 1 };

const info = nativeAddon().info();
const ours = { semantic: [], semanticStep: [], coarse: [], fine: [] }, torch = { semantic: [], coarse: [], fine: [] };
let outs = {}, ref = {};
async function timeOurs(warm) {
  if (warm) { // pages the weights in and starts the pool
    await model.generateSemantic(text, { ...semOpts, maxSteps: 4 });
    await model.generateCoarse(semIn.subarray(0, 4), coarseOpts);
  }
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    outs.semantic = await model.generateSemantic(text, { ...semOpts, maxSteps: semSteps });
    ours.semantic.push((performance.now() - t) / 1000);
    if (outs.semantic.length !== semSteps) throw new Error(`our semantic stage stopped after ${outs.semantic.length} of ${semSteps} tokens`);
    t = performance.now(); // minEosP 1 is never reached: the default route's loop, for all the steps
    const stepped = await model.generateSemantic(text, { ...semOpts, minEosP: 1, maxSteps: semSteps });
    ours.semanticStep.push((performance.now() - t) / 1000);
    if (stepped.some((v, i) => v !== outs.semantic[i])) throw new Error("the step loop and the native loop chose different tokens");
    t = performance.now();
    outs.coarse = await model.generateCoarse(semIn, coarseOpts);
    ours.coarse.push((performance.now() - t) / 1000);
    t = performance.now();
    outs.fine = await model.generateFine(coarseIn, { temperature: null });
    ours.fine.push((performance.now() - t) / 1000);
  }
}
function timeTorch() {
  const r = spawnSync(opt.python, [join(root, "bench", "torch_bark.py"), "--dir", dir, "--inputs", inputsPath, "--runs", String(runs),
    "--threads", String(info.threads), "--ref", opt["bark-src"]], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench/torch_bark.py failed: ${r.stderr}`);
  ref = JSON.parse(r.stdout.trim().split("\n").pop());
  for (const k of ["semantic", "coarse", "fine"]) torch[k].push(...ref[k].runs_s);
}

const t0 = performance.now();
for (let round = 0; round < rounds; round++) {
  await timeOurs(round === 0);
  timeTorch();
  console.log(`round ${round + 1}/${rounds}: ours ${["semantic", "coarse", "fine"].map((k) => ours[k].at(-1).toFixed(2)).join(" / ")} s, PyTorch ${["semantic", "coarse", "fine"].map((k) => torch[k].at(-1).toFixed(2)).join(" / ")} s (${((performance.now() - t0) / 1000).toFixed(0)} s in)`);
}
await model.dispose();

// Agreement of the outputs (random weights: near-ties may flip an argmax, so a fraction).
const frac = (a, b) => { let n = 0; for (let i = 0; i < a.length; i++) n += a[i] === b[i] ? 1 : 0; return n / a.length; };
const flat = (rows) => rows.flat();
const agree = {
  semantic: frac(Array.from(outs.semantic), ref.semantic.tokens),
  coarse: frac(Array.from(outs.coarse.data), flat(ref.coarse.codes)),
  fine: frac(Array.from(outs.fine.data), flat(ref.fine.codes)),
};
const coarseTokens = outs.coarse.data.length;
if (coarseTokens !== ref.coarse.tokens) throw new Error(`coarse token counts differ: ours ${coarseTokens}, PyTorch ${ref.coarse.tokens}`);
const fig = (x) => ({
  semanticSeconds: median(x.semantic), semanticTokensPerS: semSteps / median(x.semantic),
  ...(x.semanticStep ? { semanticStepTokensPerS: semSteps / median(x.semanticStep) } : {}),
  coarseSeconds: median(x.coarse), coarseTokensPerS: coarseTokens / median(x.coarse),
  fineSeconds: median(x.fine),
});
const o = fig(ours), p = fig(torch);
const ratio = { semantic: o.semanticTokensPerS / p.semanticTokensPerS, semanticStep: o.semanticStepTokensPerS / p.semanticTokensPerS, coarse: o.coarseTokensPerS / p.coarseTokensPerS, fine: p.fineSeconds / o.fineSeconds };
const result = {
  bench: "bark", model: "Bark small architecture (12 layers, 12 heads, width 768), random weights, F32",
  semanticSteps: semSteps, semanticContext: 513, coarseSeconds, coarseTokens, coarseFrames: coarseTokens / 2, fineFrames,
  fineCodebooksPredicted: "2..7", rounds, runsPerRound: runs, threads: info.threads, cpuKernels: info.cpuKernels,
  ours: { ...o, runs_s: ours },
  pytorch: { ...p, runs_s: torch, threads: ref.threads, torch: ref.torch, mode: "eager, suno generation.py, use_kv_caching=True" },
  ratio, agreement: agree,
};
console.log(`\nBark small (12 × 768, 12 heads, random weights, F32), ${info.threads} threads (${info.cpuKernels}), PyTorch ${ref.torch} eager with ${ref.threads} threads; medians over ${rounds * runs} runs each, alternating`);
const row = (label, a, b, r, g) => console.log(`${label.padEnd(52)}${a.padStart(13)}${b.padStart(10)}${(r.toFixed(2) + "x").padStart(8)}${((100 * g).toFixed(1) + "%").padStart(9)}`);
console.log(`${"stage".padEnd(52)}${"audiolm-node".padStart(13)}${"PyTorch".padStart(10)}${"ratio".padStart(8)}${"agree".padStart(9)}`);
row(`semantic tokens/s (513 context + ${semSteps} steps, KV cache)`, o.semanticTokensPerS.toFixed(1), p.semanticTokensPerS.toFixed(1), ratio.semantic, agree.semantic);
row(`  the same through the min_eos_p step loop`, o.semanticStepTokensPerS.toFixed(1), p.semanticTokensPerS.toFixed(1), ratio.semanticStep, agree.semantic);
row(`coarse tokens/s (${coarseSeconds} s: ${coarseTokens} tokens, KV cache)`, o.coarseTokensPerS.toFixed(1), p.coarseTokensPerS.toFixed(1), ratio.coarse, agree.coarse);
row(`fine seconds (${fineFrames} frames, codebooks 2..7)`, o.fineSeconds.toFixed(2), p.fineSeconds.toFixed(2), ratio.fine, agree.fine);
console.log("ratio = ours / PyTorch speed (> 1: audiolm-node faster)");
writeFileSync(join(opt.out, "bark.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify({ bench: "bark", threads: info.threads, semanticTokensPerS: { ours: o.semanticTokensPerS, pytorch: p.semanticTokensPerS },
  coarseTokensPerS: { ours: o.coarseTokensPerS, pytorch: p.coarseTokensPerS }, fineSeconds: { ours: o.fineSeconds, pytorch: p.fineSeconds }, ratio, agreement: agree }));
