/**
 * Reads PyTorch checkpoints (`.pt`, `.pth`, `.th`, `.bin`, `.ckpt` written by `torch.save`) without
 * Python and without executing anything.
 *
 * Supported layouts:
 * - the zip format (torch >= 1.6): `<archive>/data.pkl`, `<archive>/data/<key>`, optional
 *   `<archive>/byteorder` (must be "little") and `<archive>/version`;
 * - the legacy stream format (torch < 1.6, or `_use_new_zipfile_serialization=False`): magic-number,
 *   protocol and sys-info pickles, the object pickle, the storage-key pickle, then raw storages.
 *
 * Rejected: TorchScript archives and the pre-0.4 tar format (ERR_AUDIOLM_UNSUPPORTED), pickles that
 * reference code-running globals (ERR_AUDIOLM_UNSAFE_PICKLE, see ./pickle/index.ts), and anything
 * malformed (ERR_AUDIOLM_INVALID_CHECKPOINT).
 *
 * Files: a zip checkpoint is read on demand (its directory and data.pkl when loaded, each storage
 * when a tensor's data is first read), so it may exceed the 4 GiB a Buffer holds (Bark large) and
 * storages never used (optimizer state) are never read; a legacy checkpoint is read whole. Bytes
 * already in memory ({@link parseTorchCheckpoint}) are used in place: tensors keep views into them.
 */
import { AudioLMError } from "../errors.js";
import {
  DTYPE_SIZE,
  PickleGlobal,
  PickleObject,
  TensorStorage,
  TORCH_STORAGE_DTYPES,
  TorchTensor,
  readPickleAt,
  type ReadPickleOptions,
  type TensorDType,
} from "./pickle/index.js";
import { looksLikeZip, openZip, openZipFile, readFileFully, readFileFullyAsync, readFileHead, type ZipArchive } from "./zip.js";

export {
  DTYPE_SIZE,
  NumpyDType,
  PickleGlobal,
  PickleObject,
  TensorStorage,
  TorchTensor,
  classifyGlobal,
  getPickleAttributes,
  readPickle,
  readPickleAt,
  tensorBytes,
  tensorToFloat32,
  tensorToTypedArray,
  type ReadPickleOptions,
  type TensorDType,
  type TensorTypedArray,
} from "./pickle/index.js";

export interface TorchCheckpointOptions {
  /** Name used in error messages (defaults to the path, or "checkpoint"). */
  source?: string;
  /** Decoding of Python 2 `str` values in old pickles (see {@link ReadPickleOptions.encoding}). */
  encoding?: ReadPickleOptions["encoding"];
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const MAX_NESTED = 4;

function invalid(source: string, message: string): never {
  throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${source}: ${message}`);
}

function storageDType(source: string, t: unknown): TensorDType {
  if (t instanceof PickleGlobal && (t.module === "torch" || t.module === "torch.cuda" || t.module === "torch.storage")) {
    const dt = TORCH_STORAGE_DTYPES[t.name];
    if (dt) return dt;
    if (t.name.endsWith("Storage")) {
      throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${source}: tensors stored as ${t.fullName} are not supported (supported: float32/16, bfloat16, float64, int64/32/16/8, uint8, bool)`);
    }
  }
  return invalid(source, `persistent id names an unknown storage type ${t instanceof PickleGlobal ? t.fullName : typeof t}`);
}

function nonNegInt(source: string, v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) invalid(source, `${what} ${String(v)} is invalid`);
  return v;
}

/** Parses a persistent id tuple: ('storage', storage_type, key, location, numel[, view_metadata]). */
function parsePid(source: string, pid: unknown): { dtype: TensorDType; key: string; location: string; numel: number; view: unknown } {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== "storage") {
    invalid(source, "persistent id is not a ('storage', type, key, location, numel) tuple");
  }
  const dtype = storageDType(source, pid[1]);
  const key = typeof pid[2] === "number" ? String(pid[2]) : pid[2];
  if (typeof key !== "string" || key.length === 0 || key.length > 256) invalid(source, "storage key is not a string");
  const location = typeof pid[3] === "string" ? pid[3] : "cpu";
  const numel = nonNegInt(source, pid[4], `storage "${key}" element count`);
  if (!Number.isSafeInteger(numel * DTYPE_SIZE[dtype])) invalid(source, `storage "${key}" is too large`);
  return { dtype, key, location, numel, view: pid[5] };
}

