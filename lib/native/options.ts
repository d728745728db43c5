/** Options shared by every model loader. */
import { AudioLMError, invalidArgument } from "../errors.js";
import { native } from "./loader.js";

/** Where a model runs. `auto` picks a GPU when one is usable, else the CPU. */
export type Device = "auto" | "cpu" | "cuda" | `cuda:${number}`;

export interface LoadOptions {
  /** Compute device (default `auto`). */
  device?: Device;
  /** CPU threads for the whole process (default: AUDIOLM_THREADS, else the number of cores). */
  threads?: number;
}

/** Validates load options, applies the thread setting, and resolves the device to use. */
export function resolveLoadOptions(opts: LoadOptions | undefined, what: string): { device: "cpu" } {
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
  if (device.startsWith("cuda")) {
    const info = native().info();
    throw new AudioLMError(
      "ERR_AUDIOLM_UNSUPPORTED",
      `device "${device}" was requested but the CUDA model path is not available in this version ` +
        `(CUDA compiled: ${info.cudaCompiled}; ${info.cudaStatus}); use "cpu" or "auto"`,
    );
  }
  return { device: "cpu" };
}
