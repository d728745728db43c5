/**
 * Token layouts and window planning of the three AudioLM stages, as pure functions (no native
 * calls), so that what goes into each transformer call can be tested on its own.
 *
 * Layouts (docs/model-format.md): each stage has one vocabulary with offsets.
 *   semantic: [BOS, s…]                         s ↦ offset + s; EOS/BOS after them
 *   coarse:   [BOS, s…, SEP, a(f0,l0), a(f0,l1), …]   a(l, c) ↦ acousticOffset + l·C + c
 *   fine:     [BOS, coarse(f,l<Q')…, SEP, fine(f,l≥Q')…]  frame-major, per-level offsets
 * At each generated position only the current level's range may be sampled (a RangeSchedule).
 *
 * Windows: every stage advances all rows of a batch in lockstep by `hop` new items per window;
 * a window starts with `min(known, window − hop)` items of history (the prompt, then earlier
 * output). A row's plan therefore depends only on its own prompt length, never on the batch.
 */
import { AudioLMError } from "../errors.js";
import type { ModelConfig } from "./model-json.js";
import type { RangeSchedule, SamplingOptions } from "./transformer-types.js";

/** Codes of one item, level-major: `data[l · frames + f]`; -1 where not known yet. */
export interface LevelCodes {
  data: Int32Array;
  shape: [levels: number, frames: number];
}

/** Makes an all-unknown (-1) code grid. */
export function emptyCodes(levels: number, frames: number): LevelCodes {
  return { data: new Int32Array(levels * frames).fill(-1), shape: [levels, frames] };
}

/** Levels [from, to) of `codes` as a new grid (frames unchanged). */
export function sliceLevels(codes: LevelCodes, from: number, to: number, frameFrom = 0, frameTo = codes.shape[1]): LevelCodes {
  const T = codes.shape[1];
  const n = frameTo - frameFrom;
  const out = new Int32Array((to - from) * n);
  for (let l = from; l < to; l++) out.set(codes.data.subarray(l * T + frameFrom, l * T + frameTo), (l - from) * n);
  return { data: out, shape: [to - from, n] };
}

// ---------------------------------------------------------------------------------------------
// Windows

/** History items a window starts with: as many known items as fit beside `hop` new ones. */
export function windowHistory(known: number, window: number, hop: number): number {
  return Math.max(0, Math.min(known, window - hop));
}

/** New items per window to make `total` items with `hop` per window: [hop, hop, …, rest]. */
export function windowSizes(total: number, hop: number): number[] {
  const out: number[] = [];
  for (let done = 0; done < total; done += hop) out.push(Math.min(hop, total - done));
  return out;
}

/** One window of one row: items [start, known) are history, [known, end) are made in it. */
export interface WindowSpan {
  start: number;
  known: number;
  end: number;
}

/** The span of a row's window when `known` items exist and `count` new ones are to be made. */
export function windowSpan(known: number, count: number, window: number, hop: number): WindowSpan {
  const h = windowHistory(known, window, hop);
  return { start: known - h, known, end: known + count };
}

/**
 * The history of a window as frame ranges. Once a window no longer starts at frame 0, an anchor
 * of `anchor` frames keeps the first frames (the prompt's) in it: [0, anchor) then the latest
 * frames [start + anchor, known), so the history keeps its length. Without one: [start, known).
 */
export function historyPieces(span: WindowSpan, anchor: number): Array<[number, number]> {
  if (anchor <= 0 || span.start === 0 || span.start + anchor >= span.known) return [[span.start, span.known]];
  return [
    [0, anchor],
    [span.start + anchor, span.known],
  ];
}

// ---------------------------------------------------------------------------------------------
// Semantic stage

/** The semantic stage's vocabulary. */
export interface SemanticLayout {
  codebookSize: number;
  offset: number;
  eos: number;
  bos: number;
}

/** The semantic layout of a model. */
export function semanticLayout(m: ModelConfig): SemanticLayout {
  return { codebookSize: m.semantic.codebookSize, ...m.semantic.vocab };
}

