#!/usr/bin/env node
/** The `audiolm` command line. Each command has --help; data-producing ones have --json. */
import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

import { AudioLM, type GenerateOptions } from "./audiolm.js";
import { BarkModel, type BarkGenerateResult } from "./bark.js";
import { Codec } from "./codec.js";
import { convertAudiolmPytorch } from "./convert/audiolm-pytorch.js";
import { convertBark } from "./convert/bark.js";
import { convertEncodec } from "./convert/encodec.js";
import { convertHubert } from "./convert/hubert.js";
import { convertKmeans } from "./convert/kmeans.js";
import { AudioLMError } from "./errors.js";
import { native, packageRoot } from "./native.js";
import { npyToInt32, readNpy, writeNpy, writeNpz } from "./npy.js";
import { createProgressBar } from "./progress.js";
import { SemanticTokenizer } from "./semantic-tokenizer.js";
import { readWav, writeWav } from "./wav.js";

class UsageError extends Error {}

const HELP: Record<string, string> = {
  main: `audiolm — AudioLM-family audio generation and neural codec tools

Usage: audiolm <command> [options]

Commands:
  generate -o OUT.wav       generate audio with an AudioLM model, or speech from --text with Bark
  info                      build, backends and devices
  codec encode IN.wav       waveform → RVQ codes (.npy)
  codec decode CODES.npy    RVQ codes → waveform (.wav)
  tokenize IN.wav           waveform → semantic tokens (.npy)
  convert encodec SRC       EnCodec checkpoint → codec component (.safetensors)
  convert hubert SRC        HuBERT checkpoint + k-means → semantic tokenizer (.safetensors)
  convert kmeans SRC        k-means centroids (sklearn joblib or .npy) → component
  convert bark SRC          Bark text/coarse/fine checkpoints → three transformer components
  convert audiolm-pytorch SRC  an audiolm-pytorch stage checkpoint → transformer component

Run \`audiolm <command> --help\` for a command's options.`,
  generate: `Usage: audiolm generate -o OUT.wav [-m MODEL_DIR] [--seconds N] [--batch B] [--seed S] [--mode MODE]
                        [--prompt IN.wav] [--semantic-prompt TOKENS.npy] [--acoustic-prompt CODES.npy]
                        [--temperature-semantic X] [--temperature-coarse X] [--temperature-fine X]
                        [--tokens-out DIR|FILE.npz] [--pcm16] [--progress] [--threads N] [--json]

Generates audio with an AudioLM model directory (model.json and its components). With --batch B > 1
the rows are written to OUT-0.wav … OUT-(B−1).wav (row r uses seed S + r).

  -m, --model DIR            model directory (default: models/default in the package)
  -o, --output PATH          where to write the audio (.wav, 32-bit float unless --pcm16)
  --seconds N                seconds to generate (default 5; a continuation excludes the prompt)
  --mode MODE                unconditional | continuation | acoustic (default: continuation when a
                             prompt is given, else unconditional)
  --prompt IN.wav            prompt audio: encoded by the codec (acoustic prompt) and by the model's
                             semantic tokenizer (unless --semantic-prompt gives the tokens)
  --semantic-prompt F.npy    semantic tokens, [T] or [1, T] for all rows or [B, T] one per row
                             (acoustic mode: the tokens of the whole output)
  --acoustic-prompt F.npy    codec codes [Q, T] or [1, Q, T] (e.g. from \`audiolm codec encode\`)
  --batch B                  rows generated together (default 1, or the rows of --semantic-prompt)
  --seed S                   seed of row 0 (default: random; printed with --json)
  --temperature-semantic X   sampling temperature of a stage (0 = greedy; default: model.json)
  --temperature-coarse X
  --temperature-fine X
  --tokens-out DIR|X.npz     also write the tokens (a directory of .npy files or one .npz): semantic.npy [B, T], coarse.npy [B, Q', frames],
                             fine.npy [B, Q − Q', frames]
  --progress                 progress bar on stderr even when it is not a terminal
  --pcm16                    write 16-bit PCM
  --threads N                CPU threads
  --json                     print a JSON summary

Bark (a MODEL_DIR with bark.json, from \`audiolm convert bark\`):
  audiolm generate --text "..." [--text "..." ...] -m BARK_DIR [-o OUT.wav] [--voice VOICE.npz]
                   [--batch B] [--seed S] [--temperature-semantic X] [--temperature-coarse X]
                   [--temperature-fine X] [--tokens-out DIR|FILE.npz] [--pcm16] [--threads N] [--json]

  --text TEXT                the text to speak (repeatable: one output per --text), tokenised
                             with BARK_DIR/vocab.txt (bert-base-multilingual-cased's)
  --voice VOICE.npz          a Bark voice (history prompt: semantic_prompt, coarse_prompt, fine_prompt)
  --batch B                  outputs per text (default 1); output k (texts in order, then batch
                             rows) uses seed S + k
  --temperature-* X          semantic default 0.7, coarse 0.7, fine 0.5 (0 = greedy)
  -o, --output PATH          the audio (needs BARK_DIR/codec.safetensors, EnCodec 24 kHz for Bark);
                             several outputs go to OUT-0.wav, OUT-1.wav, … (texts in order, then batch)
  --tokens-out DIR|X.npz     the tokens: a .npz in Bark's voice layout (semantic_prompt, coarse_prompt,
                             fine_prompt, text_tokens; usable as --voice) or a directory of
                             text.npy, semantic.npy, coarse.npy, fine.npy; several outputs: X-0.npz …
                             or DIR/0/, DIR/1/, …
  Without a codec, give --tokens-out (and no -o).`,
  info: `Usage: audiolm info [--json]

Prints the package version, the native build, CPU kernels and threads, and CUDA devices.`,
  "codec encode": `Usage: audiolm codec encode IN.wav -m CODEC -o CODES.npy [--bandwidth KBPS | --quantizers N] [--json]

Encodes a WAV (any rate, depth, channel count; downmixed and resampled to the codec's rate)
to int32 codes of shape [1, quantizers, frames].

  -m, --model PATH      codec component (.safetensors from \`audiolm convert encodec\`)
  -o, --output PATH     where to write the codes (.npy)
  --bandwidth KBPS      target bandwidth (e.g. 6 for 8 quantizers on EnCodec 24 kHz)
  --quantizers N        number of RVQ levels (default: all)
  --threads N           CPU threads
  --json                print a JSON summary`,
  "codec decode": `Usage: audiolm codec decode CODES.npy -m CODEC -o OUT.wav [--pcm16] [--length SAMPLES] [--json]

Decodes codes of shape [quantizers, frames] or [1, quantizers, frames] (int32 or int64) to a WAV.

  -m, --model PATH      codec component
  -o, --output PATH     where to write the audio (.wav, 32-bit float unless --pcm16)
  --pcm16               write 16-bit PCM
  --length SAMPLES      trim the output to this many samples
  --threads N           CPU threads
  --json                print a JSON summary`,
  tokenize: `Usage: audiolm tokenize IN.wav -m TOKENIZER -o TOKENS.npy [--json]

Semantic tokens of a WAV (any rate, depth, channel count; resampled to the tokenizer's rate) as
int32 [frames].

  -m, --model PATH      semantic tokenizer (.safetensors from \`audiolm convert hubert\` or \`convert kmeans --mfcc\`)
  -o, --output PATH     where to write the tokens (.npy)
  --threads N           CPU threads
  --json                print a JSON summary`,
  "convert hubert": `Usage: audiolm convert hubert SRC --kmeans KMEANS -o OUT.safetensors [--layer L] [--config CONFIG.json]

HuBERT (Hugging Face HubertModel: model.safetensors or pytorch_model.bin with config.json beside
it; or fairseq's hubert_base_ls960.pt) plus k-means centroids (a joblib dump of a fitted
scikit-learn KMeans, a .npy [K, D], or a \`convert kmeans\` component) → one semantic tokenizer.

  --kmeans PATH         the centroids (required)
  --layer L             encoder layer whose output is clustered (default 9; 0 = before layer 1)
  --config PATH         Hugging Face config.json (default: beside SRC)
  --dtype F32|F16|BF16  storage dtype (default F32)`,
  "convert kmeans": `Usage: audiolm convert kmeans SRC -o OUT.safetensors [--mfcc]

k-means centroids from a joblib dump of a fitted scikit-learn KMeans (cluster_centers_) or a .npy
[K, D]. With --mfcc the output is a complete MFCC + k-means semantic tokenizer (39-dimensional
centroids: 13 MFCC + deltas + delta-deltas, docs/mfcc.md); otherwise a centroid component for
\`convert hubert --kmeans\`.`,
  "convert encodec": `Usage: audiolm convert encodec SRC -o OUT.safetensors [--config CONFIG.json] [--sample-rate HZ]
                               [--causal | --non-causal] [--dtype F32|F16|BF16]

Converts an EnCodec checkpoint — Meta's original layout (.th/.pt) or Hugging Face's EncodecModel
(.safetensors or pytorch_model.bin; a config.json beside it is read) — to a codec component.
Settings the weights do not contain default to the 24 kHz model's (24000 Hz, causal, reflect).`,
  "convert bark": `Usage: audiolm convert bark SRC -o OUT_DIR [--small | --large] [--dtype F32|F16|BF16] [--vocab VOCAB.txt]

Converts Bark (suno-ai/bark) checkpoints to transformer components: SRC is a directory holding
text.pt, coarse.pt and fine.pt (or the large text_2.pt, coarse_2.pt, fine_2.pt, preferred when
present) → OUT_DIR/semantic.safetensors, coarse.safetensors, fine.safetensors and bark.json
(Bark's generation constants); or one of those files → that stage only. The text tokenizer's
vocabulary (bert-base-multilingual-cased's vocab.txt), from --vocab or SRC/vocab.txt, is copied
to OUT_DIR/vocab.txt for \`audiolm generate --text\`.
  --small / --large     which variant to read from a directory holding both
  --vocab PATH          the vocab.txt to copy (default: SRC/vocab.txt when present)
  --dtype F32|F16|BF16  storage dtype (default F32)`,
  "convert audiolm-pytorch": `Usage: audiolm convert audiolm-pytorch SRC --config CONFIG.json -o OUT.safetensors [--dtype F32|F16|BF16]

One lucidrains/audiolm-pytorch stage checkpoint (SemanticTransformer, CoarseTransformer or
FineTransformer, the plain-residual layout of releases before 2.4.0; the trainers' {"model": ...}
file or a bare state dict) → one transformer component. Checkpoints carry no hyper-parameters:
CONFIG.json gives them with their constructor names in camelCase, e.g.
{"stage": "semantic", "dim": 1024, "depth": 6, "heads": 8, "dimHead": 64,
 "numSemanticTokens": 500, "addValueResidual": false}
(coarse/fine also codebookSize, numCoarseQuantizers, numFineQuantizers; maxPositions, default
2048, bounds the precomputed relative-position bias). Refused: conditioning (hasCondition),
value-residual learning with depth > 1 (addValueResidual, their default since 2.2.0), and the
coarse/fine stages' relative-position biases (rel_pos_bias=True).
  --config PATH         the hyper-parameters (required)
  --dtype F32|F16|BF16  storage dtype (default F32)
  --json                print the written config and token layout as JSON`,
};

