/**
 * Which Python globals a data-only pickle may name (the allow/deny policy), and the interpreters for
 * the few whose construction is built into data: builtins containers, copyreg helpers, torch tensor
 * rebuilders and numpy arrays, dtypes and scalars.
 */
import { AudioLMError } from "../../errors.js";
import { bf16BitsToNumber, f16BitsToNumber } from "../half.js";
import { NumpyDType, PendingNdArray, PickleGlobal, PickleObject } from "./values.js";
import type { PickleMachine } from "./machine.js";
import { contiguousStrides, DTYPE_SIZE, makeTensor, TORCH_DTYPES, TensorStorage, TorchTensor } from "../torch-tensor.js";

const MAX_NESTING = 8;

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

export type Handler = (vm: PickleMachine, args: unknown[], kwargs?: Map<unknown, unknown>) => unknown;

/** Globals whose construction is interpreted (everything else that is allowed stays opaque). */
export const HANDLERS = new Map<string, Handler>();

export function normalizeModule(module: string): string {
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
// Interpreted globals
// ---------------------------------------------------------------------------------------------

function arg(vm: PickleMachine, args: unknown[], i: number, what: string): unknown {
  if (i >= args.length) vm.fail(`${what}: missing argument ${i}`);
  return args[i];
}

function iterableItems(vm: PickleMachine, v: unknown, what: string): unknown[] {
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

function toDict(vm: PickleMachine, args: unknown[], what: string): Map<unknown, unknown> {
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

function encodeText(vm: PickleMachine, s: unknown, encoding: unknown, what: string): Buffer {
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

function bytesLike(vm: PickleMachine, args: unknown[], what: string): Buffer {
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

function asStorage(vm: PickleMachine, v: unknown, what: string): TensorStorage {
  if (!(v instanceof TensorStorage)) vm.fail(`${what}: first argument is not a tensor storage`);
  return v;
}

function rebuildTensor(vm: PickleMachine, storage: unknown, offset: unknown, size: unknown, stride: unknown, requiresGrad: unknown, what: string): TorchTensor {
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
function rebuildParameter(vm: PickleMachine, a: unknown[], what: string): TorchTensor {
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

export function applyDTypeState(vm: PickleMachine, dt: NumpyDType, state: unknown): void {
  if (!Array.isArray(state) || state.length < 8) {
    vm.fail("numpy.dtype state is not a tuple of 8 or 9 items");
  }
  // (version, byteorder, subdescr, names, fields, elsize, alignment, flags[, metadata])
  if (typeof state[1] === "string") dt.byteOrder = state[1];
  if (state[3] !== null || state[4] !== null || state[2] !== null) dt.structured = true;
  if (typeof state[5] === "number" && state[5] > 0) dt.stateItemSize = state[5];
}

function numpyDTypeArg(vm: PickleMachine, v: unknown, what: string): NumpyDType {
  if (!(v instanceof NumpyDType)) vm.fail(`${what}: dtype is not a numpy.dtype`);
  return v;
}

let numpyCounter = 0;

/** Builds a tensor over `raw` (copied + byte-swapped when big-endian); opaque for unsupported dtypes. */
function numpyArray(vm: PickleMachine, shapeV: unknown, dt: NumpyDType, fortran: boolean, raw: unknown, what: string): unknown {
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

export function resolveNdArrayState(vm: PickleMachine, p: PendingNdArray, state: unknown): unknown {
  if (!Array.isArray(state)) vm.fail("numpy.ndarray state is not a tuple");
  // (version, shape, dtype, is_fortran, rawdata) or the old (shape, dtype, is_fortran, rawdata)
  const s = state.length === 5 ? state.slice(1) : state;
  if (s.length !== 4) vm.fail("numpy.ndarray state has the wrong length");
  const dt = numpyDTypeArg(vm, s[1], "numpy.ndarray");
  void p;
  return numpyArray(vm, s[0], dt, s[2] === true || s[2] === 1, s[3], "numpy.ndarray");
}

function reconstruct(vm: PickleMachine, args: unknown[]): unknown {
  const sub = arg(vm, args, 0, "_reconstruct");
  if (sub instanceof PickleGlobal && sub.fullName === "numpy.ndarray") {
    vm.pendingUnresolved++;
    return new PendingNdArray(args);
  }
  return new PickleObject(sub instanceof PickleGlobal ? sub.fullName : "numpy.ndarray", args);
}

function frombuffer(vm: PickleMachine, a: unknown[]): unknown {
  const dt = numpyDTypeArg(vm, arg(vm, a, 1, "_frombuffer"), "_frombuffer");
  return numpyArray(vm, arg(vm, a, 2, "_frombuffer"), dt, a[3] === "F", arg(vm, a, 0, "_frombuffer"), "_frombuffer");
}

function scalar(vm: PickleMachine, a: unknown[]): unknown {
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
      return f16BitsToNumber(be ? b.readUInt16BE(0) : b.readUInt16LE(0));
    case "BF16":
      return bf16BitsToNumber(be ? b.readUInt16BE(0) : b.readUInt16LE(0));
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
export function readJoblibArray(vm: PickleMachine, w: PickleObject): unknown {
  const st = w.state;
  if (!(st instanceof Map)) vm.fail("joblib NumpyArrayWrapper state is not a dict");
  const dt = numpyDTypeArg(vm, st.get("dtype"), "joblib array");
  const shape = st.get("shape");
  if (!Array.isArray(shape)) vm.fail("joblib array: shape is not a tuple");
  const fortran = st.get("order") === "F";
  if (dt.descr.replace(/^[<>|=]/, "").startsWith("O")) {
    // Object arrays are a nested pickle in the same stream.
    if (vm.depth >= MAX_NESTING) vm.fail("joblib arrays nested too deeply");
    return vm.runNested();
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
