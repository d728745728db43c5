/**
 * safetensors writing and reading for the converters (the native engine has its own loader).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces so
 * that the data starts at a multiple of 8, as the reference implementation does), then the tensor
 * bytes, little-endian, C order, back to back. The header maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data start) and may hold a
 * `__metadata__` object of string → string.
 *
 * Validation follows the reference implementation: offsets must tile the data section exactly
 * (no overlap, no hole, nothing past the end) and each tensor's byte size must equal
 * `product(shape) × dtype size`. Problems raise `ERR_AUDIOLM_INVALID_MODEL` naming the file and
 * the tensor.
 */
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { AudioLMError, describe, invalidArgument } from "../errors.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, HOST_LE, halfTable } from "./half.js";

/** Every dtype of the safetensors format. */
export type SafetensorsDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "F8_E5M2"
  | "F8_E4M3"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** The dtypes {@link writeSafetensors} writes. */
export type SafetensorsWriteDtype = "F32" | "F16" | "BF16" | "I32" | "I64";

/** One tensor to write. */
export interface SafetensorsTensorInput {
  /** Unique, non-empty, not `__metadata__`. */
  name: string;
  dtype: SafetensorsWriteDtype;
  shape: readonly number[];
  /**
   * The elements in C order: a Float32Array (any float dtype; converted to F16/BF16 with
   * round-to-nearest-even), a Float64Array (converted to F32/F16/BF16), a Uint16Array of raw
   * F16/BF16 bits, an Int32Array (I32), a BigInt64Array (I64), or a Uint8Array of raw
   * little-endian bytes of the right length.
   */
  data: ArrayBufferView;
}

/** A tensor's entry in the header. */
export interface SafetensorsTensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  /** `[begin, end)` byte offsets relative to `dataStart`. */
  offsets: [number, number];
}

/** The parsed header of a safetensors file. */
export interface SafetensorsHeader {
  /** `__metadata__` (empty when absent). */
  metadata: Record<string, string>;
  /** Tensors in data-offset order. */
  tensors: Map<string, SafetensorsTensorInfo>;
  /** Absolute file offset of the data section (8 + header length). */
  dataStart: number;
}

/** A tensor read by {@link readSafetensors}, converted to float32. */
export interface SafetensorsTensor {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  shape: number[];
  /** The values as float32 (integers above 2^24 and F64 lose precision). */
  data: Float32Array;
}

/** The content of a safetensors file as float32 tensors. */
export interface SafetensorsFile {
  metadata: Record<string, string>;
  /** Tensors in data-offset order. */
  tensors: Map<string, SafetensorsTensor>;
}

const DTYPE_SIZE: Record<SafetensorsDtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