/** The prompt of a semantic window: BOS then the history tokens (raw values in [0, K)). */
export function semanticPrompt(layout: SemanticLayout, history: Int32Array): Int32Array {
  const out = new Int32Array(history.length + 1);
  out[0] = layout.bos;
  for (let i = 0; i < history.length; i++) out[i + 1] = layout.offset + history[i];
  return out;
}

/** Only semantic tokens may be sampled (never EOS: the length is fixed by the request). */
export function semanticRanges(layout: SemanticLayout): RangeSchedule {
  return { period: 1, ranges: [{ lo: layout.offset, hi: layout.offset + layout.codebookSize }] };
}

/** Generated semantic-stage ids back to raw semantic tokens. */
export function semanticValues(layout: SemanticLayout, ids: Int32Array): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i] - layout.offset;
    if (v < 0 || v >= layout.codebookSize) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `semantic stage produced id ${ids[i]} outside its range`);
    out[i] = v;
  }
  return out;
}

/**
 * Removes consecutive duplicates (like `torch.unique_consecutive`). `previous` is the token that
 * precedes the array (so that a duplicate across a chunk boundary is removed too), or -1.
 */
export function dedupeConsecutive(tokens: Int32Array, previous = -1): Int32Array {
  const out: number[] = [];
  let prev = previous;
  for (const t of tokens) {
    if (t !== prev) out.push(t);
    prev = t;
  }
  return Int32Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Time alignment of semantic tokens and acoustic frames

/**
 * How a row's semantic tokens line up with its acoustic frames: semantic index `semanticAt`
 * and acoustic frame `frameAt` are the same instant (the end of the prompt), and the rates
 * convert distances.
 */
export interface Alignment {
  semanticAt: number;
  frameAt: number;
  semanticRate: number;
  acousticRate: number;
}

/**
 * Semantic tokens [from, to) that cover acoustic frames [a0, a1), clamped to [0, length) and cut
 * to at most `max` tokens (dropping the earliest).
 */
export function semanticSpan(al: Alignment, a0: number, a1: number, length: number, max: number): { from: number; to: number } {
  const r = al.semanticRate / al.acousticRate;
  let from = Math.floor(al.semanticAt + (a0 - al.frameAt) * r + 1e-9);
  let to = Math.ceil(al.semanticAt + (a1 - al.frameAt) * r - 1e-9);
  from = Math.min(Math.max(from, 0), length);
  to = Math.min(Math.max(to, from), length);
  if (to - from > max) from = to - max;
  return { from, to };
}

/** Semantic tokens needed after the prompt so that `frames` generated frames are covered. */
export function semanticTokensFor(frames: number, semanticRate: number, acousticRate: number): number {
  return Math.ceil((frames * semanticRate) / acousticRate - 1e-9);
}

/**
 * What a coarse window holds: its history frames (historyPieces with an anchor of the prompt's
 * first `anchor` frames) and the semantic tokens [from, to) of the frames from the last piece's
 * start to the window's end. An anchor has no semantic tokens: the window then has the layout of
 * acoustic mode, a voice prompt followed by frames with their semantic tokens.
 */
export function coarseWindow(
  al: Alignment,
  span: WindowSpan,
  anchor: number,
  semanticLength: number,
  maxSemantic: number,
): { history: Array<[number, number]>; semantic: { from: number; to: number } } {
  const history = historyPieces(span, Math.min(anchor, al.frameAt));
  const semantic = semanticSpan(al, history[history.length - 1][0], span.end, semanticLength, maxSemantic);
  return { history, semantic };
}

// ---------------------------------------------------------------------------------------------
// Coarse stage

/** The coarse stage's vocabulary. */
export interface CoarseLayout {
  /** K */
  semanticSize: number;
  /** C */
  codebookSize: number;
  /** Q' */
  levels: number;
  semanticOffset: number;
  acousticOffset: number;
  sep: number;
  bos: number;
}

/** The coarse layout of a model. */
export function coarseLayout(m: ModelConfig): CoarseLayout {
  return { semanticSize: m.semantic.codebookSize, codebookSize: m.acoustic.codebookSize, levels: m.acoustic.coarseLevels, ...m.coarse.vocab };
}

/**
 * The prompt of a coarse window: BOS, the window's semantic tokens, SEP, then the coarse codes
 * of history frames [start, known) flattened frame-major (frame start level 0, level 1, …).
 */
export function coarsePrompt(layout: CoarseLayout, semantic: Int32Array, codes: LevelCodes, start: number, known: number): Int32Array {
  return coarsePromptOf(layout, semantic, codes, [[start, known]]);
}

/** {@link coarsePrompt} whose history is the frames of several ranges, in order. */
export function coarsePromptOf(layout: CoarseLayout, semantic: Int32Array, codes: LevelCodes, history: Array<[number, number]>): Int32Array {
  const Q = layout.levels;
  const C = layout.codebookSize;
  const T = codes.shape[1];
  const frames = history.reduce((n, [a, b]) => n + b - a, 0);
  const out = new Int32Array(2 + semantic.length + frames * Q);
  out[0] = layout.bos;
  for (let i = 0; i < semantic.length; i++) out[1 + i] = layout.semanticOffset + semantic[i];
  out[1 + semantic.length] = layout.sep;
  let p = 2 + semantic.length;
  for (const [start, known] of history) {
    for (let f = start; f < known; f++) {
      for (let l = 0; l < Q; l++) {
        const c = codes.data[l * T + f];
        if (c < 0 || c >= C) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `coarse history frame ${f} level ${l} is unknown`);
        out[p++] = layout.acousticOffset + l * C + c;
      }
    }
  }
  return out;
}

