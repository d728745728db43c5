/**
 * The stage runners behind {@link AudioLM}: the semantic stage, the coarse and fine acoustic windows
 * (causal or non-causal), and decoding ranges of output frames. Every row of a request runs in
 * lockstep. lib/models/audiolm.ts validates requests and drives these.
 */
import type { Codec } from "./codec.js";
import { AudioLMError, invalidArgument } from "../errors.js";
import { type ModelConfig, stageCapacities } from "./model-json.js";
import type { GenerationProgress } from "./progress.js";
import {
  type Alignment,
  type LevelCodes,
  coarseLayout,
  coarseOrigin,
  coarsePromptOf,
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
  nonCausalInput,
  placeTokens,
  sampleLogits,
  semanticLayout,
  semanticPrompt,
  semanticRanges,
  semanticValues,
  windowHistory,
  windowSizes,
  windowSpan,
} from "./stages.js";
import type { Transformer, TransformerSession } from "./transformer.js";
import type { SamplingOptions } from "./transformer-types.js";
import type { RunOptions } from "./audiolm-types.js";

/** Seconds of already-decoded audio given to the codec before each decoded piece. */
const DECODE_CONTEXT_SECONDS = 1;
const STAGE_SEMANTIC = 1;
const STAGE_COARSE = 2;
const STAGE_FINE = 3;

/** Per-request state of abort, progress and the sessions to abort. */
export class Run {
  readonly sessions = new Set<TransformerSession>();
  readonly chunk: number;
  /** Per stage: tokens counted toward `total`, tokens made, seconds spent (coarse and fine interleave). */
  readonly #stages = new Map<string, { done: number; tokens: number; time: number }>();
  readonly #onAbort = () => this.sessions.forEach((s) => s.abort());

  constructor(readonly opts: RunOptions) {
    // Checked before anything listens to it: an object that is not an AbortSignal is refused.
    if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) invalidArgument("signal", "an AbortSignal", opts.signal);
    this.chunk = opts.chunkSize ?? 32;
    opts.signal?.addEventListener("abort", this.#onAbort);
  }

  check(): void {
    if (this.opts.signal?.aborted) throw new AudioLMError("ERR_AUDIOLM_ABORTED", "generation was aborted", { cause: this.opts.signal.reason });
  }

  /** Awaits a native call, turning any failure after an abort into ERR_AUDIOLM_ABORTED. */
  async call<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      this.check();
      throw err;
    }
  }

  /** Counts `tokens` of `stage` made in `seconds`, and reports the stage's progress. */
  progress(stage: GenerationProgress["stage"], tokens: number, total: number, seconds: number): void {
    let s = this.#stages.get(stage);
    if (!s) this.#stages.set(stage, (s = { done: 0, tokens: 0, time: 0 }));
    s.done = Math.min(total, s.done + tokens);
    s.tokens += tokens;
    s.time += seconds;
    this.opts.onProgress?.({ stage, done: s.done, total, tokensPerSecond: s.time > 0 ? s.tokens / s.time : 0 });
  }

  close(): void {
    this.opts.signal?.removeEventListener("abort", this.#onAbort);
    this.sessions.forEach((s) => s.dispose());
    this.sessions.clear();
  }
}

/** One row of a request: its seed, prompts and code buffer (prompt frames, then output frames). */
export interface Row {
  seed: number;
  semantic: Int32Array;
  /** Semantic index that lines up with frame `promptFrames` (the first output frame). */
  semanticStart: number;
  promptFrames: number;
  codes: LevelCodes;
}

/** The transformer stages of a model (semantic and fine are optional). */
export interface Stages {
  semantic: Transformer | null;
  coarse: Transformer;
  fine: Transformer | null;
}

/** The codec and transformer stages of a loaded model, and the runners that drive them. */
export class Pipeline {
  #codec: Codec | null;
  #stages: Stages | null;

  constructor(
    readonly config: ModelConfig,
    codec: Codec,
    stages: Stages,
  ) {
    this.#codec = codec;
    this.#stages = stages;
  }

