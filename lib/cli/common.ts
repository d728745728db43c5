/** Argument helpers shared by the `audiolm` commands. */
import { extname } from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A command-line mistake: printed with the command's help, exit status 2. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

export function parse(argv: string[], options: ParseArgsConfig["options"], help: string): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${help}`);
  }
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