type Values = Record<string, string | boolean | undefined>;

function parse(argv: string[], options: ParseArgsConfig["options"], help: string): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
}

function num(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got ${JSON.stringify(v)}`);
  return n;
}

function need(v: unknown, what: string, help: string): string {
  if (typeof v !== "string" || v === "") throw new UsageError(`missing ${what}\n\n${help}`);
  return v;
}

/** OUT.wav → OUT-r.wav for row r of a batch (the path itself for a single row). */
function rowPath(output: string, row: number, batch: number): string {
  if (batch === 1) return output;
  const ext = extname(output);
  return `${output.slice(0, output.length - ext.length)}-${row}${ext || ".wav"}`;
}

async function cmdGenerate(argv: string[]): Promise<void> {
  const help = HELP.generate;
  const { values, positionals } = parse(
    argv,
    {
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
      seconds: { type: "string" },
      mode: { type: "string" },
      prompt: { type: "string" },
      "semantic-prompt": { type: "string" },
      "acoustic-prompt": { type: "string" },
      batch: { type: "string" },
      seed: { type: "string" },
      "temperature-semantic": { type: "string" },
      "temperature-coarse": { type: "string" },
      "temperature-fine": { type: "string" },
      "tokens-out": { type: "string" },
      progress: { type: "boolean" },
      pcm16: { type: "boolean" },
      threads: { type: "string" },
      json: { type: "boolean" },
      text: { type: "string", multiple: true },
      voice: { type: "string" },
    },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n\n${help}`);
  if (values.model !== undefined && existsSync(join(values.model as string, "bark.json"))) return cmdGenerateBark(values, help);
  if (values.text !== undefined || values.voice !== undefined) {
    throw new UsageError(`--text and --voice need a Bark model directory (-m DIR with bark.json, from \`audiolm convert bark\`)\n\n${help}`);
  }
  const output = need(values.output, "-o/--output", help);
  const modelDir = (values.model as string | undefined) ?? join(packageRoot(), "models", "default");
  if (values.model === undefined && !existsSync(join(modelDir, "model.json"))) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `no default model at ${modelDir} (it is not installed in this version); pass -m MODEL_DIR`);
  }
  const tokensOut = values["tokens-out"] as string | undefined;
  const batchSize = num(values.batch, "batch") ?? 1;
  const temperature = (stage: string) => {
    const t = num(values[`temperature-${stage}`], `temperature-${stage}`);
    return t === undefined ? undefined : { temperature: t };
  };
  const opts: GenerateOptions = {
    mode: values.mode as GenerateOptions["mode"],
    seconds: num(values.seconds, "seconds") ?? (values.mode === "acoustic" ? undefined : 5),
    batchSize,
    seed: num(values.seed, "seed") ?? Math.floor(Math.random() * 2 ** 31),
    semantic: temperature("semantic"),
    coarse: temperature("coarse"),
    fine: temperature("fine"),
  };
  if (values.prompt !== undefined) opts.prompt = values.prompt as string;
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
  const threads = num(values.threads, "threads");
  const bar = values.progress || process.stderr.isTTY ? createProgressBar() : null;
  if (bar) opts.onProgress = (p) => bar.update(p);
  const lm = await AudioLM.load(modelDir, threads ? { threads } : {});
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

