#!/usr/bin/env node
// EnCodec encode/decode speed (seconds of audio per second) on this machine, beside PyTorch eager
// on the same weights and input in the same run where PyTorch is installed.
//
//   node bench/codec.mjs [--model 24|48] [--seconds 3] [--runs 5] [--encodec-src /tmp/encodec-ref] [--out bench/out]
//
// --model 48: the 48 kHz model (2.5 s of stereo, 1 s segments), made and checked against the
// reference by scripts/encodec48-parity.sh; it needs PyTorch.
//
// With PyTorch (Debian's python3-torch at /usr/bin/python3) and a checkout of the reference
// code, the model and input come from scripts/encodec-reference.py --make (random weights,
// reference layout) and are converted by `audiolm convert encodec`; the two engines alternate
// so that machine noise hits both. Without PyTorch, a random model of the same architecture is
// generated here and only our figures are printed, with the reason.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const api = await import(join(root, "dist", "index.js"));
const { Codec, convertEncodec, decodeNpy, nativeAddon } = api;
const { writeSafetensors } = await import(join(root, "dist", "formats", "safetensors.js"));

const { values: opt } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    runs: { type: "string", default: "5" },
    "encodec-src": { type: "string", default: "/tmp/encodec-ref" },
    out: { type: "string", default: join(root, "bench", "out") },
    python: { type: "string", default: "/usr/bin/python3" },
    model: { type: "string", default: "24" },
  },
});
if (opt.model !== "24" && opt.model !== "48") throw new Error(`--model must be 24 or 48, not ${opt.model}`);
const k48 = opt.model === "48";
const seconds = Number(opt.seconds);
const runs = Number(opt.runs);
const dir = join(opt.out, k48 ? "encodec48" : `encodec24-${seconds}s`);
const rate = k48 ? 48000 : 24000;
const thName = k48 ? "encodec_48khz_random.th" : "encodec_24khz_random.th";
mkdirSync(dir, { recursive: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function havePytorch() {
  if (!existsSync(opt.python)) return `no ${opt.python}`;
  const r = spawnSync(opt.python, ["-c", "import torch, numpy"], { encoding: "utf8" });
  if (r.status !== 0) return `PyTorch is not importable by ${opt.python}`;
  if (!existsSync(join(opt["encodec-src"], "encodec", "model.py"))) return `no reference checkout at ${opt["encodec-src"]} (see scripts/encodec-reference.py)`;
  return null;
}

// A random model of the 24 kHz architecture in the engine's layout (used without PyTorch).
async function randomModel(path) {
  const cfg = { family: "encodec", sampleRate: 24000, channels: 1, dimension: 128, nFilters: 32, nResidualLayers: 1, ratios: [8, 5, 4, 2],
    kernelSize: 7, lastKernelSize: 7, residualKernelSize: 3, dilationBase: 2, compress: 2, trueSkip: false, lstmLayers: 2, causal: true,
    padMode: "reflect", norm: "weight_norm", trimRightRatio: 1, codebookSize: 1024, codebookDim: 128, numQuantizers: 32, targetBandwidths: [1.5, 3, 6, 12, 24] };
  let seed = 1;
  const rand = (n, scale) => Float32Array.from({ length: n }, () => { seed = (seed * 1103515245 + 12345) >>> 0; return ((seed / 2 ** 32) * 2 - 1) * scale; });
  const tensors = [];
  const conv = (p, cout, cin, k) => tensors.push({ name: `${p}conv.weight`, dtype: "F32", shape: [cout, cin, k], data: rand(cout * cin * k, 1 / Math.sqrt(cin * k)) },
    { name: `${p}conv.bias`, dtype: "F32", shape: [cout], data: rand(cout, 0.01) });
  const res = (p, dim) => { conv(`${p}block.1.`, dim / 2, dim, 3); conv(`${p}block.3.`, dim, dim / 2, 1); conv(`${p}shortcut.`, dim, dim, 1); };
  const lstm = (p, dim) => { for (let l = 0; l < 2; l++) for (const [n, s] of [[`weight_ih_l${l}`, [4 * dim, dim]], [`weight_hh_l${l}`, [4 * dim, dim]], [`bias_ih_l${l}`, [4 * dim]], [`bias_hh_l${l}`, [4 * dim]]]) tensors.push({ name: `${p}lstm.${n}`, dtype: "F32", shape: s, data: rand(s.reduce((a, b) => a * b), 1 / Math.sqrt(dim)) }); };
  let i = 0, mult = 1;
  const e = (j) => `encoder.layers.${j}.`;
  conv(e(i++), 32, 1, 7);
  for (const r of [2, 4, 5, 8]) { res(e(i++), 32 * mult); i++; conv(e(i++), 64 * mult, 32 * mult, 2 * r); mult *= 2; }
  lstm(e(i++), 32 * mult); i++; conv(e(i++), 128, 32 * mult, 7);
  i = 0;
  const d = (j) => `decoder.layers.${j}.`;
  conv(d(i++), 32 * mult, 128, 7); lstm(d(i++), 32 * mult);
  for (const r of [8, 5, 4, 2]) { i++; tensors.push({ name: `${d(i)}conv.weight`, dtype: "F32", shape: [32 * mult, 16 * mult, 2 * r], data: rand(32 * mult * 16 * mult * 2 * r, 1 / Math.sqrt(32 * mult * 2 * r)) }, { name: `${d(i)}conv.bias`, dtype: "F32", shape: [16 * mult], data: rand(16 * mult, 0.01) }); i++; mult /= 2; res(d(i++), 32 * mult); }
  i++; conv(d(i++), 1, 32, 7);
  for (let q = 0; q < 32; q++) tensors.push({ name: `quantizer.layers.${q}.codebook.embed`, dtype: "F32", shape: [1024, 128], data: rand(1024 * 128, 1) });
  await writeSafetensors(path, tensors, { "audiolm.config": JSON.stringify(cfg) });
}

const noTorch = havePytorch();
if (k48 && noTorch) {
  console.log(`EnCodec 48 kHz: skipped (${noTorch}; the 48 kHz model is made by PyTorch)`);
  process.exit(0);
}
const component = join(dir, "codec.safetensors");
let input;
if (k48) {
  if (!existsSync(join(dir, thName))) {
    const r = spawnSync("bash", [join(root, "scripts", "encodec48-parity.sh"), dir], { stdio: "inherit", env: { ...process.env, ENCODEC_SRC: opt["encodec-src"] } });
    if (r.status !== 0) throw new Error("scripts/encodec48-parity.sh failed");
  }
  await convertEncodec(join(dir, thName), component);
  input = decodeNpy(new Uint8Array(await (await import("node:fs/promises")).readFile(join(dir, "input.npy")))).data;
} else if (!noTorch) {
  if (!existsSync(join(dir, thName))) {
    const r = spawnSync(opt.python, [join(root, "scripts", "encodec-reference.py"), "--make", dir, "--seconds", String(seconds), "--encodec-src", opt["encodec-src"]], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("scripts/encodec-reference.py --make failed");
  }
  await convertEncodec(join(dir, "encodec_24khz_random.th"), component);
  input = decodeNpy(new Uint8Array(await (await import("node:fs/promises")).readFile(join(dir, "input.npy")))).data;
} else {
  await randomModel(component);
  input = Float32Array.from({ length: Math.round(seconds * 24000) }, (_, i) => 0.3 * Math.sin(i * 0.031) + 0.1 * Math.sin(i * 0.73));
}

const codec = await Codec.load(component);
async function timeOurs() {
  const enc = [], dec = [];
  let codes = await codec.encode(input, { bandwidth: 6 }); // warm-up: pages in the weights, starts the pool
  await codec.decode(codes);
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    codes = await codec.encode(input, { bandwidth: 6 });
    enc.push((performance.now() - t) / 1000);
    t = performance.now();
    await codec.decode(codes);
    dec.push((performance.now() - t) / 1000);
  }
  return { encode: median(enc), decode: median(dec) };
}
function timeTorch() {
  const config = k48 ? ["--config", join(dir, "config.json")] : [];
  const r = spawnSync(opt.python, [join(root, "bench", "torch_codec.py"), "--model", join(dir, thName), "--input", join(dir, "input.npy"),
    "--bandwidth", "6", "--runs", String(runs), "--encodec-src", opt["encodec-src"], ...config], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench/torch_codec.py failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split("\n").pop());
  return { encode: j.encode_median_s ?? j.encode_seconds, decode: j.decode_median_s ?? j.decode_seconds, raw: j };
}

const audioSeconds = input.length / codec.channels / rate;
const ours = [await timeOurs()];
const torch = [];
if (!noTorch) {
  torch.push(timeTorch());
  ours.push(await timeOurs());
  torch.push(timeTorch());
}
await codec.dispose();
const pick = (xs, k) => median(xs.map((x) => x[k]));
const info = nativeAddon().info();
const result = {
  bench: "codec", model: `EnCodec ${opt.model} kHz architecture, random weights`, bandwidthKbps: 6, audioSeconds, threads: info.threads, cpuKernels: info.cpuKernels,
  ours: { encodeSeconds: pick(ours, "encode"), decodeSeconds: pick(ours, "decode"), encodeRealtime: audioSeconds / pick(ours, "encode"), decodeRealtime: audioSeconds / pick(ours, "decode") },
  pytorch: noTorch ? { skipped: noTorch } : { encodeSeconds: pick(torch, "encode"), decodeSeconds: pick(torch, "decode"), encodeRealtime: audioSeconds / pick(torch, "encode"), decodeRealtime: audioSeconds / pick(torch, "decode") },
};
if (!noTorch) result.ratio = { encode: result.pytorch.encodeSeconds / result.ours.encodeSeconds, decode: result.pytorch.decodeSeconds / result.ours.decodeSeconds };
console.log(`\nEnCodec ${opt.model} kHz, ${audioSeconds.toFixed(1)} s input${k48 ? " (stereo)" : ""}, 6 kbps, ${info.threads} threads (${info.cpuKernels})`);
console.log("engine        encode (s audio / s)   decode (s audio / s)");
console.log(`audiolm-node  ${result.ours.encodeRealtime.toFixed(1).padStart(20)}   ${result.ours.decodeRealtime.toFixed(1).padStart(20)}`);
if (noTorch) console.log(`PyTorch eager: skipped (${noTorch})`);
else {
  console.log(`PyTorch eager ${result.pytorch.encodeRealtime.toFixed(1).padStart(20)}   ${result.pytorch.decodeRealtime.toFixed(1).padStart(20)}`);
  console.log(`ratio (ours / PyTorch speed): encode ${result.ratio.encode.toFixed(2)}x, decode ${result.ratio.decode.toFixed(2)}x`);
}
writeFileSync(join(opt.out, k48 ? "codec48.json" : "codec.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