/** Position of the first coarse token (level 0 of the first frame) in a coarse prompt. */
export function coarseOrigin(semanticLength: number): number {
  return 2 + semanticLength;
}

/** Level l (the position's offset from `origin`, mod Q') may only sample its own C ids. */
export function coarseRanges(layout: CoarseLayout, origins: number[]): RangeSchedule {
  const C = layout.codebookSize;
  const ranges = Array.from({ length: layout.levels }, (_, l) => ({ lo: layout.acousticOffset + l * C, hi: layout.acousticOffset + (l + 1) * C }));
  return { period: layout.levels, ranges, origin: [...origins] };
}

/**
 * Writes generated stage ids into a code grid. `index` is the number of tokens of the window
 * already placed: token i lands at frame `frame0 + ⌊i / period⌋`, level `firstLevel + i mod
 * period`, code `id − offset − (i mod period)·C`.
 */
export function placeTokens(
  codes: LevelCodes,
  ids: Int32Array,
  index: number,
  frame0: number,
  period: number,
  firstLevel: number,
  offset: number,
  codebookSize: number,
): void {
  const T = codes.shape[1];
  for (let j = 0; j < ids.length; j++) {
    const i = index + j;
    const k = i % period;
    const f = frame0 + Math.floor(i / period);
    const c = ids[j] - offset - k * codebookSize;
    if (c < 0 || c >= codebookSize || f >= T) {
      throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `token ${ids[j]} at step ${i} is outside level ${firstLevel + k}'s range`);
    }
    codes.data[(firstLevel + k) * T + f] = c;
  }
}

// ---------------------------------------------------------------------------------------------
// Fine stage

/** The fine stage's vocabulary (autoregressive mode; non-causal mode uses raw codes). */
export interface FineLayout {
  codebookSize: number;
  /** Q' */
  coarseLevels: number;
  /** Q − Q' */
  fineLevels: number;
  coarseOffset: number;
  fineOffset: number;
  sep: number;
  bos: number;
}

/** The fine layout of a model (which must have a fine stage). */
export function fineLayout(m: ModelConfig): FineLayout {
  if (!m.fine) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", "the model has no fine stage");
  return { codebookSize: m.acoustic.codebookSize, coarseLevels: m.acoustic.coarseLevels, fineLevels: m.acoustic.fineLevels, ...m.fine.vocab };
}

/**
 * The prompt of an autoregressive fine window: BOS, coarse codes of frames [start, end)
 * flattened frame-major, SEP, then the fine codes of history frames [start, known).
 */
