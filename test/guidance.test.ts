// Classifier-free guidance: a session row sampling from l + s·(l − l_guide) with its guide row fed
// the same tokens, checked against the same mix done here over nextLogits(); the coarse stage's
// guide windows (no acoustic history) in the pipeline; option validation. Also the coarse windows'
// anchor (coarse.window.anchor), checked the same way against a session fed by hand.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { AudioLM } from "../lib/models/audiolm.js";
import { type LevelCodes, coarseLayout, coarseOrigin, coarsePrompt, coarsePromptOf, coarseRanges, emptyCodes } from "../lib/models/stages.js";
import { parseModelJson } from "../lib/models/model-json.js";
import { Transformer, type TransformerSession } from "../lib/models/transformer.js";
import { errorOf, tempDir } from "./helpers.js";
import { makeRandomModel } from "./make-random-model.js";
import { readFileSync } from "node:fs";

const K = 32;
const C = 64;
const tmp = tempDir("audiolm-guidance-");
const dir = join(tmp.dir, "m");
const anchoredDir = join(tmp.dir, "anchored");
let lm: AudioLM;
let anchored: AudioLM;
let coarse: Transformer;

beforeAll(async () => {
  // The same weights twice: windows of 100 frames, hop 50; and hop 25 with an anchor of 20 frames.
  await Promise.all([
    makeRandomModel(dir, { dim: 128, layers: 2, seed: 8 }),
    makeRandomModel(anchoredDir, { dim: 128, layers: 2, seed: 8, coarseHop: 25, coarseAnchor: 20 }),
  ]);
  [lm, anchored] = await Promise.all([AudioLM.load(dir), AudioLM.load(anchoredDir)]);
  coarse = await Transformer.load(join(dir, "coarse.safetensors"));
});
afterAll(async () => {
  await Promise.all([lm?.dispose(), anchored?.dispose(), coarse?.dispose()]);
  tmp.cleanup();
});

const tokens = (n: number, seed: number, mod: number) => Int32Array.from({ length: n }, (_, i) => (i * 11 + seed * 5 + ((i * i) % 7)) % mod);

/**
 * The reference: greedy steps over a batch-2 session [conditional, guide] picking each token here
 * from (1 + s)·l − s·l_guide in f32 over the level's range (first maximum), then extending both rows.
 */
async function guidedGreedy(s: TransformerSession, scale: number, steps: number, range: (i: number) => [number, number]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const [l, g] = s.nextLogits();
    const [lo, hi] = range(i);
    let best = lo;
    let bestV = -Infinity;
    for (let v = lo; v < hi; v++) {
      const m = Math.fround(l[v] + Math.fround(scale * Math.fround(l[v] - g[v])));
      if (m > bestV) [best, bestV] = [v, m];
    }
    out.push(best);
    await s.extend([Int32Array.of(best), Int32Array.of(best)]);
  }
  return out;
}