function parseZipCheckpoint(zip: ZipArchive, source: string, opts: TorchCheckpointOptions, depth: number): unknown {
  const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  const isScript = zip.entries.some((e) => /^[^/]+\/(constants\.pkl|code\/)/.test(e.name));
  if (isScript) {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${source} is a TorchScript archive (torch.jit.save); save the model's state_dict() with torch.save instead`);
  }
  if (pkls.length === 0) invalid(source, "zip archive is not a PyTorch checkpoint (no <archive>/data.pkl entry)");
  if (pkls.length > 1) invalid(source, `zip archive has ${pkls.length} data.pkl entries`);
  const prefix = pkls[0]!.name.slice(0, -"/data.pkl".length);
  const bo = zip.entry(`${prefix}/byteorder`);
  if (bo) {
    const order = zip.read(bo.name).toString("latin1").trim();
    if (order === "big") {
      throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${source} was saved on a big-endian machine; re-save it on a little-endian one`);
    }
    if (order !== "little") invalid(source, `unknown byteorder ${JSON.stringify(order.slice(0, 20))}`);
  }
  const storages = new Map<string, TensorStorage>();
  const persistentLoad = (pid: unknown): unknown => {
    const { dtype, key, location, numel } = parsePid(source, pid);
    const cached = storages.get(key);
    if (cached && cached.dtype === dtype) return cached;
    const name = `${prefix}/data/${key}`;
    const entry = zip.entry(name);
    if (!entry) invalid(source, `storage "${key}" is missing (no zip entry "${name}")`);
    const nbytes = cached ? entry.uncompressedSize - (entry.uncompressedSize % DTYPE_SIZE[dtype]) : numel * DTYPE_SIZE[dtype];
    if (nbytes > entry.uncompressedSize) {
      invalid(source, `storage "${key}" declares ${numel} ${dtype} elements (${nbytes} bytes) but entry "${name}" holds ${entry.uncompressedSize} bytes`);
    }
    const st = new TensorStorage(key, dtype, nbytes / DTYPE_SIZE[dtype], location, () => zip.read(name));
    if (!cached) storages.set(key, st);
    return st;
  };
  return readPickleAt(zip.read(`${prefix}/data.pkl`), {
    source: `${source}/${prefix}/data.pkl`,
    persistentLoad,
    encoding: opts.encoding,
    loadTorchBytes: nestedLoader(source, opts, depth),
  }).value;
}

function parseLegacyCheckpoint(buf: Buffer, source: string, opts: TorchCheckpointOptions, depth: number, magic: { end: number }): unknown {
  const base: ReadPickleOptions = { source, encoding: opts.encoding };
  const proto = readPickleAt(buf, { ...base, offset: magic.end });
  if (proto.value !== LEGACY_PROTOCOL) invalid(source, `unsupported legacy checkpoint protocol ${String(proto.value)}`);
  const sys = readPickleAt(buf, { ...base, offset: proto.end });
  if (sys.value instanceof Map && sys.value.get("little_endian") === false) {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${source} was saved on a big-endian machine; re-save it on a little-endian one`);
  }
  // Storages come after the object pickle; tensors get lazy views that resolve once all is parsed.
  const roots = new Map<string, TensorStorage>();
  const rootData = new Map<string, Buffer>();
  const views = new Map<string, TensorStorage>();
  const persistentLoad = (pid: unknown): unknown => {
    const { dtype, key, location, numel, view } = parsePid(source, pid);
    let root = roots.get(key);
    if (!root) {
      root = new TensorStorage(key, dtype, numel, location, () => {
        const d = rootData.get(key);
        if (!d) invalid(source, `storage "${key}" has no data`);
        return d;
      });
      roots.set(key, root);
    }
    if (view === null || view === undefined) return root;
    if (!Array.isArray(view) || view.length !== 3) invalid(source, "storage view metadata is not a (key, offset, size) tuple");
    const viewKey = String(view[0]);
    const existing = views.get(viewKey);
    if (existing) return existing;
    const off = nonNegInt(source, view[1], "storage view offset");
    const size = nonNegInt(source, view[2], "storage view size");
    if (off + size > root.numel) invalid(source, `storage view "${viewKey}" lies outside storage "${key}"`);
    const r = root;
    const itemSize = DTYPE_SIZE[r.dtype];
    const st = new TensorStorage(viewKey, r.dtype, size, location, () => r.data.subarray(off * itemSize, (off + size) * itemSize));
    views.set(viewKey, st);
    return st;
  };
  const main = readPickleAt(buf, { ...base, offset: sys.end, persistentLoad, loadTorchBytes: nestedLoader(source, opts, depth) });
  const keys = readPickleAt(buf, { ...base, offset: main.end });
  if (!Array.isArray(keys.value)) invalid(source, "legacy checkpoint storage key list is missing");
  let pos = keys.end;
  for (const k of keys.value) {
    const key = typeof k === "number" ? String(k) : k;
    if (typeof key !== "string") invalid(source, "legacy checkpoint storage key is not a string");
    const root = roots.get(key);
    if (!root) invalid(source, `legacy checkpoint lists storage "${key}" that no tensor uses`);
    if (rootData.has(key)) invalid(source, `legacy checkpoint lists storage "${key}" twice`);
    if (pos + 8 > buf.length) invalid(source, `legacy checkpoint is truncated in the header of storage "${key}" (offset ${pos})`);
    const lo = buf.readUInt32LE(pos);
    const hi = buf.readInt32LE(pos + 4);
    const count = hi * 4294967296 + lo;
    pos += 8;
    if (count !== root.numel) invalid(source, `legacy storage "${key}" holds ${count} elements but ${root.numel} were declared`);
    const nbytes = root.byteLength;
    if (pos + nbytes > buf.length) invalid(source, `legacy checkpoint is truncated in the data of storage "${key}" (needs ${nbytes} bytes at offset ${pos}, file has ${buf.length})`);
    rootData.set(key, buf.subarray(pos, pos + nbytes));
    pos += nbytes;
  }
  for (const key of roots.keys()) if (!rootData.has(key)) invalid(source, `legacy checkpoint has no data for storage "${key}"`);
  return main.value;
}

