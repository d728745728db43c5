/**
 * Bark (suno-ai/bark) three-stage generation over components written by `convertBark`
 * (lib/convert/bark.ts): text ids → semantic tokens → two coarse EnCodec codebooks → all fine
 * codebooks → audio (when the directory holds an EnCodec `codec.safetensors`). The stages follow
 * the semantics of Bark's generation.py (its context layout, token offsets, sliding windows and
 * stopping rules), so that with deterministic sampling the tokens match the reference's.
 *
 * Cost notes: the semantic stage with `minEosP` (the reference's default 0.2) needs the EOS
 * probability of every step, which our native sampling loop does not report, and the reference
 * takes top-p before top-k on the untempered probabilities, where our native sampler takes it
 * after; so these runs sample each token here from the session's next-token logits (KV-cached,
 * `extend`/`nextLogits`). With `minEosP: null` and no top-p, the native loop runs. The coarse stage runs one KV-
 * cached session per sliding window (the reference recomputes the window each step; same logits).
 * The fine stage runs one non-causal pass per predicted codebook and 1024-frame window.
 */
import { existsSync, readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { join } from "node:path";

import { Codec } from "./codec.js";
import { AudioLMError, invalidArgument } from "../errors.js";
import { type NpyArray, npyToInt32, readNpz } from "../formats/npy.js";
import { type LoadOptions } from "../native/options.js";
import { counterUniform, deriveSeed } from "./stages.js";
import { Transformer } from "./transformer.js";
import { WordPieceTokenizer, normalizeBarkText } from "./wordpiece.js";

export type * from "./bark-types.js";
import type { BarkCodes, BarkConstants, BarkGenerateOptions, BarkGenerateResult, BarkSamplingOptions, BarkVoice, CoarseOptions, FineOptions, SemanticOptions } from "./bark-types.js";

const CONSTANT_KEYS: (keyof BarkConstants)[] = [
  "semanticVocabSize", "semanticPadToken", "semanticInferToken", "textEncodingOffset", "textPadToken", "codebookSize",
  "nCoarseCodebooks", "nFineCodebooks", "coarseSemanticPadToken", "coarseInferToken", "semanticRateHz", "coarseRateHz",
];

const TEXT_CONTEXT = 256;
const FINE_WINDOW = 1024;
const FINE_HOP = 512;

function badModel(msg: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", msg);
}

/** Python's round(): half to even. */
function pyRound(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkTokens(name: string, t: unknown, lo: number, hi: number, allowEmpty = false): Int32Array {
  if (!(t instanceof Int32Array)) invalidArgument(name, "an Int32Array", t);
  if (!allowEmpty && t.length === 0) invalidArgument(name, "a non-empty Int32Array", t);
  for (let i = 0; i < t.length; i++) {
    if (t[i] < lo || t[i] >= hi) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected ids in [${lo}, ${hi}) for ${name} but ${name}[${i}] is ${t[i]}`);
  }
  return t;
}

function checkCodes(name: string, c: unknown, rows: number | [number, number], hi: number): BarkCodes {
  const codes = c as BarkCodes;
  if (!codes || typeof codes !== "object" || !(codes.data instanceof Int32Array) || !Array.isArray(codes.shape) || codes.shape.length !== 2) {
    invalidArgument(name, "{ data: Int32Array, shape: [codebooks, frames] }", c);
  }
  const [q, t] = codes.shape;
  const [qlo, qhi] = typeof rows === "number" ? [rows, rows] : rows;
  if (!Number.isInteger(q) || q < qlo || q > qhi || !Number.isInteger(t) || t < 0 || codes.data.length !== q * t) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected ${name} of shape [${qlo === qhi ? qlo : `${qlo}…${qhi}`}, frames] matching its data but received shape [${codes.shape}] with ${codes.data.length} values`);
  }
  checkTokens(`${name}.data`, codes.data, 0, hi, true);
  return codes;
}

function samplingOf(o: BarkSamplingOptions, name: string, defTemp: number): { temperature: number; topK: number; topP: number; seed: number } {
  const temperature = o.temperature ?? defTemp;
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  const seed = o.seed ?? randomInt(0, 2 ** 31);
  if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature)) invalidArgument(`${name}.temperature`, "a number ≥ 0", temperature);
  if (!Number.isInteger(topK) || topK < 0) invalidArgument(`${name}.topK`, "an integer ≥ 0", topK);
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) invalidArgument(`${name}.topP`, "a number in (0, 1]", topP);
  if (!Number.isSafeInteger(seed) || seed < 0) invalidArgument(`${name}.seed`, "a non-negative safe integer", seed);
  return { temperature, topK, topP, seed };
}