const WRITE_DTYPES: readonly string[] = ["F32", "F16", "BF16", "I32", "I64"];
/** Largest header accepted (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function modelError(source: string, what: string, cause?: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `${source} ${what}`, cause === undefined ? undefined : { cause });
}

function ioError(verb: string, path: string, err: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_IO", `Could not ${verb} ${JSON.stringify(path)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

// ---------------------------------------------------------------------------------------------
// Half-precision conversions (lib/formats/half.ts)

export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./half.js";

function e4m3ToF32(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  return e === 0 ? s * (m / 8) * 2 ** -6 : s * (1 + m / 8) * 2 ** (e - 7);
}

// ---------------------------------------------------------------------------------------------
// Header

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates the parsed JSON header against a data section of `dataLen` bytes. */
function validateHeader(json: unknown, source: string, headerLen: number, dataLen: number): SafetensorsHeader {
  if (!isPlainObject(json)) throw modelError(source, `has a header that is not a JSON object (received ${Array.isArray(json) ? "an array" : describe(json)})`);
  const metadata: Record<string, string> = {};
  const entries: Array<[string, SafetensorsTensorInfo]> = [];
  for (const [name, value] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(value)) throw modelError(source, `has a __metadata__ entry that is not an object of strings`);
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== "string") throw modelError(source, `has a non-string __metadata__ value for ${JSON.stringify(k)} (${describe(v)})`);
        metadata[k] = v;
      }
      continue;
    }
    const what = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(value)) throw modelError(source, `has an invalid header entry for ${what} (expected an object)`);
    const dtype = value.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_SIZE)) throw modelError(source, `has an unknown dtype ${JSON.stringify(dtype)} for ${what}`);
    const shape = value.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw modelError(source, `has an invalid shape ${JSON.stringify(shape)} for ${what}`);
    }
    const off = value.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      throw modelError(source, `has invalid data_offsets ${JSON.stringify(off)} for ${what}`);
    }
    const size = DTYPE_SIZE[dtype as SafetensorsDtype];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = numel * size;
    if (bytes !== off[1] - off[0]) {
      throw modelError(source, `has a size mismatch for ${what}: shape [${shape.join(", ")}] of ${dtype} needs ${bytes} bytes but data_offsets [${off[0]}, ${off[1]}] span ${off[1] - off[0]}`);
    }
    if (off[1] > dataLen) {
      throw modelError(source, `has data_offsets [${off[0]}, ${off[1]}] for ${what} past the end of the data (${dataLen} bytes; file truncated?)`);
    }
    entries.push([name, { dtype: dtype as SafetensorsDtype, shape: [...(shape as number[])], offsets: [off[0], off[1]] }]);
  }
  entries.sort((a, b) => a[1].offsets[0] - b[1].offsets[0] || a[1].offsets[1] - b[1].offsets[1]);
  let pos = 0;
  let prev = "";
  for (const [name, info] of entries) {
    const [begin, end] = info.offsets;
    if (begin < pos) throw modelError(source, `has overlapping data: tensor ${JSON.stringify(name)} [${begin}, ${end}] overlaps tensor ${JSON.stringify(prev)} ending at ${pos}`);
    if (begin > pos) throw modelError(source, `has a hole in the data before tensor ${JSON.stringify(name)} (bytes ${pos}–${begin} belong to no tensor)`);
    pos = end;
    prev = name;
  }
  if (pos !== dataLen) throw modelError(source, `has ${dataLen - pos} bytes after the last tensor's data (the header covers ${pos} of ${dataLen} data bytes)`);
  return { metadata, tensors: new Map(entries), dataStart: 8 + headerLen };
}

function headerLength(first8: Uint8Array, source: string, fileSize: number): number {
  if (fileSize < 8) throw modelError(source, `is too small to be a safetensors file (${fileSize} bytes)`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getUint32(0, true) + dv.getUint32(4, true) * 0x100000000;
  if (n > MAX_HEADER) throw modelError(source, `declares a header of ${n} bytes (more than the ${MAX_HEADER}-byte limit; not a safetensors file?)`);
  if (8 + n > fileSize) throw modelError(source, `declares a header of ${n} bytes past the end of the file (${fileSize} bytes)`);
  return n;
}

function parseJsonHeader(headerBytes: Uint8Array, source: string): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(headerBytes);
  } catch (err) {
    throw modelError(source, "has a header that is not valid UTF-8", err);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw modelError(source, `has a header that is not valid JSON (${err instanceof Error ? err.message : String(err)})`, err);
  }
}

/**
 * Parses and validates the header of a safetensors file image held in memory.
 *
 * @param bytes - The file, or at least its first `8 + N` bytes when `fileSize` is given.
 * @param source - How to name the file in error messages.
 * @param fileSize - Size of the whole file (default `bytes.length`), for the bounds checks.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_MODEL` for a header past EOF, bad JSON, unknown
 *   dtypes, bad shapes, offsets out of bounds, overlapping or leaving holes, or a shape × dtype
 *   size that does not match the offsets (naming the tensor).
 */
export function parseSafetensorsHeader(bytes: Uint8Array, source = `safetensors data (${bytes?.length} bytes)`, fileSize = bytes?.length): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array)) invalidArgument("bytes", "a Uint8Array", bytes);
  const n = headerLength(bytes, source, fileSize);
  if (8 + n > bytes.length) throw modelError(source, `needs ${8 + n} header bytes but only ${bytes.length} were given`);
  return validateHeader(parseJsonHeader(bytes.subarray(8, 8 + n), source), source, n, fileSize - 8 - n);
}

async function openForRead(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    throw ioError("open safetensors file", path, err);
  }
  try {
    return { fh, size: (await fh.stat()).size };
  } catch (err) {
    await fh.close();
    throw ioError("read safetensors file", path, err);
  }
}