/** `audiolm generate` with a Bark model directory: text → speech (lib/bark.ts). */
async function cmdGenerateBark(values: Values, help: string): Promise<void> {
  const modelDir = values.model as string;
  for (const o of ["seconds", "mode", "prompt", "semantic-prompt", "acoustic-prompt", "progress"]) {
    if (values[o] !== undefined) throw new UsageError(`--${o} is not an option of Bark generation\n\n${help}`);
  }
  const texts = (values.text as unknown as string[] | undefined) ?? [];
  if (texts.length === 0) throw new UsageError(`missing --text (a Bark model speaks text)\n\n${help}`);
  const output = values.output as string | undefined;
  const tokensOut = values["tokens-out"] as string | undefined;
  if (output === undefined && tokensOut === undefined) throw new UsageError(`missing -o/--output or --tokens-out\n\n${help}`);
  const batch = num(values.batch, "batch") ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch expects an integer ≥ 1, got ${values.batch}`);
  const seed = num(values.seed, "seed") ?? Math.floor(Math.random() * 2 ** 31);
  const temperature = (stage: string) => {
    const t = num(values[`temperature-${stage}`], `temperature-${stage}`);
    return t === undefined ? {} : { temperature: t };
  };
  const threads = num(values.threads, "threads");
  const bark = await BarkModel.load(modelDir, threads ? { threads } : {});
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
      semantic: temperature("semantic"),
      coarse: temperature("coarse"),
      fine: temperature("fine"),
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

async function cmdInfo(argv: string[]): Promise<void> {
  const { values } = parse(argv, { json: { type: "boolean" } }, HELP.info);
  if (values.help) return void console.log(HELP.info);
  const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, "utf8"));
  const info = native().info();
  const out = { version: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`, ...info };
  if (values.json) return void console.log(JSON.stringify(out, null, 2));
  console.log(`audiolm-node ${out.version} (${out.buildType} build, Node ${out.node}, ${out.platform})`);
  console.log(`CPU: ${info.threads} threads, ${info.cpuKernels} kernels`);
  console.log(`CUDA: ${info.cudaCompiled ? "compiled" : "not compiled"}; ${info.cudaStatus}`);
  for (const g of info.gpus) {
    console.log(`  GPU ${g.index}: ${g.name} (sm_${g.computeCapability.replace(".", "")}, ${(g.totalMemory / 2 ** 30).toFixed(1)} GiB)`);
  }
}