/**
 * Probabilities over `logits` as the reference computes them: top-p (nucleus over the sorted
 * softmax, the first token always kept), then top-k (ties with the k-th kept), then softmax at the
 * temperature (temperature 0: one-hot at the first maximum).
 */
function barkProbs(logits: ArrayLike<number>, temperature: number, topK: number, topP: number): Float64Array {
  const n = logits.length;
  const l = Float64Array.from(logits);
  if (topP < 1) {
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => l[b] - l[a] || a - b);
    const max = l[order[0]];
    let sum = 0;
    for (const i of order) sum += Math.exp(l[i] - max);
    let cum = 0;
    let prevOver = false;
    for (let j = 0; j < n; j++) {
      const i = order[j];
      if (j > 0 && prevOver) l[i] = -Infinity;
      cum += Math.exp(logits[i] - max) / sum;
      prevOver = cum > topP;
    }
  }
  if (topK > 0 && topK < n) {
    const kth = Array.from(l).sort((a, b) => b - a)[topK - 1];
    for (let i = 0; i < n; i++) if (l[i] < kth) l[i] = -Infinity;
  }
  const p = new Float64Array(n);
  if (temperature === 0) {
    p[argmax(l)] = 1;
    return p;
  }
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, l[i] / temperature);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i] = l[i] === -Infinity ? 0 : Math.exp(l[i] / temperature - max);
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

function argmax(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (a[i] > a[best]) best = i;
  return best;
}

function draw(p: Float64Array, u: number): number {
  let cum = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    last = i;
    cum += p[i];
    if (u < cum) return i;
  }
  return last;
}

/** Reads Bark's voice .npz (semantic_prompt [S], coarse_prompt [2, T], fine_prompt [8, T]). */
export async function readBarkVoice(path: string): Promise<BarkVoice> {
  if (typeof path !== "string" || path.length === 0) invalidArgument("voice", "a path to a .npz", path);
  const arrays = await readNpz(path);
  const get = (name: string, rank: number): NpyArray => {
    const a = arrays.get(name);
    if (!a) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${path} has no ${name} (a Bark voice holds semantic_prompt, coarse_prompt and fine_prompt)`);
    if (a.shape.length !== rank) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${path}: ${name} must have ${rank} dimensions but has shape [${a.shape}]`);
    return a;
  };
  const codes = (name: string): BarkCodes => {
    const a = get(name, 2);
    return { data: npyToInt32(a, `${path} ${name}`), shape: [a.shape[0], a.shape[1]] };
  };
  return { semantic: npyToInt32(get("semantic_prompt", 1), `${path} semantic_prompt`), coarse: codes("coarse_prompt"), fine: codes("fine_prompt") };
}

/** A loaded Bark model: semantic, coarse and fine transformers, and optionally the codec. */
export class BarkModel {
  readonly constants: BarkConstants;
  readonly semantic: Transformer;
  readonly coarse: Transformer;
  readonly fine: Transformer;
  readonly codec: Codec | null;
  /** The text tokenizer (vocab.txt beside bark.json), or null when the directory has none. */
  readonly tokenizer: WordPieceTokenizer | null;

  private constructor(constants: BarkConstants, semantic: Transformer, coarse: Transformer, fine: Transformer, codec: Codec | null, tokenizer: WordPieceTokenizer | null) {
    this.constants = constants;
    this.tokenizer = tokenizer;
    this.semantic = semantic;
    this.coarse = coarse;
    this.fine = fine;
    this.codec = codec;
  }

