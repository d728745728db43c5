/**
 * The inert values the pickle reader builds for Python objects it does not interpret, the reader's
 * options, and the placeholder for numpy arrays awaiting their BUILD state.
 */
import { HOST_LE } from "../half.js";
import type { TensorDType } from "../torch-tensor.js";

/** A reference to a Python global (class or function) that is allowed but not interpreted. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An inert record of an object the pickle asked to construct: `opaque` is the class (or callable)
 * name, `args`/`kwargs` what it would have been called with, `state` what BUILD would have set,
 * `dictItems`/`listItems` what SETITEM(S)/APPEND(S) would have added.
 */
export class PickleObject {
  kwargs: Map<unknown, unknown> | undefined;
  state: unknown = undefined;
  dictItems: Map<unknown, unknown> | undefined;
  listItems: unknown[] | undefined;
  constructor(
    readonly opaque: string,
    public args: unknown[],
  ) {}
}

/** A pickled `numpy.dtype`. `descr` is numpy's short code ("f4", "i8", "b1", "U5", "O8", ...). */
export class NumpyDType {
  byteOrder = "=";
  /** Item size from the BUILD state when numpy recorded one (structured / flexible types). */
  stateItemSize = -1;
  structured = false;
  constructor(readonly descr: string) {}
  /** The tensor dtype for numeric types this package supports, else null. */
  get tensorDType(): TensorDType | null {
    if (this.structured) return null;
    return NUMPY_DTYPES[this.descr.replace(/^[<>|=]/, "")] ?? null;
  }
  /** Bytes per item (null when unknown). */
  get itemSize(): number | null {
    if (this.stateItemSize > 0) return this.stateItemSize;
    const m = /^[<>|=]?([a-zA-Z])(\d+)$/.exec(this.descr);
    if (!m) return null;
    const n = Number(m[2]);
    return m[1] === "U" ? 4 * n : n;
  }
  get bigEndian(): boolean {
    return this.byteOrder === ">" || (this.byteOrder === "=" && !HOST_LE);
  }
}

const NUMPY_DTYPES: Record<string, TensorDType> = {
  f4: "F32",
  f2: "F16",
  f8: "F64",
  i8: "I64",
  i4: "I32",
  i2: "I16",
  i1: "I8",
  u1: "U8",
  b1: "BOOL",
};

const attributes = new WeakMap<object, unknown>();

/**
 * The BUILD state (instance `__dict__`) the pickle attached to a dict, list, set or tensor, if any
 * — e.g. the `_metadata` of a torch `state_dict()` OrderedDict.
 */
export function getPickleAttributes(obj: object): unknown {
  return attributes.get(obj);
}

/** Records the BUILD state of a dict, list, set or tensor (see {@link getPickleAttributes}). */
export function setPickleAttributes(obj: object, state: unknown): void {
  attributes.set(obj, state);
}

export interface ReadPickleOptions {
  /** Resolves persistent ids (BINPERSID / PERSID); torch checkpoints map them to storages. */
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * How Python 2 `str` (STRING / BINSTRING / SHORT_BINSTRING) is decoded: "utf-8" (default,
   * lenient), "latin1" (what numpy-era Python 2 pickles need), or "bytes" (Buffer).
   */
  encoding?: "utf-8" | "latin1" | "bytes";
  /** Out-of-band buffers for protocol 5 NEXT_BUFFER, in order. */
  buffers?: readonly Uint8Array[];
  /** Byte offset where the pickle starts (default 0). */
  offset?: number;
  /** Name used in error messages (e.g. "model.pt/archive/data.pkl"). */
  source?: string;
  /** Largest stack (all frames) allowed; default 4,194,304 entries. */
  maxStackDepth?: number;
  /**
   * Parses nested `torch.save` bytes, for tensors pickled with plain `pickle` (which reference
   * `torch.storage._load_from_bytes`). Without it such pickles are rejected.
   */
  loadTorchBytes?: (bytes: Buffer) => unknown;
}

/** A `numpy.core.multiarray._reconstruct` result waiting for the BUILD that carries its data. */
export class PendingNdArray {
  resolved: unknown = undefined;
  isResolved = false;
  constructor(readonly args: unknown[]) {}
}
