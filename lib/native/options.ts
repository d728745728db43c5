/** Options shared by every model loader. */
import { AudioLMError, invalidArgument } from "../errors.js";
import { native } from "./loader.js";

/**
 * Where a model runs: `cpu`, `cuda` (GPU 0) or `cuda:N`. `auto` is the CPU for now: the CUDA
 * backend is complete but has not yet passed its check on a GPU, so it runs only when asked for.
 */
export type Device = "auto" | "cpu" | "cuda" | `cuda:${number}`;

export interface LoadOptions {
  /** Compute device (default `auto`). Without a usable GPU, `cuda` is an ERR_AUDIOLM_UNSUPPORTED error that says why. */
  device?: Device;
  /** CPU threads for the whole process (default: AUDIOLM_THREADS, else the number of cores). */
  threads?: number;
}

/** Validates load options, applies the thread setting, and resolves the backend to load on. */
export function resolveLoadOptions(opts: LoadOptions | undefined, what: string): { device: "cpu" | "cuda" | `cuda:${number}` } {
  if (opts === undefined) opts = {};
  if (typeof opts !== "object" || opts === null) invalidArgument(`${what} options`, "an object", opts);
  const device = opts.device ?? "auto";
  if (typeof device !== "string" || !/^(auto|cpu|cuda(:\d+)?)$/.test(device)) {
    invalidArgument(`${what} options.device`, '"auto", "cpu", "cuda" or "cuda:N"', device);
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1 || opts.threads > 1024) {
      invalidArgument(`${what} options.threads`, "an integer from 1 to 1024", opts.threads);
    }
    native().setThreads(opts.threads);
  }
  if (device === "cuda" || device.startsWith("cuda:")) {
    const info = native().info();
    if (!info.cudaCompiled || info.gpus.length === 0) {
      throw new AudioLMError(
        "ERR_AUDIOLM_UNSUPPORTED",
        `device "${device}" was requested but no GPU is usable (CUDA compiled: ${info.cudaCompiled}; ${info.cudaStatus}); use "cpu" or "auto"`,
      );
    }
    return { device: device as "cuda" | `cuda:${number}` };
  }
  return { device: "cpu" };
}
