/**
 * One transformer stage (docs/transformer-format.md) and its KV-cached sessions. Every per-token
 * loop runs natively: a `generate` call samples a whole chunk of tokens without returning to
 * JavaScript, and the event loop stays free while it runs.
 */
import type { NativeSession, NativeTransformer } from "../native/addon-types.js";
import { invalidArgument } from "../errors.js";
import { native } from "../native/loader.js";
import { NativeModel, NativeObject } from "../native/native-model.js";
import type { LoadOptions } from "../native/options.js";
import type { GenerateStepOptions, GenerateStepResult, SamplingOptions, TransformerConfig } from "./transformer-types.js";

export type * from "./transformer-types.js";

function checkRows<T extends Int32Array | Float32Array>(rows: unknown, kind: new (n: number) => T, name: string, emptyOk = false): T[] {
  if (!Array.isArray(rows) || rows.length === 0) invalidArgument(name, `a non-empty array of ${kind.name}`, rows);
  rows.forEach((r, i) => {
    if (!(r instanceof kind)) invalidArgument(`${name}[${i}]`, `a ${kind.name}`, r);
    if ((r as T).length === 0 && !emptyOk) invalidArgument(`${name}[${i}]`, `a non-empty ${kind.name}`, r);
  });
  return rows as T[];
}

/** A loaded transformer stage. Disposing it frees the weights once sessions still running finish. */
export class Transformer extends NativeModel<NativeTransformer> {
  /** The stage's config (`audiolm.config`). */
  readonly config: TransformerConfig;

  private constructor(handle: NativeTransformer) {
    super(handle, "Transformer");
    this.config = handle.config();
  }

  /** Loads a transformer component (`.safetensors` with a `transformer` config). */
  static async load(path: string, opts?: LoadOptions): Promise<Transformer> {
    return new Transformer(await NativeModel.open("Transformer", path, opts, (p, device) => native().loadTransformer(p, device)));
  }

  /**
   * Full forward (no cache) of each row: [T × outputSize] logits per row. With several input
   * codebooks a row is [T × inputCodebooks] frame-major, -1 marking a codebook not given.
   */
  async logits(tokens: Int32Array[], opts: { context?: Float32Array[]; head?: number } = {}): Promise<Float32Array[]> {
    const h = this.handle();
    checkRows(tokens, Int32Array, "tokens");
    // The work of a full forward grows with the square of a row's length: bounded by the model's context.
    const C = this.config.inputCodebooks, limit = this.config.maxPositions;
    tokens.forEach((t, i) => {
      if (Math.ceil(t.length / C) > limit) invalidArgument(`tokens[${i}]`, `at most ${limit} positions (the model's maxPositions) of ${C} codebook(s)`, t);
    });
    const head = opts.head ?? 0;
    if (!Number.isInteger(head) || head < 0 || head >= this.config.outputHeads) {
      invalidArgument("head", `an integer from 0 to ${this.config.outputHeads - 1}`, head);
    }
    const context = this.#contexts(opts.context, tokens.length);
    return this.invoke(() => h.logits(tokens, context, head));
  }

  #contexts(context: Float32Array[] | undefined, rows: number): Float32Array[] | undefined {
    if (!this.config.crossAttention) {
      if (context !== undefined) invalidArgument("context", "nothing (this model has no cross-attention)", context);
      return undefined;
    }
    const c = checkRows(context, Float32Array, "context");
    if (c.length !== rows) invalidArgument("context", `${rows} rows (one per prompt)`, c);
    return c;
  }

  /** A KV-cached session of `batch` rows holding up to `capacity` positions each. */
  session(opts: { batch: number; capacity: number }): TransformerSession {
    const h = this.handle();
    const { batch, capacity } = opts ?? ({} as { batch: number; capacity: number });
    if (!Number.isInteger(batch) || batch < 1) invalidArgument("session batch", "a positive integer", batch);
    if (!Number.isInteger(capacity) || capacity < 1) invalidArgument("session capacity", "a positive integer", capacity);
    return this.invokeSync(() => new TransformerSession(h.createSession(batch, capacity), this, batch, capacity));
  }

  /** @internal context validation shared with sessions */
  _contexts(context: Float32Array[] | undefined, rows: number): Float32Array[] | undefined {
    return this.#contexts(context, rows);
  }
}

function samplingFor(s: SamplingOptions | undefined, name: string): { temperature: number; topK: number; topP: number; guidance: number } {
  const temperature = s?.temperature ?? 1;
  const topK = s?.topK ?? 0;
  const topP = s?.topP ?? 1;
  const guidance = s?.guidance ?? 0;
  if (typeof guidance !== "number" || !(guidance >= 0) || !Number.isFinite(guidance)) invalidArgument(`${name}.guidance`, "a number ≥ 0", guidance);
  if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature)) invalidArgument(`${name}.temperature`, "a number ≥ 0", temperature);
  if (!Number.isInteger(topK) || topK < 0) invalidArgument(`${name}.topK`, "an integer ≥ 0", topK);
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) invalidArgument(`${name}.topP`, "a number in (0, 1]", topP);
  return { temperature, topK, topP, guidance };
}

