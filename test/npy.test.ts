import { describe, it, expect } from "vitest";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeNpy, decodeNpz, encodeNpy, npyToInt32, readNpy, readNpz, writeNpy, type NpyArray } from "../lib/formats/npy.js";
import { AudioLMError } from "../lib/errors.js";
import { errorOf } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "io");
const fix = (name: string): string => join(FIX, name);

describe("readNpy: files written by numpy (test/fixtures/make_io_fixtures.py)", () => {
  it("int32 (2, 3)", async () => {
    const a = await readNpy(fix("int32_2x3.npy"));
    expect(a.dtype).toBe("int32");
    expect(a.shape).toEqual([2, 3]);
    expect(a.data).toBeInstanceOf(Int32Array);
    expect(Array.from(a.data as Int32Array)).toEqual([-3, -2, -1, 0, 1, 2]);
  });

  it("int64 as BigInt64Array", async () => {
    const a = await readNpy(fix("int64_4.npy"));
    expect(a.dtype).toBe("int64");
    expect(a.shape).toEqual([4]);
    expect(a.data).toBeInstanceOf(BigInt64Array);
    expect(Array.from(a.data as BigInt64Array)).toEqual([-(2n ** 40n), -1n, 0n, 2n ** 31n + 5n]);
  });

  it("float32 (3, 2, 2)", async () => {
    const a = await readNpy(fix("float32_3x2x2.npy"));
    expect(a.dtype).toBe("float32");
    expect(a.shape).toEqual([3, 2, 2]);
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from({ length: 12 }, (_, i) => i * 0.25 - 1));
  });

  it("a 0-d float64 scalar", async () => {
    const a = await readNpy(fix("float64_scalar.npy"));
    expect(a.dtype).toBe("float64");
    expect(a.shape).toEqual([]);
    expect(Array.from(a.data as Float64Array)).toEqual([Math.PI]);
  });

  it("uint8, int16, bool, float16 (raw bits)", async () => {
    const u8 = await readNpy(fix("uint8_5.npy"));
    expect([u8.dtype, Array.from(u8.data as Uint8Array)]).toEqual(["uint8", [0, 1, 127, 128, 255]]);
    const i16 = await readNpy(fix("int16_3.npy"));
    expect([i16.dtype, Array.from(i16.data as Int16Array)]).toEqual(["int16", [-32768, 0, 32767]]);
    const b = await readNpy(fix("bool_4.npy"));
    expect([b.dtype, Array.from(b.data as Uint8Array)]).toEqual(["bool", [1, 0, 0, 1]]);
    const h = await readNpy(fix("float16_3.npy"));
    expect(h.dtype).toBe("float16");
    expect(h.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(h.data as Uint16Array)).toEqual([0x3800, 0xc000, 0x7bff]); // 0.5, -2, 65504
  });

  it("an empty (0, 4) array", async () => {
    const a = await readNpy(fix("empty_f32.npy"));
    expect(a.shape).toEqual([0, 4]);
    expect(a.data.length).toBe(0);
  });

  it("big-endian data is converted to host order", async () => {
    const a = await readNpy(fix("int32_be.npy"));
    expect(a.dtype).toBe("int32");
    expect(Array.from(a.data as Int32Array)).toEqual([1, -2, 70000]);
  });

  it("format versions 2.0 and 3.0", async () => {
    expect(readFileSync(fix("float32_v2.npy"))[6]).toBe(2);
    const v2 = await readNpy(fix("float32_v2.npy"));
    expect(Array.from(v2.data as Float32Array)).toEqual([1.5, -2.5]);
    expect(readFileSync(fix("int32_v3.npy"))[6]).toBe(3);
    const v3 = await readNpy(fix("int32_v3.npy"));
    expect(v3.shape).toEqual([2, 1]);
    expect(Array.from(v3.data as Int32Array)).toEqual([4, 5]);
  });

  it("reads from bytes as well as paths (data aligned even from an odd offset)", async () => {
    const file = await readFile(fix("float32_3x2x2.npy"));
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    const a = await readNpy(shifted.subarray(1));
    expect(Array.from(a.data as Float32Array)).toEqual(Array.from((await readNpy(fix("float32_3x2x2.npy"))).data as Float32Array));
    expect(decodeNpy(file).shape).toEqual([3, 2, 2]);
  });
});

