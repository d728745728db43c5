// Semantic tokens: HuBERT (three checkpoint layouts) and MFCC front-ends with k-means, against
// reference fixtures (test/fixtures/semantic, written by test/fixtures/make_semantic_fixtures.py:
// our PyTorch HuBERT with random weights, scikit-learn KMeans saved by joblib, numpy MFCC), and
// generation prompted by a WAV.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AudioLM } from "../lib/models/audiolm.js";
import { convertHubert } from "../lib/convert/hubert.js";
import { convertKmeans, readCentroids } from "../lib/convert/kmeans.js";
import { AudioLMError } from "../lib/errors.js";
import { decodeNpy, npyToInt32 } from "../lib/formats/npy.js";
import { SemanticTokenizer } from "../lib/models/semantic-tokenizer.js";
import { encodeWav } from "../lib/formats/wav.js";
import { fractionEqual, relL2, tempDir } from "./helpers.js";
import { makeRandomModel } from "./make-random-model.js";

const ROOT = join(import.meta.dirname, "..");
const FIX = join(ROOT, "test", "fixtures", "semantic");
const LAYER = 2; // the fixtures' k-means was fitted on layer-2 features
const tmp = tempDir("audiolm-semantic-");
afterAll(() => tmp.cleanup());

const f32 = (name: string) => decodeNpy(readFileSync(join(FIX, name)), name).data as Float32Array;
const i32 = (name: string) => npyToInt32(decodeNpy(readFileSync(join(FIX, name)), name));
const INPUTS = [0, 1, 2];

describe("k-means centroids", () => {
  it("reads a joblib dump of a fitted sklearn KMeans exactly", async () => {
    for (const [file, npy] of [["kmeans.joblib", "kmeans_centroids.npy"], ["mfcc_kmeans.joblib", "mfcc_kmeans_centroids.npy"], ["kmeans_minibatch.joblib", "kmeans_minibatch_centroids.npy"]]) {
      const c = await readCentroids(join(FIX, file));
      const want = f32(npy);
      expect(c.clusters * c.dim).toBe(want.length);
      expect([...c.data]).toEqual([...want]);
    }
  });
  it("rejects files that hold no centroids, with the reason", async () => {
    const err = await readCentroids(join(ROOT, "test", "fixtures", "checkpoint", "nested.pt")).catch((e) => e);
    expect(err).toBeInstanceOf(AudioLMError);
    const bad = await readCentroids(join(ROOT, "test", "fixtures", "checkpoint", "hostile_eval.pkl")).catch((e) => e);
    expect((bad as AudioLMError).code).toBe("ERR_AUDIOLM_UNSAFE_PICKLE");
  });
});

const LAYOUTS = [
  { what: "Hugging Face safetensors", src: join(FIX, "hf", "model.safetensors") },
  { what: "Hugging Face pytorch_model.bin", src: join(FIX, "hf", "pytorch_model.bin") },
  { what: "fairseq .pt (settings read from its inert config records)", src: join(FIX, "fairseq", "hubert_small.pt"), noConfig: true },
];

for (const layout of LAYOUTS) {
  describe(`HuBERT + k-means from ${layout.what}`, () => {
    let tok: SemanticTokenizer;
    beforeAll(async () => {
      const out = join(tmp.dir, `${layout.src.split("/").slice(-2).join("-")}.safetensors`);
      const configPath = "noConfig" in layout ? undefined : join(FIX, "hf", "config.json");
      await convertHubert(layout.src, out, { kmeans: join(FIX, "kmeans.joblib"), layer: LAYER, configPath });
      tok = await SemanticTokenizer.load(out);
    });
    afterAll(() => tok?.dispose());

    for (const i of INPUTS) {
      it(`input ${i}: layer-${LAYER} hidden states within 1e-4 and sklearn's clusters on ≥ 99.9 % of frames`, async () => {
        const input = f32(`input_${i}.npy`);
        const [feat] = await tok.features([input]);
        const want = f32(`hidden_${i}_L${LAYER}.npy`);
        expect(feat.frames * feat.dim).toBe(want.length);
        expect(relL2(feat.data, want)).toBeLessThan(1e-4);
        const tokens = await tok.tokenize(input);
        expect(fractionEqual(tokens, i32(`labels_${i}.npy`))).toBeGreaterThanOrEqual(0.999);
      });
    }
    it("tokenizes a batch of different lengths like its items", async () => {
      const inputs = INPUTS.map((i) => f32(`input_${i}.npy`));
      const batch = await tok.tokenize(inputs);
      for (const [k, x] of inputs.entries()) expect([...batch[k]]).toEqual([...(await tok.tokenize(x))]);
    });
  });
}

