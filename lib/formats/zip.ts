/**
 * A small, defensive zip reader over an in-memory Buffer or a file.
 *
 * Used for PyTorch `torch.save` archives (which miniz writes with zip64 records and 64-byte aligned,
 * uncompressed entries) and for numpy `.npz` files (Python's zipfile; stored or deflated).
 *
 * Design: the archive is read through a {@link ByteSource}. {@link openZip} takes a Buffer (stored
 * entries are then zero-copy `subarray`s of it); {@link openZipFile} reads only the end records, the
 * central directory and the local headers when it opens the file, and each entry's bytes when that
 * entry is read, so archives larger than a Buffer can hold (4 GiB on Node 20: Bark's large
 * checkpoints) open, and entries never read (optimizer state) cost nothing. Deflated entries are
 * inflated with `zlib.inflateRawSync` bounded by the declared uncompressed size.
 *
 * Every offset and size is checked against the file: an entry whose header or data lies outside the
 * file, overlaps the central directory or another entry, has an unsafe name (absolute, `..`, drive
 * letters, backslashes, NUL), is encrypted, duplicated, or uses an unsupported method is rejected
 * with `AudioLMError` code `ERR_AUDIOLM_INVALID_CHECKPOINT` naming the entry.
 */
import * as fs from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import * as zlib from "node:zlib";
import { AudioLMError } from "../errors.js";

/** One file of the archive, as described by the central directory (sizes already zip64-resolved). */
export interface ZipEntry {
  /** Entry name as stored (forward slashes). */
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly crc32: number;
  /** Offset of the local file header. */
  readonly localHeaderOffset: number;
  /** Offset of the entry's (compressed) data, resolved from the local header. */
  readonly dataOffset: number;
}

export interface ZipArchive {
  /** Entries in central-directory order. */
  readonly entries: readonly ZipEntry[];
  /** Whether an entry with exactly this name exists. */
  has(name: string): boolean;
  /** The entry with exactly this name, or undefined. */
  entry(name: string): ZipEntry | undefined;
  /**
   * The uncompressed bytes of an entry. Stored entries are zero-copy views into the archive Buffer
   * (do not mutate them); deflated ones are freshly inflated. Throws ERR_AUDIOLM_INVALID_CHECKPOINT
   * when the entry is missing or corrupt.
   */
  read(name: string, options?: { verifyCrc?: boolean }): Buffer;
}

export interface OpenZipOptions {
  /** Name used in error messages (e.g. the file path). */
  source?: string;
  /**
   * Check CRC-32 of entries on read. Default: true for deflated entries, false for stored ones
   * (stored tensor data can be gigabytes; bounds are still fully checked).
   */
  verifyCrc?: boolean;
}

/** Random access to the bytes of an archive. */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes at `offset` (the caller keeps within `size`). */
  read(offset: number, length: number): Buffer;
}

/** An in-memory archive: reads are views. */
function bufferSource(buf: Buffer): ByteSource {
  return { size: buf.length, read: (offset, length) => buf.subarray(offset, offset + length) };
}

function ioError(path: string, what: string, err: unknown): AudioLMError {
  return new AudioLMError("ERR_AUDIOLM_IO", `Could not ${what} ${path}: ${(err as Error).message}`, { cause: err });
}

/** Positioned reads of `length` bytes at `offset` of an open file into a new Buffer. */
function readAt(fd: number, path: string, offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  while (pos < length) {
    let n: number;
    try {
      n = fs.readSync(fd, out, pos, Math.min(length - pos, 1 << 30), offset + pos);
    } catch (err) {
      throw ioError(path, "read", err);
    }
    if (n <= 0) throw new AudioLMError("ERR_AUDIOLM_IO", `Unexpected end of file while reading ${path} (${offset + pos} of ${offset + length} bytes)`);
    pos += n;
  }
  return out;
}