async function cmdCodecEncode(argv: string[]): Promise<void> {
  const help = HELP["codec encode"];
  const { values, positionals } = parse(
    argv,
    {
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
      bandwidth: { type: "string" },
      quantizers: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
    },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one input WAV\n\n${help}`);
  const model = need(values.model, "-m/--model", help);
  const output = need(values.output, "-o/--output", help);
  const threads = num(values.threads, "threads");
  const codec = await Codec.load(model, threads ? { threads } : {});
  try {
    const wav = await readWav(positionals[0], { sampleRate: codec.sampleRate });
    const t0 = performance.now();
    const codes = await codec.encode(wav.samples, { bandwidth: num(values.bandwidth, "bandwidth"), quantizers: num(values.quantizers, "quantizers") });
    const seconds = (performance.now() - t0) / 1000;
    await writeNpy(output, codes.data, codes.shape);
    const summary = { input: positionals[0], output, shape: codes.shape, audioSeconds: wav.samples.length / codec.sampleRate, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${output}: codes [${codes.shape.join(", ")}] from ${summary.audioSeconds.toFixed(2)} s of audio in ${seconds.toFixed(2)} s`);
  } finally {
    await codec.dispose();
  }
}

async function cmdCodecDecode(argv: string[]): Promise<void> {
  const help = HELP["codec decode"];
  const { values, positionals } = parse(
    argv,
    {
      model: { type: "string", short: "m" },
      output: { type: "string", short: "o" },
      pcm16: { type: "boolean" },
      length: { type: "string" },
      threads: { type: "string" },
      json: { type: "boolean" },
    },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one codes .npy file\n\n${help}`);
  const model = need(values.model, "-m/--model", help);
  const output = need(values.output, "-o/--output", help);
  const threads = num(values.threads, "threads");
  const arr = await readNpy(positionals[0]);
  let shape = arr.shape;
  if (shape.length === 3 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length !== 2) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected codes of shape [quantizers, frames] or [1, quantizers, frames] in ${positionals[0]} but found [${arr.shape.join(", ")}]`);
  }
  const data = npyToInt32(arr);
  const codec = await Codec.load(model, threads ? { threads } : {});
  try {
    const length = num(values.length, "length");
    const t0 = performance.now();
    const [audio] = await codec.decode({ data, shape: [1, shape[0], shape[1]] }, length ? { lengths: [length] } : {});
    const seconds = (performance.now() - t0) / 1000;
    await writeWav(output, audio, codec.sampleRate, { format: values.pcm16 ? "s16" : "f32" });
    const summary = { input: positionals[0], output, samples: audio.length, sampleRate: codec.sampleRate, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${output}: ${(audio.length / codec.sampleRate).toFixed(2)} s at ${codec.sampleRate} Hz in ${seconds.toFixed(2)} s`);
  } finally {
    await codec.dispose();
  }
}

async function cmdTokenize(argv: string[]): Promise<void> {
  const help = HELP.tokenize;
  const { values, positionals } = parse(
    argv,
    { model: { type: "string", short: "m" }, output: { type: "string", short: "o" }, threads: { type: "string" }, json: { type: "boolean" } },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one input WAV\n\n${help}`);
  const model = need(values.model, "-m/--model", help);
  const output = need(values.output, "-o/--output", help);
  const threads = num(values.threads, "threads");
  const tokenizer = await SemanticTokenizer.load(model, threads ? { threads } : {});
  try {
    const t0 = performance.now();
    const tokens = await tokenizer.tokenizeFile(positionals[0]);
    const seconds = (performance.now() - t0) / 1000;
    await writeNpy(output, tokens, [tokens.length]);
    const summary = { input: positionals[0], output, frames: tokens.length, frameRate: tokenizer.frameRate, clusters: tokenizer.clusters, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${output}: ${tokens.length} tokens (${tokenizer.frameRate} Hz, ${tokenizer.clusters} clusters) in ${seconds.toFixed(2)} s`);
  } finally {
    await tokenizer.dispose();
  }
}

async function cmdConvertHubert(argv: string[]): Promise<void> {
  const help = HELP["convert hubert"];
  const { values, positionals } = parse(
    argv,
    { output: { type: "string", short: "o" }, kmeans: { type: "string" }, layer: { type: "string" }, config: { type: "string" }, dtype: { type: "string" }, json: { type: "boolean" } },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one source checkpoint\n\n${help}`);
  const output = need(values.output, "-o/--output", help);
  const kmeans = need(values.kmeans, "--kmeans", help);
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !["F32", "F16", "BF16"].includes(dtype)) throw new UsageError(`--dtype must be F32, F16 or BF16, not ${dtype}`);
  const config = await convertHubert(positionals[0], output, {
    kmeans,
    layer: num(values.layer, "layer"),
    configPath: values.config as string | undefined,
    dtype: dtype as "F32" | "F16" | "BF16" | undefined,
  });
  if (values.json) console.log(JSON.stringify({ output, config }));
  else console.error(`wrote ${output}: HuBERT layer ${(config as { layer: number }).layer} + ${(config as { clusters: number }).clusters} clusters`);
}