describe("MFCC + k-means", () => {
  let tok: SemanticTokenizer;
  beforeAll(async () => {
    const out = join(tmp.dir, "mfcc.safetensors");
    await convertKmeans(join(FIX, "mfcc_kmeans.joblib"), out, { mfcc: true });
    tok = await SemanticTokenizer.load(out);
  });
  afterAll(() => tok?.dispose());
  for (const i of INPUTS) {
    it(`input ${i}: features within 1e-4 of the numpy reference, tokens equal sklearn's`, async () => {
      const [feat] = await tok.features([f32(`input_${i}.npy`)]);
      const want = f32(`mfcc_${i}.npy`);
      expect(feat.frames * feat.dim).toBe(want.length);
      expect(relL2(feat.data, want)).toBeLessThan(1e-4);
      expect(fractionEqual(await tok.tokenize(f32(`input_${i}.npy`)), i32(`mfcc_labels_${i}.npy`))).toBeGreaterThanOrEqual(0.999);
    });
  }
  it("refuses centroids of the wrong width for MFCC", async () => {
    const err = await convertKmeans(join(FIX, "kmeans.joblib"), join(tmp.dir, "x.safetensors"), { mfcc: true }).catch((e) => e);
    expect((err as AudioLMError).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
  });
  it("rejects bad audio with clear errors and keeps working", async () => {
    const nan = f32("input_0.npy").slice();
    nan[5] = NaN;
    await expect(tok.tokenize(nan)).rejects.toMatchObject({ code: "ERR_AUDIOLM_INVALID_ARGUMENT" });
    await expect(tok.tokenize(new Float32Array(0))).rejects.toMatchObject({ code: "ERR_AUDIOLM_INVALID_ARGUMENT" });
    expect((await tok.tokenize(f32("input_0.npy"))).length).toBeGreaterThan(0);
  });
});

describe("audiolm tokenize and generate --prompt", () => {
  const CLI = join(ROOT, "dist", "cli", "main.js");
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", cwd: tmp.dir });

  it("tokenize writes the tokens of a WAV", () => {
    const tok = join(tmp.dir, "cli-tok.safetensors");
    let r = run("convert", "hubert", join(FIX, "hf", "model.safetensors"), "--kmeans", join(FIX, "kmeans.joblib"), "--layer", String(LAYER), "-o", tok);
    expect(r.status, r.stderr).toBe(0);
    writeFileSync(join(tmp.dir, "in.wav"), encodeWav(f32("input_1.npy"), 16000));
    r = run("tokenize", "in.wav", "-m", tok, "-o", "t.npy", "--json");
    expect(r.status, r.stderr).toBe(0);
    const got = npyToInt32(decodeNpy(readFileSync(join(tmp.dir, "t.npy"))));
    expect(fractionEqual(got, i32("labels_1.npy"))).toBeGreaterThanOrEqual(0.999);
  });

  it("generate --prompt some.wav continues a prompt through the model's tokenizer", async () => {
    const dir = join(tmp.dir, "model");
    await makeRandomModel(dir);
    // An MFCC tokenizer with as many clusters as the model's semantic vocabulary, at its rate.
    const mj = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    const K = mj.semantic.codebookSize;
    const cent = Float32Array.from({ length: K * 39 }, (_, j) => Math.sin(j * 12.9898) * 3);
    const { encodeNpy } = await import("../lib/formats/npy.js");
    writeFileSync(join(tmp.dir, "cent.npy"), encodeNpy(cent, [K, 39]));
    const mfccRate = 50;
    const factor = mfccRate / mj.semantic.rate;
    await convertKmeans(join(tmp.dir, "cent.npy"), join(dir, "tokenizer.safetensors"), { mfcc: factor === 1 ? true : { hopLength: 320 * factor } });
    mj.components.semanticTokenizer = "tokenizer.safetensors";
    writeFileSync(join(dir, "model.json"), JSON.stringify(mj));
    const prompt = Float32Array.from({ length: 16000 }, (_, j) => 0.3 * Math.sin(j * 0.05) + 0.05 * Math.sin(j * 1.3));
    writeFileSync(join(tmp.dir, "prompt.wav"), encodeWav(prompt, 16000));
    const r = run("generate", "-m", dir, "--prompt", "prompt.wav", "--seconds", "1", "--seed", "3", "-o", "cont.wav", "--json");
    expect(r.status, r.stderr).toBe(0);
    const lm = await AudioLM.load(dir);
    try {
      const out = await lm.generate({ prompt, seconds: 1, seed: 3 });
      expect(out.audio[0].length).toBe(lm.sampleRate);
      expect(out.audio[0].every(Number.isFinite)).toBe(true);
    } finally {
      await lm.dispose();
    }
  });
});
