/**
 * A progress display on stderr for long generation (the CLI's `generate`): per stage, done/total
 * tokens and tokens per second. The coarse and fine stages interleave window by window, so the
 * live line shows every unfinished stage; a stage that finishes leaves its final line behind. On
 * a terminal the live line is redrawn in place (at most ten times a second); elsewhere
 * (`--progress` into a file or pipe) a line is written at most once a second per stage.
 */

/** One progress report of a generation: tokens of `stage` made so far over all rows. */
export interface GenerationProgress {
  stage: "semantic" | "coarse" | "fine";
  done: number;
  total: number;
  /** Tokens (over all rows) per second of this stage so far. */
  tokensPerSecond: number;
}

/** Where the bar writes: stderr by default. */
export interface ProgressBarOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw in place (default: whether the stream is a TTY). */
  inPlace?: boolean;
}

/** A progress display; feed it reports with `update`, then call `finish`. */
export interface ProgressBar {
  update(p: GenerationProgress): void;
  /** Ends the display's line (idempotent). */
  finish(): void;
}

function rate(x: number): string {
  return x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(1);
}

/** Formats one stage's progress: `coarse [#####-----] 400/800 75.2k tok/s` (`width` bar characters). */
export function formatProgress(p: GenerationProgress, width = 20): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(frac * width);
  return `${p.stage} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${p.done}/${p.total} ${rate(p.tokensPerSecond)} tok/s`;
}

/**
 * Makes a progress display.
 *
 * @param opts - The stream (default `process.stderr`) and whether to redraw in place.
 */
export function createProgressBar(opts: ProgressBarOptions = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const inPlace = opts.inPlace ?? !!stream.isTTY;
  const live = new Map<string, GenerationProgress>();
  const lastLine = new Map<string, number>();
  let lastDraw = 0;
  let open = false;
  let dirty = false;

  const clear = () => {
    if (open) stream.write("\r\x1b[K");
    open = false;
  };
  const drawLive = () => {
    if (live.size === 0) return;
    stream.write(`\r${[...live.values()].map((p) => formatProgress(p, 12)).join("  |  ")}\x1b[K`);
    open = true;
    lastDraw = Date.now();
    dirty = false;
  };

  return {
    update(p) {
      const finished = p.done >= p.total;
      if (!inPlace) {
        const now = Date.now();
        if (finished || now - (lastLine.get(p.stage) ?? 0) >= 1000) {
          stream.write(`${formatProgress(p)}\n`);
          lastLine.set(p.stage, finished ? Infinity : now);
        }
        return;
      }
      if (finished) {
        live.delete(p.stage);
        clear();
        stream.write(`${formatProgress(p)}\n`);
        drawLive();
        return;
      }
      live.set(p.stage, p);
      dirty = true;
      if (Date.now() - lastDraw >= 100) drawLive();
    },
    finish() {
      if (inPlace && dirty) drawLive();
      if (open) stream.write("\n");
      open = false;
      live.clear();
    },
  };
}