describe("classifier-free guidance", () => {
  const L = () => coarseLayout(parseModelJson(JSON.parse(readFileSync(join(dir, "model.json"), "utf8"))));
  const levelRange = (i: number): [number, number] => [K + (i % 2) * C, K + ((i % 2) + 1) * C];

  it("samples a session row from the mix with its guide row, which follows it", async () => {
    const layout = L();
    const history = emptyCodes(2, 20);
    history.data.set(tokens(40, 1, C));
    const cond = coarsePrompt(layout, tokens(20, 2, K), history, 0, 20);
    const guide = coarsePrompt(layout, tokens(10, 2, K).subarray(0, 10), history, 20, 20);
    const ranges = coarseRanges(layout, [coarseOrigin(20), coarseOrigin(10)]);
    const a = coarse.session({ batch: 2, capacity: 200 });
    const b = coarse.session({ batch: 2, capacity: 200 });
    try {
      for (const scale of [0.5, 3]) {
        await Promise.all([a.prefill([cond, guide]), b.prefill([cond, guide])]);
        // 60 greedy steps natively, in two chunks, against the mix done here
        const r1 = await a.generate({ steps: 25, seeds: [1, 2], sampling: { temperature: 0, guidance: scale }, ranges, guide: [1, -1] });
        const r2 = await a.generate({ steps: 35, seeds: [1, 2], sampling: { temperature: 0, guidance: scale }, ranges, guide: [1, -1] });
        const got = [...r1.tokens[0], ...r2.tokens[0]];
        expect([...r1.tokens[1], ...r2.tokens[1]]).toEqual(got); // the guide row is fed the same tokens
        const want = await guidedGreedy(b, scale, 60, levelRange);
        expect(got).toEqual(want);
        expect(a.lengths()).toEqual(b.lengths());
      }
      // Scale 0 is plain sampling of the row (here at temperature 1, so seeds matter too).
      await a.prefill([cond, guide]);
      const plain = await a.generate({ steps: 30, seeds: [7, 8], sampling: { temperature: 1 }, ranges });
      await a.prefill([cond, guide]);
      const zero = await a.generate({ steps: 30, seeds: [7, 8], sampling: { temperature: 1, guidance: 0 }, ranges, guide: [1, -1] });
      expect(Array.from(zero.tokens[0])).toEqual(Array.from(plain.tokens[0]));
      // ... and a strong scale changes what is sampled.
      await a.prefill([cond, guide]);
      const strong = await a.generate({ steps: 30, seeds: [7, 8], sampling: { temperature: 1, guidance: 4 }, ranges, guide: [1, -1] });
      expect(Array.from(strong.tokens[0])).not.toEqual(Array.from(plain.tokens[0]));
      // A row that stops (EOS) stops its guide row with it.
      await a.prefill([cond, guide]);
      const eos = K + 5;
      const stop = await a.generate({ steps: 4, seeds: [1, 2], sampling: { temperature: 1, guidance: 1 }, ranges: { period: 1, ranges: [{ lo: eos, hi: eos + 1 }] }, guide: [1, -1], eos });
      expect(stop.stopped).toEqual([true, true]);
      expect(stop.tokens.map((t) => Array.from(t))).toEqual([[eos], [eos]]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("rejects bad guide rows and scales, naming them", async () => {
    const s = coarse.session({ batch: 3, capacity: 40 });
    try {
      await s.prefill([tokens(5, 1, K), tokens(6, 2, K), tokens(7, 3, K)]);
      const gen = (guide: unknown, guidance: unknown = 1) => errorOf(() => s.generate({ steps: 1, seeds: [1, 2, 3], sampling: { guidance: guidance as number }, guide: guide as number[] }));
      expect((await gen([0, -1, -1])).message).toMatch(/another row's index or -1 for guide/);
      expect((await gen([1, -1])).message).toMatch(/3 entries.*for guide.*length 2/);
      expect((await gen([3, -1, -1])).message).toMatch(/guide/);
      expect((await gen([1, 2, -1])).message).toMatch(/row 1 is a guide row and cannot have a guide row of its own/);
      expect((await gen([2, 2, -1])).message).toMatch(/row 2 is the guide row of both row 0 and row 1/);
      expect((await gen([1, -1, -1], -1)).message).toMatch(/≥ 0 for sampling.guidance/);
      expect((await gen([1, -1, -1], Number.NaN)).message).toMatch(/sampling.guidance/);
      // the session still works
      const ok = await s.generate({ steps: 2, seeds: [1, 2, 3], sampling: { guidance: 1 }, guide: [-1, 0, -1] });
      expect(Array.from(ok.tokens[0])).toEqual(Array.from(ok.tokens[1]));
    } finally {
      s.dispose();
    }
  });

  it("guides each coarse window with the same window without acoustic history", async () => {
    const layout = L();
    // One window: 50 prompt frames of history, 50 new frames; semantic rate 25 Hz.
    const semantic = tokens(50, 4, K);
    const prompt: LevelCodes = { data: tokens(100, 5, C), shape: [2, 50] };
    const got = await lm.generateCoarse({ semantic, semanticStart: 25, acousticPrompt: prompt, frames: 50, seed: 3, sampling: { temperature: 0, guidance: 2 } });
    const codes = emptyCodes(2, 100);
    for (let l = 0; l < 2; l++) codes.data.set(prompt.data.subarray(l * 50, (l + 1) * 50), l * 100);
    const s = coarse.session({ batch: 2, capacity: 260 });
    try {
      await s.prefill([coarsePrompt(layout, semantic, codes, 0, 50), coarsePrompt(layout, semantic.subarray(25, 50), codes, 50, 50)]);
      const want = await guidedGreedy(s, 2, 100, levelRange);
      const gotIds = Array.from({ length: 100 }, (_, i) => K + (i % 2) * C + got[0].data[(i % 2) * 50 + Math.floor(i / 2)]);
      expect(gotIds).toEqual(want);
    } finally {
      s.dispose();
    }
    const plain = await lm.generateCoarse({ semantic, semanticStart: 25, acousticPrompt: prompt, frames: 50, seed: 3, sampling: { temperature: 0 } });
    expect(Array.from(plain[0].data)).not.toEqual(Array.from(got[0].data));
  });

  it("keeps the prompt's first frames, without semantic tokens, in an anchored coarse window", async () => {
    const layout = L();
    // A prompt of 100 frames (50 semantic tokens at 25 Hz), 25 new frames: one window whose 75
    // frames of history are the anchor [0, 20) and frames [45, 100); semantic tokens of [45, 125).
    const semantic = tokens(63, 10, K);
    const prompt: LevelCodes = { data: tokens(200, 11, C), shape: [2, 100] };
    const opts = { semantic, semanticStart: 50, acousticPrompt: prompt, frames: 25, seed: 5, sampling: { temperature: 0 } };
    const [got] = await anchored.generateCoarse(opts);
    const codes = emptyCodes(2, 125);
    for (let l = 0; l < 2; l++) codes.data.set(prompt.data.subarray(l * 100, (l + 1) * 100), l * 125);
    const row = coarsePromptOf(layout, semantic.subarray(22, 63), codes, [[0, 20], [45, 100]]);
    const s = coarse.session({ batch: 2, capacity: 260 });
    try {
      // guidance 0 over two equal rows: plain greedy
      await s.prefill([row, row]);
      const want = await guidedGreedy(s, 0, 50, levelRange);
      const gotIds = Array.from({ length: 50 }, (_, i) => K + (i % 2) * C + got.data[(i % 2) * 25 + Math.floor(i / 2)]);
      expect(gotIds).toEqual(want);
    } finally {
      s.dispose();
    }
    // The same weights without an anchor (hop 50: history [50, 100)) make other frames.
    const [plain] = await lm.generateCoarse(opts);
    expect(Array.from(plain.data)).not.toEqual(Array.from(got.data));
  });

  it("leaves windows without history alone, stays deterministic and batch-independent", async () => {
    // Unconditional: the first window (hop 50 frames) has no history, so no guide row.
    const semantic = tokens(60, 6, K);
    const [g] = await lm.generateCoarse({ semantic, frames: 120, seed: 4, sampling: { guidance: 3 } });
    const [p] = await lm.generateCoarse({ semantic, frames: 120, seed: 4, sampling: { guidance: 0 } });
    const [d] = await lm.generateCoarse({ semantic, frames: 120, seed: 4 });
    const frames = (c: LevelCodes, a: number, b: number) => [0, 1].flatMap((l) => Array.from(c.data.subarray(l * 120 + a, l * 120 + b)));
    expect(frames(g, 0, 50)).toEqual(frames(p, 0, 50));
    expect(frames(g, 50, 120)).not.toEqual(frames(p, 50, 120));
    expect(Array.from(p.data)).toEqual(Array.from(d.data));

    const prompt = Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin(i / 9) + 0.1 * Math.sin(i / 3.1));
    const opts = { prompt, semanticPrompt: tokens(25, 7, K), seconds: 1.5, coarse: { guidance: 1.5 } };
    const [two, again, one] = await Promise.all([
      lm.generate({ ...opts, seed: 30, batchSize: 2 }),
      lm.generate({ ...opts, seed: 30, batchSize: 2 }),
      lm.generate({ ...opts, seed: 31 }),
    ]);
    expect(Array.from(two.tokens.coarse[0].data)).toEqual(Array.from(again.tokens.coarse[0].data));
    expect(Array.from(two.tokens.coarse[1].data)).toEqual(Array.from(one.tokens.coarse[0].data));
    expect(two.audio[1].every(Number.isFinite)).toBe(true);
  });

  it("guides semantic windows with the same window from BOS alone", async () => {
    // One window (hop 32): 20 tokens of history, 12 new ones, greedy.
    const prompt = tokens(20, 9, K);
    const [got] = await lm.generateSemantic({ prompt, count: 12, seed: 5, sampling: { temperature: 0, guidance: 2 } });
    const semantic = await Transformer.load(join(dir, "semantic.safetensors"));
    const s = semantic.session({ batch: 2, capacity: 64 });
    try {
      const bos = K + 1;
      await s.prefill([Int32Array.from([bos, ...prompt]), Int32Array.of(bos)]);
      const want = await guidedGreedy(s, 2, 12, () => [0, K]);
      expect(Array.from(got)).toEqual(want);
    } finally {
      s.dispose();
      await semantic.dispose();
    }
    const [plain] = await lm.generateSemantic({ prompt, count: 12, seed: 5, sampling: { temperature: 0 } });
    expect(Array.from(plain)).not.toEqual(Array.from(got));
    // unconditional: the first window has no history, so guidance leaves it alone
    const [u0] = await lm.generateSemantic({ count: 40, seed: 6, sampling: { guidance: 3 } });
    const [u1] = await lm.generateSemantic({ count: 40, seed: 6 });
    expect(Array.from(u0.subarray(0, 32))).toEqual(Array.from(u1.subarray(0, 32)));
    expect(Array.from(u0.subarray(32))).not.toEqual(Array.from(u1.subarray(32)));
  });

  it("is a semantic- and coarse-stage option only", async () => {
    const msg = async (p: Promise<unknown>) => (await errorOf(() => p)).message;
    expect(await msg(lm.generate({ seconds: 1, fine: { guidance: 1 } }))).toMatch(/semantic and coarse stages only\) for fine.guidance/);
    expect(await msg(lm.generate({ seconds: 1, coarse: { guidance: -2 } }))).toMatch(/≥ 0 for coarse.guidance/);
    const mj = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(() => parseModelJson({ ...mj, sampling: { ...mj.sampling, fine: { guidance: 1 } } })).toThrow(/semantic- and coarse-stage field\) for sampling.fine.guidance/);
    expect(() => parseModelJson({ ...mj, sampling: { ...mj.sampling, coarse: { guidance: "2" } } })).toThrow(/≥ 0 for sampling.coarse.guidance/);
    expect(parseModelJson({ ...mj, sampling: { ...mj.sampling, unconditional: { coarse: { guidance: 0 } } } }).sampling.unconditional.coarse).toEqual({ guidance: 0 });
  });
});
