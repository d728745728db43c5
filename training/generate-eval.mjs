// Runs a list of generation jobs on one loaded model (the voice checks of training/evaluate.py).
//   node training/generate-eval.mjs MODEL_DIR JOBS.json
// JOBS.json: [{ "out": "x.wav", "prompt": "p.wav", "content"?: "c.wav", "mode"?: "...", "seconds"?: 3, "seed": 1 }]
import { readFileSync } from "node:fs";

import { AudioLM } from "../dist/index.js";
import { writeWav } from "../dist/formats/wav.js";

const [dir, jobsPath] = process.argv.slice(2);
const jobs = JSON.parse(readFileSync(jobsPath, "utf8"));
const lm = await AudioLM.load(dir);
const t0 = performance.now();
let seconds = 0;
for (const j of jobs) {
  const { out, ...opts } = j;
  const r = await lm.generate(opts);
  await writeWav(out, r.audio[0], r.sampleRate, { format: "f32" });
  seconds += r.audio[0].length / r.sampleRate;
}
const wall = (performance.now() - t0) / 1000;
console.log(JSON.stringify({ jobs: jobs.length, audioSeconds: seconds, wallSeconds: wall, realTimeFactor: seconds / wall }));
await lm.dispose();
