// Hostile or damaged codec components loaded through the public API: each load fails with a
// coded error that names the problem, and the process (and a model already loaded) keeps working.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Codec } from "../lib/models/codec.js";
import { convertEncodec } from "../lib/convert/encodec.js";
import { AudioLMError } from "../lib/errors.js";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let good: Buffer;
let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
let codec: Codec;

beforeAll(async () => {
  const path = join(tmp.dir, "good.safetensors");
  await convertEncodec(join(import.meta.dirname, "fixtures", "encodec", "causal", "model.th"), path);
  good = readFileSync(path);
  const n = Number(good.readBigUInt64LE(0));
  header = JSON.parse(good.subarray(8, 8 + n).toString("utf8"));
  codec = await Codec.load(path);
});
afterAll(() => codec?.dispose());

/** Rewrites the header (keeping the data section) and returns the new file's path. */
function withHeader(name: string, edit: (h: typeof header) => void): string {
  const h = structuredClone(header);
  edit(h);
  const n = Number(good.readBigUInt64LE(0));
  const json = Buffer.from(JSON.stringify(h));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(tmp.dir, `${name}.safetensors`);
  writeFileSync(path, Buffer.concat([len, json, good.subarray(8 + n)]));
  return path;
}

async function expectLoadError(path: string, code: string, pattern: RegExp) {
  const err = await Codec.load(path).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AudioLMError);
  expect((err as AudioLMError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

const TENSOR = "encoder.layers.0.conv.bias";

describe("hostile codec components", () => {
  it("header length past the end of the file", async () => {
    const b = Buffer.from(good);
    b.writeBigUInt64LE(BigInt(good.length + 100), 0);
    const path = join(tmp.dir, "header-past-end.safetensors");
    writeFileSync(path, b);
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /header length .* past the end/);
  });
  it("truncated data section", async () => {
    const path = join(tmp.dir, "truncated.safetensors");
    writeFileSync(path, good.subarray(0, good.length - 10));
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /run past the end of the data|truncated/);
  });
  it("out-of-bounds offsets", async () => {
    const path = withHeader("oob", (h) => {
      (h[TENSOR] as { data_offsets: number[] }).data_offsets = [1e9, 1e9 + 16];
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", new RegExp(`${TENSOR.replace(/\./g, "\\.")}.*data_offsets`));
  });
  it("overlapping tensors", async () => {
    const other = Object.keys(header).find((k) => k !== "__metadata__" && k !== TENSOR)!;
    const path = withHeader("overlap", (h) => {
      const o = (h[other] as { data_offsets: number[]; shape: number[]; dtype: string });
      const t = h[TENSOR] as { data_offsets: number[]; shape: number[] };
      const bytes = t.data_offsets[1] - t.data_offsets[0];
      t.data_offsets = [o.data_offsets[0], o.data_offsets[0] + bytes];
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /overlap/);
  });
  it("dtype and shape that disagree with the byte size", async () => {
    const path = withHeader("size", (h) => {
      (h[TENSOR] as { dtype: string }).dtype = "F16";
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /occupies .* bytes but F16/);
  });
  it("a tensor with the wrong shape for the config", async () => {
    const path = withHeader("shape", (h) => {
      const t = h[TENSOR] as { shape: number[] };
      t.shape = [t.shape[0] / 2, 2];
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", new RegExp(`'${TENSOR.replace(/\./g, "\\.")}' has shape \\[2, 2\\] but \\[4\\]`));
  });
  it("a missing tensor", async () => {
    const path = withHeader("missing", (h) => {
      h["renamed.tensor"] = h[TENSOR];
      delete h[TENSOR];
    });
    // The bias is optional in a conv; the weight is not.
    const path2 = withHeader("missing-weight", (h) => {
      for (const k of ["encoder.layers.0.conv.weight_g", "encoder.layers.0.conv.weight_v"]) {
        h[`x.${k}`] = h[k];
        delete h[k];
      }
    });
    await Codec.load(path).then((c) => c.dispose()); // loads: a conv without bias is legal
    await expectLoadError(path2, "ERR_AUDIOLM_INVALID_MODEL", /missing tensor 'encoder\.layers\.0\.conv\.weight'/);
  });
  it("a config that is not a codec, or is absurd", async () => {
    const meta = header.__metadata__ as Record<string, string>;
    const cfg = JSON.parse(meta["audiolm.config"]);
    let path = withHeader("family", (h) => {
      (h.__metadata__ as Record<string, string>)["audiolm.config"] = JSON.stringify({ ...cfg, family: "bark" });
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /family 'encodec'/);
    path = withHeader("ratios", (h) => {
      (h.__metadata__ as Record<string, string>)["audiolm.config"] = JSON.stringify({ ...cfg, ratios: [4, -2] });
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /ratios/);
    path = withHeader("noconfig", (h) => {
      delete h.__metadata__;
    });
    await expectLoadError(path, "ERR_AUDIOLM_INVALID_MODEL", /audiolm\.config/);
  });
  it("the already-loaded codec still works after all of the above", async () => {
    const codes = await codec.encode(new Float32Array(400).map((_, i) => Math.sin(i / 5) * 0.2));
    const [audio] = await codec.decode(codes);
    expect(audio.length).toBe(codes.shape[2] * codec.hopLength);
    expect(audio.every(Number.isFinite)).toBe(true);
  });
});