/** `fn` on a descriptor of `path`, closed afterwards; open and read failures become ERR_AUDIOLM_IO. */
function withFile<T>(path: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = fs.openSync(path, "r");
  } catch (err) {
    throw ioError(path, "open", err);
  }
  try {
    return fn(fd);
  } catch (err) {
    if (err instanceof AudioLMError) throw err;
    throw ioError(path, "read", err);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A file read on demand. The descriptor given at construction serves until {@link close}; later reads
 * (lazily loaded tensors) open the file again, and fail with ERR_AUDIOLM_IO if its size changed.
 */
class FileSource implements ByteSource {
  readonly size: number;
  #fd: number | null;

  constructor(readonly path: string) {
    try {
      this.#fd = fs.openSync(path, "r");
    } catch (err) {
      throw ioError(path, "open", err);
    }
    try {
      this.size = fs.fstatSync(this.#fd).size;
    } catch (err) {
      this.close();
      throw ioError(path, "read", err);
    }
  }

  read(offset: number, length: number): Buffer {
    if (this.#fd !== null) return readAt(this.#fd, this.path, offset, length);
    return withFile(this.path, (fd) => {
      const size = fs.fstatSync(fd).size;
      if (size !== this.size) throw new AudioLMError("ERR_AUDIOLM_IO", `${this.path} changed while in use (${this.size} bytes when opened, ${size} now)`);
      return readAt(fd, this.path, offset, length);
    });
  }

  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
  }
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

function fail(source: string | undefined, message: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${source ? source + ": " : ""}${message}`);
}

/** Reads a little-endian u64 as a number, failing when it is not a safe integer. */
function readU64(buf: Buffer, off: number, what: string, source?: string): number {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readUInt32LE(off + 4);
  if (hi >= 0x200000) fail(source, `invalid zip: ${what} is too large (${hi} * 2^32)`);
  return hi * 0x100000000 + lo;
}

/** True when `buf` starts with a zip local-file-header or empty-archive signature. */
export function looksLikeZip(buf: Uint8Array): boolean {
  if (buf.length < 4) return false;
  const sig = (buf[0]! | (buf[1]! << 8) | (buf[2]! << 16) | (buf[3]! << 24)) >>> 0;
  return sig === SIG_LOCAL || sig === SIG_EOCD;
}

/** Rejects absolute paths, `..` segments, drive letters, backslashes and control characters. */
function checkEntryName(name: string, source?: string): void {
  const bad =
    name.length === 0 ||
    name.startsWith("/") ||
    name.includes("\\") ||
    /^[A-Za-z]:/.test(name) ||
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f]/.test(name) ||
    name.split("/").some((seg) => seg === "..");
  if (bad) fail(source, `invalid zip: unsafe entry name ${JSON.stringify(name)}`);
}

/** Offset of the end-of-central-directory record, searched in the file's last 64 KiB + 22 bytes. */
function findEocd(src: ByteSource, source?: string): number {
  const tailStart = Math.max(0, src.size - (22 + 0xffff));
  const tail = src.read(tailStart, src.size - tailStart);
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tail.readUInt32LE(p) !== SIG_EOCD) continue;
    const commentLen = tail.readUInt16LE(p + 20);
    if (p + 22 + commentLen === tail.length) return tailStart + p;
  }
  // Some writers leave trailing garbage after the comment; accept the last signature whose comment fits.
  for (let p = tail.length - 22; p >= 0; p--) {
    if (tail.readUInt32LE(p) === SIG_EOCD && p + 22 + tail.readUInt16LE(p + 20) <= tail.length) return tailStart + p;
  }
  return fail(source, `invalid zip: end-of-central-directory record not found (file truncated or not a zip, ${src.size} bytes)`);
}

/**
 * Parses the archive structure of `bytes` (no entry data is read or inflated yet). Stored entries read
 * later are views of `bytes`, so keep it unmodified while the archive is in use.
 * Throws ERR_AUDIOLM_INVALID_CHECKPOINT on any structural problem.
 */
export function openZip(bytes: Uint8Array, options: OpenZipOptions = {}): ZipArchive {
  if (!(bytes instanceof Uint8Array)) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a Buffer or Uint8Array for bytes but received ${typeof bytes}`);
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return openZipSource(bufferSource(buf), options);
}

/**
 * Opens a zip file for reading on demand: only its directory is read now, each entry's bytes when
 * it is read (a fresh Buffer per read). Errors are named after `options.source` or the path.
 */
export function openZipFile(path: string, options: OpenZipOptions = {}): ZipArchive {
  const src = new FileSource(path);
  try {
    return openZipSource(src, { source: path, ...options });
  } finally {
    src.close();
  }
}

function openZipSource(src: ByteSource, options: OpenZipOptions): ZipArchive {
  const source = options.source;
  if (src.size < 22) fail(source, `invalid zip: file is too small (${src.size} bytes)`);
  const eocd = findEocd(src, source);
  const end = src.read(eocd, 22);
  let diskNo = end.readUInt16LE(4);
  let cdDisk = end.readUInt16LE(6);
  let count = end.readUInt16LE(10);
  let cdSize = end.readUInt32LE(12);
  let cdOffset = end.readUInt32LE(16);
  let cdEnd = eocd; // the central directory must end before this
  const needs64 = count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff || diskNo === 0xffff || cdDisk === 0xffff;
  const loc = eocd - 20;
  const locator = loc >= 0 ? src.read(loc, 20) : null;
  if (locator && locator.readUInt32LE(0) === SIG_EOCD64_LOCATOR) {
    const rec = readU64(locator, 8, "zip64 end-of-central-directory offset", source);
    if (rec + 56 > loc) fail(source, `invalid zip: zip64 end-of-central-directory record at ${rec} lies outside the file`);
    const r64 = src.read(rec, 56);
    if (r64.readUInt32LE(0) !== SIG_EOCD64) fail(source, `invalid zip: bad zip64 end-of-central-directory signature at ${rec}`);
    diskNo = r64.readUInt32LE(16);
    cdDisk = r64.readUInt32LE(20);
    count = readU64(r64, 32, "entry count", source);
    cdSize = readU64(r64, 40, "central directory size", source);
    cdOffset = readU64(r64, 48, "central directory offset", source);
    cdEnd = rec;
  } else if (needs64) {
    fail(source, "invalid zip: zip64 values without a zip64 end-of-central-directory locator");
  }
  if (diskNo !== 0 || cdDisk !== 0) fail(source, "invalid zip: multi-disk archives are not supported");
  if (cdOffset + cdSize > cdEnd) {
    fail(source, `invalid zip: central directory (offset ${cdOffset}, size ${cdSize}) extends past its end record at ${cdEnd} (file truncated?)`);
  }
  if (count * 46 > cdSize) fail(source, `invalid zip: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const entries: ZipEntry[] = [];
  const byName = new Map<string, ZipEntry>();
  // The central directory, read whole; `p` and `cdLimit` are offsets in it.
  if (cdSize > bufferConstants.MAX_LENGTH) fail(source, `invalid zip: central directory of ${cdSize} bytes`);
  const buf = src.read(cdOffset, cdSize);
  let p = 0;
  const cdLimit = cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdLimit || buf.readUInt32LE(p) !== SIG_CENTRAL) fail(source, `invalid zip: bad central directory entry #${i} at offset ${cdOffset + p}`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    let csize = buf.readUInt32LE(p + 20);
    let usize = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let disk = buf.readUInt16LE(p + 34);
    let lho = buf.readUInt32LE(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdLimit) fail(source, `invalid zip: central directory entry #${i} overruns the central directory`);
    const nameBytes = buf.subarray(p + 46, p + 46 + nameLen);
    const name = flags & 0x800 ? nameBytes.toString("utf8") : nameBytes.toString("latin1");
    checkEntryName(name, source);
    // zip64 extended information extra field: only the fields that are saturated appear, in order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      const body = e + 4;
      if (body + len > eEnd) fail(source, `invalid zip: entry "${name}" has a malformed extra field`);
      if (id === 0x0001) {
        let q = body;
        const take = (what: string): number => {
          if (q + 8 > body + len) fail(source, `invalid zip: entry "${name}" has a short zip64 extra field`);
          const v = readU64(buf, q, `${what} of entry "${name}"`, source);
          q += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take("uncompressed size");
        if (csize === 0xffffffff) csize = take("compressed size");
        if (lho === 0xffffffff) lho = take("local header offset");
        if (disk === 0xffff) {
          if (q + 4 > body + len) fail(source, `invalid zip: entry "${name}" has a short zip64 extra field`);
          disk = buf.readUInt32LE(q);
        }
      }
      e = body + len;
    }
    if (disk !== 0) fail(source, `invalid zip: entry "${name}" is on another disk`);
    if (flags & 0x1) fail(source, `invalid zip: entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) fail(source, `invalid zip: entry "${name}" uses unsupported compression method ${method}`);
    if (method === 0 && csize !== usize) fail(source, `invalid zip: stored entry "${name}" has compressed size ${csize} != size ${usize}`);
    // Local header: the data offset depends on its own name/extra lengths (torch pads the extra field).
    if (lho + 30 > cdOffset) fail(source, `invalid zip: entry "${name}" has a local header offset ${lho} outside the file data (data ends at ${cdOffset})`);
    const local = src.read(lho, 30);
    if (local.readUInt32LE(0) !== SIG_LOCAL) fail(source, `invalid zip: entry "${name}" has a bad local header signature at offset ${lho}`);
    const lNameLen = local.readUInt16LE(26);
    const lExtraLen = local.readUInt16LE(28);
    const dataOffset = lho + 30 + lNameLen + lExtraLen;
    if (dataOffset + csize > cdOffset) {
      fail(source, `invalid zip: data of entry "${name}" (offset ${dataOffset}, ${csize} bytes) extends past the file data into the central directory or past the end of the file`);
    }
    if (byName.has(name)) fail(source, `invalid zip: duplicate entry "${name}"`);
    const entry: ZipEntry = { name, method, compressedSize: csize, uncompressedSize: usize, crc32: crc, localHeaderOffset: lho, dataOffset };
    entries.push(entry);
    byName.set(name, entry);
    p = next;
  }
  // Entries must not overlap each other (defeats overlapping-entry zip bombs and aliasing tricks).
  const sorted = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.dataOffset + prev.compressedSize > cur.localHeaderOffset) {
      fail(source, `invalid zip: entry "${cur.name}" overlaps entry "${prev.name}"`);
    }
  }

  const verifyDefault = options.verifyCrc;
  return {
    entries,
    has: (name) => byName.has(name),
    entry: (name) => byName.get(name),
    read(name, readOptions) {
      const ent = byName.get(name);
      if (!ent) fail(source, `zip entry "${name}" not found`);
      const raw = src.read(ent.dataOffset, ent.compressedSize);
      let out: Buffer;
      if (ent.method === 0) {
        out = raw;
      } else {
        try {
          out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, ent.uncompressedSize) });
        } catch (err) {
          throw new AudioLMError(
            "ERR_AUDIOLM_INVALID_CHECKPOINT",
            `${source ? source + ": " : ""}invalid zip: entry "${name}" could not be inflated (${(err as Error).message})`,
            { cause: err },
          );
        }
        if (out.length !== ent.uncompressedSize) {
          fail(source, `invalid zip: entry "${name}" inflated to ${out.length} bytes, expected ${ent.uncompressedSize}`);
        }
      }
      const verify = readOptions?.verifyCrc ?? verifyDefault ?? ent.method !== 0;
      if (verify && zlib.crc32(out) >>> 0 !== ent.crc32) fail(source, `invalid zip: CRC-32 mismatch in entry "${name}"`);
      return out;
    },
  };
}

/**
 * Reads a whole file into one Buffer with positioned reads (works past the 2 GiB limit of
 * fs.readFileSync, up to `buffer.constants.MAX_LENGTH`). I/O failures → ERR_AUDIOLM_IO.
 */
export function readFileFully(path: string): Buffer {
  return withFile(path, (fd) => {
    const size = fs.fstatSync(fd).size;
    if (size > bufferConstants.MAX_LENGTH) {
      throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${path} is ${size} bytes, larger than the ${bufferConstants.MAX_LENGTH} bytes a Buffer can hold`);
    }
    return readAt(fd, path, 0, size);
  });
}

/** The first `n` bytes of a file (fewer when it is shorter). I/O failures → ERR_AUDIOLM_IO. */
export function readFileHead(path: string, n: number): Buffer {
  return withFile(path, (fd) => readAt(fd, path, 0, Math.min(n, fs.fstatSync(fd).size)));
}

/** Async {@link readFileFully}. */
export async function readFileFullyAsync(path: string): Promise<Buffer> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(path, "r");
  } catch (err) {
    throw new AudioLMError("ERR_AUDIOLM_IO", `Could not open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = (await fh.stat()).size;
    if (size > bufferConstants.MAX_LENGTH) {
      throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${path} is ${size} bytes, larger than the ${bufferConstants.MAX_LENGTH} bytes a Buffer can hold`);
    }
    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, pos, Math.min(size - pos, 1 << 30), pos);
      if (bytesRead <= 0) throw new AudioLMError("ERR_AUDIOLM_IO", `Unexpected end of file while reading ${path} (${pos} of ${size} bytes)`);
      pos += bytesRead;
    }
    return buf;
  } catch (err) {
    if (err instanceof AudioLMError) throw err;
    throw new AudioLMError("ERR_AUDIOLM_IO", `Could not read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}