async function cmdConvertKmeans(argv: string[]): Promise<void> {
  const help = HELP["convert kmeans"];
  const { values, positionals } = parse(argv, { output: { type: "string", short: "o" }, mfcc: { type: "boolean" }, json: { type: "boolean" } }, help);
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one source file\n\n${help}`);
  const output = need(values.output, "-o/--output", help);
  const c = await convertKmeans(positionals[0], output, { mfcc: values.mfcc === true });
  if (values.json) console.log(JSON.stringify({ output, clusters: c.clusters, dim: c.dim, mfcc: values.mfcc === true }));
  else console.error(`wrote ${output}: ${c.clusters} centroids of dimension ${c.dim}${values.mfcc ? " (MFCC tokenizer)" : ""}`);
}

async function cmdConvertBark(argv: string[]): Promise<void> {
  const help = HELP["convert bark"];
  const { values, positionals } = parse(
    argv,
    { output: { type: "string", short: "o" }, small: { type: "boolean" }, large: { type: "boolean" }, dtype: { type: "string" }, vocab: { type: "string" }, json: { type: "boolean" } },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one source directory or checkpoint\n\n${help}`);
  const output = need(values.output, "-o/--output", help);
  if (values.small && values.large) throw new UsageError("give --small or --large, not both");
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !["F32", "F16", "BF16"].includes(dtype)) throw new UsageError(`--dtype must be F32, F16 or BF16, not ${dtype}`);
  const r = await convertBark(positionals[0], output, {
    dtype: dtype as "F32" | "F16" | "BF16" | undefined,
    ...(values.vocab !== undefined ? { vocab: values.vocab as string } : {}),
    ...(values.small ? { variant: "small" as const } : values.large ? { variant: "large" as const } : {}),
  });
  if (values.json) console.log(JSON.stringify({ output, ...r }));
  else {
    for (const [stage, c] of Object.entries(r.configs)) {
      console.error(`wrote ${r.files[stage as keyof typeof r.files]}: Bark ${stage}, ${c.layers} layers × ${c.dim}, vocab ${c.vocabSize} → ${c.outputSize}`);
    }
    if (r.constants) console.error(`wrote ${r.constants}: Bark generation constants`);
    if (r.vocab) console.error(`wrote ${r.vocab}: text tokenizer vocabulary`);
  }
}

