// EnCodec parity with Meta's reference implementation (fixtures in test/fixtures/encodec, written
// by test/fixtures/make_encodec_fixtures.py with random weights), through the converter and the
// TypeScript API, plus the codec's error handling.
import { copyFileSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Codec } from "../lib/models/codec.js";
import { convertEncodec } from "../lib/convert/encodec.js";
import { AudioLMError } from "../lib/errors.js";
import { decodeNpy, npyToInt32 } from "../lib/formats/npy.js";
import { fractionEqual, relL2, tempDir } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "encodec");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function f32(path: string): Float32Array {
  const a = decodeNpy(readFileSync(path), path);
  if (!(a.data instanceof Float32Array)) throw new Error(`${path} is not float32`);
  return a.data;
}
function i32(path: string): { data: Int32Array; shape: number[] } {
  const a = decodeNpy(readFileSync(path), path);
  return { data: npyToInt32(a), shape: a.shape };
}

// Each model in three source layouts; `levels` are the quantizer counts with reference codes.
const CONFIGS = [
  { name: "causal", levels: [2, 4], bandwidths: { 6: 1, 12: 2, 24: 4 } as Record<number, number> },
  { name: "noncausal", levels: [2, 3], bandwidths: { 5: 1, 10: 2, 15: 3 } as Record<number, number> },
];
const LAYOUTS = [
  { file: "model.th", config: "config.json", what: "original .th" },
  { file: "model_hf.safetensors", config: "config_hf.json", what: "Hugging Face (parametrizations)" },
  { file: "model_hf_legacy.safetensors", config: "config_hf.json", what: "Hugging Face (weight_g/weight_v)" },
];

for (const cfg of CONFIGS) {
  for (const layout of LAYOUTS) {
    describe(`EnCodec ${cfg.name} from ${layout.what}`, () => {
      const dir = join(FIXTURES, cfg.name);
      let codec: Codec;
      beforeAll(async () => {
        const out = join(tmp.dir, `${cfg.name}-${layout.file}.safetensors`);
        await convertEncodec(join(dir, layout.file), out, { configPath: join(dir, layout.config) });
        codec = await Codec.load(out);
      });
      afterAll(() => codec?.dispose());

      it("reports the reference's rates and bandwidth rule", () => {
        const ref = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
        expect(codec.sampleRate).toBe(ref.sample_rate);
        expect(codec.numQuantizers).toBe(ref.n_q);
        expect(codec.codebookSize).toBe(ref.bins);
        for (const [kbps, n] of Object.entries(cfg.bandwidths)) expect(codec.quantizersForBandwidth(Number(kbps))).toBe(n);
      });

      for (const item of [0, 1]) {
        it(`encoder output of input ${item} matches within 1e-5 relative L2`, async () => {
          const emb = await codec.embed(f32(join(dir, `input_${item}.npy`)));
          const ref = f32(join(dir, `emb_${item}.npy`));
          expect(emb.data.length).toBe(ref.length);
          expect(relL2(emb.data, ref)).toBeLessThan(1e-5);
        });
        for (const nq of cfg.levels) {
          it(`codes of input ${item} at ${nq} levels equal the reference's; decode within 1e-5`, async () => {
            const want = i32(join(dir, `codes_${item}_${nq}.npy`));
            const codes = await codec.encode(f32(join(dir, `input_${item}.npy`)), { quantizers: nq });
            expect(codes.shape).toEqual([1, nq, want.shape[1]]);
            expect(fractionEqual(codes.data, want.data)).toBeGreaterThanOrEqual(0.999);
            const [audio] = await codec.decode({ data: want.data, shape: [1, nq, want.shape[1]] });
            const ref = f32(join(dir, `decoded_${item}_${nq}.npy`));
            expect(audio.length).toBe(ref.length);
            expect(relL2(audio, ref)).toBeLessThan(1e-5);
          });
        }
      }

      it("encodes a batch of different lengths like its items one by one", async () => {
        const a = f32(join(dir, "input_0.npy"));
        const b = f32(join(dir, "input_1.npy"));
        const batch = await codec.encode([a, b]);
        const [ca, cb] = await Promise.all([codec.encode(a), codec.encode(b)]);
        const [B, Q, T] = batch.shape;
        expect(B).toBe(2);
        expect(batch.frames).toEqual([ca.shape[2], cb.shape[2]]);
        for (let q = 0; q < Q; q++) {
          expect([...batch.data.subarray(q * T, q * T + ca.shape[2])]).toEqual([...ca.data.subarray(q * ca.shape[2], (q + 1) * ca.shape[2])]);
          const row = batch.data.subarray((Q + q) * T, (Q + q + 1) * T);
          expect([...row.subarray(0, cb.shape[2])]).toEqual([...cb.data.subarray(q * cb.shape[2], (q + 1) * cb.shape[2])]);
          expect(row.subarray(cb.shape[2]).every((v) => v === -1)).toBe(true);
        }
        const decoded = await codec.decode(batch, { lengths: [a.length, b.length] });
        expect(decoded.map((d) => d.length)).toEqual([a.length, b.length]);
      });
    });
  }
}