function nestedLoader(source: string, opts: TorchCheckpointOptions, depth: number): ((b: Buffer) => unknown) | undefined {
  if (depth >= MAX_NESTED) return undefined;
  return (b: Buffer) => parseCheckpoint(b, `${source} (nested storage)`, opts, depth + 1);
}

function parseCheckpoint(buf: Buffer, source: string, opts: TorchCheckpointOptions, depth: number): unknown {
  if (buf.length === 0) invalid(source, "file is empty");
  if (looksLikeZip(buf)) return parseZipCheckpoint(openZip(buf, { source }), source, opts, depth);
  if (buf.length > 262 && buf.toString("latin1", 257, 262) === "ustar") {
    throw new AudioLMError("ERR_AUDIOLM_UNSUPPORTED", `${source} uses the tar checkpoint format of torch < 0.4; load and re-save it with a newer torch (torch.save(torch.load(path), path))`);
  }
  if (buf[0] === 0x80) {
    const magic = readPickleAt(buf, { source, encoding: opts.encoding });
    if (magic.value === LEGACY_MAGIC) return parseLegacyCheckpoint(buf, source, opts, depth, magic);
    invalid(source, "is a plain pickle, not a torch.save checkpoint (read it with readPickle)");
  }
  return invalid(source, `is not a PyTorch checkpoint (starts with bytes ${buf.subarray(0, 4).toString("hex")})`);
}