  /** The codec and stages; throws ERR_AUDIOLM_DISPOSED after {@link dispose}. */
  live(): { codec: Codec; stages: Stages } {
    if (!this.#codec || !this.#stages) throw new AudioLMError("ERR_AUDIOLM_DISPOSED", "this AudioLM was disposed");
    return { codec: this.#codec, stages: this.#stages };
  }

  /** Frees the codec and the stages. Idempotent. */
  async dispose(): Promise<void> {
    const stages = this.#stages;
    const codec = this.#codec;
    this.#stages = null;
    this.#codec = null;
    await Promise.all([codec?.dispose(), stages?.semantic?.dispose(), stages?.coarse.dispose(), stages?.fine?.dispose()]);
  }

  // -------------------------------------------------------------------------------------------
  // Stage runners (all rows in lockstep: the same number of new items per window)

  async runSemantic(run: Run, rows: Array<{ seed: number; prompt: Int32Array }>, count: number, sampling: SamplingOptions): Promise<Int32Array[]> {
    const model = this.live().stages.semantic;
    if (!model) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "this model has no semantic stage; use mode \"acoustic\" with semanticPrompt tokens");
    const layout = semanticLayout(this.config);
    const { window: W, hop, dedupe } = this.config.semantic;
    const ranges = semanticRanges(layout);
    const histories = rows.map((r) => (dedupe ? dedupeConsecutive(r.prompt) : r.prompt));
    const out = rows.map(() => [] as number[]);
    const total = rows.length * count;
    if (count === 0) return rows.map(() => new Int32Array(0));
    // Guidance: each row gets a guide row that starts every window from BOS alone (no history).
    const B = rows.length;
    const guided = !!sampling.guidance;
    const session = model.session({ batch: guided ? 2 * B : B, capacity: stageCapacities(this.config).semantic });
    run.sessions.add(session);
    const maxWindows = 4 * windowSizes(count, hop).length + 4; // a model that keeps repeating itself stops being deduplicated
    try {
      for (let k = 0; out.some((o) => o.length < count); k++) {
        run.check();
        const raw = dedupe && k >= maxWindows;
        const n = dedupe ? hop : Math.min(hop, count - out[0].length);
        const prompts = rows.map((_, r) => {
          const seq = histories[r].length + out[r].length;
          const h = windowHistory(seq, W, hop);
          const all = Int32Array.from([...histories[r], ...out[r]]);
          return semanticPrompt(layout, out[r].length >= count ? new Int32Array(0) : all.subarray(seq - h));
        });
        const guide = guided ? [...prompts.map((p, r) => (p.length > 1 ? B + r : -1)), ...prompts.map(() => -1)] : undefined;
        if (guided) prompts.push(...rows.map(() => semanticPrompt(layout, new Int32Array(0))));
        await run.call(session.prefill(prompts));
        const seeds = [...rows.map((r) => deriveSeed(r.seed, STAGE_SEMANTIC, k)), ...(guided ? rows.map(() => 0) : [])];
        for (let made = 0; made < n; ) {
          run.check();
          const steps = Math.min(run.chunk, n - made);
          const t0 = performance.now();
          const res = await run.call(session.generate({ steps, seeds, sampling, ranges, guide }));
          let kept = 0;
          res.tokens.forEach((ids, r) => {
            if (r >= B || out[r].length >= count) return;
            const vals = semanticValues(layout, ids);
            const prev = out[r].length ? out[r][out[r].length - 1] : histories[r].length ? histories[r][histories[r].length - 1] : -1;
            const add = dedupe && !raw ? dedupeConsecutive(vals, prev) : vals;
            const before = out[r].length;
            for (const v of add) if (out[r].length < count) out[r].push(v);
            kept += out[r].length - before;
          });
          made += steps;
          run.progress("semantic", kept, total, (performance.now() - t0) / 1000);
        }
      }
    } finally {
      run.sessions.delete(session);
      session.dispose();
    }
    return out.map((o) => Int32Array.from(o));
  }

  /** Coarse windows over rows' code buffers; `advance()` runs one window and returns the frames made so far. */
  coarseRunner(run: Run, rows: Row[], frames: number, sampling: SamplingOptions) {
    const model = this.live().stages.coarse;
    const m = this.config;
    const layout = coarseLayout(m);
    const { acousticFrames: Fa, semanticFrames: Fs, hop, anchor } = m.coarse.window;
    const sizes = windowSizes(frames, hop);
    const Q = layout.levels;
    const total = rows.length * frames * Q;
    let k = 0;
    let made = 0;
    return {
      done: () => k >= sizes.length,
      made: () => made,
      advance: async (): Promise<number> => {
        const n = sizes[k];
        const spans = rows.map((r) => windowSpan(r.promptFrames + made, n, Fa, hop));
        const origins: number[] = [];
        const prompt = (r: Row, start: number, known: number, end: number) => {
          const al: Alignment = { semanticAt: r.semanticStart, frameAt: r.promptFrames, semanticRate: m.semantic.rate, acousticRate: m.acoustic.rate };
          const w = coarseWindow(al, { start, known, end }, anchor, r.semantic.length, Fs);
          origins.push(coarseOrigin(w.semantic.to - w.semantic.from));
          return coarsePromptOf(layout, r.semantic.subarray(w.semantic.from, w.semantic.to), r.codes, w.history);
        };
        const prompts = rows.map((r, i) => prompt(r, spans[i].start, spans[i].known, spans[i].end));
        // Guidance: a row whose window has acoustic history gets a guide row with the same new
        // frames and no history (the layout of a window at an utterance's start).
        const guide = rows.map(() => -1);
        if (sampling.guidance) {
          rows.forEach((r, i) => {
            if (spans[i].known === spans[i].start) return;
            guide[i] = prompts.length;
            prompts.push(prompt(r, spans[i].known, spans[i].known, spans[i].end));
            guide.push(-1);
          });
        }
        const seeds = rows.map((r) => deriveSeed(r.seed, STAGE_COARSE, k));
        await this.#generateWindow(run, model, "coarse", prompts, n * Q, total, {
          seeds: [...seeds, ...new Array(prompts.length - rows.length).fill(0)],
          sampling,
          ranges: coarseRanges(layout, origins),
          guide: prompts.length > rows.length ? guide : undefined,
          rows: rows.length,
          place: (r, ids, index) => placeTokens(rows[r].codes, ids, index, spans[r].known, Q, 0, layout.acousticOffset, layout.codebookSize),
        });
        made += n;
        k++;
        return made;
      },
    };
  }

  /** Fine windows; `advance(available)` runs every window whose coarse frames exist. */
  fineRunner(run: Run, rows: Row[], frames: number, sampling: SamplingOptions) {
    const m = this.config;
    const model = this.live().stages.fine;
    const sizes = m.fine && model ? windowSizes(frames, m.fine.window.hop) : [];
    let k = 0;
    let made = 0;
    const advance = async (available: number): Promise<number> => {
      if (!m.fine || !model) return (made = available); // no fine stage: coarse frames are complete
      while (k < sizes.length && made + sizes[k] <= available) {
        const n = sizes[k];
        const { frames: Ff, hop } = m.fine!.window;
        const spans = rows.map((r) => windowSpan(r.promptFrames + made, n, Ff, hop));
        if (m.fine!.mode === "nonCausal") await this.#nonCausalWindow(run, model!, rows, spans, sampling, frames);
        else {
          const layout = fineLayout(m);
          const Qf = layout.fineLevels;
          await this.#generateWindow(run, model!, "fine", rows.map((r, i) => finePrompt(layout, r.codes, spans[i].start, spans[i].known, spans[i].end)), n * Qf, rows.length * frames * Qf, {
            seeds: rows.map((r) => deriveSeed(r.seed, STAGE_FINE, k)),
            sampling,
            ranges: fineRanges(layout, spans.map((s) => fineOrigin(layout, s.end - s.start))),
            place: (r, ids, index) => placeTokens(rows[r].codes, ids, index, spans[r].known, Qf, layout.coarseLevels, layout.fineOffset, layout.codebookSize),
          });
        }
        made += n;
        k++;
      }
      return made;
    };
    return { advance, made: () => made };
  }

  /** Prefills a session with the window prompts and samples `count` tokens per row in chunks. */
  async #generateWindow(
    run: Run,
    model: Transformer,
    stage: "coarse" | "fine",
    prompts: Int32Array[],
    count: number,
    total: number,
    w: {
      seeds: number[];
      sampling: SamplingOptions;
      ranges: ReturnType<typeof coarseRanges>;
      place: (row: number, ids: Int32Array, index: number) => void;
      /** Guide rows (classifier-free guidance) follow the first `rows` prompts; only those are placed. */
      guide?: number[];
      rows?: number;
    },
  ): Promise<void> {
    run.check();
    const caps = stageCapacities(this.config);
    const session = model.session({ batch: prompts.length, capacity: stage === "coarse" ? caps.coarse : caps.fine });
    run.sessions.add(session);
    try {
      await run.call(session.prefill(prompts));
      for (let made = 0; made < count; ) {
        run.check();
        const steps = Math.min(run.chunk, count - made);
        const t0 = performance.now();
        const res = await run.call(session.generate({ steps, seeds: w.seeds, sampling: w.sampling, ranges: w.ranges, guide: w.guide }));
        const rows = w.rows ?? prompts.length;
        res.tokens.forEach((ids, r) => r < rows && w.place(r, ids, made));
        made += steps;
        run.progress(stage, steps * rows, total, (performance.now() - t0) / 1000);
      }
    } finally {
      run.sessions.delete(session);
      session.dispose();
    }
  }

  /** One non-causal (Bark-style) fine window: a full pass per fine level, sampled here in TypeScript. */
  async #nonCausalWindow(run: Run, model: Transformer, rows: Row[], spans: ReturnType<typeof windowSpan>[], sampling: SamplingOptions, frames: number): Promise<void> {
    const { coarseLevels: Qc, fineLevels: Qf, codebookSize: C } = this.config.acoustic;
    const V = model.config.outputSize;
    for (let l = Qc; l < Qc + Qf; l++) {
      run.check();
      const t0 = performance.now();
      const logits = await run.call(model.logits(rows.map((r, i) => nonCausalInput(r.codes, spans[i].start, spans[i].end, l, Qc + Qf)), { head: l - Qc }));
      let n = 0;
      rows.forEach((r, i) => {
        const T = r.codes.shape[1];
        const seed = deriveSeed(r.seed, STAGE_FINE, l);
        for (let f = spans[i].known; f < spans[i].end; f++) {
          const row = logits[i].subarray((f - spans[i].start) * V, (f - spans[i].start + 1) * V);
          r.codes.data[l * T + f] = sampleLogits(row, 0, C, sampling, counterUniform(seed, f));
          n++;
        }
      });
      run.progress("fine", n, rows.length * frames * Qf, (performance.now() - t0) / 1000);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Output

  /** Runs coarse and fine windows, yielding the number of output frames whose codes are complete. */
  async *acousticStages(run: Run, rows: Row[], frames: number, sampling: { coarse: SamplingOptions; fine: SamplingOptions }): AsyncGenerator<number> {
    const coarse = this.coarseRunner(run, rows, frames, sampling.coarse);
    const fine = this.fineRunner(run, rows, frames, sampling.fine);
    while (!coarse.done()) {
      const available = await coarse.advance();
      const before = fine.made();
      const done = await fine.advance(available);
      if (done > before) yield done;
    }
    if ((await fine.advance(frames)) < frames) throw new AudioLMError("ERR_AUDIOLM_INTERNAL", "fine stage did not finish");
  }

  /** Decodes output frames [from, to) of each row with up to DECODE_CONTEXT_SECONDS of earlier frames; returns samples from `from`. */
  async decodeRange(rows: Row[], from: number, to: number): Promise<Float32Array[]> {
    const { codec } = this.live();
    const ctx = Math.ceil(DECODE_CONTEXT_SECONDS * codec.frameRate);
    const starts = rows.map((r) => Math.max(0, r.promptFrames + from - ctx));
    const ends = rows.map((r) => r.promptFrames + to);
    const Q = rows[0].codes.shape[0];
    const T = Math.max(...ends.map((e, i) => e - starts[i]));
    const data = new Int32Array(rows.length * Q * T).fill(-1);
    rows.forEach((r, b) => {
      const RT = r.codes.shape[1];
      for (let l = 0; l < Q; l++) data.set(r.codes.data.subarray(l * RT + starts[b], l * RT + ends[b]), (b * Q + l) * T);
    });
    const audio = await codec.decode({ data, shape: [rows.length, Q, T], frames: ends.map((e, i) => e - starts[i]) });
    return audio.map((a, b) => a.subarray((rows[b].promptFrames + from - starts[b]) * codec.hopLength));
  }

  /** Builds each row's code buffer: its acoustic prompt's `levels` levels, then `frames` empty output frames. */
  rows(seeds: number[], prompts: LevelCodes[] | undefined, levels: number, frames: number, extra: (r: number) => Pick<Row, "semantic" | "semanticStart">): Row[] {
    const Q = this.config.acoustic.coarseLevels + this.config.acoustic.fineLevels;
    return seeds.map((seed, r) => {
      const p = prompts?.[r] ?? emptyCodes(levels, 0);
      const Tp = p.shape[1];
      const codes = emptyCodes(Q, Tp + frames);
      for (let l = 0; l < levels; l++) codes.data.set(p.data.subarray(l * Tp, (l + 1) * Tp), l * (Tp + frames));
      return { seed, promptFrames: Tp, codes, ...extra(r) };
    });
  }
}