// EnCodec 48 kHz's way (stereo, per-segment normalisation, overlapping segments), tiny: segments of
// 600 samples every 540 (fixtures in test/fixtures/encodec/segmented, Meta's EncodecModel.encode/decode).
for (const layout of LAYOUTS.slice(0, 2)) {
  describe(`EnCodec segmented stereo from ${layout.what}`, () => {
    const dir = join(FIXTURES, "segmented");
    const segs = JSON.parse(readFileSync(join(dir, "segments.json"), "utf8")) as Record<string, { frames: number[]; scales: number[] }>;
    let codec: Codec;
    beforeAll(async () => {
      const out = join(tmp.dir, `segmented-${layout.file}.safetensors`);
      await convertEncodec(join(dir, layout.file), out, { configPath: join(dir, layout.config) });
      codec = await Codec.load(out);
    });
    afterAll(() => codec?.dispose());

    it("reports the reference's segment plan", () => {
      expect([codec.channels, codec.segmentLength, codec.segmentStride, codec.normalize, codec.segmented]).toEqual([2, 600, 540, true, true]);
    });

    for (const item of [0, 1]) {
      for (const nq of [2, 3]) {
        it(`input ${item} at ${nq} levels: segment codes and scales equal the reference's; decode within 1e-5`, async () => {
          const want = i32(join(dir, `codes_${item}_${nq}.npy`));
          const ref = segs[`${item}_${nq}`]!;
          const x = f32(join(dir, `input_${item}.npy`)); // [2, n] row-major = planar
          const codes = await codec.encode(x, { quantizers: nq });
          expect(codes.shape).toEqual([1, nq, want.shape[1]]);
          expect(fractionEqual(codes.data, want.data)).toBeGreaterThanOrEqual(0.999);
          expect(codes.segments![0]!.map((s) => s.frames)).toEqual(ref.frames);
          codes.segments![0]!.forEach((s, j) => expect(Math.abs(s.scale / ref.scales[j]! - 1)).toBeLessThan(1e-6));
          const segments = [ref.frames.map((frames, j) => ({ frames, scale: ref.scales[j]! }))];
          const [audio] = await codec.decode({ data: want.data, shape: [1, nq, want.shape[1]], segments });
          const dec = f32(join(dir, `decoded_${item}_${nq}.npy`));
          expect(audio.length).toBe(dec.length);
          expect(relL2(audio, dec)).toBeLessThan(1e-5);
          // Trimmed to the input: each channel keeps its first n samples.
          const [cut] = await codec.decode(codes, { lengths: [x.length / 2] });
          const n = x.length / 2;
          const T = dec.length / 2;
          expect(cut.length).toBe(x.length);
          expect(relL2(cut.subarray(n), audio.subarray(T, T + n))).toBeLessThan(1e-5);
        });
      }
    }

    it("rejects odd planar lengths and segments that do not fit the codes", async () => {
      const x = f32(join(dir, "input_0.npy"));
      await expect(codec.encode(x.subarray(1))).rejects.toThrow(/planar audio of 2 channels/);
      const codes = await codec.encode(x);
      const bad = codes.segments!.map((s) => s.map((g, j) => (j === 0 ? { ...g, frames: g.frames + 1 } : g)));
      await expect(codec.decode({ ...codes, segments: bad })).rejects.toThrow(/codes\.segments\[0\]/);
      await expect(codec.decode({ ...codes, segments: [[{ frames: codes.frames[0]!, scale: 0 }]] })).rejects.toThrow(/scale/);
      await expect(codec.decode(codes)).resolves.toHaveLength(1); // still works
    });
  });
}

