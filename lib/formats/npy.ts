/**
 * NumPy `.npy` / `.npz` reading and `.npy` writing.
 *
 * Reads format versions 1.0, 2.0 and 3.0 with plain numeric dtypes (bool, int8–int64,
 * uint8–uint64, float16/32/64) in either byte order (big-endian data is byte-swapped), C order.
 * Writes version 1.0 headers (2.0 when the header would not fit), padded like numpy so that the
 * data starts at a multiple of 64 bytes.
 */
import { readFile, writeFile } from "node:fs/promises";
import { crc32 as zlibCrc32 } from "node:zlib";
import { AudioLMError, describe, invalidArgument } from "../errors.js";
import { openZip } from "./zip.js";

/** Element types understood by the reader and writer. */
export type NpyDtype =
  | "bool"
  | "int8"
  | "uint8"
  | "int16"
  | "uint16"
  | "int32"
  | "uint32"
  | "int64"
  | "uint64"
  | "float16"
  | "float32"
  | "float64";

/** The typed arrays that hold `.npy` data (`float16` as raw bits in a Uint16Array, `bool` as 0/1 bytes). */
export type NpyData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/** A decoded `.npy` array: C-order data, `data.length === product(shape)`. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

interface DtypeInfo {
  dtype: NpyDtype;
  size: number;
  make: (buf: ArrayBuffer, n: number) => NpyData;
}

const DTYPES: Record<string, DtypeInfo> = {
  b1: { dtype: "bool", size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  i1: { dtype: "int8", size: 1, make: (b, n) => new Int8Array(b, 0, n) },
  u1: { dtype: "uint8", size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  i2: { dtype: "int16", size: 2, make: (b, n) => new Int16Array(b, 0, n) },
  u2: { dtype: "uint16", size: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  i4: { dtype: "int32", size: 4, make: (b, n) => new Int32Array(b, 0, n) },
  u4: { dtype: "uint32", size: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  i8: { dtype: "int64", size: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  u8: { dtype: "uint64", size: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
  f2: { dtype: "float16", size: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  f4: { dtype: "float32", size: 4, make: (b, n) => new Float32Array(b, 0, n) },
  f8: { dtype: "float64", size: 8, make: (b, n) => new Float64Array(b, 0, n) },
};

const CODE_OF: Record<NpyDtype, string> = {
  bool: "b1",
  int8: "i1",
  uint8: "u1",
  int16: "i2",
  uint16: "u2",
  int32: "i4",
  uint32: "u4",
  int64: "i8",
  uint64: "u8",
  float16: "f2",
  float32: "f4",
  float64: "f8",
};

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function npyError(source: string, what: string, cause?: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_INVALID_NPY", `${source} ${what}`, cause === undefined ? undefined : { cause });
}

function ioError(verb: string, path: string, err: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_IO", `Could not ${verb} ${JSON.stringify(path)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** Parses the header dict `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`. */
function parseHeader(header: string, source: string): { info: DtypeInfo; swap: boolean; shape: number[] } {
  const h = header.trim();
  if (!h.startsWith("{") || !h.endsWith("}")) throw npyError(source, `has a malformed header (expected a Python dict, received ${JSON.stringify(h.slice(0, 60))})`);
  const descrMatch = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(h);
  if (!descrMatch) {
    if (/['"]descr['"]\s*:\s*\[/.test(h)) throw npyError(source, "uses a structured dtype, which is not supported");
    throw npyError(source, "has a header without a 'descr' entry");
  }
  const descr = descrMatch[2];
  const fortranMatch = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(h);
  if (!fortranMatch) throw npyError(source, "has a header without a valid 'fortran_order' entry");
  if (fortranMatch[1] === "True") throw npyError(source, "is stored in Fortran order, which is not supported (save a C-contiguous array, e.g. np.ascontiguousarray)");
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(h);
  if (!shapeMatch) throw npyError(source, "has a header without a valid 'shape' tuple");
  const shape: number[] = [];
  for (const part of shapeMatch[1].split(",")) {
    const s = part.trim().replace(/L$/, "");
    if (s === "") continue;
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(Number(s))) throw npyError(source, `has an invalid shape entry ${JSON.stringify(part.trim())}`);
    shape.push(Number(s));
  }

  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  const info = m ? DTYPES[m[2] + m[3]] : undefined;
  if (!m || !info) throw npyError(source, `has unsupported dtype ${JSON.stringify(descr)} (supported: bool, int8–64, uint8–64, float16/32/64)`);
  const order = m[1];
  const fileLE = order === "<" || order === "|" || (order === "=" || order === "" ? HOST_LE : false);
  const swap = info.size > 1 && fileLE !== HOST_LE;
  return { info, swap, shape };
}

/**
 * Decodes a `.npy` file image (format 1.0, 2.0 or 3.0).
 *
 * @param bytes - The whole `.npy` file.
 * @param source - How to name the data in error messages (default "NPY data").
 * @returns dtype, shape and a freshly allocated, aligned typed array (int64 as BigInt64Array,
 *   float16 as raw bits in a Uint16Array, bool as a Uint8Array of 0/1). Big-endian data is
 *   converted to host order.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_NPY` for a bad magic, header, unsupported dtype,
 *   Fortran order, or a data length that does not match the shape.
 */
export function decodeNpy(bytes: Uint8Array, source = `NPY data (${bytes?.length} bytes)`): NpyArray {
  if (!(bytes instanceof Uint8Array)) invalidArgument("bytes", "a Uint8Array", bytes);
  if (bytes.length === 0) throw npyError(source, "is empty");
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw npyError(source, "is not a .npy file (missing the \\x93NUMPY magic)");
  const major = bytes[6];
  const minor = bytes[7];
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw npyError(source, "is truncated inside its header");
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    headerStart = 12;
  } else {
    throw npyError(source, `has unsupported format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw npyError(source, `declares a ${headerLen}-byte header but the file has only ${bytes.length} bytes`);
  const headerBytes = bytes.subarray(headerStart, dataStart);
  const header = major === 3 ? new TextDecoder("utf-8").decode(headerBytes) : Buffer.from(headerBytes).toString("latin1");
  const { info, swap, shape } = parseHeader(header, source);

  let count = 1;
  for (const d of shape) count *= d;
  const need = count * info.size;
  const have = bytes.length - dataStart;
  if (!Number.isSafeInteger(need) || need !== have) {
    throw npyError(source, `has ${have} data bytes but shape (${shape.join(", ")}) of ${info.dtype} needs ${need}`);
  }
  // Copy into a fresh, aligned buffer.
  const buf = new ArrayBuffer(need);
  const u8 = new Uint8Array(buf);
  u8.set(bytes.subarray(dataStart, dataStart + need));
  if (swap) {
    const b = Buffer.from(buf);
    if (info.size === 2) b.swap16();
    else if (info.size === 4) b.swap32();
    else b.swap64();
  }
  return { dtype: info.dtype, shape, data: info.make(buf, count) };
}

/**
 * Reads a `.npy` file (or an in-memory `.npy` image); see {@link decodeNpy}.
 *
 * @param pathOrBytes - A file path or the file's bytes.
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_NPY`
 *   when it is not a supported `.npy` file.
 */
export async function readNpy(pathOrBytes: string | Uint8Array): Promise<NpyArray> {
  if (pathOrBytes instanceof Uint8Array) return decodeNpy(pathOrBytes);
  if (typeof pathOrBytes !== "string" || pathOrBytes.length === 0) invalidArgument("pathOrBytes", "a file path or a Uint8Array", pathOrBytes);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pathOrBytes);
  } catch (err) {
    throw ioError("read .npy file", pathOrBytes, err);
  }
  return decodeNpy(bytes, `.npy file ${JSON.stringify(pathOrBytes)}`);
}

/**
 * Decodes a `.npz` archive (as written by `np.savez` or `np.savez_compressed`: a zip of `.npy`
 * files, stored or deflated).
 *
 * @param bytes - The whole `.npz` file.
 * @param source - How to name the data in error messages.
 * @returns A map from array name (the entry name without `.npy`) to array, in archive order.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_NPY` when the zip or one of its arrays is invalid.
 */
export function decodeNpz(bytes: Uint8Array, source = `NPZ data (${bytes?.length} bytes)`): Map<string, NpyArray> {
  if (!(bytes instanceof Uint8Array)) invalidArgument("bytes", "a Uint8Array", bytes);
  if (bytes.length === 0) throw npyError(source, "is empty");
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Map<string, NpyArray>();
  try {
    const zip = openZip(buf, { source });
    for (const entry of zip.entries) {
      if (entry.name.endsWith("/")) continue;
      const name = entry.name.endsWith(".npy") ? entry.name.slice(0, -4) : entry.name;
      out.set(name, decodeNpy(zip.read(entry.name), `${source} entry ${JSON.stringify(entry.name)}`));
    }
  } catch (err) {
    if (err instanceof AudioLMError && err.code === "ERR_AUDIOLM_INVALID_CHECKPOINT") {
      throw new AudioLMError("ERR_AUDIOLM_INVALID_NPY", err.message.startsWith(source) ? err.message : `${source}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  return out;
}

/**
 * Reads a `.npz` archive from a path (or bytes); see {@link decodeNpz}.
 *
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_NPY`
 *   when the archive or an array in it is invalid.
 */
export async function readNpz(pathOrBytes: string | Uint8Array): Promise<Map<string, NpyArray>> {
  if (pathOrBytes instanceof Uint8Array) return decodeNpz(pathOrBytes);
  if (typeof pathOrBytes !== "string" || pathOrBytes.length === 0) invalidArgument("pathOrBytes", "a file path or a Uint8Array", pathOrBytes);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pathOrBytes);
  } catch (err) {
    throw ioError("read .npz file", pathOrBytes, err);
  }
  return decodeNpz(bytes, `.npz file ${JSON.stringify(pathOrBytes)}`);
}

/**
 * Converts an integer array to an Int32Array, checking that every value fits.
 *
 * @param arr - A decoded array of an integer or bool dtype.
 * @param name - How to name the array in error messages (default "array").
 * @returns The data as an Int32Array (the same object when it already is one).
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for a float dtype or a value outside the
 *   int32 range (the message gives the value and its index).
 */
export function npyToInt32(arr: NpyArray, name = "array"): Int32Array {
  if (arr === null || typeof arr !== "object" || !ArrayBuffer.isView(arr.data)) invalidArgument(name, "a decoded .npy array", arr);
  const { data, dtype } = arr;
  if (data instanceof Int32Array) return data;
  if (dtype === "float16" || data instanceof Float32Array || data instanceof Float64Array) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected an integer array for ${name} but received dtype ${dtype}`);
  }
  const out = new Int32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < -2147483648n || v > 2147483647n) throw outOfRange(name, v, i);
      out[i] = Number(v);
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      const v = (data as Uint8Array | Int8Array | Int16Array | Uint16Array | Uint32Array)[i];
      if (v > 2147483647) throw outOfRange(name, v, i);
      out[i] = v;
    }
  }
  return out;
}

function outOfRange(name: string, v: number | bigint, i: number): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected int32-range values for ${name} but received ${v} at index ${i}`);
}

function dtypeOf(data: unknown): NpyDtype | undefined {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof BigUint64Array) return "uint64";
  if (data instanceof Int8Array) return "int8";
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return "uint8";
  return undefined;
}

/**
 * Encodes a typed array as a `.npy` file image (format 1.0, or 2.0 for a header over 64 KiB),
 * byte-for-byte what `np.save` writes for the same C-order array.
 *
 * @param data - The elements in C order. The dtype follows the array type (Int32Array → int32,
 *   BigInt64Array → int64, Float32Array → float32, …).
 * @param shape - The array shape; defaults to `[data.length]`. Its product must equal `data.length`.
 * @param dtype - Override for arrays whose dtype is ambiguous: `"float16"` (raw bits in a
 *   Uint16Array) or `"bool"` (a Uint8Array of 0/1).
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for an unsupported array type, a bad
 *   shape, or a dtype override that does not fit the array type.
 */
export function encodeNpy(data: NpyData | Uint8ClampedArray, shape?: readonly number[], dtype?: NpyDtype): Uint8Array {
  const natural = dtypeOf(data);
  if (!natural) invalidArgument("data", "a typed array (Int8/16/32, BigInt64, Uint8/16/32, BigUint64, Float32/64)", data);
  let dt: NpyDtype = natural;
  if (dtype !== undefined) {
    const ok = dtype === natural || (dtype === "float16" && natural === "uint16") || (dtype === "bool" && natural === "uint8");
    if (!ok) throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a dtype matching ${data.constructor.name} for dtype but received ${describe(dtype)}`);
    dt = dtype;
  }
  const dims = shape === undefined ? [data.length] : shape;
  if (!Array.isArray(dims) || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    invalidArgument("shape", "an array of non-negative integers", shape);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected ${count} elements for data (shape [${dims.join(", ")}]) but received ${describe(data)}`);
  }
  const size = DTYPES[CODE_OF[dt]].size;
  const order = size === 1 ? "|" : HOST_LE ? "<" : ">";
  const shapeStr = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(", ")})`;
  // Same layout as numpy's _write_array_header: spare spaces for growing the first axis, then
  // padding so that magic + length + header (ending in "\n") is a multiple of 64 bytes.
  const growth = dims.length > 0 ? Math.max(0, 21 - String(dims[0]).length) : 0;
  const dict = `{'descr': '${order}${CODE_OF[dt]}', 'fortran_order': False, 'shape': ${shapeStr}, }` + " ".repeat(growth);
  const hlen = dict.length + 1;
  let prefix = 10;
  let major = 1;
  let total = prefix + hlen + (64 - ((prefix + hlen) % 64));
  if (total - prefix > 0xffff) {
    prefix = 12;
    major = 2;
    total = prefix + hlen + (64 - ((prefix + hlen) % 64));
  }
  const headerLen = total - prefix;
  const out = new Uint8Array(total + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, headerLen, true);
  else dv.setUint32(8, headerLen, true);
  const text = dict + " ".repeat(headerLen - dict.length - 1) + "\n";
  for (let i = 0; i < text.length; i++) out[prefix + i] = text.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

/**
 * Writes a typed array to a `.npy` file; see {@link encodeNpy}.
 *
 * @param path - The file to create or overwrite.
 * @param data - The elements in C order.
 * @param shape - The array shape; defaults to `[data.length]`.
 * @param dtype - `"float16"` / `"bool"` override, see {@link encodeNpy}.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for bad arguments, `ERR_AUDIOLM_IO` when
 *   the file cannot be written.
 */
export async function writeNpy(path: string, data: NpyData | Uint8ClampedArray, shape?: readonly number[], dtype?: NpyDtype): Promise<void> {
  if (typeof path !== "string" || path.length === 0) invalidArgument("path", "a file path", path);
  const bytes = encodeNpy(data, shape, dtype);
  try {
    await writeFile(path, bytes);
  } catch (err) {
    throw ioError("write .npy file", path, err);
  }
}

/**
 * Encodes named arrays as an `.npz` archive (a zip of `.npy` files, stored uncompressed), as
 * `numpy.savez` writes it. Names get a `.npy` suffix unless they have one.
 */
export function encodeNpz(arrays: Map<string, { data: NpyData; shape: readonly number[] }> | Record<string, { data: NpyData; shape: readonly number[] }>): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [rawName, arr] of entries) {
    const name = Buffer.from(rawName.endsWith(".npy") ? rawName : `${rawName}.npy`, "utf8");
    const body = Buffer.from(encodeNpy(arr.data, arr.shape));
    const crc = zlibCrc32(body) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time/date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(body.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(body.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, cd, end]));
}

/** Writes named arrays to an `.npz` file (see encodeNpz). */
export async function writeNpz(path: string, arrays: Parameters<typeof encodeNpz>[0]): Promise<void> {
  await writeFile(path, encodeNpz(arrays));
}
