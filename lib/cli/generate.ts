/** `audiolm generate`: AudioLM models (model.json) and Bark models (bark.json). */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";

import { AudioLM, type GenerateOptions } from "../models/audiolm.js";
import { BarkModel, type BarkGenerateResult } from "../models/bark.js";
import { AudioLMError } from "../errors.js";
import { packageRoot } from "../native/loader.js";
import type { Device, LoadOptions } from "../native/options.js";
import { npyToInt32, readNpy, writeNpy, writeNpz } from "../formats/npy.js";
import { createProgressBar } from "../models/progress.js";
import { writeWav } from "../formats/wav.js";
import { HELP } from "./help.js";
import { UsageError, type Values, need, num, outputPath, parse, rowPath } from "./common.js";

/** A stage's --temperature-/--top-k-/--top-p-/--guidance- options (only those given), or undefined for none. */
function stageSampling(values: Values, stage: string): { temperature?: number; topK?: number; topP?: number; guidance?: number } | undefined {
  const out: { temperature?: number; topK?: number; topP?: number; guidance?: number } = {};
  const g = stage === "fine" ? undefined : num(values[`guidance-${stage}`], `guidance-${stage}`);
  if (g !== undefined) out.guidance = g;
  const t = num(values[`temperature-${stage}`], `temperature-${stage}`);
  const k = num(values[`top-k-${stage}`], `top-k-${stage}`);
  const p = num(values[`top-p-${stage}`], `top-p-${stage}`);
  if (t !== undefined) out.temperature = t;
  if (k !== undefined) out.topK = k;
  if (p !== undefined) out.topP = p;
  return Object.keys(out).length ? out : undefined;
}

