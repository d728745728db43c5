/**
 * What the handlers of allowed globals (./globals.ts) may ask of the running interpreter. The
 * interpreter (./vm.ts) implements it; with the type here the two files need not import each other.
 */
import type { PickleReader } from "./reader.js";

export interface PickleMachine extends PickleReader {
  /** Nesting depth of this interpreter (a joblib array or torch storage runs a nested one). */
  readonly depth: number;
  /** numpy arrays created but still waiting for their BUILD state. */
  pendingUnresolved: number;
  /** Charges `n` units of work against the pickle's budget (fails on amplification). */
  spend(n: number): void;
  /** Calls an allowed callable (or records an inert object). */
  call(callable: unknown, args: unknown, kwargs?: unknown): unknown;
  /** Runs a nested pickle at the cursor and returns its value. */
  runNested(): unknown;
}