async function readAt(fh: FileHandle, path: string, target: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < target.length) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await fh.read(target, done, Math.min(target.length - done, 1 << 30), position + done));
    } catch (err) {
      throw ioError("read safetensors file", path, err);
    }
    if (bytesRead <= 0) throw new AudioLMError("ERR_AUDIOLM_IO", `Unexpected end of file while reading ${JSON.stringify(path)}`);
    done += bytesRead;
  }
}

async function readHeaderFromFile(fh: FileHandle, path: string, size: number, source: string): Promise<SafetensorsHeader> {
  const first = new Uint8Array(8);
  if (size >= 8) await readAt(fh, path, first, 0);
  const n = headerLength(first, source, size);
  const headerBytes = new Uint8Array(n);
  await readAt(fh, path, headerBytes, 8);
  return validateHeader(parseJsonHeader(headerBytes, source), source, n, size - 8 - n);
}

/**
 * Reads and validates the header of a safetensors file (only the header is read from disk).
 *
 * @param pathOrBytes - A file path, or the whole file as bytes.
 * @returns `__metadata__`, the tensors' dtype, shape and offsets (in data order), and where the
 *   data section starts.
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_MODEL`
 *   when the header is invalid (see {@link parseSafetensorsHeader}).
 */
export async function readSafetensorsHeader(pathOrBytes: string | Uint8Array): Promise<SafetensorsHeader> {
  if (pathOrBytes instanceof Uint8Array) return parseSafetensorsHeader(pathOrBytes);
  if (typeof pathOrBytes !== "string" || pathOrBytes.length === 0) invalidArgument("pathOrBytes", "a file path or a Uint8Array", pathOrBytes);
  const { fh, size } = await openForRead(pathOrBytes);
  try {
    return await readHeaderFromFile(fh, pathOrBytes, size, `safetensors file ${JSON.stringify(pathOrBytes)}`);
  } finally {
    await fh.close();
  }
}

/** Converts one tensor's raw little-endian bytes (in their own, aligned buffer) to float32. */
function toFloat32(raw: Uint8Array, info: SafetensorsTensorInfo): Float32Array {
  const size = DTYPE_SIZE[info.dtype];
  const n = raw.length / size;
  if (!HOST_LE && size > 1) {
    const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (size === 2) b.swap16();
    else if (size === 4) b.swap32();
    else b.swap64();
  }
  const buf = raw.buffer as ArrayBuffer;
  const off = raw.byteOffset;
  switch (info.dtype) {
    case "F32":
      return new Float32Array(buf, off, n);
    case "F16":
      return f16ToF32(new Uint16Array(buf, off, n));
    case "BF16":
      return bf16ToF32(new Uint16Array(buf, off, n));
    case "F64":
      return Float32Array.from(new Float64Array(buf, off, n));
    case "I64":
      return Float32Array.from(new BigInt64Array(buf, off, n), (v) => Number(v));
    case "U64":
      return Float32Array.from(new BigUint64Array(buf, off, n), (v) => Number(v));
    case "I32":
      return Float32Array.from(new Int32Array(buf, off, n));
    case "U32":
      return Float32Array.from(new Uint32Array(buf, off, n));
    case "I16":
      return Float32Array.from(new Int16Array(buf, off, n));
    case "U16":
      return Float32Array.from(new Uint16Array(buf, off, n));
    case "I8":
      return Float32Array.from(new Int8Array(buf, off, n));
    case "U8":
    case "BOOL":
      return Float32Array.from(new Uint8Array(buf, off, n));
    case "F8_E5M2": {
      const t = halfTable();
      return Float32Array.from(new Uint8Array(buf, off, n), (v) => t[v << 8]);
    }
    case "F8_E4M3":
      return Float32Array.from(new Uint8Array(buf, off, n), e4m3ToF32);
  }
}

/**
 * Decodes a whole safetensors file image held in memory; every tensor comes back as float32.
 *
 * @param bytes - The whole file.
 * @param source - How to name the data in error messages.
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_MODEL` when the file is invalid.
 */
export function decodeSafetensors(bytes: Uint8Array, source = `safetensors data (${bytes?.length} bytes)`): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, source);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of header.tensors) {
    // A fresh, aligned copy (Buffer#slice would return a view).
    const raw = new Uint8Array(bytes.subarray(header.dataStart + info.offsets[0], header.dataStart + info.offsets[1]));
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data: toFloat32(raw, info) });
  }
  return { metadata: header.metadata, tensors };
}

