// Bark's three-stage generation (lib/models/bark.ts) against suno's own generation.py run with small
// random models and a small vocabulary (fixtures in test/fixtures/bark_generation, written by
// test/fixtures/make_bark_generation_fixtures.py): semantic (min_eos_p stop, voice history, native
// loop), coarse sliding windows (with and without history), fine windows, and generate(); text
// input through test/fixtures/bark_generation/vocab.txt (hand-written, 40 tokens = the fixture
// models' text range; convertBark copies it beside bark.json).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { BarkModel, type BarkCodes, readBarkVoice } from "../lib/models/bark.js";
import { convertBark } from "../lib/convert/bark.js";
import { AudioLMError } from "../lib/errors.js";
import { type NpyArray, npyToInt32, readNpz } from "../lib/formats/npy.js";
import { counterUniform, deriveSeed } from "../lib/models/stages.js";
import { tempDir } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "bark_generation");
const VOICE = join(FIXTURES, "voice.npz");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("Bark generation", () => {
  const dir = join(tmp.dir, "bark");
  let model: BarkModel;
  let ref: Map<string, NpyArray>;
  const fixture = JSON.parse(readFileSync(join(FIXTURES, "constants.json"), "utf8"));
  const cases = fixture.cases;
  const ids = (name: string): Int32Array => npyToInt32(ref.get(name)!, name);
  const codes = (name: string): BarkCodes => {
    const a = ref.get(name)!;
    return { data: ids(name), shape: [a.shape[0], a.shape[1]] };
  };

  beforeAll(async () => {
    await convertBark(FIXTURES, dir);
    const json = JSON.parse(readFileSync(join(dir, "bark.json"), "utf8"));
    const { cases: _c, ...constants } = fixture;
    writeFileSync(join(dir, "bark.json"), JSON.stringify({ ...json, ...constants }));
    model = await BarkModel.load(dir);
    ref = await readNpz(join(FIXTURES, "reference.npz"));
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it("semantic: min_eos_p stop, without and with a voice history", async () => {
    const s1 = await model.generateSemantic(ids("s1_text"), { temperature: 1, greedy: true, minEosP: cases.s1.minEosP });
    expect(s1.length).toBe(cases.s1.steps);
    expect(Array.from(s1)).toEqual(Array.from(ids("s1_semantic")));
    const voice = await readBarkVoice(VOICE);
    const s2 = await model.generateSemantic(ids("s2_text"), { temperature: 1, greedy: true, minEosP: cases.s2.minEosP, history: voice.semantic });
    expect(Array.from(s2)).toEqual(Array.from(ids("s2_semantic")));
  });

  it("semantic: the native loop with topK 1 and no min_eos_p", async () => {
    const s3 = await model.generateSemantic(ids("s3_text"), { topK: 1, minEosP: null, maxSteps: cases.s3.maxSteps, seed: 5 });
    expect(Array.from(s3)).toEqual(Array.from(ids("s3_semantic")));
  });

  it("coarse: sliding windows without and with history", async () => {
    const c1 = await model.generateCoarse(ids("s1_semantic"), { topK: 1, seed: 1 });
    expect(c1.shape).toEqual(ref.get("c1_coarse")!.shape);
    expect(Array.from(c1.data)).toEqual(Array.from(ids("c1_coarse")));
    const voice = await readBarkVoice(VOICE);
    const c2 = await model.generateCoarse(ids("s2_semantic"), { topK: 1, seed: 1, history: voice, ...cases.c2 });
    expect(Array.from(c2.data)).toEqual(Array.from(ids("c2_coarse")));
  });

  it("fine: windows without and with history", async () => {
    const voice = await readBarkVoice(VOICE);
    const f1 = await model.generateFine(codes("c1_coarse"), { temperature: null });
    expect(Array.from(f1.data)).toEqual(Array.from(ids("f1_fine")));
    const f2 = await model.generateFine(codes("c2_coarse"), { temperature: null, history: voice.fine });
    expect(Array.from(f2.data)).toEqual(Array.from(ids("f2_fine")));
    const f3 = await model.generateFine(codes("f3_coarse"), { temperature: null, history: voice.fine });
    expect(f3.shape).toEqual([4, 1300]);
    expect(Array.from(f3.data)).toEqual(Array.from(ids("f3_fine")));
    const f4 = await model.generateFine(codes("f4_coarse"), { temperature: null });
    expect(Array.from(f4.data)).toEqual(Array.from(ids("f4_fine")));
  });

  it("generate(): all three stages with a voice .npz", async () => {
    const r = await model.generate({
      textTokens: ids("s2_text"),
      voice: VOICE,
      seed: 3,
      semantic: { temperature: 1, greedy: true, minEosP: cases.s2.minEosP },
      coarse: { topK: 1, ...cases.c2 },
      fine: { temperature: null },
    });
    expect(Array.from(r.semantic)).toEqual(Array.from(ids("s2_semantic")));
    expect(Array.from(r.coarse.data)).toEqual(Array.from(ids("c2_coarse")));
    expect(r.codes.shape).toEqual([4, 46]);
    expect(Array.from(r.codes.data)).toEqual(Array.from(ids("f2_fine")));
    expect(r.audio).toBeUndefined();
    const r1 = await model.generate({ textTokens: ids("s1_text"), seed: 3, semantic: { temperature: 1, greedy: true, minEosP: cases.s1.minEosP }, coarse: { topK: 1 }, fine: { temperature: null } });
    expect(Array.from(r1.codes.data)).toEqual(Array.from(ids("f1_fine")));
  });

  it("generate({ text }): tokenises with the vocab.txt convertBark copied, as the given ids", async () => {
    expect(existsSync(join(dir, "vocab.txt"))).toBe(true);
    expect(model.tokenizer?.size).toBe(40);
    // s1_text's ids as words of test/fixtures/bark_generation/vocab.txt (id 1 is [UNK]: any unknown word)
    const words = readFileSync(join(FIXTURES, "vocab.txt"), "utf8").split("\n");
    const text = "  " + Array.from(ids("s1_text"), (i) => (i === 1 ? "zzz" : words[i])).join(" \n ") + "\t";
    expect(Array.from(model.tokenize(text))).toEqual(Array.from(ids("s1_text")));
    const opts = { seed: 3, semantic: { temperature: 1, greedy: true, minEosP: cases.s1.minEosP }, coarse: { topK: 1 }, fine: { temperature: null } };
    const r = await model.generate({ text, ...opts });
    expect(Array.from(r.textTokens)).toEqual(Array.from(ids("s1_text")));
    expect(Array.from(r.semantic)).toEqual(Array.from(ids("s1_semantic")));
    expect(Array.from(r.codes.data)).toEqual(Array.from(ids("f1_fine")));
    // a batch: one result per text, in order
    const b = await model.generate({ text: [text, "hello world, the sky."], ...opts });
    expect(b).toHaveLength(2);
    expect(Array.from(b[0].codes.data)).toEqual(Array.from(ids("f1_fine")));
    expect(Array.from(b[1].textTokens)).toEqual([13, 14, 38, 5, 23, 39]);
    expect(b[1].codes.shape[0]).toBe(4);
  });

  it("generate({ text }) errors: empty text, both inputs, no vocab.txt, a vocab larger than the text range", async () => {
    const err = async (p: Promise<unknown>, re: RegExp) => {
      const e = await p.then(() => null, (x) => x);
      expect(e).toBeInstanceOf(AudioLMError);
      expect((e as Error).message).toMatch(re);
    };
    await err(model.generate({ text: " \n\t " }), /non-empty text/);
    await err(model.generate({ text: "\u0000\u0007" }), /at least one token/);
    await err(model.generate({ text: [] }), /non-empty array/);
    await err(model.generate({ text: ["hello", ""] }), /non-empty text/);
    await err(model.generate({ text: "hello", textTokens: new Int32Array([1]) }), /exactly one of text and textTokens/);
    await err(model.generate({}), /exactly one of text and textTokens/);
    const bare = join(tmp.dir, "bare");
    mkdirSync(bare);
    for (const f of ["bark.json", "semantic.safetensors", "coarse.safetensors", "fine.safetensors"]) copyFileSync(join(dir, f), join(bare, f));
    const noVocab = await BarkModel.load(bare);
    try {
      expect(noVocab.tokenizer).toBeNull();
      await err(noVocab.generate({ text: "hello" }), /no vocab.txt/);
    } finally {
      await noVocab.dispose();
    }
    writeFileSync(join(bare, "vocab.txt"), Array.from({ length: 41 }, (_, i) => (i === 1 ? "[UNK]" : `w${i}`)).join("\n") + "\n");
    await err(BarkModel.load(bare), /41 tokens but the semantic model reads 40 text ids/);
  });

  it("top-p acts on the untempered softmax before top-k and the temperature, as the reference's", async () => {
    const c = model.constants;
    const sem = ids("s1_semantic").subarray(0, 12);
    const opts = { temperature: 0.8, topK: 6, topP: 0.4, seed: 7 };
    const got = await model.generateCoarse(sem, opts);
    expect(got.shape).toEqual([2, 18]); // one window of 36 tokens
    // suno's order, written out: nucleus over the sorted softmax (a token goes when the mass before
    // it exceeds top_p; the first stays), then top-k, then softmax(logits / temperature)
    const filtered = (l: number[], order: "reference" | "native") => {
      let keep = l.map(() => true);
      const nucleus = (w: number[]) => {
        const idx = w.map((_, i) => i).sort((a, b) => w[b] - w[a] || a - b);
        const z = idx.reduce((acc, i) => acc + Math.exp(w[i] - w[idx[0]]), 0);
        let before = 0;
        idx.forEach((i, j) => {
          if (j > 0 && before > opts.topP) keep[i] = false;
          before += Math.exp(w[i] - w[idx[0]]) / z;
        });
      };
      const topk = () => {
        const kept = l.filter((_, i) => keep[i]).sort((a, b) => b - a);
        if (kept.length > opts.topK) keep = keep.map((k, i) => k && l[i] >= kept[opts.topK - 1]);
      };
      if (order === "reference") {
        nucleus(l);
        topk();
      } else {
        topk();
        nucleus(l.map((v, i) => (keep[i] ? v / opts.temperature : -Infinity)));
      }
      const e = l.map((v, i) => (keep[i] ? Math.exp((v - Math.max(...l)) / opts.temperature) : 0));
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / z);
    };
    const prompt: number[] = [];
    for (let i = 0; i < 256; i++) prompt.push(i < sem.length ? sem[i] : c.coarseSemanticPadToken);
    prompt.push(c.coarseInferToken);
    const O = model.coarse.config.outputSize;
    const toks: number[] = [];
    let supportsDiffer = 0;
    for (let i = 0; i < 36; i++) {
      const [all] = await model.coarse.logits([Int32Array.from([...prompt, ...toks])]);
      const lo = c.semanticVocabSize + (i % 2) * c.codebookSize;
      const l = Array.from(all.subarray(all.length - O + lo, all.length - O + lo + c.codebookSize));
      const p = filtered(l, "reference");
      if (filtered(l, "native").some((q, j) => (q > 0) !== (p[j] > 0))) supportsDiffer++;
      const u = counterUniform(deriveSeed(opts.seed, 0), i);
      let cum = 0;
      let pick = p.findIndex((q) => (cum += q) > u);
      if (pick < 0) pick = p.findLastIndex((q) => q > 0);
      toks.push(lo + pick);
    }
    expect(supportsDiffer).toBeGreaterThan(0); // the two orders keep different tokens in this run
    const want = Array.from({ length: 36 }, (_, k) => {
      const [q, t] = [Math.floor(k / 18), k % 18];
      return toks[2 * t + q] - c.semanticVocabSize - q * c.codebookSize;
    });
    expect(Array.from(got.data)).toEqual(want);
    // the semantic stage: with top-p, minEosP null runs the same loop as minEosP 1 (never reached)
    const a = await model.generateSemantic(ids("s1_text"), { seed: 3, topP: 0.5, topK: 8, temperature: 1.2, minEosP: null, maxSteps: 20 });
    const b = await model.generateSemantic(ids("s1_text"), { seed: 3, topP: 0.5, topK: 8, temperature: 1.2, minEosP: 1, maxSteps: 20 });
    expect(a.length).toBeGreaterThan(0);
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it("seeded sampling is reproducible", async () => {
    const a = await model.generateSemantic(ids("s1_text"), { seed: 9, maxSteps: 10, minEosP: 0.9 });
    const b = await model.generateSemantic(ids("s1_text"), { seed: 9, maxSteps: 10, minEosP: 0.9 });
    expect(Array.from(a)).toEqual(Array.from(b));
    const f = await model.generateFine(codes("c2_coarse"), { seed: 4 });
    const g = await model.generateFine(codes("c2_coarse"), { seed: 4 });
    expect(Array.from(f.data)).toEqual(Array.from(g.data));
  });

  it("rejects bad inputs with AudioLMError", async () => {
    const err = async (p: Promise<unknown>, re: RegExp) => {
      const e = await p.then(() => null, (x) => x);
      expect(e).toBeInstanceOf(AudioLMError);
      expect((e as Error).message).toMatch(re);
    };
    await err(model.generateSemantic(new Int32Array([1, 999])), /textTokens\[1\] is 999/);
    await err(model.generateSemantic(new Int32Array(0)), /non-empty/);
    await err(model.generateSemantic(new Int32Array([1]), { history: new Int32Array([100]) }), /history\[0\] is 100/);
    await err(model.generateSemantic(new Int32Array([1]), { maxSteps: 5000 }), /maxSteps/);
    await err(model.generateCoarse(new Int32Array(0), { topK: 1 }), /non-empty/);
    await err(model.generateCoarse(new Int32Array([1, 2, 3]), { maxCoarseHistory: 10 }), /maxCoarseHistory/);
    await err(model.generateCoarse(new Int32Array([1, 2, 3]), { history: { semantic: new Int32Array([1, 2]), coarse: { data: new Int32Array(20), shape: [2, 10] } } }), /frames per history.semantic/);
    await err(model.generateFine({ data: new Int32Array(4), shape: [2, 3] }), /shape/);
    await err(model.generateFine({ data: new Int32Array([0, 40]), shape: [2, 1] }), /is 40/);
    await err(readBarkVoice(join(FIXTURES, "reference.npz")), /no semantic_prompt/);
    await err(BarkModel.load(tmp.dir), /no bark.json/);
  });
});
