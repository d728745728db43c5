// Token layouts, window planning and the TypeScript sampler (pure functions, no native code).
import { describe, expect, it } from "vitest";

import { AudioLMError } from "../lib/errors.js";
import { checkComponents, parseModelJson, stageCapacities } from "../lib/models/model-json.js";
import {
  coarseLayout,
  coarseOrigin,
  coarsePrompt,
  coarseRanges,
  coarseWindow,
  counterUniform,
  dedupeConsecutive,
  deriveSeed,
  emptyCodes,
  fineLayout,
  fineOrigin,
  finePrompt,
  fineRanges,
  historyPieces,
  nonCausalInput,
  placeTokens,
  sampleLogits,
  semanticLayout,
  semanticPrompt,
  semanticRanges,
  semanticSpan,
  semanticTokensFor,
  semanticValues,
  sliceLevels,
  windowHistory,
  windowSizes,
  windowSpan,
} from "../lib/models/stages.js";

const K = 32;
const C = 64;

function manifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: "audiolm-node/model@1",
    name: "t",
    components: { codec: "codec.safetensors", semanticTokenizer: null, semantic: "s.safetensors", coarse: "c.safetensors", fine: "f.safetensors" },
    semantic: { codebookSize: K, rate: 25, window: 64 },
    acoustic: { rate: 50, codebookSize: C, coarseLevels: 2, fineLevels: 2 },
    coarse: { window: { acousticFrames: 100 } },
    fine: { mode: "autoregressive", window: { frames: 50, hop: 25 } },
    ...over,
  };
}

function modelError(fn: () => unknown): AudioLMError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AudioLMError);
    expect((err as AudioLMError).code).toBe("ERR_AUDIOLM_INVALID_MODEL");
    return err as AudioLMError;
  }
  throw new Error("expected an error");
}

/** Which level's range a position may sample under a schedule. */
function levelAt(schedule: ReturnType<typeof coarseRanges>, row: number, pos: number): number {
  const P = schedule.period;
  return (((pos - (schedule.origin?.[row] ?? 0)) % P) + P) % P;
}