/**
 * Reads a safetensors file; every tensor comes back as a Float32Array (F16/BF16/F8 widened
 * exactly, F64 and integers above 2^24 rounded). Tensors are read one at a time, so the file is
 * never held in memory as a whole.
 *
 * @param pathOrBytes - A file path, or the whole file as bytes.
 * @returns `__metadata__` and the tensors (in data order) with their stored dtype and shape.
 * @throws AudioLMError `ERR_AUDIOLM_IO` when the file cannot be read, `ERR_AUDIOLM_INVALID_MODEL`
 *   when it is invalid.
 */
export async function readSafetensors(pathOrBytes: string | Uint8Array): Promise<SafetensorsFile> {
  if (pathOrBytes instanceof Uint8Array) return decodeSafetensors(pathOrBytes);
  if (typeof pathOrBytes !== "string" || pathOrBytes.length === 0) invalidArgument("pathOrBytes", "a file path or a Uint8Array", pathOrBytes);
  const path = pathOrBytes;
  const { fh, size } = await openForRead(path);
  try {
    const header = await readHeaderFromFile(fh, path, size, `safetensors file ${JSON.stringify(path)}`);
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [name, info] of header.tensors) {
      const raw = new Uint8Array(info.offsets[1] - info.offsets[0]);
      await readAt(fh, path, raw, header.dataStart + info.offsets[0]);
      tensors.set(name, { dtype: info.dtype, shape: info.shape, data: toFloat32(raw, info) });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

interface PreparedTensor {
  name: string;
  dtype: SafetensorsWriteDtype;
  shape: number[];
  bytes: Uint8Array;
}

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function swapped(b: Uint8Array, size: number): Uint8Array {
  if (HOST_LE || size === 1) return b;
  const copy = Buffer.from(b);
  if (size === 2) copy.swap16();
  else if (size === 4) copy.swap32();
  else copy.swap64();
  return copy;
}

function prepareTensor(t: SafetensorsTensorInput, i: number, seen: Set<string>): PreparedTensor {
  const where = `tensors[${i}]`;
  if (t === null || typeof t !== "object") invalidArgument(where, "a {name, dtype, shape, data} object", t);
  const { name, dtype, shape, data } = t;
  if (typeof name !== "string" || name.length === 0 || name === "__metadata__") invalidArgument(`${where}.name`, "a non-empty tensor name other than __metadata__", name);
  if (seen.has(name)) invalidArgument(`${where}.name`, "a unique tensor name", name);
  seen.add(name);
  const label = `${where}.dtype (tensor ${JSON.stringify(name)})`;
  if (typeof dtype !== "string" || !WRITE_DTYPES.includes(dtype)) invalidArgument(label, "one of F32, F16, BF16, I32, I64", dtype);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    invalidArgument(`${where}.shape (tensor ${JSON.stringify(name)})`, "an array of non-negative integers", shape);
  }
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  const size = DTYPE_SIZE[dtype];
  const need = numel * size;
  const bad = (): never => {
    throw new AudioLMError(
      "ERR_AUDIOLM_INVALID_ARGUMENT",
      `Expected ${numel} elements (shape [${shape.join(", ")}] of ${dtype}) as ${acceptedFor(dtype)} for ${where}.data (tensor ${JSON.stringify(name)}) but received ${describe(data)}`,
    );
  };
  if (!ArrayBuffer.isView(data)) return bad();
  let bytes: Uint8Array;
  if (data instanceof Uint8Array) {
    if (data.length !== need) bad();
    bytes = data; // raw little-endian bytes
  } else if (data instanceof Float32Array || data instanceof Float64Array) {
    if (data.length !== numel) bad();
    if (dtype === "F16") bytes = swapped(bytesOf(f32ToF16(data)), 2);
    else if (dtype === "BF16") bytes = swapped(bytesOf(f32ToBf16(data)), 2);
    else if (dtype === "F32") bytes = swapped(bytesOf(data instanceof Float32Array ? data : Float32Array.from(data)), 4);
    else return bad();
  } else if (data instanceof Uint16Array && (dtype === "F16" || dtype === "BF16")) {
    if (data.length !== numel) bad();
    bytes = swapped(bytesOf(data), 2);
  } else if (data instanceof Int32Array && dtype === "I32") {
    if (data.length !== numel) bad();
    bytes = swapped(bytesOf(data), 4);
  } else if (data instanceof BigInt64Array && dtype === "I64") {
    if (data.length !== numel) bad();
    bytes = swapped(bytesOf(data), 8);
  } else {
    return bad();
  }
  return { name, dtype, shape: [...shape], bytes };
}

function acceptedFor(dtype: string): string {
  switch (dtype) {
    case "F32":
      return "a Float32Array/Float64Array (or raw bytes)";
    case "F16":
    case "BF16":
      return "a Float32Array/Float64Array, a Uint16Array of bits (or raw bytes)";
    case "I32":
      return "an Int32Array (or raw bytes)";
    default:
      return "a BigInt64Array (or raw bytes)";
  }
}

function prepare(tensors: readonly SafetensorsTensorInput[], metadata: Record<string, string> | undefined): { header: Uint8Array; parts: Uint8Array[] } {
  if (!Array.isArray(tensors)) invalidArgument("tensors", "an array of tensors", tensors);
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) invalidArgument("metadata", "an object of string values", metadata);
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") invalidArgument(`metadata[${JSON.stringify(k)}]`, "a string", v);
  }
  const seen = new Set<string>();
  const prepared = tensors.map((t, i) => prepareTensor(t, i, seen));
  const json: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) json.__metadata__ = { ...metadata };
  let offset = 0;
  for (const t of prepared) {
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  // Integer-like names would be reordered by a JS object; build the JSON text in order instead.
  const pieces: string[] = [];
  if (json.__metadata__) pieces.push(`"__metadata__":${JSON.stringify(json.__metadata__)}`);
  for (const t of prepared) pieces.push(`${JSON.stringify(t.name)}:${JSON.stringify(json[t.name])}`);
  const text = `{${pieces.join(",")}}`;
  const raw = Buffer.from(text, "utf8");
  const padded = Math.ceil(raw.length / 8) * 8;
  const header = new Uint8Array(8 + padded);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, padded % 0x100000000, true);
  dv.setUint32(4, Math.floor(padded / 0x100000000), true);
  header.set(raw, 8);
  header.fill(0x20, 8 + raw.length);
  return { header, parts: prepared.map((t) => t.bytes) };
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, Math.min(bytes.length - done, 1 << 30));
    if (bytesWritten <= 0) throw new Error("write returned 0 bytes");
    done += bytesWritten;
  }
}

