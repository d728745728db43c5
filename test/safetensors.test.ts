import { describe, it, expect } from "vitest";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bf16ToF32,
  decodeSafetensors,
  encodeSafetensors,
  f16ToF32,
  f32ToBf16,
  f32ToF16,
  parseSafetensorsHeader,
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type SafetensorsTensorInput,
} from "../lib/formats/safetensors.js";
import { AudioLMError } from "../lib/errors.js";
import { errorOf } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "io");
const TINY = join(FIX, "tiny.safetensors");

/** Builds a safetensors image from a header object and a data section (no validation). */
function build(header: unknown, data: Uint8Array, rawHeader?: string): Uint8Array {
  const text = Buffer.from(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setUint32(0, text.length, true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

describe("reading a file made by hand in Python (test/fixtures/make_io_fixtures.py)", () => {
  it("parses the header", async () => {
    const h = await readSafetensorsHeader(TINY);
    expect(h.metadata).toEqual({ format: "pt", source: "make_io_fixtures.py" });
    expect([...h.tensors.keys()]).toEqual(["weight.a", "weight.b", "weight.c", "ids", "grid"]);
    expect(h.tensors.get("weight.b")).toEqual({ dtype: "F16", shape: [4], offsets: [24, 32] });
    expect(h.tensors.get("grid")).toEqual({ dtype: "I32", shape: [2, 2], offsets: [62, 78] });
    expect(h.dataStart % 8).toBe(0);
    const file = readFileSync(TINY);
    expect(h.dataStart).toBe(8 + Number(file.readBigUInt64LE(0)));
    expect(await readSafetensorsHeader(new Uint8Array(file))).toEqual(h);
  });

  it("reads every tensor as float32 (F16/BF16 widened exactly, as torch does)", async () => {
    const st = await readSafetensors(TINY);
    expect(st.metadata.format).toBe("pt");
    const get = (n: string): number[] => Array.from(st.tensors.get(n)!.data);
    expect(st.tensors.get("weight.a")!.shape).toEqual([2, 3]);
    expect(get("weight.a")).toEqual([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]);
    // Reference values printed by torch: tensor(..., dtype=float16 / bfloat16).float().tolist()
    expect(get("weight.b")).toEqual([0.5, -1.25, 65504, 0.0010004043579101562]);
    expect(get("weight.c")).toEqual([1, -3.140625, Math.fround(1.0002555517425873e30)]);
    expect(st.tensors.get("weight.c")!.dtype).toBe("BF16");
    expect(get("ids")).toEqual([-5, 0, 2 ** 40]);
    expect(get("grid")).toEqual([1, -2, 3, -4]);
    const fromBytes = decodeSafetensors(readFileSync(TINY));
    expect([...fromBytes.tensors.keys()]).toEqual([...st.tensors.keys()]);
    expect(Array.from(fromBytes.tensors.get("ids")!.data)).toEqual(get("ids"));
  });

  it("writes the same bytes as the hand-made Python file", () => {
    const file = readFileSync(TINY);
    const h = parseSafetensorsHeader(file);
    const raw = (n: string): Uint8Array => {
      const [b, e] = h.tensors.get(n)!.offsets;
      return new Uint8Array(file.subarray(h.dataStart + b, h.dataStart + e));
    };
    const tensors: SafetensorsTensorInput[] = [
      { name: "weight.a", dtype: "F32", shape: [2, 3], data: new Float32Array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]) },
      { name: "weight.b", dtype: "F16", shape: [4], data: new Uint16Array(raw("weight.b").slice().buffer) },
      { name: "weight.c", dtype: "BF16", shape: [3], data: f32ToBf16([1, -3.140625, 1e30]) },
      { name: "ids", dtype: "I64", shape: [3], data: new BigInt64Array([-5n, 0n, 2n ** 40n]) },
      { name: "grid", dtype: "I32", shape: [2, 2], data: raw("grid") },
    ];
    const ours = encodeSafetensors(tensors, { format: "pt", source: "make_io_fixtures.py" });
    expect(Buffer.from(ours).equals(file)).toBe(true);
  });
});

describe("writeSafetensors", () => {
  it("round-trips F32, F16, BF16 (from Float32Array), I32 and I64 with metadata", async () => {
    const dir = await mkdtemp(join(tmpdir(), "audiolm-st-"));
    try {
      const p = join(dir, "m.safetensors");
      const w = new Float32Array([0.1, -2, 3.5, 1e-3, 65504, -0]);
      await writeSafetensors(
        p,
        [
          { name: "conv.weight", dtype: "F32", shape: [2, 3], data: w },
          { name: "conv.bias", dtype: "F16", shape: [3], data: new Float32Array([0.5, -1.5, 1 / 3]) },
          { name: "emb", dtype: "BF16", shape: [1, 3], data: new Float32Array([1, 3.140625, -1 / 3]) },
          { name: "steps", dtype: "I32", shape: [], data: new Int32Array([42]) },
          { name: "ids", dtype: "I64", shape: [2], data: new BigInt64Array([-1n, 123456789n]) },
          { name: "empty", dtype: "F32", shape: [0, 5], data: new Float32Array(0) },
          { name: "3", dtype: "F32", shape: [1], data: new Float64Array([0.25]) },
        ],
        { "audiolm.config": JSON.stringify({ a: 1 }), note: "ünïcödé" },
      );
      expect((await readdir(dir)).sort()).toEqual(["m.safetensors"]); // the temp file was renamed
      const h = await readSafetensorsHeader(p);
      expect([...h.tensors.keys()]).toEqual(["conv.weight", "conv.bias", "emb", "steps", "ids", "empty", "3"]);
      expect(h.dataStart % 8).toBe(0);
      const bytes = await readFile(p);
      const headerText = bytes.subarray(8, h.dataStart).toString("utf8");
      expect(headerText.startsWith('{"__metadata__":')).toBe(true);
      expect(/^ *$/.test(headerText.slice(headerText.lastIndexOf("}") + 1))).toBe(true);
      const st = await readSafetensors(p);
      expect(st.metadata).toEqual({ "audiolm.config": '{"a":1}', note: "ünïcödé" });
      expect(Array.from(st.tensors.get("conv.weight")!.data)).toEqual(Array.from(w));
      expect(Array.from(st.tensors.get("conv.bias")!.data)).toEqual([0.5, -1.5, 0.333251953125]);
      expect(Array.from(st.tensors.get("emb")!.data)).toEqual([1, 3.140625, -0.333984375]);
      expect(st.tensors.get("steps")!.shape).toEqual([]);
      expect(Array.from(st.tensors.get("steps")!.data)).toEqual([42]);
      expect(Array.from(st.tensors.get("ids")!.data)).toEqual([-1, 123456792]); // float32 rounding
      expect(st.tensors.get("empty")!.data.length).toBe(0);
      expect(Array.from(st.tensors.get("3")!.data)).toEqual([0.25]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad tensors with ERR_AUDIOLM_INVALID_ARGUMENT naming them", async () => {
    const t = (over: Partial<SafetensorsTensorInput>): SafetensorsTensorInput => ({ name: "x", dtype: "F32", shape: [2], data: new Float32Array(2), ...over });
    const cases: Array<[SafetensorsTensorInput[], RegExp]> = [
      [[t({}), t({})], /unique tensor name/],
      [[t({ name: "" })], /non-empty tensor name/],
      [[t({ name: "__metadata__" })], /other than __metadata__/],
      [[t({ dtype: "F8" as "F32" })], /one of F32, F16, BF16, I32, I64 for tensors\[0\]\.dtype \(tensor "x"\)/],
      [[t({ shape: [2, -1] })], /non-negative integers/],
      [[t({ data: new Float32Array(3) })], /Expected 2 elements \(shape \[2\] of F32\) .* for tensors\[0\]\.data \(tensor "x"\) but received Float32Array of length 3/],
      [[t({ dtype: "I32", data: new Float32Array(2) })], /tensor "x"/],
      [[t({ dtype: "F32", data: new Int32Array(2) })], /tensor "x"/],
      [[t({ dtype: "I64", data: new Uint8Array(15) })], /tensor "x"/],
      [[t({ data: [1, 2] as unknown as Float32Array })], /tensor "x"/],
    ];
    for (const [tensors, re] of cases) {
      const e = await errorOf(() => encodeSafetensors(tensors));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
      expect(e.message).toMatch(re);
    }
    expect((await errorOf(() => encodeSafetensors([t({})], { a: 1 as unknown as string }))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    expect((await errorOf(() => writeSafetensors("", [t({})]))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    const io = await errorOf(() => writeSafetensors(join(tmpdir(), "audiolm-no-such-dir-xyz", "a.safetensors"), [t({})]));
    expect(io.code).toBe("ERR_AUDIOLM_IO");
  });
});

describe("reading invalid files", () => {
  /** A header `{ }` whose middle byte is a lone 0xff. */
  const badUtf8 = (): Uint8Array => {
    const b = build(null, new Uint8Array(0), "{ }");
    b[9] = 0xff;
    return b;
  };
  const f32 = (n: number, begin: number): object => ({ dtype: "F32", shape: [n], data_offsets: [begin, begin + 4 * n] });
  const data8 = new Uint8Array(8);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ["a file shorter than 8 bytes", new Uint8Array(5), /too small/],
    ["a header length past EOF", (() => { const b = build({ a: f32(2, 0) }, data8); new DataView(b.buffer).setUint32(0, 5000, true); return b; })(), /header of 5000 bytes past the end of the file/],
    ["a huge header length", (() => { const b = build({}, data8); new DataView(b.buffer).setUint32(4, 7, true); return b; })(), /limit/],
    ["bad JSON", build(null, data8, '{"a": {"dtype": "F32",'), /not valid JSON/],
    ["a JSON array header", build([1, 2], new Uint8Array(0)), /not a JSON object/],
    ["invalid UTF-8", badUtf8(), /not valid UTF-8/],
    ["an unknown dtype", build({ a: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, data8), /unknown dtype "Q4" for tensor "a"/],
    ["a bad shape", build({ a: { dtype: "F32", shape: [2.5], data_offsets: [0, 8] } }, data8), /invalid shape .* for tensor "a"/],
    ["bad offsets", build({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, data8), /invalid data_offsets \[8,0\] for tensor "a"/],
    ["a shape × dtype size mismatch", build({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data8), /size mismatch for tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
    ["offsets out of bounds", build({ a: f32(2, 0), b: f32(2, 8) }, data8), /data_offsets \[8, 16\] for tensor "b" past the end of the data \(8 bytes/],
    ["overlapping tensors", build({ a: f32(2, 0), b: f32(1, 4) }, data8), /overlapping data: tensor "b" \[4, 8\] overlaps tensor "a"/],
    ["a hole between tensors", build({ a: f32(1, 0), b: f32(1, 8) }, new Uint8Array(12)), /hole in the data before tensor "b" \(bytes 4–8/],
    ["trailing bytes", build({ a: f32(1, 0) }, data8), /4 bytes after the last tensor/],
    ["a non-string metadata value", build({ __metadata__: { a: 1 }, x: f32(2, 0) }, data8), /non-string __metadata__ value for "a"/],
  ];
  for (const [what, bytes, re] of cases) {
    it(`rejects ${what} with ERR_AUDIOLM_INVALID_MODEL`, async () => {
      const e = await errorOf(() => readSafetensors(bytes));
      expect(e.code).toBe("ERR_AUDIOLM_INVALID_MODEL");
      expect(e.message).toMatch(re);
      const e2 = await errorOf(() => readSafetensorsHeader(bytes));
      expect(e2.message).toBe(e.message);
    });
  }

  it("names the file, also when reading from disk", async () => {
    const dir = await mkdtemp(join(tmpdir(), "audiolm-st-"));
    try {
      const p = join(dir, "bad.safetensors");
      const good = readFileSync(TINY);
      await writeFile(p, good.subarray(0, good.length - 3));
      for (const f of [() => readSafetensors(p), () => readSafetensorsHeader(p)]) {
        const e = await errorOf(f);
        expect(e.code).toBe("ERR_AUDIOLM_INVALID_MODEL");
        expect(e.message).toMatch(/^safetensors file ".*bad\.safetensors" has data_offsets \[62, 78\] for tensor "grid" past the end of the data/);
      }
      await writeFile(p, new Uint8Array(3));
      expect((await errorOf(() => readSafetensors(p))).message).toMatch(/bad\.safetensors" is too small/);
      const missing = await errorOf(() => readSafetensors(join(dir, "missing.safetensors")));
      expect(missing.code).toBe("ERR_AUDIOLM_IO");
      expect(missing.message).toContain("missing.safetensors");
      expect((await errorOf(() => readSafetensors(5 as unknown as string))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("half-precision conversions", () => {
  const ref: { f32bits: number[]; f16bits: number[]; bf16bits: number[] } = JSON.parse(readFileSync(join(FIX, "half_ref.json"), "utf8"));
  const values = new Float32Array(new Uint32Array(ref.f32bits).buffer);

  it("f32ToF16 matches torch's .to(float16) bit for bit (round to nearest even, subnormals, overflow)", () => {
    const ours = f32ToF16(values);
    for (let i = 0; i < values.length; i++) {
      if (Number.isNaN(values[i])) {
        expect((ours[i] & 0x7c00) === 0x7c00 && (ours[i] & 0x3ff) !== 0, `NaN at ${i}`).toBe(true);
      } else {
        expect(ours[i], `value ${values[i]} (index ${i})`).toBe(ref.f16bits[i]);
      }
    }
  });

  it("f32ToBf16 matches torch's .to(bfloat16) bit for bit", () => {
    const ours = f32ToBf16(values);
    for (let i = 0; i < values.length; i++) {
      if (Number.isNaN(values[i])) {
        expect((ours[i] & 0x7f80) === 0x7f80 && (ours[i] & 0x7f) !== 0, `NaN at ${i}`).toBe(true);
      } else {
        expect(ours[i], `value ${values[i]} (index ${i})`).toBe(ref.bf16bits[i]);
      }
    }
  });

  it("f16ToF32 and bf16ToF32 are exact inverses on every non-NaN bit pattern", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const h = f16ToF32(all);
    const back = f32ToF16(h);
    const b = bf16ToF32(all);
    const backB = f32ToBf16(b);
    for (let i = 0; i < 65536; i++) {
      if (!Number.isNaN(h[i])) expect(back[i]).toBe(i);
      if (!Number.isNaN(b[i])) expect(backB[i]).toBe(i);
    }
    expect(h[0x3c00]).toBe(1);
    expect(h[0x0001]).toBe(2 ** -24);
    expect(h[0xfc00]).toBe(-Infinity);
    expect(b[0x3f80]).toBe(1);
  });

  it("rejects non-arrays", async () => {
    expect((await errorOf(() => f32ToF16(3 as unknown as Float32Array))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
    expect((await errorOf(() => f16ToF32(new Float32Array(1) as unknown as Uint16Array))).code).toBe("ERR_AUDIOLM_INVALID_ARGUMENT");
  });
});

describe("decodeSafetensors: fuzzing", () => {
  it("only ever throws AudioLMError on randomly corrupted fixtures", () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (const name of ["tiny.safetensors"]) {
      const orig = readFileSync(join(FIX, name));
      for (let it = 0; it < 300; it++) {
        const b = new Uint8Array(orig);
        for (let k = 0; k < 3; k++) b[Math.floor(rnd() * Math.min(b.length, rnd() < 0.7 ? 80 : b.length))] = Math.floor(rnd() * 256);
        const cut = rnd() < 0.2 ? Math.floor(rnd() * b.length) : b.length;
        try {
          decodeSafetensors(b.subarray(0, cut));
        } catch (err) {
          expect(err, `${name} #${it}`).toBeInstanceOf(AudioLMError);
        }
      }
    }
  });
});