describe("model.json", () => {
  it("fills the documented defaults", () => {
    const m = parseModelJson(manifest());
    expect(m.family).toBe("audiolm");
    expect(m.semantic.vocab).toEqual({ offset: 0, eos: K, bos: K + 1 });
    expect(m.semantic.hop).toBe(32);
    expect(m.semantic.dedupe).toBe(false);
    expect(m.coarse.vocab).toEqual({ semanticOffset: 0, acousticOffset: K, sep: K + 2 * C, bos: K + 2 * C + 1 });
    expect(m.coarse.window).toEqual({ semanticFrames: 50, acousticFrames: 100, hop: 50, anchor: 0 });
    expect(m.fine!.vocab).toEqual({ coarseOffset: 0, fineOffset: 2 * C, sep: 4 * C, bos: 4 * C + 1 });
    expect(stageCapacities(m)).toEqual({ semantic: 65, coarse: 2 + 50 + 200, fine: 2 + 50 * 4 });
    expect(m.sampling).toEqual({ semantic: {}, coarse: {}, fine: {}, unconditional: {} });
    const anchored = manifest({ coarse: { window: { acousticFrames: 100, hop: 40, anchor: 30 } } });
    expect(parseModelJson(anchored).coarse.window.anchor).toBe(30);
    const tooLong = manifest({ coarse: { window: { acousticFrames: 100, hop: 40, anchor: 31 } } });
    expect(modelError(() => parseModelJson(tooLong)).message).toMatch(/from 0 to 30 for coarse\.window\.anchor/);
    const u = parseModelJson(manifest({ sampling: { coarse: { temperature: 0.6 }, unconditional: { coarse: { temperature: 0.8 } } } }));
    expect(u.sampling.coarse).toEqual({ temperature: 0.6 });
    expect(u.sampling.unconditional).toEqual({ coarse: { temperature: 0.8 } });
  });

  it("names the field that is wrong", () => {
    expect(modelError(() => parseModelJson({ ...manifest(), format: "x" })).message).toMatch(/format/);
    expect(modelError(() => parseModelJson(manifest({ semantic: { codebookSize: K, rate: 0, window: 64 } }))).message).toMatch(/semantic\.rate/);
    expect(modelError(() => parseModelJson(manifest({ semantic: { codebookSize: K, rate: 25, window: 64, hop: 65 } }))).message).toMatch(/semantic\.hop/);
    expect(modelError(() => parseModelJson(manifest({ acoustic: { rate: 50, codebookSize: C, coarseLevels: 0, fineLevels: 2 } }))).message).toMatch(/acoustic\.coarseLevels/);
    expect(modelError(() => parseModelJson(manifest({ fine: { mode: "sideways", window: { frames: 8 } } }))).message).toMatch(/fine\.mode/);
    expect(modelError(() => parseModelJson(manifest({ coarse: { window: { acousticFrames: 100, semanticFrames: 10 } } }))).message).toMatch(/semanticFrames/);
    expect(modelError(() => parseModelJson(manifest({ semantic: { codebookSize: K, rate: 25, window: 64, vocab: { eos: 3 } } }))).message).toMatch(/overlaps/);
    expect(modelError(() => parseModelJson(manifest({ components: { codec: "c", coarse: "" } }))).message).toMatch(/components\.coarse/);
    expect(modelError(() => parseModelJson(manifest({ sampling: { fine: { temperature: -1 } } }))).message).toMatch(/sampling\.fine\.temperature/);
    expect(modelError(() => parseModelJson(manifest({ sampling: { unconditional: { coarse: { topP: 2 } } } }))).message).toMatch(/sampling\.unconditional\.coarse\.topP/);
    expect(modelError(() => parseModelJson(manifest({ sampling: { unconditional: { acoustic: {} } } }))).message).toMatch(/sampling\.unconditional\.acoustic/);
    expect(modelError(() => parseModelJson(manifest({ acoustic: { rate: 50, codebookSize: C, coarseLevels: 2, fineLevels: 0 } }))).message).toMatch(/fineLevels/);
  });

  it("checks components against the layout", () => {
    const m = parseModelJson(manifest());
    const tf = (vocab: number, extra: Record<string, unknown> = {}) =>
      ({ family: "transformer", vocabSize: vocab, outputSize: vocab, dim: 8, layers: 1, heads: 1, kvHeads: 1, headDim: 8, ffDim: 8, causal: true, position: "t5", maxPositions: 2048, crossAttention: false, contextDim: 8, inputCodebooks: 1, outputHeads: 1, ...extra }) as never;
    const codec = { frameRate: 50, codebookSize: C, numQuantizers: 4 };
    const ok = { codec, semantic: tf(K + 2), coarse: tf(K + 2 * C + 2), fine: tf(4 * C + 2) };
    checkComponents(m, ok);
    expect(modelError(() => checkComponents(m, { ...ok, codec: { ...codec, frameRate: 75 } })).message).toMatch(/acoustic\.rate/);
    expect(modelError(() => checkComponents(m, { ...ok, codec: { ...codec, segmented: true } })).message).toMatch(/scaled segments/);
    expect(modelError(() => checkComponents(m, { ...ok, codec: { ...codec, channels: 2 } })).message).toMatch(/mono codec/);
    expect(modelError(() => checkComponents(m, { ...ok, coarse: tf(100) })).message).toMatch(/coarse stage's vocabSize/);
    expect(modelError(() => checkComponents(m, { ...ok, fine: tf(4 * C + 2, { causal: false }) })).message).toMatch(/fine stage must be causal/);
    expect(modelError(() => checkComponents(m, { ...ok, semantic: tf(K + 2, { position: "learned", maxPositions: 32 }) })).message).toMatch(/positions/);
  });
});

describe("windows", () => {
  it("advance by hop with the rest as history", () => {
    expect(windowSizes(100, 32)).toEqual([32, 32, 32, 4]);
    expect(windowSizes(0, 32)).toEqual([]);
    expect(windowHistory(0, 64, 32)).toBe(0);
    expect(windowHistory(10, 64, 32)).toBe(10);
    expect(windowHistory(500, 64, 32)).toBe(32);
    expect(windowHistory(500, 64, 64)).toBe(0);
    expect(windowSpan(120, 32, 64, 32)).toEqual({ start: 88, known: 120, end: 152 });
  });

  it("never exceed the window", () => {
    for (const [W, hop] of [[64, 32], [10, 3], [5, 5]]) {
      let known = 7;
      for (const n of windowSizes(100, hop)) {
        const s = windowSpan(known, n, W, hop);
        expect(s.end - s.start).toBeLessThanOrEqual(W);
        known += n;
      }
    }
  });

  it("keep an anchor of the prompt's first frames once they would leave the window", () => {
    // Window 100, hop 25: 75 frames of history.
    expect(historyPieces(windowSpan(60, 25, 100, 25), 20)).toEqual([[0, 60]]);
    expect(historyPieces(windowSpan(100, 25, 100, 25), 20)).toEqual([[0, 20], [45, 100]]);
    expect(historyPieces(windowSpan(300, 25, 100, 25), 20)).toEqual([[0, 20], [245, 300]]);
    expect(historyPieces(windowSpan(300, 25, 100, 25), 0)).toEqual([[225, 300]]);
    // A guide window (no history) stays empty.
    expect(historyPieces({ start: 300, known: 300, end: 325 }, 20)).toEqual([[300, 300]]);
    for (const known of [80, 100, 101, 150, 400]) {
      const span = windowSpan(known, 25, 100, 25);
      const pieces = historyPieces(span, 30);
      expect(pieces.reduce((n, [a, b]) => n + b - a, 0)).toBe(span.known - span.start);
      expect(pieces[pieces.length - 1][1]).toBe(known);
    }
  });

  it("give an anchored coarse window the semantic tokens of its latest frames only", () => {
    // A prompt of 100 frames (50 semantic tokens at 25 Hz), then 13 generated tokens.
    const al = { semanticAt: 50, frameAt: 100, semanticRate: 25, acousticRate: 50 };
    expect(coarseWindow(al, windowSpan(100, 25, 100, 25), 20, 63, 50)).toEqual({ history: [[0, 20], [45, 100]], semantic: { from: 22, to: 63 } });
    // Without an anchor: frames [25, 125) span tokens [12, 63), cut to the latest 50.
    expect(coarseWindow(al, windowSpan(100, 25, 100, 25), 0, 63, 50)).toEqual({ history: [[25, 100]], semantic: { from: 13, to: 63 } });
    // The anchor is the prompt's: never longer than it, none without one.
    const short = { ...al, semanticAt: 5, frameAt: 10 };
    expect(coarseWindow(short, windowSpan(110, 25, 100, 25), 20, 100, 50).history).toEqual([[0, 10], [45, 110]]);
    const none = { ...al, semanticAt: 0, frameAt: 0 };
    expect(coarseWindow(none, windowSpan(110, 25, 100, 25), 20, 100, 50).history).toEqual([[35, 110]]);
  });

  it("line semantic tokens up with acoustic frames", () => {
    const al = { semanticAt: 0, frameAt: 0, semanticRate: 25, acousticRate: 50 };
    expect(semanticSpan(al, 0, 100, 1000, 50)).toEqual({ from: 0, to: 50 });
    expect(semanticSpan(al, 50, 150, 1000, 50)).toEqual({ from: 25, to: 75 });
    expect(semanticSpan(al, 51, 150, 1000, 50)).toEqual({ from: 25, to: 75 });
    expect(semanticSpan(al, 150, 200, 60, 50)).toEqual({ from: 60, to: 60 });
    // A prompt of 40 semantic tokens and 60 acoustic frames: they meet at the prompt's end.
    const cont = { semanticAt: 40, frameAt: 60, semanticRate: 25, acousticRate: 50 };
    expect(semanticSpan(cont, 10, 110, 500, 50)).toEqual({ from: 15, to: 65 });
    expect(semanticSpan(cont, 0, 100, 500, 50)).toEqual({ from: 10, to: 60 });
    // Cut to `max`, keeping the latest tokens.
    expect(semanticSpan(al, 0, 100, 1000, 40)).toEqual({ from: 10, to: 50 });
    expect(semanticTokensFor(200, 25, 50)).toBe(100);
    expect(semanticTokensFor(201, 25, 50)).toBe(101);
    expect(semanticTokensFor(3, 50, 75)).toBe(2);
  });
});

describe("semantic layout", () => {
  const m = parseModelJson(manifest());
  const L = semanticLayout(m);

  it("starts with BOS and samples only semantic ids", () => {
    expect(Array.from(semanticPrompt(L, Int32Array.from([3, 4])))).toEqual([K + 1, 3, 4]);
    expect(semanticRanges(L)).toEqual({ period: 1, ranges: [{ lo: 0, hi: K }] });
    expect(Array.from(semanticValues(L, Int32Array.from([0, 31])))).toEqual([0, 31]);
    expect(() => semanticValues(L, Int32Array.from([K]))).toThrow(/outside/);
  });

  it("dedupes consecutive duplicates, across a boundary too", () => {
    expect(Array.from(dedupeConsecutive(Int32Array.from([1, 1, 2, 2, 2, 1, 3, 3])))).toEqual([1, 2, 1, 3]);
    expect(Array.from(dedupeConsecutive(Int32Array.from([5, 5, 6]), 5))).toEqual([6]);
    expect(Array.from(dedupeConsecutive(new Int32Array(0)))).toEqual([]);
  });
});

describe("coarse layout", () => {
  const L = coarseLayout(parseModelJson(manifest()));

  it("flattens history frame-major after BOS, semantic and SEP", () => {
    const codes = emptyCodes(4, 3);
    codes.data.set([1, 2, 3], 0); // level 0
    codes.data.set([4, 5, 6], 3); // level 1
    const p = coarsePrompt(L, Int32Array.from([7, 8]), codes, 1, 3);
    expect(Array.from(p)).toEqual([L.bos, 7, 8, L.sep, K + 2, K + C + 5, K + 3, K + C + 6]);
    expect(coarseOrigin(2)).toBe(4);
    expect(() => coarsePrompt(L, new Int32Array(0), emptyCodes(4, 2), 0, 1)).toThrow(/unknown/);
  });

  it("cycles through the levels' ranges from the origin", () => {
    const s = coarseRanges(L, [4, 9]);
    expect(s.period).toBe(2);
    expect(s.ranges).toEqual([{ lo: K, hi: K + C }, { lo: K + C, hi: K + 2 * C }]);
    // Row 0 with 2 semantic tokens and 3 history frames: the first generated token (position 4 + 6) is level 0.
    expect(levelAt(s, 0, 4 + 6)).toBe(0);
    expect(levelAt(s, 0, 4 + 7)).toBe(1);
    expect(levelAt(s, 1, 9)).toBe(0);
    expect(levelAt(s, 1, 12)).toBe(1);
  });

  it("places generated ids at their frame and level, resuming mid-frame", () => {
    const codes = emptyCodes(4, 4);
    placeTokens(codes, Int32Array.from([K + 9, K + C + 10, K + 11]), 0, 2, 2, 0, K, C);
    placeTokens(codes, Int32Array.from([K + C + 12]), 3, 2, 2, 0, K, C);
    expect(Array.from(sliceLevels(codes, 0, 2).data)).toEqual([-1, -1, 9, 11, -1, -1, 10, 12]);
    expect(() => placeTokens(codes, Int32Array.from([K + 1]), 1, 2, 2, 0, K, C)).toThrow(/range/);
  });
});

describe("fine layout", () => {
  const L = fineLayout(parseModelJson(manifest()));

  it("puts the whole window's coarse codes before SEP and the fine history after", () => {
    const codes = emptyCodes(4, 3);
    codes.data.set([1, 2, 3, 4, 5, 6, 7, 8, -1, 9, 10, -1]);
    const p = finePrompt(L, codes, 0, 2, 3);
    expect(Array.from(p)).toEqual([L.bos, 1, C + 4, 2, C + 5, 3, C + 6, L.sep, 2 * C + 7, 3 * C + 9, 2 * C + 8, 3 * C + 10]);
    expect(fineOrigin(L, 3)).toBe(8);
    const s = fineRanges(L, [8]);
    expect(s.ranges).toEqual([{ lo: 2 * C, hi: 3 * C }, { lo: 3 * C, hi: 4 * C }]);
    expect(levelAt(s, 0, 8 + 2 * 2)).toBe(0);
    placeTokens(codes, Int32Array.from([2 * C + 11, 3 * C + 12]), 0, 2, 2, 2, 2 * C, C);
    expect(Array.from(codes.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 11, 9, 10, 12]);
  });

  it("gives a non-causal pass the codebooks below its level", () => {
    const codes = emptyCodes(4, 3);
    codes.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1]);
    expect(Array.from(nonCausalInput(codes, 1, 3, 2, 4))).toEqual([2, 5, -1, -1, 3, 6, -1, -1]);
    expect(Array.from(nonCausalInput(codes, 0, 1, 3, 4))).toEqual([1, 4, 7, -1]);
    codes.data[2 * 3 + 2] = -1;
    expect(() => nonCausalInput(codes, 0, 3, 3, 4)).toThrow(/unknown/);
  });
});