  /**
   * Loads `dir` written by `audiolm convert bark` (bark.json + components [+ codec.safetensors]
   * [+ vocab.txt, bert-base-multilingual-cased's, for `generate({ text })`]).
   */
  static async load(dir: string, opts?: LoadOptions): Promise<BarkModel> {
    if (typeof dir !== "string" || dir.length === 0) invalidArgument("BarkModel.load dir", "a non-empty string", dir);
    const jsonPath = join(dir, "bark.json");
    if (!existsSync(jsonPath)) throw new AudioLMError("ERR_AUDIOLM_IO", `${dir} has no bark.json (convert Bark checkpoints with \`audiolm convert bark\`)`);
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(readFileSync(jsonPath, "utf8"));
    } catch (err) {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${jsonPath} is not valid JSON: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== "object" || doc.format !== "bark") badModel(`${jsonPath} is not a Bark bark.json (format must be "bark")`);
    for (const k of [...CONSTANT_KEYS, "fineCodesGiven"]) {
      const v = doc[k];
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0) badModel(`${jsonPath}: ${k} must be a non-negative number but is ${JSON.stringify(v)}`);
    }
    const c = doc as unknown as BarkConstants;
    if (c.nCoarseCodebooks !== 2) badModel(`${jsonPath}: nCoarseCodebooks must be 2 (Bark's coarse token layout) but is ${c.nCoarseCodebooks}`);
    const comps = (doc.components ?? {}) as Record<string, string>;
    const vocabPath = join(dir, typeof doc.vocab === "string" ? doc.vocab : "vocab.txt");
    let tokenizer: WordPieceTokenizer | null = null;
    if (existsSync(vocabPath)) {
      tokenizer = WordPieceTokenizer.fromFile(vocabPath);
      const textVocab = c.textPadToken - c.textEncodingOffset;
      if (tokenizer.size > textVocab) badModel(`${vocabPath} has ${tokenizer.size} tokens but the semantic model reads ${textVocab} text ids (textPadToken − textEncodingOffset)`);
    }
    const loaded: Transformer[] = [];
    try {
      for (const stage of ["semantic", "coarse", "fine"]) {
        const p = join(dir, comps[stage] ?? `${stage}.safetensors`);
        if (!existsSync(p)) throw new AudioLMError("ERR_AUDIOLM_IO", `${dir} has no ${stage} component (${p})`);
        loaded.push(await Transformer.load(p, opts));
      }
      const [semantic, coarse, fine] = loaded;
      if (semantic.config.inputCodebooks !== 2 || !semantic.config.sharedInputEmbedding) badModel("the semantic component must read Bark's merged context (inputCodebooks 2, sharedInputEmbedding)");
      if (semantic.config.vocabSize <= c.semanticInferToken || semantic.config.outputSize <= c.semanticPadToken) badModel("the semantic component's vocabulary does not fit bark.json's tokens");
      if (coarse.config.vocabSize <= c.coarseInferToken || coarse.config.outputSize < c.semanticVocabSize + 2 * c.codebookSize) badModel("the coarse component's vocabulary does not fit bark.json's tokens");
      if (fine.config.inputCodebooks !== c.nFineCodebooks || fine.config.inputCodebooks - fine.config.outputHeads !== c.fineCodesGiven) {
        badModel(`the fine component predicts codebooks ${fine.config.inputCodebooks - fine.config.outputHeads}…${fine.config.inputCodebooks - 1} but bark.json says ${c.fineCodesGiven}…${c.nFineCodebooks - 1}`);
      }
      if (fine.config.vocabSize <= c.codebookSize || fine.config.outputSize < c.codebookSize || fine.config.maxPositions < FINE_WINDOW) {
        badModel(`the fine component needs ${c.codebookSize + 1} input ids and ${FINE_WINDOW} positions`);
      }
      const codecPath = join(dir, "codec.safetensors");
      const codec = existsSync(codecPath) ? await Codec.load(codecPath, opts) : null;
      return new BarkModel(c, semantic, coarse, fine, codec, tokenizer);
    } catch (err) {
      for (const t of loaded) await t.dispose();
      throw err;
    }
  }

  /**
   * Text → Bark's text ids (before TEXT_ENCODING_OFFSET): whitespace runs → one space, trimmed,
   * then WordPiece with the model's vocab.txt, no [CLS]/[SEP] (the reference's
   * `tokenizer.encode(text, add_special_tokens=False)`). All ids are returned; the semantic
   * stage reads the first 256.
   */
  tokenize(text: string): Int32Array {
    if (typeof text !== "string") invalidArgument("text", "a string", text);
    if (!this.tokenizer) throw new AudioLMError("ERR_AUDIOLM_IO", "this Bark model directory has no vocab.txt (bert-base-multilingual-cased's): put it beside bark.json (or convert with a vocab.txt beside the checkpoints) or pass textTokens");
    const normalized = normalizeBarkText(text);
    if (normalized.length === 0) invalidArgument("text", "a non-empty text", text);
    const ids = this.tokenizer.encode(normalized);
    if (ids.length === 0) invalidArgument("text", "a text with at least one token (not only control characters)", text);
    return ids;
  }

  /** Text ids → semantic tokens in [0, semanticVocabSize) (Bark's generate_text_semantic). */
  async generateSemantic(textTokens: Int32Array, opts: SemanticOptions = {}): Promise<Int32Array> {
    const c = this.constants;
    const textVocab = c.textPadToken - c.textEncodingOffset;
    checkTokens("textTokens", textTokens, 0, textVocab);
    const s = samplingOf(opts, "semantic", 0.7);
    const history = opts.history === undefined ? undefined : checkTokens("history", opts.history, 0, c.semanticVocabSize);
    const maxSteps = opts.maxSteps ?? 768;
    const positions = this.semantic.config.maxPositions;
    if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > positions - TEXT_CONTEXT) {
      invalidArgument("maxSteps", `an integer from 1 to ${positions - TEXT_CONTEXT} (the semantic model's positions − 256)`, maxSteps);
    }
    const minEosP = opts.minEosP === undefined ? 0.2 : opts.minEosP;
    if (minEosP !== null && (typeof minEosP !== "number" || !(minEosP >= 0 && minEosP <= 1))) invalidArgument("minEosP", "a probability or null", minEosP);
    // merged context: frame i < 256 is [text_i, history_i]; then [SEMANTIC_INFER, -1]
    const prompt = new Int32Array((TEXT_CONTEXT + 1) * 2);
    for (let i = 0; i < TEXT_CONTEXT; i++) {
      prompt[2 * i] = i < textTokens.length ? textTokens[i] + c.textEncodingOffset : c.textPadToken;
      const h = history ? history.subarray(Math.max(0, history.length - TEXT_CONTEXT)) : undefined;
      prompt[2 * i + 1] = h && i < h.length ? h[i] : c.semanticPadToken;
    }
    prompt[2 * TEXT_CONTEXT] = c.semanticInferToken;
    prompt[2 * TEXT_CONTEXT + 1] = -1;

    const session = this.semantic.session({ batch: 1, capacity: Math.min(positions, TEXT_CONTEXT + 1 + maxSteps) });
    const V = c.semanticVocabSize;
    const out: number[] = [];
    try {
      await session.prefill([prompt]);
      // The native sampler filters top-k first and top-p on the tempered weights; the reference
      // filters top-p on the untempered softmax first. They agree without top-p.
      if (minEosP === null && !opts.greedy && s.topP === 1) {
        const r = await session.generate({
          steps: maxSteps,
          seeds: [s.seed],
          sampling: { temperature: s.temperature, topK: s.topK, topP: s.topP },
          ranges: { period: 1, ranges: [{ lo: 0, hi: V, extra: [c.semanticPadToken] }] },
          eos: c.semanticPadToken,
        });
        const t = r.tokens[0];
        return Int32Array.from(t.length && t[t.length - 1] === c.semanticPadToken ? t.subarray(0, t.length - 1) : t);
      }
      // token by token, sampled here (the EOS probability is needed each step)
      const rel = new Float64Array(V + 1);
      for (let n = 0; n < maxSteps; n++) {
        const last = session.nextLogits()[0];
        for (let i = 0; i < V; i++) rel[i] = last[i];
        rel[V] = last[c.semanticPadToken];
        const p = barkProbs(rel, s.temperature, s.topK, s.topP);
        const pick = opts.greedy || s.temperature === 0 ? argmax(p) : draw(p, counterUniform(s.seed, n));
        if (pick === V || (minEosP !== null && p[V] >= minEosP)) break;
        out.push(pick);
        if (n + 1 < maxSteps) await session.extend([Int32Array.of(pick, -1)]);
      }
    } finally {
      session.dispose();
    }
    return Int32Array.from(out);
  }

  /** Semantic tokens → the two coarse codebooks [2, T] (Bark's generate_coarse). */
  async generateCoarse(semanticTokens: Int32Array, opts: CoarseOptions = {}): Promise<BarkCodes> {
    const c = this.constants;
    const SV = c.semanticVocabSize;
    const CB = c.codebookSize;
    const NC = c.nCoarseCodebooks;
    checkTokens("semanticTokens", semanticTokens, 0, SV);
    const s = samplingOf(opts, "coarse", 0.7);
    const maxHist = opts.maxCoarseHistory ?? 630;
    const win = opts.slidingWindowLen ?? 60;
    if (!Number.isInteger(maxHist) || maxHist < 60 || maxHist > 630) invalidArgument("maxCoarseHistory", "an integer from 60 to 630", maxHist);
    if (!Number.isInteger(win) || win < 1 || maxHist + win > 1024 - 256) invalidArgument("slidingWindowLen", `an integer from 1 to ${768 - maxHist} (maxCoarseHistory + slidingWindowLen ≤ 768)`, win);
    if (TEXT_CONTEXT + 1 + maxHist + win > this.coarse.config.maxPositions) {
      invalidArgument("maxCoarseHistory + slidingWindowLen", `at most ${this.coarse.config.maxPositions - TEXT_CONTEXT - 1} (the coarse model's positions − 257)`, maxHist + win);
    }
    const ratio = (c.coarseRateHz / c.semanticRateHz) * NC;
    const maxSemHist = Math.floor(maxHist / ratio);
    let semHist = new Int32Array(0);
    let coarseHist: number[] = [];
    if (opts.history !== undefined) {
      const h = opts.history;
      if (!h || typeof h !== "object") invalidArgument("history", "{ semantic, coarse }", h);
      const hs = checkTokens("history.semantic", h.semantic, 0, SV);
      const hc = checkCodes("history.coarse", h.coarse, NC, CB);
      const T = hc.shape[1];
      if (Math.round((T / hs.length) * 10) / 10 !== Math.round((ratio / NC) * 10) / 10) {
        throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected history.coarse to have about ${(ratio / NC).toFixed(2)} frames per history.semantic token but it has ${T} frames for ${hs.length} tokens`);
      }
      // interleave (frame-major) with the codebook offsets
      const flat: number[] = new Array(T * NC);
      for (let t = 0; t < T; t++) for (let q = 0; q < NC; q++) flat[t * NC + q] = hc.data[q * T + t] + SV + q * CB;
      const nSem = Math.min(maxSemHist, hs.length - (hs.length % 2), Math.floor(flat.length / ratio));
      const nCoarse = pyRound(nSem * ratio);
      // Python's a[-0:] is the whole array
      semHist = Int32Array.from(nSem === 0 ? hs : hs.subarray(hs.length - nSem));
      const trimmed = nCoarse === 0 ? flat : flat.slice(Math.max(0, flat.length - nCoarse));
      coarseHist = trimmed.slice(0, Math.max(0, trimmed.length - 2));
    }
    const nSteps = Math.floor((semanticTokens.length * ratio) / NC) * NC;
    if (nSteps <= 0) invalidArgument("semanticTokens", "enough tokens for one coarse frame", semanticTokens);
    const semantic = new Int32Array(semHist.length + semanticTokens.length);
    semantic.set(semHist);
    semantic.set(semanticTokens, semHist.length);
    const base = semHist.length;
    const coarse = coarseHist.slice();
    const nWindows = Math.ceil(nSteps / win);
    let step = 0;
    for (let w = 0; w < nWindows; w++) {
      const semIdx = base + pyRound(step / ratio);
      const from = Math.max(0, semIdx - maxSemHist);
      const prompt: number[] = [];
      for (let i = 0; i < TEXT_CONTEXT; i++) prompt.push(from + i < semantic.length ? semantic[from + i] : c.coarseSemanticPadToken);
      prompt.push(c.coarseInferToken);
      for (const t of coarse.slice(Math.max(0, coarse.length - maxHist))) prompt.push(t);
      const steps = Math.min(win, nSteps - step);
      const session = this.coarse.session({ batch: 1, capacity: prompt.length + steps });
      try {
        await session.prefill([Int32Array.from(prompt)]);
        if (s.topP < 1) {
          // the reference's filter order (see generateSemantic), sampled here token by token
          const wseed = deriveSeed(s.seed, w);
          for (let i = 0; i < steps; i++) {
            const lo = SV + ((step + i) % 2) * CB;
            const p = barkProbs(session.nextLogits()[0].subarray(lo, lo + CB), s.temperature, s.topK, s.topP);
            const pick = lo + (s.temperature === 0 ? argmax(p) : draw(p, counterUniform(wseed, i)));
            coarse.push(pick);
            if (i + 1 < steps) await session.extend([Int32Array.of(pick)]);
          }
        } else {
          const r = await session.generate({
            steps,
            seeds: [deriveSeed(s.seed, w)],
            sampling: { temperature: s.temperature, topK: s.topK, topP: s.topP },
            ranges: {
              period: 2,
              ranges: [
                { lo: SV, hi: SV + CB },
                { lo: SV + CB, hi: SV + 2 * CB },
              ],
              origin: [prompt.length - (step % 2)],
            },
          });
          const toks = r.tokens[0];
          if (toks.length !== steps) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", `coarse window ${w} gave ${toks.length} of ${steps} tokens`);
          for (const t of toks) coarse.push(t);
        }
      } finally {
        session.dispose();
      }
      step += steps;
    }
    const gen = coarse.slice(coarseHist.length);
    const T = nSteps / NC;
    const data = new Int32Array(NC * T);
    for (let t = 0; t < T; t++) for (let q = 0; q < NC; q++) data[q * T + t] = gen[t * NC + q] - SV - q * CB;
    return { data, shape: [NC, T] };
  }

  /** Coarse codebooks [n, T] → all codebooks [nFineCodebooks, T] (Bark's generate_fine). */
  async generateFine(coarseCodes: BarkCodes, opts: FineOptions = {}): Promise<BarkCodes> {
    const c = this.constants;
    const NF = c.nFineCodebooks;
    const CB = c.codebookSize;
    const coarse = checkCodes("coarseCodes", coarseCodes, [1, NF - 1], CB);
    const [nCoarse, Tc] = coarse.shape;
    if (Tc === 0) invalidArgument("coarseCodes", "at least one frame", coarseCodes);
    if (nCoarse < c.fineCodesGiven) invalidArgument("coarseCodes", `at least ${c.fineCodesGiven} codebooks (the fine model's given codebooks)`, coarseCodes);
    const temperature = opts.temperature === undefined ? 0.5 : opts.temperature;
    if (temperature !== null && (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature))) invalidArgument("fine.temperature", "a number ≥ 0 or null", temperature);
    const seed = opts.seed ?? randomInt(0, 2 ** 31);
    if (!Number.isSafeInteger(seed) || seed < 0) invalidArgument("fine.seed", "a non-negative safe integer", seed);
    let hist: BarkCodes | undefined;
    if (opts.history !== undefined) hist = checkCodes("history", opts.history, NF, CB);
    const nHist = hist ? Math.min(FINE_HOP, hist.shape[1]) : 0;
    const total0 = nHist + Tc;
    const nPadEnd = Math.max(0, FINE_WINDOW - total0);
    const total = total0 + nPadEnd;
    // frame-major [total, NF]
    const arr = new Int32Array(total * NF).fill(CB);
    if (hist) {
      const Th = hist.shape[1];
      for (let t = 0; t < nHist; t++) for (let q = 0; q < NF; q++) arr[t * NF + q] = hist.data[q * Th + (Th - nHist + t)];
    }
    for (let t = 0; t < Tc; t++) for (let q = 0; q < nCoarse; q++) arr[(nHist + t) * NF + q] = coarse.data[q * Tc + t];
    const nLoops = Math.max(0, Math.ceil((Tc - (FINE_WINDOW - nHist)) / FINE_HOP)) + 1;
    const O = this.fine.config.outputSize;
    for (let n = 0; n < nLoops; n++) {
      const start = Math.min(n * FINE_HOP, total - FINE_WINDOW);
      const fillStart = Math.min(nHist + n * FINE_HOP, total - FINE_HOP);
      const rel = fillStart - start;
      const buf = arr.slice(start * NF, (start + FINE_WINDOW) * NF);
      for (let nn = nCoarse; nn < NF; nn++) {
        const input = Int32Array.from(buf);
        for (let t = 0; t < FINE_WINDOW; t++) for (let q = nn + 1; q < NF; q++) input[t * NF + q] = -1;
        const [logits] = await this.fine.logits([input], { head: nn - c.fineCodesGiven });
        for (let t = rel; t < FINE_WINDOW; t++) {
          const row = logits.subarray(t * O, t * O + CB);
          let pick: number;
          if (temperature === null || temperature === 0) pick = argmax(row);
          else pick = draw(barkProbs(row, temperature, 0, 1), counterUniform(seed, n, nn, t));
          buf[t * NF + nn] = pick;
        }
      }
      for (let t = rel; t < FINE_WINDOW; t++) for (let nn = nCoarse; nn < NF; nn++) arr[(start + t) * NF + nn] = buf[t * NF + nn];
    }
    const data = new Int32Array(NF * Tc);
    for (let t = 0; t < Tc; t++) for (let q = 0; q < NF; q++) data[q * Tc + t] = arr[(nHist + t) * NF + q];
    return { data, shape: [NF, Tc] };
  }

  /**
   * Text (or text ids) → semantic → coarse → fine codes (→ audio when the model has a codec).
   * With `text: string[]`, one result per text, generated one after another (text i: seed + i).
   */
  async generate(opts: BarkGenerateOptions & { text: string[] }): Promise<BarkGenerateResult[]>;
  async generate(opts: BarkGenerateOptions): Promise<BarkGenerateResult>;
  async generate(opts: BarkGenerateOptions): Promise<BarkGenerateResult | BarkGenerateResult[]> {
    if (!opts || typeof opts !== "object") invalidArgument("generate options", "an object", opts);
    const seed = opts.seed ?? randomInt(0, 2 ** 31);
    if (!Number.isSafeInteger(seed) || seed < 0) invalidArgument("seed", "a non-negative safe integer", seed);
    if ((opts.text === undefined) === (opts.textTokens === undefined)) invalidArgument("generate options", "exactly one of text and textTokens", opts);
    if (Array.isArray(opts.text) && opts.text.length === 0) invalidArgument("text", "a non-empty array of texts", opts.text);
    const texts = opts.text === undefined ? undefined : Array.isArray(opts.text) ? opts.text : [opts.text];
    // tokenise everything first, so that a bad text fails before any generation
    const items = texts ? texts.map((t, i) => (typeof t === "string" ? this.tokenize(t) : invalidArgument(`text[${i}]`, "a string", t))) : [opts.textTokens!];
    let voice: BarkVoice | undefined;
    if (typeof opts.voice === "string") voice = await readBarkVoice(opts.voice);
    else if (opts.voice !== undefined) voice = opts.voice;
    const results: BarkGenerateResult[] = [];
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && !Number.isSafeInteger(seed + i)) invalidArgument("seed", "a seed that stays a safe integer over the batch", seed);
      results.push(await this.generateOne(items[i], voice, seed + i, opts));
    }
    return Array.isArray(opts.text) ? results : results[0];
  }

  private async generateOne(textTokens: Int32Array, voice: BarkVoice | undefined, seed: number, opts: BarkGenerateOptions): Promise<BarkGenerateResult> {
    const semantic = await this.generateSemantic(textTokens, { ...opts.semantic, history: voice?.semantic, seed: deriveSeed(seed, 1) });
    if (semantic.length === 0) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", "the semantic stage stopped before its first token (EOS at once): nothing to generate");
    const coarse = await this.generateCoarse(semantic, { ...opts.coarse, history: voice ? { semantic: voice.semantic, coarse: voice.coarse } : undefined, seed: deriveSeed(seed, 2) });
    const codes = await this.generateFine(coarse, { ...opts.fine, history: voice?.fine, seed: deriveSeed(seed, 3) });
    const result: BarkGenerateResult = { textTokens, semantic, coarse, codes };
    if (this.codec) {
      const [audio] = await this.codec.decode({ data: codes.data, shape: [1, codes.shape[0], codes.shape[1]] });
      result.audio = audio;
      result.sampleRate = this.codec.sampleRate;
    }
    return result;
  }

  /** Frees the models. Idempotent. */
  async dispose(): Promise<void> {
    await this.semantic.dispose();
    await this.coarse.dispose();
    await this.fine.dispose();
    await this.codec?.dispose?.();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