/** Parses checkpoint bytes already in memory; returns the unpickled object tree. */
export function parseTorchCheckpoint(bytes: Uint8Array, options: TorchCheckpointOptions = {}): unknown {
  if (!(bytes instanceof Uint8Array)) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a Uint8Array for bytes but received ${typeof bytes}`);
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return parseCheckpoint(buf, options.source ?? "checkpoint", options, 0);
}

/** Reads and parses a checkpoint file synchronously. */
export function loadTorchCheckpointSync(path: string, options: TorchCheckpointOptions = {}): unknown {
  if (typeof path !== "string" || path.length === 0) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a file path for path but received ${typeof path}`);
  }
  if (isZipFile(path)) return parseZipFile(path, options);
  return parseCheckpoint(readFileFully(path), options.source ?? path, options, 0);
}

function isZipFile(path: string): boolean {
  return looksLikeZip(readFileHead(path, 4));
}

/**
 * A zip checkpoint (torch ≥ 1.6) is read on demand, so it may be larger than a Buffer can hold and
 * storages that are never used (optimizer state) are never read; older formats are read whole.
 */
function parseZipFile(path: string, options: TorchCheckpointOptions): unknown {
  const source = options.source ?? path;
  return parseZipCheckpoint(openZipFile(path, { source }), source, options, 0);
}

/**
 * Reads and parses a checkpoint file. Resolves to the unpickled object tree: Maps for dicts,
 * {@link TorchTensor} for tensors, {@link PickleObject} for other objects (see ./pickle/index.ts).
 */
export async function loadTorchCheckpoint(path: string, options: TorchCheckpointOptions = {}): Promise<unknown> {
  if (typeof path !== "string" || path.length === 0) {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_ARGUMENT", `Expected a file path for path but received ${typeof path}`);
  }
  if (isZipFile(path)) return parseZipFile(path, options);
  return parseCheckpoint(await readFileFullyAsync(path), options.source ?? path, options, 0);
}

function keyString(k: unknown): string | undefined {
  if (typeof k === "string") return k;
  if (typeof k === "number" || typeof k === "bigint" || typeof k === "boolean") return String(k);
  return undefined;
}

/**
 * Collects every tensor of an unpickled checkpoint under dotted names: nested dicts
 * (`{state_dict: {...}}`, `{model: {...}}`, optimizer state, ...) and lists (`layers.0.weight`)
 * are walked, and so are pickled `torch.nn.Module` objects (their `_parameters`, `_buffers` and
 * `_modules`) and dict-like opaque objects. Other opaque objects (configs, Namespaces) are skipped.
 * Each container is walked once (shared or cyclic references are not repeated); when two paths
 * produce the same name, the first wins.
 */
export function flattenStateDict(obj: unknown, prefix = ""): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const seen = new Set<object>();
  const work: Array<[unknown, string]> = [[obj, prefix]];
  const join = (p: string, k: string): string => (p ? `${p}.${k}` : k);
  while (work.length) {
    const [v, path] = work.pop()!;
    if (v instanceof TorchTensor) {
      if (!out.has(path)) out.set(path, v);
      continue;
    }
    if (v === null || typeof v !== "object" || seen.has(v)) continue;
    const children: Array<[unknown, string]> = [];
    if (v instanceof Map) {
      seen.add(v);
      for (const [k, x] of v) {
        const ks = keyString(k);
        if (ks !== undefined) children.push([x, join(path, ks)]);
      }
    } else if (Array.isArray(v)) {
      seen.add(v);
      v.forEach((x, i) => children.push([x, join(path, String(i))]));
    } else if (v instanceof PickleObject) {
      seen.add(v);
      const st = v.state;
      if (st instanceof Map && st.get("_parameters") instanceof Map) {
        for (const field of ["_parameters", "_buffers", "_modules"]) {
          const m = st.get(field);
          if (!(m instanceof Map)) continue;
          for (const [k, x] of m) {
            const ks = keyString(k);
            if (ks !== undefined) children.push([x, join(path, ks)]);
          }
        }
      } else if (v.dictItems) {
        for (const [k, x] of v.dictItems) {
          const ks = keyString(k);
          if (ks !== undefined) children.push([x, join(path, ks)]);
        }
      }
    }
    for (let i = children.length - 1; i >= 0; i--) work.push(children[i]!);
  }
  return out;
}