describe("readNpy: invalid input", () => {
  const good = readFileSync(fix("int32_2x3.npy"));
  const withHeader = (header: string): Uint8Array => {
    const text = header.padEnd(117, " ") + "\n";
    const out = new Uint8Array(10 + text.length + 24);
    out.set(good.subarray(0, 8));
    out[8] = text.length;
    out[9] = 0;
    out.set(new TextEncoder().encode(text), 10);
    return out;
  };
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["an empty file", new Uint8Array(0), /is empty/],
    ["garbage", new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), /not a \.npy file/],
    ["a truncated header", good.subarray(0, 50), /header/],
    ["truncated data", good.subarray(0, good.length - 4), /has 20 data bytes but shape \(2, 3\) of int32 needs 24/],
    ["trailing bytes", new Uint8Array([...good, 0, 0, 0, 0]), /has 28 data bytes/],
    ["an unknown version", new Uint8Array([...good.subarray(0, 6), 4, 0, ...good.subarray(8)]), /unsupported format version 4\.0/],
    ["a complex dtype", withHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"), /unsupported dtype "<c8"/],
    ["a structured dtype", withHeader("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (6,), }"), /structured dtype/],
    ["a header that is not a dict", withHeader("hello"), /malformed header/],
    ["a bad shape", withHeader("{'descr': '<i4', 'fortran_order': False, 'shape': (2, -3), }"), /invalid shape entry/],
    ["a missing fortran_order", withHeader("{'descr': '<i4', 'shape': (6,), }"), /fortran_order/],
  ];
  for (const [what, bytes, re] of cases) {
    it(`rejects ${what} with ERR_AUDIOLM_INVALID_NPY`, async () => {
      const e = await errorOf(() => readNpy(bytes));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_NPY");
      expect(e.message).toMatch(re);
    });
  }

  it("rejects Fortran order and pickled object arrays, naming the file", async () => {
    const f = await errorOf(() => readNpy(fix("float64_fortran.npy")));
    expect(f.code).toBe("ERR_AUDIOLM_INVALID_NPY");
    expect(f.message).toContain("float64_fortran.npy");
    expect(f.message).toMatch(/Fortran order/);
    const o = await errorOf(() => readNpy(fix("object.npy")));
    expect(o.code).toBe("ERR_AUDIOLM_INVALID_NPY");
    expect(o.message).toMatch(/object\.npy.*unsupported dtype "\|O"/);
  });

  it("reports a missing file as ERR_AUDIOLM_IO, bad arguments as ERR_AUDIOLM_INVALID_ARGUMENT", async () => {
    const e = await errorOf(() => readNpy(fix("nope.npy")));
    expect(e.code).toBe("ERR_AUDIOLM_IO");
    expect(e.message).toContain("nope.npy");
    expect((await errorOf(() => readNpy(7 as unknown as string))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    expect((await errorOf(() => decodeNpy([1, 2] as unknown as Uint8Array))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
  });
});

describe("npyToInt32", () => {
  it("passes int32 through and converts in-range int64", async () => {
    const i32 = await readNpy(fix("int32_2x3.npy"));
    expect(npyToInt32(i32)).toBe(i32.data);
    const small = await readNpy(fix("int64_small.npy"));
    expect(Array.from(npyToInt32(small))).toEqual([-(2 ** 31), 0, 7, 2 ** 31 - 1]);
    const u8 = await readNpy(fix("uint8_5.npy"));
    expect(Array.from(npyToInt32(u8))).toEqual([0, 1, 127, 128, 255]);
  });

  it("rejects out-of-range values and float arrays", async () => {
    const big = await readNpy(fix("int64_4.npy"));
    const e = await errorOf(() => npyToInt32(big, "codes"));
    expect(e.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    expect(e.message).toBe("Expected int32-range values for codes but received -1099511627776 at index 0");
    const u32: NpyArray = { dtype: "uint32", shape: [2], data: new Uint32Array([1, 2 ** 31]) };
    expect((await errorOf(() => npyToInt32(u32))).message).toMatch(/received 2147483648 at index 1/);
    const f = await readNpy(fix("float32_3x2x2.npy"));
    expect((await errorOf(() => npyToInt32(f))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
  });
});

describe("writeNpy / encodeNpy", () => {
  it("writes byte-for-byte what np.save writes", async () => {
    const same: Array<[string, NpyArray]> = [];
    for (const name of ["int32_2x3.npy", "int64_4.npy", "float32_3x2x2.npy", "float64_scalar.npy", "uint8_5.npy", "int16_3.npy", "empty_f32.npy", "float16_3.npy", "bool_4.npy"]) {
      same.push([name, await readNpy(fix(name))]);
    }
    for (const [name, arr] of same) {
      const dtype = arr.dtype === "float16" || arr.dtype === "bool" ? arr.dtype : undefined;
      const ours = encodeNpy(arr.data, arr.shape, dtype);
      expect(Buffer.from(ours).equals(readFileSync(fix(name))), name).toBe(true);
    }
  });

  it("pads the header so the data starts at a multiple of 64 bytes", () => {
    for (const shape of [[1], [12345678], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map(() => 1), []]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const bytes = encodeNpy(new Float32Array(n), shape);
      const headerLen = bytes[8] | (bytes[9] << 8);
      expect((10 + headerLen) % 64).toBe(0);
      expect(bytes[10 + headerLen - 1]).toBe(0x0a);
      expect(bytes.length).toBe(10 + headerLen + 4 * n);
    }
  });

  it("round-trips every typed array type through a file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "audiolm-npy-"));
    try {
      const arrays: Array<[NpyArray["data"], number[], string]> = [
        [new Int8Array([-128, 0, 127]), [3], "int8"],
        [new Uint8Array([0, 255]), [2, 1], "uint8"],
        [new Int16Array([-5, 5, 7, 8]), [2, 2], "int16"],
        [new Uint16Array([65535]), [1], "uint16"],
        [new Int32Array([1, -2, 3, -4, 5, -6]), [1, 2, 3], "int32"],
        [new Uint32Array([4294967295]), [1], "uint32"],
        [new BigInt64Array([-(2n ** 62n), 9n]), [2], "int64"],
        [new BigUint64Array([2n ** 64n - 1n]), [1], "uint64"],
        [new Float32Array([0.1, -Infinity, NaN]), [3], "float32"],
        [new Float64Array([1e-300, Math.E]), [2], "float64"],
      ];
      for (const [data, shape, dtype] of arrays) {
        const p = join(dir, `${dtype}.npy`);
        await writeNpy(p, data, shape);
        const back = await readNpy(p);
        expect(back.dtype).toBe(dtype);
        expect(back.shape).toEqual(shape);
        expect(back.data.constructor).toBe(data.constructor);
        expect(Array.from(back.data as ArrayLike<number | bigint>)).toEqual(Array.from(data as ArrayLike<number | bigint>));
      }
      await writeNpy(join(dir, "flat.npy"), new Int32Array([1, 2, 3]));
      expect((await readNpy(join(dir, "flat.npy"))).shape).toEqual([3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad arguments", async () => {
    const bad: Array<() => unknown> = [
      () => encodeNpy(new Int32Array(6), [4, 2]),
      () => encodeNpy(new Int32Array(6), [2, -3]),
      () => encodeNpy(new Int32Array(6), [2.5, 2]),
      () => encodeNpy([1, 2, 3] as unknown as Int32Array, [3]),
      () => encodeNpy(new Int32Array(2), [2], "float16"),
      () => writeNpy("", new Int32Array(1)),
    ];
    for (const f of bad) expect((await errorOf(f)).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    const e = await errorOf(() => encodeNpy(new Int32Array(6), [4, 2]));
    expect(e.message).toBe("Expected 8 elements for data (shape [4, 2]) but received Int32Array of length 6");
  });

  it("reports write failures as ERR_AUDIOLM_IO", async () => {
    const e = await errorOf(() => writeNpy(join(tmpdir(), "audiolm-no-such-dir-xyz", "a.npy"), new Int32Array(1)));
    expect(e.code).toBe("ERR_AUDIOLM_IO");
  });
});

describe("readNpz", () => {
  for (const name of ["stored.npz", "deflated.npz"]) {
    it(`reads ${name} (np.savez${name.startsWith("deflated") ? "_compressed" : ""})`, async () => {
      const m = await readNpz(fix(name));
      expect([...m.keys()]).toEqual(["codes", "wave"]);
      const codes = m.get("codes")!;
      expect(codes.shape).toEqual([3, 2]);
      expect(Array.from(codes.data as Int32Array)).toEqual([0, 1, 2, 3, 4, 5]);
      const wave = m.get("wave")!;
      expect(wave.dtype).toBe("float32");
      expect(Array.from(wave.data as Float32Array)).toEqual([-1, -0.5, 0, 0.5, 1]);
    });
  }

  it("rejects a corrupt archive with ERR_AUDIOLM_INVALID_NPY naming the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "audiolm-npz-"));
    try {
      const p = join(dir, "bad.npz");
      const bytes = readFileSync(fix("stored.npz"));
      await writeFile(p, bytes.subarray(0, bytes.length - 30));
      const e = await errorOf(() => readNpz(p));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_NPY");
      expect(e.message).toContain("bad.npz");
      const e2 = await errorOf(() => decodeNpz(new Uint8Array(0)));
      expect(e2.code).toBe("ERR_AUDIOLM_INVALID_NPY");
      expect((await errorOf(() => readNpz(join(dir, "missing.npz")))).code).toBe("ERR_AUDIOLM_IO");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("decodeNpy / decodeNpz: fuzzing", () => {
  it("only ever throws AudioLMError on randomly corrupted fixtures", () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (const name of ["int32_2x3.npy", "int64_4.npy", "float32_v2.npy", "int32_v3.npy", "stored.npz", "deflated.npz"]) {
      const orig = readFileSync(join(FIX, name));
      for (let it = 0; it < 300; it++) {
        const b = new Uint8Array(orig);
        for (let k = 0; k < 3; k++) b[Math.floor(rnd() * Math.min(b.length, rnd() < 0.7 ? 80 : b.length))] = Math.floor(rnd() * 256);
        const cut = rnd() < 0.2 ? Math.floor(rnd() * b.length) : b.length;
        try {
          (name.endsWith(".npz") ? decodeNpz : decodeNpy)(b.subarray(0, cut));
        } catch (err) {
          expect(err, `${name} #${it}`).toBeInstanceOf(AudioLMError);
        }
      }
    }
  });
});

describe("npz writing", () => {
  it("round-trips through our reader and matches numpy.savez's layout (stored entries with CRCs)", async () => {
    const { encodeNpz, decodeNpz } = await import("../lib/formats/npy.js");
    const a = Int32Array.from({ length: 12 }, (_, i) => i * 7 - 30);
    const b = Float32Array.from({ length: 5 }, (_, i) => Math.sin(i + 0.5));
    const bytes = encodeNpz({ semantic: { data: a, shape: [3, 4] }, "x.npy": { data: b, shape: [5] } });
    const back = decodeNpz(bytes);
    expect([...back.keys()].sort()).toEqual(["semantic", "x"]);
    expect(back.get("semantic")!.shape).toEqual([3, 4]);
    expect([...(back.get("semantic")!.data as Int32Array)]).toEqual([...a]);
    expect([...(back.get("x")!.data as Float32Array)]).toEqual([...b]);
  });
});
