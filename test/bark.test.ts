// Bark (suno-ai/bark) checkpoints through `convertBark` and the transformer engine, against
// suno's own GPT / FineGPT (fixtures in test/fixtures/bark, written by
// test/fixtures/make_bark_fixtures.py with random weights): merged-context semantic logits,
// coarse logits, fine logits per predicted codebook, greedy tokens, and the converter's errors.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { convertBark, convertBarkCheckpoint } from "../lib/convert/bark.js";
import { AudioLMError } from "../lib/errors.js";
import { decodeNpy, npyToInt32 } from "../lib/formats/npy.js";
import { Transformer } from "../lib/models/transformer.js";
import { relL2, tempDir } from "./helpers.js";

const FIXTURES = join(import.meta.dirname, "fixtures", "bark");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function f32(name: string): Float32Array {
  const a = decodeNpy(readFileSync(join(FIXTURES, name)), name);
  if (!(a.data instanceof Float32Array)) throw new Error(`${name} is not float32`);
  return a.data;
}
function i32(name: string): Int32Array {
  const path = join(FIXTURES, name);
  return npyToInt32(decodeNpy(readFileSync(path), path));
}

/** Bark's merged context as inputCodebooks 2: [t[i], t[256+i]] for i < 256, then [t[512+j], -1]. */
function merged(t: Int32Array): Int32Array {
  const n = t.length - 256;
  const out = new Int32Array(n * 2);
  for (let i = 0; i < 256; i++) {
    out[2 * i] = t[i];
    out[2 * i + 1] = t[256 + i];
  }
  for (let j = 512; j < t.length; j++) {
    out[2 * (j - 256)] = t[j];
    out[2 * (j - 256) + 1] = -1;
  }
  return out;
}

async function greedy(m: Transformer, prompt: Int32Array, positions: number): Promise<Int32Array> {
  const s = m.session({ batch: 1, capacity: positions + 8 });
  try {
    await s.prefill([prompt]);
    const r = await s.generate({ steps: 8, seeds: [0], sampling: { temperature: 0 } });
    return r.tokens[0];
  } finally {
    s.dispose();
  }
}

describe("Bark checkpoints", () => {
  const out = join(tmp.dir, "bark");
  let semantic: Transformer;
  let coarse: Transformer;
  let fine: Transformer;
  beforeAll(async () => {
    await convertBark(FIXTURES, out);
    semantic = await Transformer.load(join(out, "semantic.safetensors"));
    coarse = await Transformer.load(join(out, "coarse.safetensors"));
    fine = await Transformer.load(join(out, "fine.safetensors"));
  });
  afterAll(async () => {
    await semantic?.dispose();
    await coarse?.dispose();
    await fine?.dispose();
  });

  it("writes three components and bark.json (not a model.json)", () => {
    for (const f of ["semantic.safetensors", "coarse.safetensors", "fine.safetensors", "bark.json"]) expect(existsSync(join(out, f))).toBe(true);
    expect(existsSync(join(out, "model.json"))).toBe(false);
    const j = JSON.parse(readFileSync(join(out, "bark.json"), "utf8"));
    expect(j.textEncodingOffset).toBe(10048);
    expect(j.semanticVocabSize).toBe(10000);
    expect(j.fineCodesGiven).toBe(1);
    expect(semantic.config).toMatchObject({ inputCodebooks: 2, sharedInputEmbedding: true, vocabSize: 300, outputSize: 280, maxPositions: 300, causal: true });
    expect(coarse.config).toMatchObject({ inputCodebooks: 1, sharedInputEmbedding: false, vocabSize: 200, outputSize: 200, maxPositions: 128 });
    expect(fine.config).toMatchObject({ inputCodebooks: 4, outputHeads: 3, causal: false, vocabSize: 65 });
  });

  it("semantic (merged context, _orig_mod. keys) matches suno's GPT within 1e-4", async () => {
    const prompt = merged(i32("semantic_tokens.npy"));
    const [logits] = await semantic.logits([prompt]);
    const ref = f32("semantic_logits.npy");
    const err = relL2(logits.subarray(logits.length - ref.length), ref);
    console.log(`bark semantic logits relative L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
  });

  it("semantic greedy tokens match (generation with two input codebooks)", async () => {
    const prompt = merged(i32("semantic_tokens.npy"));
    expect([...(await greedy(semantic, prompt, prompt.length / 2))]).toEqual([...i32("semantic_greedy.npy")]);
  });

  it("coarse (legacy vocab_size, mask buffers) matches within 1e-4 and greedy tokens match", async () => {
    const tokens = i32("coarse_tokens.npy");
    const [logits] = await coarse.logits([tokens]);
    const err = relL2(logits, f32("coarse_logits.npy"));
    console.log(`bark coarse logits relative L2 ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-4);
    expect([...(await greedy(coarse, tokens, tokens.length))]).toEqual([...i32("coarse_greedy.npy")]);
  });

  for (const p of [1, 2, 3]) {
    it(`fine logits for pred_idx ${p} match within 1e-4`, async () => {
      const tokens = i32("fine_tokens.npy").slice();
      for (let t = 0; t < tokens.length / 4; t++) for (let c = p + 1; c < 4; c++) tokens[t * 4 + c] = -1;
      const [logits] = await fine.logits([tokens], { head: p - 1 });
      const err = relL2(logits, f32(`fine_logits_p${p}.npy`));
      console.log(`bark fine pred_idx ${p} logits relative L2 ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
    });
  }

  it("converts one stage file on its own", async () => {
    const r = await convertBark(join(FIXTURES, "coarse.pt"), join(tmp.dir, "single"));
    expect(Object.keys(r.files)).toEqual(["coarse"]);
    expect(existsSync(join(tmp.dir, "single", "coarse.safetensors"))).toBe(true);
  });

  const bad = async (fn: () => Promise<unknown>, code: string, re: RegExp): Promise<void> => {
    const err = await fn().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AudioLMError);
    expect((err as AudioLMError).code).toBe(code);
    expect((err as AudioLMError).message).toMatch(re);
  };
  it("rejects bad checkpoints with clear errors", async () => {
    const o = join(tmp.dir, "bad.safetensors");
    await bad(() => convertBarkCheckpoint(join(FIXTURES, "bad_no_args.pt"), "coarse", o), "ERR_AUDIOLM_INVALID_CHECKPOINT", /model_args/);
    await bad(() => convertBarkCheckpoint(join(FIXTURES, "bad_unknown_key.pt"), "coarse", o), "ERR_AUDIOLM_INVALID_CHECKPOINT", /unknown tensors.*attn\.rotary\.weight/);
    await bad(() => convertBarkCheckpoint(join(FIXTURES, "bad_missing_key.pt"), "coarse", o), "ERR_AUDIOLM_INVALID_CHECKPOINT", /lacks layers\.0\.ff\.up\.weight/);
    await bad(() => convertBarkCheckpoint(join(FIXTURES, "fine.pt"), "coarse", o), "ERR_AUDIOLM_INVALID_CHECKPOINT", /FineGPT/);
    await bad(() => convertBarkCheckpoint(join(FIXTURES, "coarse.pt"), "fine", o), "ERR_AUDIOLM_INVALID_CHECKPOINT", /n_codes_total/);
    await bad(() => convertBark(join(FIXTURES, "bad_no_args.pt"), join(tmp.dir, "x")), "ERR_AUDIOLM_INVALID_ARGUMENT", /stage/);
    await bad(() => convertBark(join(tmp.dir, "nope"), join(tmp.dir, "x")), "ERR_AUDIOLM_IO", /does not exist/);
  });
});