/** A batch of rows with their own lengths, generating with a KV cache. */
export class TransformerSession extends NativeObject<NativeSession> {
  readonly #model: Transformer;
  readonly batch: number;
  readonly capacity: number;

  /** @internal use Transformer.session() */
  constructor(handle: NativeSession, model: Transformer, batch: number, capacity: number) {
    super(handle, "session");
    this.#model = model;
    this.batch = batch;
    this.capacity = capacity;
  }

  /** Resets every row and runs its prompt (≥ 1 token, own length) in one pass. */
  async prefill(prompts: Int32Array[], opts: { context?: Float32Array[] } = {}): Promise<void> {
    const h = this.handle();
    checkRows(prompts, Int32Array, "prompts");
    if (prompts.length !== this.batch) invalidArgument("prompts", `${this.batch} rows (the session's batch)`, prompts);
    const context = this.#model._contexts(opts.context, prompts.length);
    await this.invoke(() => h.prefill(prompts, context));
  }

  /** Samples up to `steps` tokens per live row natively; resumable chunk by chunk. */
  async generate(opts: GenerateStepOptions): Promise<GenerateStepResult> {
    const h = this.handle();
    if (!opts || typeof opts !== "object") invalidArgument("generate options", "an object", opts);
    const { steps, seeds, ranges, eos } = opts;
    if (!Number.isInteger(steps) || steps < 0) invalidArgument("steps", "an integer ≥ 0", steps);
    if (!Array.isArray(seeds) || seeds.length !== this.batch || !seeds.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      invalidArgument("seeds", `${this.batch} non-negative safe integers`, seeds);
    }
    const per = Array.isArray(opts.sampling) ? opts.sampling : new Array(this.batch).fill(opts.sampling);
    if (per.length !== this.batch) invalidArgument("sampling", `one options object or ${this.batch} of them`, opts.sampling);
    const sampling = per.map((s, i) => samplingFor(s, Array.isArray(opts.sampling) ? `sampling[${i}]` : "sampling"));
    const req = {
      steps,
      seeds,
      temperature: sampling.map((s) => s.temperature),
      topK: sampling.map((s) => s.topK),
      topP: sampling.map((s) => s.topP),
      eos: eos ?? -1,
    } as Parameters<NativeSession["generate"]>[0];
    if (eos !== undefined && (!Number.isInteger(eos) || eos < 0)) invalidArgument("eos", "a token id", eos);
    if (ranges) {
      if (!Number.isInteger(ranges.period) || ranges.period < 1 || ranges.ranges?.length !== ranges.period) {
        invalidArgument("ranges", "{ period: n, ranges: n × { lo, hi, extra? } }", ranges);
      }
      req.ranges = ranges.ranges.map((r, i) => {
        if (!Number.isInteger(r.lo) || !Number.isInteger(r.hi) || r.lo < 0) invalidArgument(`ranges.ranges[${i}]`, "integer lo ≥ 0 and hi", r);
        return { lo: r.lo, hi: r.hi, extra: r.extra ?? [] };
      });
      const origin = ranges.origin ?? new Array(this.batch).fill(0);
      if (origin.length !== this.batch || !origin.every(Number.isInteger)) invalidArgument("ranges.origin", `${this.batch} integers`, origin);
      req.origins = origin;
    }
    if (opts.guide !== undefined) {
      const g = opts.guide;
      if (!Array.isArray(g) || g.length !== this.batch || !g.every((v, r) => Number.isInteger(v) && v >= -1 && v < this.batch && v !== r)) {
        invalidArgument("guide", `${this.batch} entries, each another row's index or -1`, g);
      }
      req.guide = g;
      req.guideScale = sampling.map((s) => s.guidance);
    }
    return this.invoke(() => h.generate(req));
  }

  /**
   * Appends tokens to rows without resetting them (an empty array leaves its row alone), with
   * the KV cache: for sampling loops that pick tokens themselves from nextLogits(). Causal models
   * only. Each row's tokens are [n × inputCodebooks] (-1: codebook not given).
   */
  async extend(tokens: Int32Array[]): Promise<void> {
    const h = this.handle();
    checkRows(tokens, Int32Array, "tokens", true);
    if (tokens.length !== this.batch) invalidArgument("tokens", `${this.batch} rows (the session's batch)`, tokens);
    await this.invoke(() => h.extend(tokens));
  }

  /** Per row: the logits [outputSize] of its next token (after the last prefill, extend or generate). */
  nextLogits(): Float32Array[] {
    return this.invokeSync(() => this.handle().nextLogits());
  }

  /** Row lengths (prompt + generated). */
  lengths(): number[] {
    return this.invokeSync(() => this.handle().lengths());
  }

  /** Stops an in-flight generate (it rejects with ERR_AUDIOLM_ABORTED); a new prefill resets. */
  abort(): void {
    this.liveHandle?.abort();
  }

  /** Frees the KV cache (an in-flight call is aborted first). Idempotent. */
  dispose(): void {
    this.release();
  }
}