async function cmdConvertAudiolmPytorch(argv: string[]): Promise<void> {
  const help = HELP["convert audiolm-pytorch"];
  const { values, positionals } = parse(argv, { output: { type: "string", short: "o" }, config: { type: "string" }, dtype: { type: "string" }, json: { type: "boolean" } }, help);
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one checkpoint\n\n${help}`);
  const output = need(values.output, "-o/--output", help);
  const config = need(values.config, "--config", help);
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !["F32", "F16", "BF16"].includes(dtype)) throw new UsageError(`--dtype must be F32, F16 or BF16, not ${dtype}`);
  const r = await convertAudiolmPytorch(positionals[0], output, config as string, { dtype: dtype as "F32" | "F16" | "BF16" | undefined });
  if (values.json) console.log(JSON.stringify({ output, ...r }));
  else console.error(`wrote ${output}: audiolm-pytorch ${JSON.stringify(r.layout.segments.map((x) => x.kind))}, ${r.config.layers} layers × ${r.config.dim}, vocab ${r.config.vocabSize} → ${r.config.outputSize}`);
}

async function cmdConvert(argv: string[]): Promise<void> {
  const format = argv[0];
  if (format === undefined || format === "--help" || format === "-h") {
    return void console.log(
      `Usage: audiolm convert FORMAT SRC... -o OUT\n\nFormats: encodec, hubert, kmeans, bark, audiolm-pytorch\n\n${HELP["convert encodec"]}\n\n${HELP["convert hubert"]}\n\n${HELP["convert kmeans"]}\n\n${HELP["convert bark"]}\n\n${HELP["convert audiolm-pytorch"]}`,
    );
  }
  if (format === "bark") return cmdConvertBark(argv.slice(1));
  if (format === "audiolm-pytorch") return cmdConvertAudiolmPytorch(argv.slice(1));
  if (format === "hubert") return cmdConvertHubert(argv.slice(1));
  if (format === "kmeans") return cmdConvertKmeans(argv.slice(1));
  if (format !== "encodec") throw new UsageError(`unknown format ${JSON.stringify(format)}; supported: encodec, hubert, kmeans, bark, audiolm-pytorch`);
  const help = HELP["convert encodec"];
  const { values, positionals } = parse(
    argv.slice(1),
    {
      output: { type: "string", short: "o" },
      config: { type: "string" },
      "sample-rate": { type: "string" },
      causal: { type: "boolean" },
      "non-causal": { type: "boolean" },
      dtype: { type: "string" },
      json: { type: "boolean" },
    },
    help,
  );
  if (values.help) return void console.log(help);
  if (positionals.length !== 1) throw new UsageError(`expected one source checkpoint\n\n${help}`);
  const output = need(values.output, "-o/--output", help);
  if (values.causal && values["non-causal"]) throw new UsageError("give --causal or --non-causal, not both");
  const dtype = values.dtype as string | undefined;
  if (dtype !== undefined && !["F32", "F16", "BF16"].includes(dtype)) throw new UsageError(`--dtype must be F32, F16 or BF16, not ${dtype}`);
  const config = await convertEncodec(positionals[0], output, {
    configPath: values.config as string | undefined,
    dtype: dtype as "F32" | "F16" | "BF16" | undefined,
    overrides: {
      ...(values["sample-rate"] !== undefined ? { sampleRate: num(values["sample-rate"], "sample-rate") } : {}),
      ...(values.causal ? { causal: true } : values["non-causal"] ? { causal: false } : {}),
    },
  });
  if (values.json) console.log(JSON.stringify({ output, config }));
  else console.error(`wrote ${output}: EnCodec ${config.sampleRate} Hz, ratios [${config.ratios}], ${config.numQuantizers} × ${config.codebookSize} codes`);
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
      console.log(HELP.main);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === "generate") await cmdGenerate(rest);
    else if (cmd === "info") await cmdInfo(rest);
    else if (cmd === "codec" && rest[0] === "encode") await cmdCodecEncode(rest.slice(1));
    else if (cmd === "codec" && rest[0] === "decode") await cmdCodecDecode(rest.slice(1));
    else if (cmd === "codec") throw new UsageError(`usage: audiolm codec encode|decode ...\n\n${HELP.main}`);
    else if (cmd === "convert") await cmdConvert(rest);
    else if (cmd === "tokenize") await cmdTokenize(rest);
    else throw new UsageError(`unknown command ${JSON.stringify(cmd)}\n\n${HELP.main}`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`audiolm: ${err.message}`);
      return 2;
    }
    if (err instanceof AudioLMError || (err as { code?: string })?.code?.startsWith?.("ERR_AUDIOLM_")) {
      const e = err as AudioLMError;
      console.error(`audiolm: error [${e.code}]: ${e.message}`);
      return 1;
    }
    console.error(`audiolm: unexpected error: ${(err as Error)?.stack ?? err}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
