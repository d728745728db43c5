/**
 * A restricted Python pickle reader (protocols 0–5) that only ever *builds data*: it never imports,
 * calls or evaluates anything.
 *
 * What comes out:
 * - None → `null`; bool → `boolean`; int → `number` when it is a safe integer, else `bigint`;
 *   float → `number`; str → `string`; bytes / bytearray → `Buffer` (bytes are zero-copy views of the
 *   input, do not mutate); list and tuple → `Array` (tuples are not distinguished from lists);
 *   dict, `collections.OrderedDict`, `collections.defaultdict` → `Map` (keys keep their pickled
 *   values: strings, numbers, bigints, booleans, null, arrays by identity); set / frozenset → `Set`.
 * - tensors from `torch._utils._rebuild_tensor(_v2/_v3)` / `_rebuild_parameter(_with_state)` and
 *   numeric numpy arrays (`numpy.core.multiarray._reconstruct` + BUILD, `numpy.core.numeric._frombuffer`,
 *   joblib's `NumpyArrayWrapper`) → {@link TorchTensor}; numpy scalars → number / bigint / boolean;
 *   `numpy.dtype` → {@link NumpyDType}.
 * - any other importable name → {@link PickleGlobal} (the bare reference), and calling it (REDUCE,
 *   NEWOBJ, NEWOBJ_EX, INST, OBJ) → {@link PickleObject}, an inert record of the class name, the
 *   arguments, the BUILD state and any dict/list items. Nothing runs.
 * - names that only make sense for running code (`os.*`, `posix.*`, `subprocess.*`, `builtins.eval`,
 *   `builtins.getattr`, `functools.partial`, `torch.load`, `torch.jit.*`, ...) are rejected with
 *   `AudioLMError` code `ERR_AUDIOLM_UNSAFE_PICKLE` naming the global, as soon as the name appears.
 *
 * Malformed input (truncation, unknown opcodes, stack underflow, bad memo indices, oversized
 * lengths) → `ERR_AUDIOLM_INVALID_CHECKPOINT` with the byte offset of the failing opcode.
 */
import { AudioLMError } from "./errors.js";

// ---------------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------------

/** Element types of tensors this package reads. */
export type TensorDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** Bytes per element of each {@link TensorDType}. */
export const DTYPE_SIZE: Readonly<Record<TensorDType, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
});

/**
 * A flat, typed run of bytes that tensors view (a torch storage, or the buffer of a numpy array).
 * The bytes are loaded lazily on first access of {@link TensorStorage.data} and cached; tensors that
 * share a storage share this object.
 */
export class TensorStorage {
  #loader: (() => Buffer) | undefined;
  #data: Buffer | undefined;
  /**
   * @param key storage key (torch: the `data/<key>` entry name; numpy: a synthetic name)
   * @param dtype element type
   * @param numel number of elements
   * @param location torch device tag ("cpu", "cuda:0", ...) or "cpu"
   * @param source bytes, or a function returning them (must hold at least numel * itemsize bytes)
   */
  constructor(
    readonly key: string,
    readonly dtype: TensorDType,
    readonly numel: number,
    readonly location: string,
    source: Buffer | (() => Buffer),
  ) {
    if (typeof source === "function") this.#loader = source;
    else this.#data = source;
  }
  /** Size of the storage in bytes. */
  get byteLength(): number {
    return this.numel * DTYPE_SIZE[this.dtype];
  }
  /** The storage bytes, exactly {@link byteLength} long (a view; do not mutate). */
  get data(): Buffer {
    if (this.#data === undefined) {
      const loader = this.#loader!;
      this.#loader = undefined;
      this.#data = loader();
    }
    const need = this.byteLength;
    if (this.#data.length < need) {
      throw new AudioLMError(
        "ERR_AUDIOLM_INVALID_CHECKPOINT",
        `storage "${this.key}" holds ${this.#data.length} bytes but ${this.numel} ${this.dtype} elements need ${need}`,
      );
    }
    return this.#data.length === need ? this.#data : this.#data.subarray(0, need);
  }
}

/**
 * A tensor (torch) or numeric ndarray (numpy): a strided view of a {@link TensorStorage}.
 * `strides` and `storageOffset` count elements, not bytes. Treat all fields as read-only.
 */
export class TorchTensor {
  constructor(
    public dtype: TensorDType,
    public shape: number[],
    public strides: number[],
    public storageOffset: number,
    public storage: TensorStorage,
    public requiresGrad = false,
    public source: "torch" | "numpy" = "torch",
  ) {}
  /** True when this came from `torch.nn.Parameter`. */
  isParameter = false;
  /** Number of elements (product of the shape; 1 for a 0-d tensor). */
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }
  /** Bytes of the whole underlying storage (lazy; a view — use {@link tensorBytes} for this tensor's own bytes). */
  get data(): Buffer {
    return this.storage.data;
  }
  /** True when the elements are laid out densely in row-major order (offset may be non-zero). */
  isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      if (d === 0) return true;
      if (d !== 1 && this.strides[i] !== expected) return false;
      expected *= d;
    }
    return true;
  }
}

/** Row-major strides (in elements) for a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= Math.max(1, shape[i]!);
  }
  return strides;
}

function invalid(message: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", message);
}

/**
 * Validates and builds a tensor view. Shapes, strides and the offset must be non-negative safe
 * integers and the view must lie inside the storage.
 */
export function makeTensor(
  storage: TensorStorage,
  storageOffset: unknown,
  shape: unknown,
  strides: unknown,
  requiresGrad = false,
  source: "torch" | "numpy" = "torch",
): TorchTensor {
  const ints = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v)) invalid(`tensor ${what} must be a tuple of integers`);
    if (v.length > 64) invalid(`tensor has ${v.length} dimensions (at most 64 are supported)`);
    return v.map((x) => {
      if (typeof x !== "number" || !Number.isSafeInteger(x) || x < 0) invalid(`tensor ${what} holds an invalid value ${String(x)}`);
      return x;
    });
  };
  const sh = ints(shape, "shape");
  const st = strides === undefined ? contiguousStrides(sh) : ints(strides, "stride");
  if (st.length !== sh.length) invalid(`tensor shape has ${sh.length} dimensions but stride has ${st.length}`);
  if (typeof storageOffset !== "number" || !Number.isSafeInteger(storageOffset) || storageOffset < 0) {
    invalid(`tensor storage offset ${String(storageOffset)} is invalid`);
  }
  let numel = 1;
  let last = storageOffset;
  for (let i = 0; i < sh.length; i++) {
    numel *= sh[i]!;
    if (sh[i]! > 0) last += (sh[i]! - 1) * st[i]!;
  }
  if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) invalid(`tensor of shape [${sh.join(", ")}] is too large`);
  if (numel > 0 && last >= storage.numel) {
    invalid(`tensor of shape [${sh.join(", ")}], stride [${st.join(", ")}], offset ${storageOffset} extends past its storage "${storage.key}" of ${storage.numel} elements`);
  }
  return new TorchTensor(storage.dtype, sh, st, storageOffset, storage, requiresGrad, source);
}