it("a stereo EnCodec converted without a config gets the 48 kHz model's segments", async () => {
  const alone = join(tmp.dir, "stereo-alone.th"); // no config.json beside it
  copyFileSync(join(FIXTURES, "segmented", "model.th"), alone);
  const out = join(tmp.dir, "stereo-defaults.safetensors");
  await convertEncodec(alone, out);
  const codec = await Codec.load(out);
  expect([codec.sampleRate, codec.segmentLength, codec.segmentStride, codec.normalize]).toEqual([48000, 48000, 47520, true]);
  await codec.dispose();
});

describe("Codec error handling", () => {
  let codec: Codec;
  let path: string;
  beforeAll(async () => {
    path = join(tmp.dir, "errors.safetensors");
    await convertEncodec(join(FIXTURES, "causal", "model.th"), path);
    codec = await Codec.load(path);
  });

  const rejectsWith = async (p: Promise<unknown>, code: string, pattern?: RegExp) => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AudioLMError);
    expect((err as AudioLMError).code).toBe(code);
    if (pattern) expect((err as Error).message).toMatch(pattern);
  };

  it("rejects bad waveforms and codes with clear errors, and keeps working", async () => {
    const good = new Float32Array(500).map((_, i) => Math.sin(i / 7) * 0.3);
    await rejectsWith(codec.encode(new Float32Array(0)), "ERR_AUDIOLM_INVALID_ARGUMENT", /non-empty/);
    const nan = good.slice();
    nan[17] = NaN;
    await rejectsWith(codec.encode(nan), "ERR_AUDIOLM_INVALID_ARGUMENT", /wav\[17\].*NaN/);
    await rejectsWith(codec.encode([good, new Float32Array(3).fill(Infinity)]), "ERR_AUDIOLM_INVALID_ARGUMENT", /wav\[1\]\[0\]/);
    await rejectsWith(codec.encode(good as unknown as Float32Array[], { quantizers: 9 }), "ERR_AUDIOLM_INVALID_ARGUMENT", /quantizers/);
    await rejectsWith(codec.encode(good, { bandwidth: 1000 }), "ERR_AUDIOLM_INVALID_ARGUMENT", /bandwidth/);
    await rejectsWith(codec.encode([1, 2, 3] as unknown as Float32Array), "ERR_AUDIOLM_INVALID_ARGUMENT", /Float32Array/);
    await rejectsWith(codec.decode({ data: new Int32Array([1, 2, 64, 3]), shape: [1, 2, 2] }), "ERR_AUDIOLM_INVALID_ARGUMENT", /codes\[0, 1, 0\]/);
    await rejectsWith(codec.decode({ data: new Int32Array(3), shape: [1, 2, 2] }), "ERR_AUDIOLM_INVALID_ARGUMENT", /4 entries/);
    // The same codec still works after every failure above.
    const codes = await codec.encode(good);
    expect(codes.shape[1]).toBe(4);
  });

  it("rejects missing, truncated and foreign files", async () => {
    await rejectsWith(Codec.load(join(tmp.dir, "missing.safetensors")), "ERR_AUDIOLM_IO", /missing\.safetensors/);
    const cut = join(tmp.dir, "cut.safetensors");
    copyFileSync(path, cut);
    truncateSync(cut, Math.floor(statSync(path).size / 2));
    await rejectsWith(Codec.load(cut), "ERR_AUDIOLM_INVALID_MODEL", /cut\.safetensors/);
    const garbage = join(tmp.dir, "garbage.safetensors");
    writeFileSync(garbage, Buffer.from("this is not a model at all, just some text"));
    await rejectsWith(Codec.load(garbage), "ERR_AUDIOLM_INVALID_MODEL");
  });

  it("throws ERR_AUDIOLM_DISPOSED after dispose, and dispose is idempotent", async () => {
    const c = await Codec.load(path);
    const pending = c.encode(new Float32Array(300).fill(0.1));
    await c.dispose();
    await c.dispose();
    await expect(pending).resolves.toBeDefined(); // in-flight work finishes
    await rejectsWith(c.encode(new Float32Array(10).fill(0.1)), "ERR_AUDIOLM_DISPOSED");
  });
});
