// The zip reader under torch checkpoints and .npz files: zip64 records, deflate and CRC, hostile
// archives, and archives over 4 GiB read on demand (split from checkpoint.test.ts).
import { describe, it, expect } from "vitest";
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { flattenStateDict, loadTorchCheckpoint, loadTorchCheckpointSync, tensorToFloat32 } from "../lib/formats/torch-checkpoint.js";
import { AudioLMError } from "../lib/errors.js";
import { openZip, looksLikeZip } from "../lib/formats/zip.js";
import { errorOf } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "checkpoint");
const fix = (name: string): string => join(FIX, name);
const bytesOf = (name: string): Buffer => readFileSync(fix(name));
const expected = JSON.parse(readFileSync(fix("expected.json"), "utf8")) as { bigArchive: { numel: number[]; c: number[] } };

describe("zip reader", () => {
  it("reads a torch archive: zip64 end records, padded local headers, zero-copy stored entries", () => {
    const buf = bytesOf("state_dict.pt");
    expect(looksLikeZip(buf)).toBe(true);
    const zip = openZip(buf);
    expect(zip.has("state_dict/data.pkl")).toBe(true);
    expect(zip.read("state_dict/version").toString()).toBe("3\n");
    const data = zip.read("state_dict/data/0");
    expect(data.buffer).toBe(buf.buffer); // a view, not a copy
    expect(zip.read("state_dict/data.pkl", { verifyCrc: true }).length).toBeGreaterThan(0);
  });

  it("reads a hand-written zip64 archive (sizes and offsets in the extra field)", () => {
    const zip = openZip(bytesOf("zip64.zip"));
    expect(zip.entries.map((e) => e.name)).toEqual(["a.txt", "dir/b.bin"]);
    expect(zip.read("a.txt", { verifyCrc: true }).toString()).toBe("hello zip64");
    expect([...zip.read("dir/b.bin")]).toEqual(Array.from({ length: 16 }, (_, i) => i));
  });

  it("inflates deflated entries (np.savez_compressed) and checks their CRC", () => {
    const zip = openZip(bytesOf("arrays.npz"));
    expect(zip.entries.map((e) => [e.name, e.method])).toEqual([
      ["a.npy", 8],
      ["i.npy", 8],
    ]);
    expect(zip.read("a.npy").subarray(0, 6).toString("latin1")).toBe("\x93NUMPY");
    const corrupt = Buffer.from(bytesOf("arrays.npz"));
    const e = zip.entry("a.npy")!;
    corrupt[e.dataOffset + 5]! ^= 0xff;
    expect(() => openZip(corrupt).read("a.npy")).toThrow(AudioLMError);
  });

  it("rejects an entry whose offset points past the end of the file, naming the entry", async () => {
    const err = await errorOf(() => openZip(bytesOf("bad_offset.zip"), { source: "bad_offset.zip" }));
    expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(err.message).toContain('"archive/data.pkl"');
    expect(err.message).toContain("bad_offset.zip");
  });

  it("rejects path traversal in entry names", async () => {
    const err = await errorOf(() => openZip(bytesOf("zip_slip.zip")));
    expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    expect(err.message).toContain("../evil.txt");
  });

  it("rejects truncated archives and non-zips", async () => {
    for (const b of [bytesOf("truncated.pt"), Buffer.alloc(10), Buffer.from("not a zip file at all, just some text here")]) {
      const err = await errorOf(() => openZip(b));
      expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
    }
  });

  it("rejects entries whose data runs into the central directory (huge sizes)", async () => {
    for (const size of [100_000, 0xfffffffe]) {
      const buf = Buffer.from(bytesOf("state_dict.pt"));
      const name = Buffer.from("state_dict/version");
      const cd = buf.lastIndexOf(name) - 46; // the central-directory record of the last entry
      expect(buf.readUInt32LE(cd)).toBe(0x02014b50);
      buf.writeUInt32LE(size, cd + 20);
      buf.writeUInt32LE(size, cd + 24);
      const err = await errorOf(() => openZip(buf));
      expect(err.code).toBe("ERR_AUDIOLM_INVALID_CHECKPOINT");
      expect(err.message).toMatch(/"state_dict\/version".*extends past/);
    }
  });
});