export function finePrompt(layout: FineLayout, codes: LevelCodes, start: number, known: number, end: number): Int32Array {
  const { coarseLevels: Qc, fineLevels: Qf, codebookSize: C } = layout;
  const T = codes.shape[1];
  const out = new Int32Array(2 + (end - start) * Qc + (known - start) * Qf);
  out[0] = layout.bos;
  let p = 1;
  const get = (l: number, f: number) => {
    const c = codes.data[l * T + f];
    if (c < 0 || c >= C) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `fine window needs frame ${f} level ${l}, which is unknown`);
    return c;
  };
  for (let f = start; f < end; f++) for (let l = 0; l < Qc; l++) out[p++] = layout.coarseOffset + l * C + get(l, f);
  out[p++] = layout.sep;
  for (let f = start; f < known; f++) for (let l = 0; l < Qf; l++) out[p++] = layout.fineOffset + l * C + get(Qc + l, f);
  return out;
}

/** Position of the first fine token in a fine prompt over `frames` coarse frames. */
export function fineOrigin(layout: FineLayout, frames: number): number {
  return 2 + frames * layout.coarseLevels;
}

/** Fine level Q'+k (position offset from `origin`, mod Q−Q' = k) may only sample its own C ids. */
export function fineRanges(layout: FineLayout, origins: number[]): RangeSchedule {
  const C = layout.codebookSize;
  const ranges = Array.from({ length: layout.fineLevels }, (_, k) => ({ lo: layout.fineOffset + k * C, hi: layout.fineOffset + (k + 1) * C }));
  return { period: layout.fineLevels, ranges, origin: [...origins] };
}

/**
 * The input of one non-causal fine pass: frames [start, end) × `levels` codebooks frame-major,
 * with codebooks 0 … level−1 given and the others -1 (the pass predicts `level`).
 */
export function nonCausalInput(codes: LevelCodes, start: number, end: number, level: number, levels: number): Int32Array {
  const T = codes.shape[1];
  const out = new Int32Array((end - start) * levels).fill(-1);
  for (let f = start; f < end; f++) {
    for (let l = 0; l < level; l++) {
      const c = codes.data[l * T + f];
      if (c < 0) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `fine pass for level ${level} needs frame ${f} level ${l}, which is unknown`);
      out[(f - start) * levels + l] = c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Seeds and the TypeScript sampler (for the non-causal fine stage, whose logits come back to JS)

const M64 = (1n << 64n) - 1n;

function splitmix64(x: bigint): bigint {
  let z = (x + 0x9e3779b97f4a7c15n) & M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

function mix(seed: number, parts: number[]): bigint {
  let h = splitmix64(BigInt(seed));
  for (const p of parts) h = splitmix64(h ^ BigInt(p));
  return h;
}

/**
 * A seed in [0, 2^53) derived from a row seed and a path (stage, window, …): each window of each
 * stage draws from its own stream, and the same inputs always give the same seed.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  return Number(mix(seed, parts) >> 11n);
}

/** A uniform number in [0, 1) that depends only on the seed and the counters (counter-based RNG). */
export function counterUniform(seed: number, ...counters: number[]): number {
  return Number(mix(seed, counters) >> 11n) / 2 ** 53;
}

/**
 * Samples one id from `logits[lo, hi)`: greedy (first maximum) when temperature is 0, else the
 * temperature softmax restricted to the top-k ids and then to the smallest set whose probability
 * reaches top-p, drawn by inverse CDF with `u` ∈ [0, 1) over ids sorted by probability.
 */
export function sampleLogits(logits: Float32Array, lo: number, hi: number, opts: SamplingOptions, u: number): number {
  const temperature = opts.temperature ?? 1;
  if (temperature === 0) {
    let best = lo;
    for (let i = lo + 1; i < hi; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const n = hi - lo;
  const order = Array.from({ length: n }, (_, i) => lo + i).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, n) : n;
  const max = logits[order[0]];
  const p = new Float64Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += p[i] = Math.exp((logits[order[i]] - max) / temperature);
  let keep = k;
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let acc = 0;
    for (let i = 0; i < k; i++) {
      acc += p[i] / sum;
      if (acc >= topP) {
        keep = i + 1;
        break;
      }
    }
  }
  let total = 0;
  for (let i = 0; i < keep; i++) total += p[i];
  let target = u * total;
  for (let i = 0; i < keep; i++) {
    target -= p[i];
    if (target < 0) return order[i];
  }
  return order[keep - 1];
}