/**
 * Encodes tensors as a safetensors file image in memory; see {@link writeSafetensors}.
 *
 * @returns The complete file.
 */
export function encodeSafetensors(tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): Uint8Array {
  const { header, parts } = prepare(tensors, metadata);
  const total = parts.reduce((a, p) => a + p.length, header.length);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let pos = header.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * Writes tensors to a safetensors file: the header JSON (`__metadata__` first, then the tensors
 * in the given order, data offsets increasing in that order) padded with spaces to a multiple of 8
 * bytes, then the data. The file is written to a temporary name next to `path` and renamed into
 * place, so readers never see a partial file.
 *
 * Note: tensors are laid out in the given order without padding (the format allows none), so a
 * 2-byte tensor with an odd element count shifts the alignment of the tensors after it.
 *
 * @param path - The file to create or overwrite.
 * @param tensors - The tensors; see {@link SafetensorsTensorInput} for the accepted data types.
 * @param metadata - `__metadata__` entries (string → string).
 * @throws AudioLMError `ERR_AUDIOLM_INVALID_ARGUMENT` for a bad name, dtype, shape, data or
 *   metadata (naming the tensor), `ERR_AUDIOLM_IO` when the file cannot be written.
 */
export async function writeSafetensors(path: string, tensors: readonly SafetensorsTensorInput[], metadata?: Record<string, string>): Promise<void> {
  if (typeof path !== "string" || path.length === 0) invalidArgument("path", "a file path", path);
  const { header, parts } = prepare(tensors, metadata);
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, "w");
    await writeAll(fh, header);
    for (const p of parts) await writeAll(fh, p);
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (err) {
    if (fh) await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw ioError("write safetensors file", path, err);
  }
}