describe("seeds and the TypeScript sampler", () => {
  it("derives stable, distinct seeds", () => {
    expect(deriveSeed(1, 2, 3)).toBe(deriveSeed(1, 2, 3));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(1, 2, 4));
    expect(deriveSeed(1, 2, 3)).not.toBe(deriveSeed(2, 2, 3));
    expect(Number.isSafeInteger(deriveSeed(2 ** 53 - 1, 7))).toBe(true);
    const u = Array.from({ length: 1000 }, (_, i) => counterUniform(5, i));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(u.reduce((a, b) => a + b) / u.length).toBeCloseTo(0.5, 1);
  });

  it("follows temperature, top-k and top-p", () => {
    const logits = Float32Array.from([0, 3, 1, 3, -1, 2]);
    expect(sampleLogits(logits, 0, 6, { temperature: 0 }, 0.99)).toBe(1); // ties: lowest id
    expect(sampleLogits(logits, 2, 6, { temperature: 0 }, 0.5)).toBe(3);
    expect(sampleLogits(logits, 0, 6, { temperature: 1, topK: 1 }, 0.99)).toBe(1);
    expect(sampleLogits(logits, 0, 6, { temperature: 1, topK: 2 }, 0.99)).toBe(3);
    expect(sampleLogits(logits, 0, 6, { temperature: 1 }, 0)).toBe(1);
    expect(sampleLogits(logits, 0, 6, { temperature: 1, topP: 0.5 }, 0.99)).toBe(3);
    // A uniform draw lands on each id with its softmax probability.
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 20000; i++) counts[sampleLogits(logits, 0, 6, { temperature: 1 }, counterUniform(9, i))]++;
    const z = [0, 3, 1, 3, -1, 2].reduce((a, x) => a + Math.exp(x), 0);
    for (let i = 0; i < 6; i++) expect(counts[i] / 20000).toBeCloseTo(Math.exp([0, 3, 1, 3, -1, 2][i]) / z, 1);
  });
});
