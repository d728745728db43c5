/**
 * Tensors read from torch checkpoints and numpy pickles: {@link TensorStorage} (lazily loaded bytes),
 * {@link TorchTensor} (a strided view of a storage), the dtype tables, and conversion of a tensor's
 * elements to contiguous typed arrays.
 */
import { AudioLMError } from "../errors.js";
import { HOST_LE, halfTable } from "./half.js";

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

// --- torch dtype names -----------------------------------------------------------------------

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
