// Shared test utilities.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";

import { AudioLMError } from "../lib/errors.js";

/** Relative L2 error ‖a − b‖ / ‖b‖. */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return Math.sqrt(num / (den || 1));
}

/** Fraction of equal entries. */
export function fractionEqual(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  let eq = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
  return eq / a.length;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = "audiolm-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The AudioLMError that `fn` throws or rejects with (fails the test if it throws nothing or something else). */
export async function errorOf(fn: () => unknown): Promise<AudioLMError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AudioLMError);
    return err as AudioLMError;
  }
  throw new Error("expected an AudioLMError, nothing was thrown");
}