export async function cmdGenerate(argv: string[]): Promise<void> {
  const help = HELP.generate;
  const { values, positionals } = parse(
    argv,
    {
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
      seconds: { type: "string" },
      mode: { type: "string" },
      prompt: { type: "string" },
      content: { type: "string" },
      "semantic-prompt": { type: "string" },
      "acoustic-prompt": { type: "string" },
      batch: { type: "string" },
      seed: { type: "string" },
      "temperature-semantic": { type: "string" },
      "temperature-coarse": { type: "string" },
      "temperature-fine": { type: "string" },
      "top-k-semantic": { type: "string" },
      "top-k-coarse": { type: "string" },
      "top-k-fine": { type: "string" },
      "top-p-semantic": { type: "string" },
      "top-p-coarse": { type: "string" },
      "top-p-fine": { type: "string" },
      "guidance-semantic": { type: "string" },
      "guidance-coarse": { type: "string" },
      "tokens-out": { type: "string" },
      progress: { type: "boolean" },
      pcm16: { type: "boolean" },
      threads: { type: "string" },
      device: { type: "string" },
      json: { type: "boolean" },
      text: { type: "string", multiple: true },
      voice: { type: "string" },
      "min-eos-p": { type: "string" },
    },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n\n${help}`);
  if (values.model !== undefined && existsSync(join(values.model as string, "bark.json"))) return cmdGenerateBark(values, help);
  if (values.text !== undefined || values.voice !== undefined) {
    throw new UsageError(`--text and --voice need a Bark model directory (-m DIR with bark.json, from \`audiolm convert bark\`)\n\n${help}`);
  }
  if (values["min-eos-p"] !== undefined) throw new UsageError(`--min-eos-p is an option of Bark generation (-m DIR with bark.json)\n\n${help}`);
  const output = outputPath(values.output, help);
  const modelDir = (values.model as string | undefined) ?? join(packageRoot(), "models", "default");
  if (values.model === undefined && !existsSync(join(modelDir, "model.json"))) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `no default model at ${modelDir} (it is not installed in this version); pass -m MODEL_DIR`);
  }
  const tokensOut = tokensOutPath(values["tokens-out"], help);
  const batchSize = num(values.batch, "batch") ?? 1;
  const opts: GenerateOptions = {
    mode: values.mode as GenerateOptions["mode"],
    seconds: num(values.seconds, "seconds") ?? (values.mode === "acoustic" || values.content !== undefined ? undefined : 5),
    batchSize,
    seed: num(values.seed, "seed") ?? Math.floor(Math.random() * 2 ** 31),
    semantic: stageSampling(values, "semantic"),
    coarse: stageSampling(values, "coarse"),
    fine: stageSampling(values, "fine"),
  };
  if (values.prompt !== undefined) opts.prompt = values.prompt as string;
  if (values.content !== undefined) opts.content = values.content as string;
  if (values["semantic-prompt"] !== undefined) {
    const arr = await readNpy(values["semantic-prompt"] as string);
    const data = npyToInt32(arr, "--semantic-prompt");
    const shape = arr.shape.length === 1 ? [1, arr.shape[0]] : arr.shape;
    if (shape.length !== 2) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected semantic tokens of shape [T], [1, T] or [B, T] in ${values["semantic-prompt"]} but found [${arr.shape.join(", ")}]`);
    opts.semanticPrompt = Array.from({ length: shape[0] }, (_, r) => data.slice(r * shape[1], (r + 1) * shape[1]));
    if (values.batch === undefined) opts.batchSize = shape[0]; // one row per prompt row
  }
  if (values["acoustic-prompt"] !== undefined) {
    const arr = await readNpy(values["acoustic-prompt"] as string);
    const shape = arr.shape.length === 3 && arr.shape[0] === 1 ? arr.shape.slice(1) : arr.shape;
    if (shape.length !== 2) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected codes of shape [Q, T] or [1, Q, T] in ${values["acoustic-prompt"]} but found [${arr.shape.join(", ")}]`);
    opts.acousticPrompt = { data: npyToInt32(arr, "--acoustic-prompt"), shape: [shape[0], shape[1]] };
  }
  const bar = values.progress || process.stderr.isTTY ? createProgressBar() : null;
  if (bar) opts.onProgress = (p) => bar.update(p);
  const lm = await AudioLM.load(modelDir, loadOptions(values));
  try {
    const t0 = performance.now();
    let result;
    try {
      result = await lm.generate(opts);
    } finally {
      bar?.finish();
    }
    const seconds = (performance.now() - t0) / 1000;
    const outputs = result.audio.map((_, r) => rowPath(output, r, result.audio.length));
    for (let r = 0; r < outputs.length; r++) await writeWav(outputs[r], result.audio[r], result.sampleRate, { format: values.pcm16 ? "s16" : "f32" });
    if (tokensOut !== undefined) {
      const asNpz = tokensOut.endsWith(".npz");
      const arrays: Record<string, { data: Int32Array; shape: number[] }> = {};
      const B = result.audio.length;
      const stack = (items: Array<{ data: Int32Array; shape: [number, number] }>) => {
        const [L, T] = items[0].shape;
        const data = new Int32Array(B * L * T);
        items.forEach((c, r) => data.set(c.data, r * L * T));
        return { data, shape: [B, L, T] };
      };
      const sem = result.tokens.semantic;
      const semData = new Int32Array(B * sem[0].length);
      sem.forEach((s, r) => semData.set(s, r * sem[0].length));
      arrays.semantic = { data: semData, shape: [B, sem[0].length] };
      for (const name of ["coarse", "fine"] as const) arrays[name] = stack(result.tokens[name]);
      if (asNpz) {
        await writeNpz(tokensOut, arrays);
      } else {
        await mkdir(tokensOut, { recursive: true });
        for (const [name, a] of Object.entries(arrays)) await writeNpy(join(tokensOut, `${name}.npy`), a.data, a.shape);
      }
    }
    const audioSeconds = result.audio[0].length / result.sampleRate;
    const summary = { model: modelDir, outputs, batch: outputs.length, seeds: result.seeds, audioSeconds, sampleRate: result.sampleRate, seconds, realtimeFactor: (audioSeconds * outputs.length) / seconds, tokensOut: tokensOut ?? null };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${outputs.join(", ")}: ${audioSeconds.toFixed(2)} s at ${result.sampleRate} Hz each in ${seconds.toFixed(2)} s (seed ${result.seeds[0]})`);
  } finally {
    await lm.dispose();
  }
}

/** --tokens-out: an .npz file (its folder checked like -o's) or a folder made on demand. */
function tokensOutPath(v: unknown, help: string): string | undefined {
  if (v === undefined) return undefined;
  return typeof v === "string" && v.endsWith(".npz") ? outputPath(v, help, "--tokens-out") : need(v, "--tokens-out", help);
}

/** --threads and --device as load options (the library checks the device name). */
function loadOptions(values: { threads?: unknown; device?: unknown }): LoadOptions {
  const threads = num(values.threads as string | undefined, "threads");
  const out: LoadOptions = {};
  if (threads) out.threads = threads;
  if (values.device !== undefined) out.device = values.device as Device;
  return out;
}

/** `audiolm generate` with a Bark model directory: text → speech (lib/models/bark.ts). */
async function cmdGenerateBark(values: Values, help: string): Promise<void> {
  const modelDir = values.model as string;
  for (const o of ["seconds", "mode", "prompt", "semantic-prompt", "acoustic-prompt", "progress"]) {
    if (values[o] !== undefined) throw new UsageError(`--${o} is not an option of Bark generation\n\n${help}`);
  }
  const texts = (values.text as unknown as string[] | undefined) ?? [];
  if (texts.length === 0) throw new UsageError(`missing --text (a Bark model speaks text)\n\n${help}`);
  const output = values.output === undefined ? undefined : outputPath(values.output, help);
  const tokensOut = tokensOutPath(values["tokens-out"], help);
  if (output === undefined && tokensOut === undefined) throw new UsageError(`missing -o/--output or --tokens-out\n\n${help}`);
  const batch = num(values.batch, "batch") ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch expects an integer ≥ 1, got ${values.batch}`);
  const seed = num(values.seed, "seed") ?? Math.floor(Math.random() * 2 ** 31);
  for (const o of ["top-k-fine", "top-p-fine"]) {
    if (values[o] !== undefined) throw new UsageError(`--${o} is not an option of Bark generation (its fine stage samples with a temperature only)\n\n${help}`);
  }
  for (const o of ["guidance-semantic", "guidance-coarse"]) {
    if (values[o] !== undefined) throw new UsageError(`--${o} is not an option of Bark generation (it is AudioLM's guidance)\n\n${help}`);
  }
  const minEos = values["min-eos-p"];
  const minEosP = minEos === undefined ? undefined : minEos === "none" ? null : num(minEos, "min-eos-p");
  const bark = await BarkModel.load(modelDir, loadOptions(values));
  try {
    if (output !== undefined && !bark.codec) {
      throw new AudioLMError("ERR_AUDIOLM_IO", `${modelDir} has no codec.safetensors to make audio with (convert EnCodec 24 kHz with \`audiolm convert encodec\` into it), or write only tokens with --tokens-out`);
    }
    // one item per (text, batch row); text i row r: seed S + i·B + r
    const items = texts.flatMap((text) => Array.from({ length: batch }, () => text));
    for (const t of texts) {
      const n = bark.tokenize(t).length; // a bad text fails before any generation
      if (n > 256) console.error(`audiolm: warning: text of ${n} tokens: Bark reads the first 256 (${(((n - 256) / n) * 100).toFixed(1)}% cut)`);
    }
    const t0 = performance.now();
    const results = (await bark.generate({
      text: items,
      seed,
      voice: values.voice as string | undefined,
      semantic: { ...stageSampling(values, "semantic"), ...(minEosP !== undefined ? { minEosP } : {}) },
      coarse: stageSampling(values, "coarse") ?? {},
      fine: stageSampling(values, "fine") ?? {},
    })) as BarkGenerateResult[];
    const seconds = (performance.now() - t0) / 1000;
    const n = results.length;
    const outputs: string[] = [];
    if (output !== undefined) {
      for (let r = 0; r < n; r++) {
        const path = rowPath(output, r, n);
        await writeWav(path, results[r].audio!, results[r].sampleRate!, { format: values.pcm16 ? "s16" : "f32" });
        outputs.push(path);
      }
    }
    const tokenFiles: string[] = [];
    if (tokensOut !== undefined) {
      for (let r = 0; r < n; r++) {
        const res = results[r];
        const arrays = {
          text: { data: res.textTokens, shape: [res.textTokens.length] },
          semantic: { data: res.semantic, shape: [res.semantic.length] },
          coarse: { data: res.coarse.data, shape: [...res.coarse.shape] },
          fine: { data: res.codes.data, shape: [...res.codes.shape] },
        };
        if (tokensOut.endsWith(".npz")) {
          const path = rowPath(tokensOut, r, n);
          await writeNpz(path, { semantic_prompt: arrays.semantic, coarse_prompt: arrays.coarse, fine_prompt: arrays.fine, text_tokens: arrays.text });
          tokenFiles.push(path);
        } else {
          const dir = n === 1 ? tokensOut : join(tokensOut, String(r));
          await mkdir(dir, { recursive: true });
          for (const [name, a] of Object.entries(arrays)) await writeNpy(join(dir, `${name}.npy`), a.data, a.shape);
          tokenFiles.push(dir);
        }
      }
    }
    const rows = results.map((res, r) => ({
      text: items[r],
      seed: seed + r,
      textTokens: res.textTokens.length,
      semanticTokens: res.semantic.length,
      frames: res.codes.shape[1],
      audioSeconds: res.audio ? res.audio.length / res.sampleRate! : null,
      output: outputs[r] ?? null,
      tokens: tokenFiles[r] ?? null,
    }));
    const summary = { model: modelDir, family: "bark", outputs, tokensOut: tokenFiles, sampleRate: bark.codec?.sampleRate ?? null, seconds, rows };
    if (values.json) console.log(JSON.stringify(summary));
    else for (const row of rows) console.error(`wrote ${[row.output, row.tokens].filter(Boolean).join(" and ")}: ${row.frames} frames${row.audioSeconds !== null ? ` (${row.audioSeconds.toFixed(2)} s)` : ""} from ${row.textTokens} text tokens (seed ${row.seed})`);
  } finally {
    await bark.dispose();
  }
}