function writeSparseZip64(path: string, entries: Array<[name: string, data: Buffer | number]>): number {
  const fd = openSync(path, "w");
  const central: Buffer[] = [];
  let off = 0;
  const put = (b: Buffer): void => {
    writeSync(fd, b, 0, b.length, off);
    off += b.length;
  };
  const u64 = (v: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  };
  try {
    for (const [name, data] of entries) {
      const nb = Buffer.from(name);
      const size = typeof data === "number" ? data : data.length;
      const crc = typeof data === "number" ? 0 : crc32(data) >>> 0;
      const lho = off;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(45, 4);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(0xffffffff, 18);
      local.writeUInt32LE(0xffffffff, 22);
      local.writeUInt16LE(nb.length, 26);
      local.writeUInt16LE(20, 28);
      const extra = Buffer.concat([Buffer.from([1, 0, 16, 0]), u64(size), u64(size)]);
      put(Buffer.concat([local, nb, extra]));
      if (typeof data === "number") off += data;
      else put(data);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(45, 4);
      cd.writeUInt16LE(45, 6);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(0xffffffff, 20);
      cd.writeUInt32LE(0xffffffff, 24);
      cd.writeUInt16LE(nb.length, 28);
      cd.writeUInt16LE(28, 30);
      cd.writeUInt32LE(0xffffffff, 42);
      central.push(Buffer.concat([cd, nb, Buffer.from([1, 0, 24, 0]), u64(size), u64(size), u64(lho)]));
    }
    const cdOff = off;
    const cdBytes = Buffer.concat(central);
    put(cdBytes);
    const rec = off;
    const eocd64 = Buffer.alloc(56);
    eocd64.writeUInt32LE(0x06064b50, 0);
    eocd64.writeBigUInt64LE(44n, 4);
    eocd64.writeUInt16LE(45, 12);
    eocd64.writeUInt16LE(45, 14);
    eocd64.writeBigUInt64LE(BigInt(entries.length), 24);
    eocd64.writeBigUInt64LE(BigInt(entries.length), 32);
    eocd64.writeBigUInt64LE(BigInt(cdBytes.length), 40);
    eocd64.writeBigUInt64LE(BigInt(cdOff), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(rec), 8);
    locator.writeUInt32LE(1, 16);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    put(Buffer.concat([eocd64, locator, eocd]));
  } finally {
    closeSync(fd);
  }
  return off;
}

describe("checkpoints larger than a Buffer", () => {
  it("loads a > 4 GiB zip checkpoint on demand: only the tensor that is used is read", async () => {
    const big = expected.bigArchive;
    const c = Buffer.from(new Float32Array(big.c.map((x) => Math.fround(x))).buffer);
    const dir = mkdtempSync(join(tmpdir(), "alm-big-"));
    const path = join(dir, "big.pt");
    try {
      const size = writeSparseZip64(path, [
        ["archive/data.pkl", bytesOf("big_archive.pkl")],
        ["archive/byteorder", Buffer.from("little")],
        ["archive/data/0", big.numel[0]! * 4],
        ["archive/data/1", big.numel[1]! * 4],
        ["archive/data/2", c],
        ["archive/version", Buffer.from("3\n")],
      ]);
      expect(size).toBeGreaterThan(2 ** 32);
      const used = statSync(path).blocks * 512;
      if (used > 64 << 20) {
        console.log(`skipped: the file system under ${tmpdir()} wrote ${used} bytes for a sparse file, so this test would write 4 GiB`);
        return;
      }
      const rss0 = process.memoryUsage().rss;
      for (const load of [loadTorchCheckpoint, async (p: string) => loadTorchCheckpointSync(p)]) {
        const flat = flattenStateDict(await load(path));
        expect([...flat.keys()]).toEqual(["a", "b", "c"]);
        expect(flat.get("a")!.shape).toEqual([big.numel[0]]);
        expect(Array.from(tensorToFloat32(flat.get("c")!))).toEqual(big.c.map((x) => Math.fround(x)));
      }
      // a and b (4 GiB together) were never read.
      expect(process.memoryUsage().rss - rss0).toBeLessThan(512 << 20);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the file when a lazily read entry's file changed size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "alm-big-"));
    const path = join(dir, "grow.pt");
    try {
      copyFileSync(fix("state_dict.pt"), path);
      const flat = flattenStateDict(await loadTorchCheckpoint(path));
      const fd = openSync(path, "a");
      writeSync(fd, Buffer.from("more"));
      closeSync(fd);
      const e = await errorOf(() => tensorToFloat32([...flat.values()][0]!));
      expect(e.code).toBe("ERR_AUDIOLM_IO");
      expect(e.message).toContain("grow.pt changed while in use");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
