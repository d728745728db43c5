/**
 * Errors thrown by audiolm-node. Every error carries a stable `code` (`ERR_AUDIOLM_*`) that
 * callers can branch on; the message says what was expected and what came.
 */
export type AudioLMErrorCode =
  | "ERR_AUDIOLM_INVALID_ARGUMENT"
  | "ERR_AUDIOLM_INVALID_MODEL"
  | "ERR_AUDIOLM_INVALID_CHECKPOINT"
  | "ERR_AUDIOLM_UNSAFE_PICKLE"
  | "ERR_AUDIOLM_INVALID_WAV"
  | "ERR_AUDIOLM_INVALID_NPY"
  | "ERR_AUDIOLM_IO"
  | "ERR_AUDIOLM_UNSUPPORTED"
  | "ERR_AUDIOLM_CUDA"
  | "ERR_AUDIOLM_ABORTED"
  | "ERR_AUDIOLM_OUT_OF_MEMORY"
  | "ERR_AUDIOLM_DISPOSED"
  | "ERR_AUDIOLM_NATIVE_LOAD"
  | "ERR_AUDIOLM_INTERNAL";

/** The one error class of the package; `code` says which kind of failure it is. */
export class AudioLMError extends Error {
  readonly code: AudioLMErrorCode;
  constructor(code: AudioLMErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AudioLMError";
    this.code = code;
  }
}

/** Describes a value for "Expected X for name but received Y" messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "number") return Number.isNaN(value) ? "NaN" : `number ${value}`;
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name} of length ${(value as unknown as { length: number }).length}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return typeof value;
}

/** Throws ERR_AUDIOLM_INVALID_ARGUMENT with the package's message shape. */
export function invalidArgument(name: string, expected: string, received: unknown): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected ${expected} for ${name} but received ${describe(received)}`);
}
