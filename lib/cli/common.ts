/** Argument helpers shared by the `audiolm` commands. */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, extname, resolve } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

import { AudioLMError, type AudioLMErrorCode } from "../errors.js";

/** A command-line mistake: printed with the command's help, exit status 2. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/**
 * Exit statuses: 2 when the command line or an input is wrong (a usage error, or a library error
 * whose code says the input was bad), 1 when the work failed (I/O, memory, device, abort, internal).
 */
export const EXIT_BAD_INPUT = 2;
export const EXIT_FAILURE = 1;
const BAD_INPUT_CODES = new Set<AudioLMErrorCode>([
  "ERR_AUDIOLM_INVALID_ARGUMENT",
  "ERR_AUDIOLM_INVALID_MODEL",
  "ERR_AUDIOLM_INVALID_CHECKPOINT",
  "ERR_AUDIOLM_UNSAFE_PICKLE",
  "ERR_AUDIOLM_INVALID_WAV",
  "ERR_AUDIOLM_INVALID_NPY",
  "ERR_AUDIOLM_UNSUPPORTED",
]);
export function exitStatusOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT_BAD_INPUT;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && BAD_INPUT_CODES.has(code as AudioLMErrorCode) ? EXIT_BAD_INPUT : EXIT_FAILURE;
}

/** `audiolm generate` from a help text's first line ("Usage: audiolm generate ..."). */
function commandOf(help: string): string {
  return /Usage: (audiolm(?: [a-z-]+)*)/.exec(help)?.[1] ?? "audiolm";
}

/**
 * Negative numbers as option values: `--seconds -1` reaches the option (and the library's check)
 * instead of reading as an unknown flag, as node's parser would take it.
 */
function joinNegativeValues(argv: string[], options: NonNullable<ParseArgsConfig["options"]>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : undefined;
    const short = !name && /^-[a-zA-Z]$/.test(a) ? Object.entries(options).find(([, o]) => o.short === a.slice(1))?.[0] : undefined;
    const key = name ?? short;
    if (key && options[key]?.type === "string" && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`--${key}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

export function parse(argv: string[], options: ParseArgsConfig["options"], help: string): { values: Values; positionals: string[] } {
  const all = { ...options, help: { type: "boolean" as const, short: "h" } };
  try {
    const r = parseArgs({ args: joinNegativeValues(argv, all), options: all, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    // One line that says what was wrong and where the options are, not the whole help.
    const message = (err as Error).message.split("\n")[0]!.replace(/\. To specify a positional argument.*$/, "");
    throw new UsageError(`${message}; see \`${commandOf(help)} --help\``);
  }
}

/**
 * An output path, checked before any work: its folder must exist and be writable (a missing
 * folder used to fail only after a whole generation).
 */
export function outputPath(v: unknown, help: string, what = "-o/--output"): string {
  const path = need(v, what, help);
  const dir = dirname(resolve(path));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${what} ${path}: the folder ${dir} does not exist`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `${what} ${path}: the folder ${dir} is not writable`);
  }
  return path;
}

export function num(v: string | boolean | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got ${JSON.stringify(v)}`);
  return n;
}

export function need(v: unknown, what: string, help: string): string {
  if (typeof v !== "string" || v === "") throw new UsageError(`missing ${what}\n\n${help}`);
  return v;
}

/** OUT.wav → OUT-r.wav for row r of a batch (the path itself for a single row). */
export function rowPath(output: string, row: number, batch: number): string {
  if (batch === 1) return output;
  const ext = extname(output);
  return `${output.slice(0, output.length - ext.length)}-${row}${ext || ".wav"}`;
}