// --- element conversion -----------------------------------------------------------------------

let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return (f16Table = t);
}

/** IEEE half-precision bits → number. */
export function f16ToF32(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}
/** bfloat16 bits → number. */
export function bf16ToF32(bits: number): number {
  bf16Scratch[0] = (bits & 0xffff) << 16;
  return bf16ScratchF[0]!;
}
const bf16Scratch = new Uint32Array(1);
const bf16ScratchF = new Float32Array(bf16Scratch.buffer);

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedCtor = { new (buffer: ArrayBuffer, byteOffset: number, length: number): ArrayLike<number>; BYTES_PER_ELEMENT: number };

/** An element-typed view over storage bytes, copying only when the bytes are misaligned. */
function typedView<T>(bytes: Buffer, ctor: TypedCtor): T {
  if (!HOST_LE) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", "tensor conversion needs a little-endian host");
  const size = ctor.BYTES_PER_ELEMENT;
  let b: Uint8Array = bytes;
  if (b.byteOffset % size !== 0) b = new Uint8Array(bytes); // aligned copy
  return new ctor(b.buffer as ArrayBuffer, b.byteOffset, Math.floor(b.byteLength / size)) as T;
}

const MAX_MATERIALIZE = 2 ** 32 - 1;

/** Calls `visit(storageIndex, outIndex)` for every element in row-major order. */
function forEachElement(t: TorchTensor, visit: (src: number, dst: number) => void): void {
  const n = t.numel;
  if (n === 0) return;
  const rank = t.shape.length;
  if (t.isContiguous()) {
    const base = t.storageOffset;
    for (let i = 0; i < n; i++) visit(base + i, i);
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const inner = t.shape[rank - 1]!;
  const innerStride = t.strides[rank - 1]!;
  let rowBase = t.storageOffset;
  let dst = 0;
  for (;;) {
    let s = rowBase;
    for (let j = 0; j < inner; j++, s += innerStride) visit(s, dst++);
    // advance the outer index (all dims but the last)
    let d = rank - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      rowBase += t.strides[d]!;
      if (idx[d]! < t.shape[d]!) break;
      rowBase -= idx[d]! * t.strides[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

function checkMaterializable(t: TorchTensor): number {
  const n = t.numel;
  if (n * DTYPE_SIZE[t.dtype] > MAX_MATERIALIZE || n * 4 > MAX_MATERIALIZE) {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `tensor of shape [${t.shape.join(", ")}] (${n} elements) is too large to materialize`);
  }
  return n;
}

/**
 * The tensor's values as a fresh, contiguous (row-major) Float32Array. F16/BF16/F64/ints/bool are
 * converted (I64 and F64 lose precision beyond float32); strides and storage offsets are honoured.
 */
export function tensorToFloat32(t: TorchTensor): Float32Array {
  const n = checkMaterializable(t);
  const out = new Float32Array(n);
  const bytes = t.storage.data;
  switch (t.dtype) {
    case "F32": {
      const src = typedView<Float32Array>(bytes, Float32Array);
      if (t.isContiguous()) out.set(src.subarray(t.storageOffset, t.storageOffset + n));
      else forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
    case "F64": {
      const src = typedView<Float64Array>(bytes, Float64Array);
      forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
    case "F16": {
      const src = typedView<Uint16Array>(bytes, Uint16Array);
      const tab = halfTable();
      forEachElement(t, (s, d) => (out[d] = tab[src[s]!]!));
      break;
    }
    case "BF16": {
      const src = typedView<Uint16Array>(bytes, Uint16Array);
      const u = new Uint32Array(out.buffer);
      forEachElement(t, (s, d) => (u[d] = src[s]! << 16));
      break;
    }
    case "I64": {
      const src = typedView<Int32Array>(bytes, Int32Array);
      forEachElement(t, (s, d) => (out[d] = src[2 * s + 1]! * 4294967296 + (src[2 * s]! >>> 0)));
      break;
    }
    case "I32": {
      const src = typedView<Int32Array>(bytes, Int32Array);
      forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
    case "I16": {
      const src = typedView<Int16Array>(bytes, Int16Array);
      forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
    case "I8": {
      const src = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
    case "U8":
    case "BOOL": {
      const src = bytes;
      if (t.dtype === "BOOL") forEachElement(t, (s, d) => (out[d] = src[s]! ? 1 : 0));
      else forEachElement(t, (s, d) => (out[d] = src[s]!));
      break;
    }
  }
  return out;
}

/**
 * The tensor's own bytes in row-major order, little-endian: a zero-copy view when the tensor is
 * contiguous, else a gathered copy.
 */
export function tensorBytes(t: TorchTensor): Buffer {
  const n = checkMaterializable(t);
  const size = DTYPE_SIZE[t.dtype];
  const bytes = t.storage.data;
  if (t.isContiguous()) return bytes.subarray(t.storageOffset * size, (t.storageOffset + n) * size);
  const out = Buffer.allocUnsafe(n * size);
  forEachElement(t, (s, d) => bytes.copy(out, d * size, s * size, s * size + size));
  return out;
}

/** Typed array kind returned by {@link tensorToTypedArray} for each dtype. */
export type TensorTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/**
 * The tensor's values as a fresh contiguous typed array in its own type: F32 → Float32Array,
 * F64 → Float64Array, I64 → BigInt64Array, I32/I16/I8 → Int32/16/8Array, U8/BOOL → Uint8Array,
 * F16/BF16 → Uint16Array of raw bits.
 */
export function tensorToTypedArray(t: TorchTensor): TensorTypedArray {
  const raw = tensorBytes(t);
  const copy = new Uint8Array(raw); // aligned, owned
  const buf = copy.buffer;
  const n = t.numel;
  switch (t.dtype) {
    case "F32":
      return new Float32Array(buf, 0, n);
    case "F64":
      return new Float64Array(buf, 0, n);
    case "I64":
      return new BigInt64Array(buf, 0, n);
    case "I32":
      return new Int32Array(buf, 0, n);
    case "I16":
      return new Int16Array(buf, 0, n);
    case "I8":
      return new Int8Array(buf, 0, n);
    case "F16":
    case "BF16":
      return new Uint16Array(buf, 0, n);
    case "U8":
    case "BOOL":
      return copy;
  }
}

// ---------------------------------------------------------------------------------------------
// Inert Python values
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Global policy
// ---------------------------------------------------------------------------------------------

/** Module names (and their sub-modules) that never appear in data-only pickles. */
const DENIED_MODULES = [
  "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "importlib", "imp", "_imp", "runpy", "shutil",
  "socket", "socketserver", "ssl", "pickle", "_pickle", "cPickle", "pickletools", "dill", "cloudpickle", "code",
  "codeop", "compileall", "py_compile", "pty", "tty", "webbrowser", "ctypes", "_ctypes", "cffi", "types", "marshal",
  "pdb", "bdb", "timeit", "trace", "profile", "cProfile", "pydoc", "doctest", "multiprocessing", "threading",
  "_thread", "thread", "concurrent", "asyncio", "signal", "tempfile", "io", "_io", "glob", "fileinput",
  "platform", "inspect", "gc", "functools", "_functools", "operator", "_operator", "_frozen_importlib",
  "_frozen_importlib_external", "zipimport", "pkgutil", "site", "distutils", "setuptools", "pip", "ensurepip",
  "venv", "yaml", "urllib", "urllib2", "urllib3", "http", "httplib", "ftplib", "smtplib", "telnetlib", "requests",
  "xmlrpc", "tarfile", "zipfile", "sqlite3", "commands", "popen2", "mmap", "fcntl", "resource", "select",
  "selectors", "tkinter", "idlelib", "logging.config", "__builtins__", "builtins.__dict__",
  "numpy.f2py", "numpy.distutils", "numpy.testing", "numpy.ctypeslib", "numpy.lib.npyio", "numpy.lib.format",
  "numpy.load", "numpy.save", "numpy.savez", "numpy.savez_compressed", "numpy.fromfile", "numpy.memmap",
  "numpy.core.memmap", "numpy.loadtxt", "numpy.genfromtxt", "numpy.frompyfunc", "numpy.vectorize",
  "torch.load", "torch.save", "torch.jit", "torch.hub", "torch._C", "torch.ops", "torch._ops", "torch.package",
  "torch.serialization", "torch.utils.cpp_extension", "torch.utils.collect_env", "torch.distributed", "torch.multiprocessing", "torch.classes",
  "torch._classes", "torch.compile", "torch._dynamo", "torch._inductor", "torch.fx", "torch.export",
  "joblib.load", "joblib.numpy_pickle.load", "joblib.parallel", "joblib.externals",
];

/** Harmless names inside otherwise denied modules. */
const ALLOWED_EXCEPTIONS = new Set(["torch.serialization._get_layout"]);

/** Builtins that are plain data types; every other `builtins.*` name is rejected. */
const SAFE_BUILTINS = new Set([
  "set", "frozenset", "bytearray", "bytes", "dict", "list", "tuple", "str", "int", "float", "bool", "complex",
  "slice", "range", "object", "Ellipsis", "NotImplemented",
  // Python 2 names of the same types, which Python 3 still writes at protocols < 3
  // (its _compat_pickle maps int → __builtin__.long, str → unicode, range → xrange).
  "long", "unicode", "basestring", "xrange",
]);

/** Python 2 module names that Python 3 maps (a subset of `_compat_pickle`). */
const PY2_MODULES: Record<string, string> = {
  __builtin__: "builtins",
  copy_reg: "copyreg",
  exceptions: "builtins",
  UserDict: "collections",
};

type Handler = (vm: PickleVM, args: unknown[], kwargs?: Map<unknown, unknown>) => unknown;

/** Globals whose construction is interpreted (everything else that is allowed stays opaque). */
const HANDLERS = new Map<string, Handler>();

function normalizeModule(module: string): string {
  return PY2_MODULES[module] ?? module;
}

function isUnder(full: string, prefix: string): boolean {
  return full === prefix || full.startsWith(prefix + ".");
}

/**
 * Classifies a global by module and (possibly dotted) name: "interpreted" (built into data by this
 * reader), "opaque" (kept as an inert record) or "rejected" (refused with ERR_AUDIOLM_UNSAFE_PICKLE).
 */
export function classifyGlobal(module: string, name: string): "interpreted" | "opaque" | "rejected" {
  module = normalizeModule(module);
  const full = `${module}.${name}`;
  if (HANDLERS.has(full)) return "interpreted";
  if (!module || !name || module.split(".").some((s) => s === "") || name.split(".").some((s) => s === "")) return "rejected";
  // Dotted names walk attributes (protocol 4); dunder attributes are how gadgets reach code. The rules
  // below look at the full dotted path, so ("torch", "_utils._import_dotted_name") is caught too.
  if (name.split(".").some((s) => /^__.*__$/.test(s))) return "rejected";
  if (module === "builtins") return name.includes(".") || !SAFE_BUILTINS.has(name) ? "rejected" : "opaque";
  if (isUnder(full, "builtins")) return "rejected";
  for (const m of ["copyreg", "_codecs", "codecs"]) if (isUnder(full, m)) return "rejected"; // only the interpreted ones
  if (isUnder(full, "torch._utils")) return /^torch\._utils\._rebuild_\w+$/.test(full) ? "opaque" : "rejected";
  if (full.startsWith("torch.storage._load")) return "rejected";
  if (ALLOWED_EXCEPTIONS.has(full)) return "opaque";
  for (const p of DENIED_MODULES) if (isUnder(module, p) || isUnder(full, p)) return "rejected";
  return "opaque";
}

// ---------------------------------------------------------------------------------------------
// The VM
// ---------------------------------------------------------------------------------------------

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

class PendingNdArray {
  resolved: unknown = undefined;
  isResolved = false;
  constructor(readonly args: unknown[]) {}
}

const MAX_NUMERIC_TEXT = 100_000;
const MAX_NESTING = 8;

class PickleVM {
  readonly buf: Buffer;
  pos: number;
  opPos = 0;
  readonly stack: unknown[] = [];
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  budget: number;
  readonly maxStack: number;
  readonly source: string;
  pendingUnresolved = 0;
  pendingLeaked = false;
  proto = 0;
  usedBuffers = 0;

  constructor(
    buf: Buffer,
    start: number,
    readonly opts: ReadPickleOptions,
    readonly depth: number,
  ) {
    this.buf = buf;
    this.pos = start;
    this.source = opts.source ?? "pickle";
    this.budget = 16 * buf.length + 1_000_000;
    this.maxStack = opts.maxStackDepth ?? 1 << 22;
  }

  fail(message: string): never {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${this.source}: ${message} (pickle opcode at byte offset ${this.opPos})`);
  }

  unsafe(what: string): never {
    throw new AudioLMError(
      "ERR_AUDIOLM_UNSAFE_PICKLE",
      `${this.source}: refusing to load: the pickle references ${what}, which is not allowed in a data-only checkpoint (byte offset ${this.opPos}); nothing was executed`,
    );
  }

  spend(n: number): void {
    this.budget -= n;
    if (this.budget < 0) this.fail("pickle does too much work for its size (amplification)");
  }

  // --- reading ------------------------------------------------------------------------------
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      this.fail(`truncated pickle: needs ${n} more bytes at offset ${this.pos} but the data ends at ${this.buf.length}`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    const v = hi * 4294967296 + lo;
    if (hi >= 0x200000 || v > this.buf.length) this.fail(`length ${hi >= 0x200000 ? "≥ 2^53" : v} exceeds the data`);
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("truncated pickle: missing newline after a text argument");
    const s = this.buf.toString("latin1", this.pos, end);
    this.pos = end + 1;
    return s;
  }
  lineUtf8(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("truncated pickle: missing newline after a text argument");
    const s = this.buf.toString("utf8", this.pos, end);
    this.pos = end + 1;
    return s;
  }

  // --- stack --------------------------------------------------------------------------------
  base(): number {
    return this.marks.length ? this.marks[this.marks.length - 1]! : 0;
  }
  push(v: unknown): void {
    if (this.stack.length >= this.maxStack) this.fail(`pickle stack exceeds ${this.maxStack} entries`);
    this.stack.push(v);
  }
  pop(): unknown {
    if (this.stack.length <= this.base()) this.fail("stack underflow");
    return this.stack.pop();
  }
  top(): unknown {
    if (this.stack.length <= this.base()) this.fail("stack underflow");
    return this.stack[this.stack.length - 1];
  }
  popMark(): unknown[] {
    if (!this.marks.length) this.fail("MARK expected but not found");
    const m = this.marks.pop()!;
    return this.stack.splice(m);
  }
  deref(v: unknown): unknown {
    if (v instanceof PendingNdArray) {
      if (v.isResolved) return v.resolved;
      this.pendingLeaked = true;
    }
    return v;
  }
  memoGet(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`memo index ${i} was never stored`);
    return this.deref(this.memo.get(i));
  }
  memoPut(i: number): void {
    if (!Number.isSafeInteger(i) || i < 0) this.fail(`invalid memo index ${i}`);
    this.memo.set(i, this.top());
  }

  // --- values -------------------------------------------------------------------------------
  int(big: bigint): number | bigint {
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  decodeLong(b: Buffer): number | bigint {
    if (b.length === 0) return 0;
    if (b.length <= 6) {
      let v = 0;
      for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!;
      if (b[b.length - 1]! & 0x80) v -= 2 ** (8 * b.length);
      return v;
    }
    const hex = Buffer.from(b).reverse().toString("hex");
    let big = BigInt("0x" + hex);
    if (b[b.length - 1]! & 0x80) big -= 1n << BigInt(8 * b.length);
    return this.int(big);
  }
  parseIntText(s: string): number | bigint {
    const t = s.trim().replace(/L$/, "");
    if (t.length > MAX_NUMERIC_TEXT || !/^[+-]?\d+$/.test(t)) this.fail(`invalid integer literal ${JSON.stringify(s.slice(0, 40))}`);
    return this.int(BigInt(t));
  }
  parseFloatText(s: string): number {
    const t = s.trim();
    if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(t)) return NaN;
    if (t.length > MAX_NUMERIC_TEXT || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) this.fail(`invalid float literal ${JSON.stringify(s.slice(0, 40))}`);
    return Number(t);
  }
  py2str(b: Buffer): string | Buffer {
    const enc = this.opts.encoding ?? "utf-8";
    if (enc === "bytes") return b;
    return b.toString(enc === "latin1" ? "latin1" : "utf8");
  }
  /** Decodes a protocol-0 quoted string literal (Python `repr` of a py2 str). */
  quotedString(s: string): Buffer {
    const t = s.replace(/\s+$/, "");
    const q = t[0];
    if (t.length < 2 || (q !== "'" && q !== '"') || t[t.length - 1] !== q) this.fail("STRING argument is not a quoted string");
    const body = t.slice(1, -1);
    const out: number[] = [];
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c !== 0x5c) {
        out.push(c & 0xff);
        continue;
      }
      const n = body[++i];
      if (n === undefined) this.fail("STRING ends with a lone backslash");
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, "\\": 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, "\n": -1 };
      if (n in simple) {
        if (simple[n]! >= 0) out.push(simple[n]!);
      } else if (n === "x") {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) this.fail("STRING has an invalid \\x escape");
        out.push(parseInt(h, 16));
        i += 2;
      } else if (/[0-7]/.test(n)) {
        let o = n;
        while (o.length < 3 && /[0-7]/.test(body[i + 1] ?? "")) o += body[++i];
        out.push(parseInt(o, 8) & 0xff);
      } else {
        out.push(92, n.charCodeAt(0) & 0xff);
      }
    }
    return Buffer.from(out);
  }
  /** Decodes raw-unicode-escape (protocol-0 UNICODE). */
  rawUnicodeEscape(s: string): string {
    return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) => {
      const cp = parseInt((a ?? b)!, 16);
      if (cp > 0x10ffff) this.fail("UNICODE has an invalid code point");
      return String.fromCodePoint(cp);
    });
  }

  // --- globals and calls --------------------------------------------------------------------
  findGlobal(module: string, name: string): PickleGlobal {
    const mod = normalizeModule(module);
    const kind = classifyGlobal(mod, name);
    if (kind === "rejected") this.unsafe(`the global "${mod}.${name}"`);
    return new PickleGlobal(mod, name);
  }

  call(callable: unknown, args: unknown, kwargs?: unknown): unknown {
    if (!Array.isArray(args)) this.fail("call arguments are not a tuple");
    const kw = kwargs instanceof Map ? kwargs : undefined;
    if (kwargs !== undefined && kwargs !== null && !kw) this.fail("keyword arguments are not a dict");
    if (callable instanceof PickleGlobal) {
      const h = HANDLERS.get(callable.fullName);
      if (h) return h(this, args, kw);
      const o = new PickleObject(callable.fullName, args);
      if (kw && kw.size) o.kwargs = kw;
      return o;
    }
    if (callable instanceof PickleObject) return new PickleObject(`${callable.opaque}(...)`, args);
    if (callable instanceof NumpyDType) return new PickleObject(`numpy.dtype(${callable.descr})(...)`, args);
    return this.fail(`cannot call a value that is not a class or function (${typeof callable})`);
  }

  build(target: unknown, state: unknown): unknown {
    if (target instanceof PendingNdArray) {
      const value = resolveNdArrayState(this, target, state);
      target.resolved = value;
      target.isResolved = true;
      this.pendingUnresolved--;
      return value;
    }
    if (target instanceof NumpyDType) {
      applyDTypeState(this, target, state);
      return target;
    }
    if (target instanceof PickleObject) {
      if (target.state instanceof Map && state instanceof Map) for (const [k, v] of state) target.state.set(k, v);
      else target.state = state;
      if (target.opaque === "joblib.numpy_pickle.NumpyArrayWrapper") return readJoblibArray(this, target);
      return target;
    }
    if (target !== null && typeof target === "object") {
      attributes.set(target, state);
      return target;
    }
    return this.fail(`BUILD applied to a ${target === null ? "None" : typeof target}`);
  }

  setItems(target: unknown, items: unknown[]): void {
    if (items.length % 2) this.fail("SETITEMS has an odd number of items");
    let map: Map<unknown, unknown>;
    if (target instanceof Map) map = target;
    else if (target instanceof PickleObject) map = target.dictItems ??= new Map();
    else return this.fail("SETITEM(S) applied to a value that is not a dict");
    for (let i = 0; i < items.length; i += 2) map.set(items[i], items[i + 1]);
  }

  appendItems(target: unknown, items: unknown[]): void {
    if (Array.isArray(target)) {
      for (const v of items) target.push(v);
    } else if (target instanceof PickleObject) {
      const list = (target.listItems ??= []);
      for (const v of items) list.push(v);
    } else if (target instanceof Set) {
      for (const v of items) target.add(v);
    } else this.fail("APPEND(S) applied to a value that is not a list");
  }

  // --- main loop ----------------------------------------------------------------------------
  run(): unknown {
    try {
      return this.loop();
    } catch (err) {
      if (err instanceof AudioLMError) throw err;
      throw new AudioLMError(
        "ERR_AUDIOLM_INVALID_CHECKPOINT",
        `${this.source}: malformed pickle (${(err as Error)?.message ?? String(err)}) (pickle opcode at byte offset ${this.opPos})`,
        { cause: err },
      );
    }
  }

  loop(): unknown {
    for (;;) {
      this.opPos = this.pos;
      if (this.pos >= this.buf.length) this.fail("truncated pickle: ended without a STOP opcode");
      const op = this.buf[this.pos++]!;
      switch (op) {
        case 0x80: // PROTO
          this.proto = this.u8();
          if (this.proto > 5) this.fail(`unsupported pickle protocol ${this.proto}`);
          break;
        case 0x95: // FRAME
          this.u64();
          break;
        case 0x2e: {
          // STOP
          const v = this.pop();
          return this.finish(v);
        }
        // --- structure
        case 0x28: // MARK
          if (this.marks.length >= this.maxStack) this.fail("too many MARKs");
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP
          if (this.stack.length > this.base()) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK
          this.popMark();
          break;
        case 0x32: // DUP
          this.push(this.deref(this.top()));
          break;
        // --- memo
        case 0x70: // PUT
          this.memoPut(Number(this.parseIntText(this.line())));
          break;
        case 0x71: // BINPUT
          this.memoPut(this.u8());
          break;
        case 0x72: // LONG_BINPUT
          this.memoPut(this.u32());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size);
          break;
        case 0x67: // GET
          this.push(this.memoGet(Number(this.parseIntText(this.line()))));
          break;
        case 0x68: // BINGET
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET
          this.push(this.memoGet(this.u32()));
          break;
        // --- atoms
        case 0x4e: // NONE
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x49: {
          // INT
          const s = this.line();
          const t = s.trim();
          if (t === "01") this.push(true);
          else if (t === "00") this.push(false);
          else this.push(this.parseIntText(s));
          break;
        }
        case 0x4a: // BININT
          this.push(this.i32());
          break;
        case 0x4b: // BININT1
          this.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.push(this.u16());
          break;
        case 0x4c: // LONG
          this.push(this.parseIntText(this.line()));
          break;
        case 0x8a: // LONG1
          this.push(this.decodeLong(this.bytes(this.u8())));
          break;
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0 || n > 1 << 20) this.fail(`LONG4 length ${n} is invalid`);
          this.push(this.decodeLong(this.bytes(n)));
          break;
        }
        case 0x46: // FLOAT
          this.push(this.parseFloatText(this.line()));
          break;
        case 0x47: // BINFLOAT
          this.need(8);
          this.push(this.buf.readDoubleBE(this.pos));
          this.pos += 8;
          break;
        // --- strings and bytes
        case 0x53: // STRING
          this.push(this.py2str(this.quotedString(this.line())));
          break;
        case 0x54: {
          // BINSTRING
          const n = this.i32();
          if (n < 0) this.fail("negative BINSTRING length");
          this.push(this.py2str(this.bytes(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING
          this.push(this.py2str(this.bytes(this.u8())));
          break;
        case 0x56: // UNICODE
          this.push(this.rawUnicodeEscape(this.line()));
          break;
        case 0x58: // BINUNICODE
          this.push(this.bytes(this.u32()).toString("utf8"));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.bytes(this.u8()).toString("utf8"));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.bytes(this.u64()).toString("utf8"));
          break;
        case 0x42: // BINBYTES
          this.push(this.bytes(this.u32()));
          break;
        case 0x43: // SHORT_BINBYTES
          this.push(this.bytes(this.u8()));
          break;
        case 0x8e: // BINBYTES8
          this.push(this.bytes(this.u64()));
          break;
        case 0x96: // BYTEARRAY8
          this.push(Buffer.from(this.bytes(this.u64())));
          break;
        case 0x97: {
          // NEXT_BUFFER
          const bufs = this.opts.buffers;
          if (!bufs || this.usedBuffers >= bufs.length) this.fail("NEXT_BUFFER without a matching out-of-band buffer");
          const b = bufs[this.usedBuffers++]!;
          this.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
          break;
        }
        case 0x98: // READONLY_BUFFER
          this.top();
          break;
        // --- containers
        case 0x29: // EMPTY_TUPLE
          this.push([]);
          break;
        case 0x74: // TUPLE
          this.push(this.popMark());
          break;
        case 0x85: // TUPLE1
          this.push([this.pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          const a = this.pop();
          this.push([a, b]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          const a = this.pop();
          this.push([a, b, c]);
          break;
        }
        case 0x5d: // EMPTY_LIST
          this.push([]);
          break;
        case 0x6c: // LIST
          this.push(this.popMark());
          break;
        case 0x61: {
          // APPEND
          const v = this.pop();
          this.appendItems(this.top(), [v]);
          break;
        }
        case 0x65: {
          // APPENDS
          const items = this.popMark();
          this.appendItems(this.top(), items);
          break;
        }
        case 0x7d: // EMPTY_DICT
          this.push(new Map());
          break;
        case 0x64: {
          // DICT
          const items = this.popMark();
          const m = new Map();
          this.setItems(m, items);
          this.push(m);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = this.pop();
          const k = this.pop();
          this.setItems(this.top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail("ADDITEMS applied to a value that is not a set");
          for (const v of items) s.add(v);
          break;
        }
        case 0x91: // FROZENSET
          this.push(new Set(this.popMark()));
          break;
        // --- globals and objects
        case 0x63: {
          // GLOBAL
          const module = this.lineUtf8();
          const name = this.lineUtf8();
          this.push(this.findGlobal(module, name));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== "string" || typeof name !== "string") this.fail("STACK_GLOBAL needs two strings");
          this.push(this.findGlobal(module, name));
          break;
        }
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: {
          // EXT4
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32();
          this.unsafe(`extension-registry code ${code} (a global that cannot be checked)`);
          break;
        }
        case 0x52: {
          // REDUCE
          const args = this.pop();
          const fn = this.pop();
          this.push(this.call(fn, args));
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args, kwargs));
          break;
        }
        case 0x69: {
          // INST
          const module = this.lineUtf8();
          const name = this.lineUtf8();
          const cls = this.findGlobal(module, name);
          this.push(this.call(cls, this.popMark()));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = this.popMark();
          if (!items.length) this.fail("OBJ without a class");
          this.push(this.call(items[0], items.slice(1)));
          break;
        }
        case 0x62: {
          // BUILD
          const state = this.pop();
          const target = this.pop();
          this.push(this.build(target, state));
          break;
        }
        case 0x51: {
          // BINPERSID
          const pid = this.pop();
          this.push(this.persistent(pid));
          break;
        }
        case 0x50: // PERSID
          this.push(this.persistent(this.line()));
          break;
        default:
          this.fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
      }
    }
  }

  persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) this.fail("persistent id found but no persistent loader was given (is this a torch checkpoint?)");
    return this.opts.persistentLoad(pid);
  }

  finish(v: unknown): unknown {
    if (v instanceof PendingNdArray) v = v.isResolved ? v.resolved : pendingToOpaque(v);
    if (this.pendingLeaked || this.pendingUnresolved > 0) v = fixPending(v);
    return v;
  }
}

function pendingToOpaque(p: PendingNdArray): unknown {
  return p.isResolved ? p.resolved : new PickleObject("numpy.ndarray", p.args);
}

/** Replaces PendingNdArray placeholders that escaped into containers (only hostile/odd pickles). */
function fixPending(root: unknown): unknown {
  if (root instanceof PendingNdArray) return pendingToOpaque(root);
  const seen = new Set<object>();
  const work: unknown[] = [root];
  const fix = (v: unknown): unknown => (v instanceof PendingNdArray ? pendingToOpaque(v) : v);
  while (work.length) {
    const v = work.pop();
    if (v === null || typeof v !== "object" || seen.has(v) || Buffer.isBuffer(v) || v instanceof TorchTensor) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        v[i] = fix(v[i]);
        work.push(v[i]);
      }
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        const y = fix(x);
        if (y !== x) v.set(k, y);
        work.push(k, y);
      }
    } else if (v instanceof Set) {
      const items = [...v];
      if (items.some((x) => x instanceof PendingNdArray)) {
        v.clear();
        for (const x of items) v.add(fix(x));
      }
      for (const x of v) work.push(x);
    } else if (v instanceof PickleObject) {
      v.args = fix(v.args) as unknown[];
      v.state = fix(v.state);
      work.push(v.args, v.state, v.kwargs, v.dictItems, v.listItems);
    }
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Interpreted globals
// ---------------------------------------------------------------------------------------------

function arg(vm: PickleVM, args: unknown[], i: number, what: string): unknown {
  if (i >= args.length) vm.fail(`${what}: missing argument ${i}`);
  return args[i];
}

function iterableItems(vm: PickleVM, v: unknown, what: string): unknown[] {
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  else if (v instanceof Set) items = [...v];
  else if (v instanceof Map) items = [...v.keys()];
  else if (typeof v === "string") items = [...v];
  else if (Buffer.isBuffer(v)) items = [...v];
  else return vm.fail(`${what}: argument is not iterable`);
  vm.spend(items.length);
  return items;
}

function toDict(vm: PickleVM, args: unknown[], what: string): Map<unknown, unknown> {
  const m = new Map<unknown, unknown>();
  if (args.length === 0) return m;
  const src = args[0];
  if (src instanceof Map) {
    vm.spend(src.size);
    for (const [k, v] of src) m.set(k, v);
  } else {
    for (const pair of iterableItems(vm, src, what)) {
      if (!Array.isArray(pair) || pair.length !== 2) vm.fail(`${what}: items must be (key, value) pairs`);
      m.set(pair[0], pair[1]);
    }
  }
  return m;
}

function encodeText(vm: PickleVM, s: unknown, encoding: unknown, what: string): Buffer {
  if (Buffer.isBuffer(s)) return Buffer.from(s);
  if (typeof s !== "string") return vm.fail(`${what}: expected a string`);
  const enc = typeof encoding === "string" ? encoding.toLowerCase().replace(/_/g, "-") : "utf-8";
  vm.spend(s.length);
  if (enc === "latin1" || enc === "latin-1" || enc === "iso-8859-1" || enc === "iso8859-1" || enc === "l1") {
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) vm.fail(`${what}: character outside latin-1`);
    return Buffer.from(s, "latin1");
  }
  if (enc === "utf-8" || enc === "utf8") return Buffer.from(s, "utf8");
  if (enc === "ascii" || enc === "us-ascii") return Buffer.from(s, "latin1");
  return vm.fail(`${what}: unsupported encoding ${JSON.stringify(String(encoding))}`);
}

function bytesLike(vm: PickleVM, args: unknown[], what: string): Buffer {
  if (args.length === 0) return Buffer.alloc(0);
  const a = args[0];
  if (typeof a === "string") return encodeText(vm, a, args[1], what);
  if (Buffer.isBuffer(a)) return Buffer.from(a);
  if (Array.isArray(a)) {
    vm.spend(a.length);
    if (!a.every((x) => typeof x === "number" && Number.isInteger(x) && x >= 0 && x < 256)) vm.fail(`${what}: items must be bytes`);
    return Buffer.from(a as number[]);
  }
  // bytearray(n) would allocate n bytes out of nothing; data pickles never do that.
  return vm.fail(`${what}: unsupported argument`);
}

const copyDict: Handler = (vm, args) => toDict(vm, args, "dict()");
HANDLERS.set("collections.OrderedDict", (vm, args) => toDict(vm, args, "OrderedDict()"));
HANDLERS.set("collections.defaultdict", () => new Map());
HANDLERS.set("builtins.dict", copyDict);
HANDLERS.set("builtins.list", (vm, args) => (args.length ? [...iterableItems(vm, args[0], "list()")] : []));
HANDLERS.set("builtins.tuple", (vm, args) => (args.length ? [...iterableItems(vm, args[0], "tuple()")] : []));
HANDLERS.set("builtins.set", (vm, args) => new Set(args.length ? iterableItems(vm, args[0], "set()") : []));
HANDLERS.set("builtins.frozenset", (vm, args) => new Set(args.length ? iterableItems(vm, args[0], "frozenset()") : []));
HANDLERS.set("builtins.bytearray", (vm, args) => bytesLike(vm, args, "bytearray()"));
HANDLERS.set("builtins.bytes", (vm, args) => bytesLike(vm, args, "bytes()"));
HANDLERS.set("_codecs.encode", (vm, args) => encodeText(vm, arg(vm, args, 0, "_codecs.encode"), args[1], "_codecs.encode"));
HANDLERS.set("codecs.encode", (vm, args) => encodeText(vm, arg(vm, args, 0, "codecs.encode"), args[1], "codecs.encode"));

// copyreg helpers used by protocols 0–2 to construct plain objects.
HANDLERS.set("copyreg._reconstructor", (vm, args) => {
  const state = args[2];
  return vm.call(arg(vm, args, 0, "_reconstructor"), state === null || state === undefined ? [] : [state]);
});
HANDLERS.set("copyreg.__newobj__", (vm, args) => vm.call(arg(vm, args, 0, "__newobj__"), args.slice(1)));
HANDLERS.set("copyreg.__newobj_ex__", (vm, args) => vm.call(arg(vm, args, 0, "__newobj_ex__"), arg(vm, args, 1, "__newobj_ex__"), args[2]));

// --- torch

/** Storage class names → element types (torch.<Name>, torch.cuda.<Name>, torch.storage.<Name>). */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, TensorDType>> = Object.freeze({
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
  LongStorage: "I64",
  IntStorage: "I32",
  ShortStorage: "I16",
  CharStorage: "I8",
  ByteStorage: "U8",
  BoolStorage: "BOOL",
  UntypedStorage: "U8",
});

/** torch dtype names (torch.float32, torch.half, ...) → element types. */
export const TORCH_DTYPES: Readonly<Record<string, TensorDType>> = Object.freeze({
  float32: "F32",
  float: "F32",
  float16: "F16",
  half: "F16",
  bfloat16: "BF16",
  float64: "F64",
  double: "F64",
  int64: "I64",
  long: "I64",
  int32: "I32",
  int: "I32",
  int16: "I16",
  short: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
});

function asStorage(vm: PickleVM, v: unknown, what: string): TensorStorage {
  if (!(v instanceof TensorStorage)) vm.fail(`${what}: first argument is not a tensor storage`);
  return v;
}

function rebuildTensor(vm: PickleVM, storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown, what: string): TorchTensor {
  const st = asStorage(vm, storage, what);
  try {
    return makeTensor(st, offset, size, stride, requiresGrad === true, "torch");
  } catch (err) {
    if (err instanceof AudioLMError) vm.fail(`${what}: ${err.message}`);
    throw err;
  }
}

HANDLERS.set("torch._utils._rebuild_tensor", (vm, a) =>
  rebuildTensor(vm, a[0], arg(vm, a, 1, "_rebuild_tensor"), arg(vm, a, 2, "_rebuild_tensor"), arg(vm, a, 3, "_rebuild_tensor"), false, "_rebuild_tensor"),
);
HANDLERS.set("torch._utils._rebuild_tensor_v2", (vm, a) =>
  rebuildTensor(vm, a[0], arg(vm, a, 1, "_rebuild_tensor_v2"), arg(vm, a, 2, "_rebuild_tensor_v2"), arg(vm, a, 3, "_rebuild_tensor_v2"), a[4], "_rebuild_tensor_v2"),
);
HANDLERS.set("torch._utils._rebuild_tensor_v3", (vm, a) => {
  const dt = arg(vm, a, 6, "_rebuild_tensor_v3");
  const dtype = dt instanceof PickleGlobal && dt.module === "torch" ? TORCH_DTYPES[dt.name] : undefined;
  if (!dtype) throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${vm.source}: tensor dtype ${dt instanceof PickleGlobal ? dt.fullName : String(dt)} is not supported`);
  const raw = asStorage(vm, a[0], "_rebuild_tensor_v3");
  const size = DTYPE_SIZE[dtype];
  const st = raw.dtype === dtype ? raw : new TensorStorage(raw.key, dtype, Math.floor(raw.byteLength / size), raw.location, () => raw.data);
  return rebuildTensor(vm, st, a[1], a[2], a[3], a[4], "_rebuild_tensor_v3");
});
function rebuildParameter(vm: PickleVM, a: unknown[], what: string): TorchTensor {
  const data = arg(vm, a, 0, what);
  if (!(data instanceof TorchTensor)) vm.fail(`${what}: data is not a tensor`);
  const t = new TorchTensor(data.dtype, data.shape, data.strides, data.storageOffset, data.storage, a[1] === true, data.source);
  t.isParameter = true;
  return t;
}
HANDLERS.set("torch._utils._rebuild_parameter", (vm, a) => rebuildParameter(vm, a, "_rebuild_parameter"));
HANDLERS.set("torch._utils._rebuild_parameter_with_state", (vm, a) => rebuildParameter(vm, a, "_rebuild_parameter_with_state"));
const fromType: Handler = (vm, a) => vm.call(arg(vm, a, 0, "_rebuild_from_type"), arg(vm, a, 2, "_rebuild_from_type"));
HANDLERS.set("torch._tensor._rebuild_from_type", fromType);
HANDLERS.set("torch._tensor._rebuild_from_type_v2", fromType);
HANDLERS.set("torch.Size", (vm, a) => (a.length ? [...iterableItems(vm, a[0], "torch.Size")] : []));
HANDLERS.set("torch.device", (_vm, a) => (a.length >= 2 && typeof a[1] === "number" ? `${String(a[0])}:${a[1]}` : String(a[0] ?? "cpu")));
HANDLERS.set("torch.storage._load_from_bytes", (vm, a) => {
  const b = arg(vm, a, 0, "_load_from_bytes");
  if (!Buffer.isBuffer(b)) return vm.fail("_load_from_bytes: argument is not bytes");
  if (!vm.opts.loadTorchBytes) {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${vm.source}: tensors pickled with plain pickle (torch.storage._load_from_bytes) need a nested torch loader`);
  }
  if (vm.depth >= MAX_NESTING) vm.fail("torch storages nested too deeply");
  return vm.opts.loadTorchBytes(b);
});

// --- numpy

function applyDTypeState(vm: PickleVM, dt: NumpyDType, state: unknown): void {
  if (!Array.isArray(state) || state.length < 8) {
    vm.fail("numpy.dtype state is not a tuple of 8 or 9 items");
  }
  // (version, byteorder, subdescr, names, fields, elsize, alignment, flags[, metadata])
  if (typeof state[1] === "string") dt.byteOrder = state[1];
  if (state[3] !== null || state[4] !== null || state[2] !== null) dt.structured = true;
  if (typeof state[5] === "number" && state[5] > 0) dt.stateItemSize = state[5];
}

function numpyDTypeArg(vm: PickleVM, v: unknown, what: string): NumpyDType {
  if (!(v instanceof NumpyDType)) vm.fail(`${what}: dtype is not a numpy.dtype`);
  return v;
}

let numpyCounter = 0;

/** Builds a tensor over `raw` (copied + byte-swapped when big-endian); opaque for unsupported dtypes. */
function numpyArray(vm: PickleVM, shapeV: unknown, dt: NumpyDType, fortran: boolean, raw: unknown, what: string): unknown {
  if (!Array.isArray(shapeV)) vm.fail(`${what}: shape is not a tuple`);
  const shape = shapeV;
  const tdt = dt.tensorDType;
  let data: Buffer;
  if (Buffer.isBuffer(raw)) data = raw;
  else if (typeof raw === "string") data = encodeText(vm, raw, "latin1", what);
  else {
    const o = new PickleObject("numpy.ndarray", [shape, dt]);
    o.state = raw;
    return o;
  }
  if (!tdt) {
    const o = new PickleObject("numpy.ndarray", [shape, dt]);
    o.state = data;
    return o;
  }
  const size = DTYPE_SIZE[tdt];
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) vm.fail(`${what}: invalid shape`);
    numel *= d;
  }
  if (!Number.isSafeInteger(numel) || numel * size !== data.length) {
    vm.fail(`${what}: array of shape (${shape.join(", ")}) and dtype ${dt.descr} needs ${numel * size} bytes but has ${data.length}`);
  }
  if (size > 1 && dt.bigEndian) {
    data = Buffer.from(data);
    if (size === 2) data.swap16();
    else if (size === 4) data.swap32();
    else data.swap64();
  }
  const storage = new TensorStorage(`numpy:${++numpyCounter}`, tdt, numel, "cpu", data);
  let strides: number[];
  if (fortran) {
    strides = [];
    let s = 1;
    for (const d of shape as number[]) {
      strides.push(s);
      s *= Math.max(1, d);
    }
  } else strides = contiguousStrides(shape as number[]);
  try {
    return makeTensor(storage, 0, shape, strides, false, "numpy");
  } catch (err) {
    if (err instanceof AudioLMError) vm.fail(`${what}: ${err.message}`);
    throw err;
  }
}

function resolveNdArrayState(vm: PickleVM, p: PendingNdArray, state: unknown): unknown {
  if (!Array.isArray(state)) vm.fail("numpy.ndarray state is not a tuple");
  // (version, shape, dtype, is_fortran, rawdata) or the old (shape, dtype, is_fortran, rawdata)
  const s = state.length === 5 ? state.slice(1) : state;
  if (s.length !== 4) vm.fail("numpy.ndarray state has the wrong length");
  const dt = numpyDTypeArg(vm, s[1], "numpy.ndarray");
  void p;
  return numpyArray(vm, s[0], dt, s[2] === true || s[2] === 1, s[3], "numpy.ndarray");
}

function reconstruct(vm: PickleVM, args: unknown[]): unknown {
  const sub = arg(vm, args, 0, "_reconstruct");
  if (sub instanceof PickleGlobal && sub.fullName === "numpy.ndarray") {
    vm.pendingUnresolved++;
    return new PendingNdArray(args);
  }
  return new PickleObject(sub instanceof PickleGlobal ? sub.fullName : "numpy.ndarray", args);
}

function frombuffer(vm: PickleVM, a: unknown[]): unknown {
  const dt = numpyDTypeArg(vm, arg(vm, a, 1, "_frombuffer"), "_frombuffer");
  return numpyArray(vm, arg(vm, a, 2, "_frombuffer"), dt, a[3] === "F", arg(vm, a, 0, "_frombuffer"), "_frombuffer");
}

function scalar(vm: PickleVM, a: unknown[]): unknown {
  const dt = numpyDTypeArg(vm, arg(vm, a, 0, "numpy scalar"), "numpy scalar");
  const raw = a[1];
  const b = Buffer.isBuffer(raw) ? raw : typeof raw === "string" ? encodeText(vm, raw, "latin1", "numpy scalar") : undefined;
  const tdt = dt.tensorDType;
  if (!b || !tdt || b.length !== DTYPE_SIZE[tdt]) return new PickleObject("numpy.core.multiarray.scalar", a);
  const be = dt.bigEndian;
  switch (tdt) {
    case "F32":
      return be ? b.readFloatBE(0) : b.readFloatLE(0);
    case "F64":
      return be ? b.readDoubleBE(0) : b.readDoubleLE(0);
    case "F16":
      return f16ToF32(be ? b.readUInt16BE(0) : b.readUInt16LE(0));
    case "BF16":
      return bf16ToF32(be ? b.readUInt16BE(0) : b.readUInt16LE(0));
    case "I64":
      return vm.int(be ? b.readBigInt64BE(0) : b.readBigInt64LE(0));
    case "I32":
      return be ? b.readInt32BE(0) : b.readInt32LE(0);
    case "I16":
      return be ? b.readInt16BE(0) : b.readInt16LE(0);
    case "I8":
      return b.readInt8(0);
    case "U8":
      return b[0]!;
    case "BOOL":
      return b[0] !== 0;
  }
}

for (const core of ["numpy.core", "numpy._core"]) {
  HANDLERS.set(`${core}.multiarray._reconstruct`, reconstruct);
  HANDLERS.set(`${core}.multiarray.scalar`, scalar);
  HANDLERS.set(`${core}.numeric._frombuffer`, frombuffer);
}
HANDLERS.set("numpy.dtype", (vm, a) => {
  const d = arg(vm, a, 0, "numpy.dtype");
  if (typeof d !== "string") return vm.fail("numpy.dtype: descriptor is not a string");
  return new NumpyDType(d);
});

/** joblib writes array bytes straight into the stream right after the wrapper's BUILD. */
function readJoblibArray(vm: PickleVM, w: PickleObject): unknown {
  const st = w.state;
  if (!(st instanceof Map)) vm.fail("joblib NumpyArrayWrapper state is not a dict");
  const dt = numpyDTypeArg(vm, st.get("dtype"), "joblib array");
  const shape = st.get("shape");
  if (!Array.isArray(shape)) vm.fail("joblib array: shape is not a tuple");
  const fortran = st.get("order") === "F";
  if (dt.descr.replace(/^[<>|=]/, "").startsWith("O")) {
    // Object arrays are a nested pickle in the same stream.
    if (vm.depth >= MAX_NESTING) vm.fail("joblib arrays nested too deeply");
    const inner = new PickleVM(vm.buf, vm.pos, vm.opts, vm.depth + 1);
    const value = inner.run();
    vm.pos = inner.pos;
    return value;
  }
  const align = st.get("numpy_array_alignment_bytes");
  if (align !== undefined && align !== null) {
    const pad = vm.u8();
    if (pad) vm.bytes(pad);
  }
  const itemSize = dt.itemSize;
  if (!itemSize) vm.fail(`joblib array: unknown item size for dtype ${dt.descr}`);
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) vm.fail("joblib array: invalid shape");
    numel *= d;
  }
  const nbytes = numel * itemSize;
  if (!Number.isSafeInteger(nbytes) || nbytes > vm.buf.length - vm.pos) {
    vm.fail(`joblib array: ${nbytes} bytes of array data run past the end of the stream`);
  }
  const raw = vm.bytes(nbytes);
  return numpyArray(vm, shape, dt, fortran, raw, "joblib array");
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Unpickles one pickle from `bytes` (starting at `options.offset`) and also returns the offset just
 * past its STOP opcode, for streams holding several pickles (legacy torch files, joblib).
 */
export function readPickleAt(bytes: Uint8Array, options: ReadPickleOptions = {}): { value: unknown; end: number } {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = options.offset ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > buf.length) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected an offset within the data for options.offset but received ${String(start)}`);
  }
  const vm = new PickleVM(buf, start, options, 0);
  const value = vm.run();
  return { value, end: vm.pos };
}

/** Unpickles `bytes` (see the module comment for what values come out). */
export function readPickle(bytes: Uint8Array, options: ReadPickleOptions = {}): unknown {
  return readPickleAt(bytes, options).value;
}
