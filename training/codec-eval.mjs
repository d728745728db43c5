// Encodes and decodes WAVs with a codec component (all RVQ levels): the codec rows of training/evaluate.py.
//   node training/codec-eval.mjs CODEC.safetensors PAIRS.json      PAIRS.json: [["in.wav", "out.wav"], ...]
import { readFileSync } from "node:fs";

import { Codec } from "../dist/index.js";
import { readWav, writeWav } from "../dist/formats/wav.js";

const [path, pairsPath] = process.argv.slice(2);
const codec = await Codec.load(path);
for (const [inp, out] of JSON.parse(readFileSync(pairsPath, "utf8"))) {
  const { samples } = await readWav(inp, { sampleRate: codec.sampleRate });
  const codes = await codec.encode(samples);
  const [y] = await codec.decode(codes, { lengths: [samples.length] });
  await writeWav(out, y, codec.sampleRate, { format: "f32" });
}
await codec.dispose();
