#!/usr/bin/env node
/** The `audiolm` command line. Each command has --help; data-producing ones have --json. */
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";

import { Codec, type CodecSegment } from "../models/codec.js";
import { convertAudiolmPytorch } from "../convert/audiolm-pytorch.js";
import { convertBark } from "../convert/bark.js";
import { convertEncodec } from "../convert/encodec.js";
import { convertHubert } from "../convert/hubert.js";
import { convertKmeans } from "../convert/kmeans.js";
import { AudioLMError } from "../errors.js";
import { native, packageRoot } from "../native/loader.js";
import { npyToInt32, readNpy, writeNpy } from "../formats/npy.js";
import { SemanticTokenizer } from "../models/semantic-tokenizer.js";
import { readWav, writeWav } from "../formats/wav.js";
import { HELP } from "./help.js";
import { EXIT_BAD_INPUT, UsageError, exitStatusOf, need, num, outputPath, parse } from "./common.js";
import { cmdGenerate } from "./generate.js";

async function cmdInfo(argv: string[]): Promise<void> {
  const { values } = parse(argv, { json: { type: "boolean" } }, HELP.info);
  if (values.help) return void console.log(HELP.info);
  const pkg = JSON.parse(readFileSync(`${packageRoot()}/package.json`, "utf8"));
  const info = native().info();
  // Backends a load can name: the CPU always; CUDA when this build has it and a GPU is usable
  // (`auto` is the CPU until the CUDA backend has passed its GPU check).
  const backends = ["cpu", ...(info.cudaCompiled && info.gpus.length > 0 ? info.gpus.map((g) => `cuda:${g.index}`) : [])];
  const out = { version: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`, backends, ...info };
  if (values.json) return void console.log(JSON.stringify(out, null, 2));
  console.log(`audiolm-node ${out.version} (${out.buildType} build, Node ${out.node}, ${out.platform})`);
  console.log(`backends: ${backends.join(", ")} (auto: cpu)`);
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
  const output = outputPath(values.output, help);
  const threads = num(values.threads, "threads");
  const codec = await Codec.load(model, threads ? { threads } : {});
  try {
    const wav = await readWav(positionals[0], { sampleRate: codec.sampleRate, channels: codec.channels });
    const t0 = performance.now();
    const codes = await codec.encode(wav.samples, { bandwidth: num(values.bandwidth, "bandwidth"), quantizers: num(values.quantizers, "quantizers") });
    const seconds = (performance.now() - t0) / 1000;
    await writeNpy(output, codes.data, codes.shape);
    const segmentsPath = codes.segments ? segmentsFile(output) : undefined;
    if (segmentsPath) await writeFile(segmentsPath, JSON.stringify({ segments: codes.segments![0] }) + "\n");
    const summary = { input: positionals[0], output, segments: segmentsPath, shape: codes.shape, audioSeconds: wav.duration, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${output}: codes [${codes.shape.join(", ")}] from ${summary.audioSeconds.toFixed(2)} s of audio in ${seconds.toFixed(2)} s`);
  } finally {
    await codec.dispose();
  }
}

/** Where a segmented codec's segment frames and scales go beside its codes: codes.npy → codes.segments.json. */
function segmentsFile(codesPath: string): string {
  return codesPath.replace(/(\.npy)?$/i, ".segments.json");
}

async function readSegments(path: string): Promise<CodecSegment[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `This codec cuts audio into scaled segments: decoding needs ${path}, which \`audiolm codec encode\` writes beside the codes (${(err as Error).message})`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const segs = (doc as { segments?: unknown })?.segments;
  if (!Array.isArray(segs)) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${path} has no "segments" array`);
  return segs as CodecSegment[]; // Codec.decode checks every entry
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
  const output = outputPath(values.output, help);
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
    const segments = codec.segmented ? [await readSegments(segmentsFile(positionals[0]))] : undefined;
    const [audio] = await codec.decode({ data, shape: [1, shape[0], shape[1]], segments }, length ? { lengths: [length] } : {});
    const seconds = (performance.now() - t0) / 1000;
    await writeWav(output, audio, codec.sampleRate, { format: values.pcm16 ? "s16" : "f32", channels: codec.channels });
    const samples = audio.length / codec.channels;
    const summary = { input: positionals[0], output, samples, channels: codec.channels, sampleRate: codec.sampleRate, seconds };
    if (values.json) console.log(JSON.stringify(summary));
    else console.error(`wrote ${output}: ${(samples / codec.sampleRate).toFixed(2)} s at ${codec.sampleRate} Hz in ${seconds.toFixed(2)} s`);
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
  const output = outputPath(values.output, help);
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
  const output = outputPath(values.output, help);
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
  const output = outputPath(values.output, help);
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
  const output = outputPath(values.output, help);
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
  const output = outputPath(values.output, help);
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
  const output = outputPath(values.output, help);
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
      return cmd === undefined ? EXIT_BAD_INPUT : 0;
    }
    if (cmd === "--version" || cmd === "-v" || cmd === "version") {
      console.log(JSON.parse(readFileSync(`${packageRoot()}/package.json`, "utf8")).version);
      return 0;
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
    const status = exitStatusOf(err);
    const coded = err instanceof AudioLMError || (err as { code?: string })?.code?.startsWith?.("ERR_AUDIOLM_");
    const code = err instanceof UsageError ? "ERR_AUDIOLM_USAGE" : coded ? (err as AudioLMError).code : "ERR_AUDIOLM_INTERNAL";
    if (argv.includes("--json")) {
      // Data goes to stdout under --json: the error too, as an object a script can read.
      console.log(JSON.stringify({ error: { code, message: (err as Error)?.message ?? String(err), exitStatus: status } }));
    }
    if (err instanceof UsageError) console.error(`audiolm: ${err.message}`);
    else if (coded) console.error(`audiolm: error [${code}]: ${(err as Error).message}`);
    else console.error(`audiolm: unexpected error: ${(err as Error)?.stack ?? err}`);
    return status;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
