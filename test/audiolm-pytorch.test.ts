// lucidrains/audiolm-pytorch stage checkpoints (2.3.1 layout) through `convertAudiolmPytorch` and
// the transformer engine, against our PyTorch reference written from their source (fixtures in
// test/fixtures/audiolm_pytorch, written by test/fixtures/make_audiolm_pytorch_fixtures.py).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { audiolmPytorchLayout, convertAudiolmPytorch } from "../lib/convert/audiolm-pytorch.js";
import { AudioLMError } from "../lib/errors.js";
import { decodeNpy, npyToInt32 } from "../lib/formats/npy.js";
import { readSafetensors, writeSafetensors } from "../lib/formats/safetensors.js";
import { Transformer } from "../lib/models/transformer.js";
import { relL2, tempDir } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "audiolm_pytorch");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

function f32(name: string): { data: Float32Array; shape: number[] } {
  const a = decodeNpy(readFileSync(join(FIX, name)), name);
  if (!(a.data instanceof Float32Array)) throw new Error(`${name} is not float32`);
  return { data: a.data, shape: a.shape };
}
function i32(name: string): Int32Array {
  const path = join(FIX, name);
  return npyToInt32(decodeNpy(readFileSync(path), path));
}
const cfgOf = (name: string) => JSON.parse(readFileSync(join(FIX, name), "utf8"));

/** Our logits [T × V] rows `from…` sliced to columns [col(k), col(k) + width) per row k. */
function slice(logits: Float32Array, V: number, from: number, count: number, width: number, col: (k: number) => number): Float32Array {
  const out = new Float32Array(count * width);
  for (let k = 0; k < count; k++) out.set(logits.subarray((from + k) * V + col(k), (from + k) * V + col(k) + width), k * width);
  return out;
}

/**
 * The coarse fixture's ids in our vocabulary (semantic start, semantic ids, coarse start, coarse
 * ids with their per-quantizer offsets) and slicers of our logits into their semantic and coarse
 * logits.
 */
function coarseCase(cfgName: string) {
  const cfg = cfgOf(cfgName);
  const lay = audiolmPytorchLayout(cfg);
  const S = cfg.numSemanticTokens;
  const C = cfg.codebookSize;
  const Q = cfg.numCoarseQuantizers;
  const sem = i32("coarse_semantic_ids.npy");
  const co = i32("coarse_ids.npy");
  const base = lay.segments[1].offset;
  const col = (k: number) => base + (k % Q) * (C + 1);
  const prompt = Int32Array.from([lay.startTokens.semantic, ...sem, lay.startTokens.coarse, ...[...co].map((c, k) => col(k) + c)]);
  return {
    sem,
    co,
    prompt,
    semanticLogits: (logits: Float32Array, V: number) => slice(logits, V, 0, sem.length, S + 1, () => 0),
    /** The coarse logits of rows from…from+co.length (default: the full prompt's). */
    coarseLogits: (logits: Float32Array, V: number, from = sem.length + 1) => slice(logits, V, from, co.length + 1, C + 1, col),
  };
}

async function load(stage: string, src = `${stage}.pt`, cfg = `${stage}.json`): Promise<Transformer> {
  const out = join(tmp.dir, `${stage}-${src}.safetensors`);
  await convertAudiolmPytorch(join(FIX, src), out, join(FIX, cfg));
  return Transformer.load(out);
}

describe("audiolm-pytorch checkpoints", () => {
  it("semantic: logits within 1e-4 and identical greedy tokens", async () => {
    const m = await load("semantic");
    try {
      expect(m.config).toMatchObject({ vocabSize: 52, outputSize: 51, kvHeads: 1, headDim: 12, position: "bias_table" });
      const ids = i32("semantic_ids.npy");
      const prompt = Int32Array.from([51, ...ids]); // start token = numSemanticTokens + 1
      const [logits] = await m.logits([prompt]);
      const err = relL2(logits, f32("semantic_logits.npy").data);
      console.log(`audiolm-pytorch semantic logits relative L2 ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      const s = m.session({ batch: 1, capacity: 40 });
      try {
        await s.prefill([prompt]);
        const r = await s.generate({ steps: 8, seeds: [0], sampling: { temperature: 0 } });
        expect([...r.tokens[0]]).toEqual([...i32("semantic_greedy.npy")]);
      } finally {
        s.dispose();
      }
    } finally {
      await m.dispose();
    }
  });

  it("semantic depth 1 with addValueResidual (their default) matches", async () => {
    const m = await load("semantic", "semantic_d1.pt", "semantic_d1.json");
    try {
      const [logits] = await m.logits([Int32Array.from([51, ...i32("semantic_ids.npy")])]);
      const err = relL2(logits, f32("semantic_d1_logits.npy").data);
      console.log(`audiolm-pytorch semantic (depth 1) logits relative L2 ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
    } finally {
      await m.dispose();
    }
  });

  it("semantic depth 3 with value-residual learning: logits and KV-cached greedy tokens match", async () => {
    const m = await load("semantic", "semantic_vr.pt", "semantic_vr.json");
    const plainPath = join(tmp.dir, "semantic-vr-off.safetensors");
    await convertAudiolmPytorch(join(FIX, "semantic_vr.pt"), plainPath, { ...cfgOf("semantic_vr.json"), addValueResidual: false });
    const plain = await Transformer.load(plainPath);
    try {
      expect(m.config.valueResidual).toBe(true);
      const prompt = Int32Array.from([51, ...i32("semantic_ids.npy")]);
      const want = f32("semantic_vr_logits.npy").data;
      const [logits] = await m.logits([prompt]);
      const err = relL2(logits, want);
      console.log(`audiolm-pytorch semantic (depth 3, value residual) logits relative L2 ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      // the same weights without the mixing are far off: the fixture tests it
      expect(relL2((await plain.logits([prompt]))[0], want)).toBeGreaterThan(0.1);
      // one position at a time through the KV cache (later layers mix with layer 0's cached values)
      const s = m.session({ batch: 1, capacity: 40 });
      try {
        await s.prefill([prompt.subarray(0, 5)]);
        for (let i = 5; i < prompt.length; i++) await s.extend([prompt.subarray(i, i + 1)]);
        expect(relL2(s.nextLogits()[0], want.subarray(want.length - 51))).toBeLessThan(1e-4);
        const r = await s.generate({ steps: 8, seeds: [0], sampling: { temperature: 0 } });
        expect([...r.tokens[0]]).toEqual([...i32("semantic_vr_greedy.npy")]);
      } finally {
        s.dispose();
      }
    } finally {
      await Promise.all([m.dispose(), plain.dispose()]);
    }
  });

  it("coarse (rel_pos_bias=False): semantic and per-quantizer coarse logits through the offsets", async () => {
    const k = coarseCase("coarse.json");
    const m = await load("coarse");
    try {
      const [logits] = await m.logits([k.prompt]);
      const V = m.config.outputSize;
      const semErr = relL2(k.semanticLogits(logits, V), f32("coarse_semantic_logits.npy").data);
      const coErr = relL2(k.coarseLogits(logits, V), f32("coarse_coarse_logits.npy").data);
      console.log(`audiolm-pytorch coarse logits relative L2: semantic ${semErr.toExponential(2)}, coarse ${coErr.toExponential(2)}`);
      expect(semErr).toBeLessThan(1e-4);
      expect(coErr).toBeLessThan(1e-4);
    } finally {
      await m.dispose();
    }
  });

  it("coarse with rel_pos_bias (cross_attn_bias between the parts) and value residual: logits, also one position at a time", async () => {
    const k = coarseCase("coarse_rpb.json");
    const { sem, prompt } = k;
    const m = await load("coarse", "coarse_rpb.pt", "coarse_rpb.json");
    try {
      expect(m.config).toMatchObject({ position: "bias_table", segmentBias: true, valueResidual: true });
      const V = m.config.outputSize;
      const wantCo = f32("coarse_rpb_coarse_logits.npy").data;
      const [logits] = await m.logits([prompt]);
      const semErr = relL2(k.semanticLogits(logits, V), f32("coarse_rpb_semantic_logits.npy").data);
      const coErr = relL2(k.coarseLogits(logits, V), wantCo);
      console.log(`audiolm-pytorch coarse (rel_pos_bias, value residual) logits relative L2: semantic ${semErr.toExponential(2)}, coarse ${coErr.toExponential(2)}`);
      expect(semErr).toBeLessThan(1e-4);
      expect(coErr).toBeLessThan(1e-4);
      // the KV cache keeps each position's segment: feed the coarse part one token at a time
      const s = m.session({ batch: 1, capacity: prompt.length });
      try {
        await s.prefill([prompt.subarray(0, sem.length + 2)]);
        const steps: Float32Array[] = [s.nextLogits()[0]];
        for (let i = sem.length + 2; i < prompt.length; i++) {
          await s.extend([prompt.subarray(i, i + 1)]);
          steps.push(s.nextLogits()[0]);
        }
        const stepped = new Float32Array(steps.length * V);
        steps.forEach((row, k) => stepped.set(row, k * V));
        expect(relL2(k.coarseLogits(stepped, V, 0), wantCo)).toBeLessThan(1e-4);
      } finally {
        s.dispose();
      }
    } finally {
      await m.dispose();
    }
    // a segment table that is not small integers is refused at load, naming the entry
    const file = await readSafetensors(join(tmp.dir, "coarse-coarse_rpb.pt.safetensors"));
    const seg = file.tensors.get("token_segment")!;
    seg.data[3] = 0.5;
    const bad = join(tmp.dir, "bad-segments.safetensors");
    await writeSafetensors(bad, [...file.tensors].map(([name, t]) => ({ name, dtype: "F32" as const, shape: t.shape, data: t.data })), file.metadata);
    await rejects(Transformer.load(bad), "ERR_AUDIOLM_INVALID_MODEL", /token_segment\[3\] is 0.5/);
  });

  it("fine (rel_pos_bias=False): coarse and fine logits through the offsets", async () => {
    const cfg = cfgOf("fine.json");
    const lay = audiolmPytorchLayout(cfg);
    const m = await load("fine");
    try {
      const C = cfg.codebookSize;
      const Qc = cfg.numCoarseQuantizers;
      const Qf = cfg.numFineQuantizers;
      const co = i32("fine_coarse_ids.npy");
      const fi = i32("fine_fine_ids.npy");
      const fb = lay.segments[1].offset;
      const prompt = Int32Array.from([lay.startTokens.coarse, ...[...co].map((c, k) => (k % Qc) * C + c), lay.startTokens.fine, ...[...fi].map((c, k) => fb + (k % Qf) * C + c)]);
      const [logits] = await m.logits([prompt]);
      const V = m.config.outputSize;
      const cErr = relL2(slice(logits, V, 0, co.length, C, (k) => (k % Qc) * C), f32("fine_coarse_logits.npy").data);
      const fErr = relL2(slice(logits, V, co.length + 1, fi.length + 1, C, (k) => fb + (k % Qf) * C), f32("fine_fine_logits.npy").data);
      console.log(`audiolm-pytorch fine logits relative L2: coarse ${cErr.toExponential(2)}, fine ${fErr.toExponential(2)}`);
      expect(cErr).toBeLessThan(1e-4);
      expect(fErr).toBeLessThan(1e-4);
    } finally {
      await m.dispose();
    }
  });

  const rejects = async (p: Promise<unknown>, code: string, re: RegExp): Promise<void> => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(AudioLMError);
    expect((err as AudioLMError).code).toBe(code);
    expect((err as Error).message).toMatch(re);
  };
  const out = () => join(tmp.dir, "bad.safetensors");
  const sem = () => cfgOf("semantic.json");

  it("rejects what our transformer cannot express, and bad configs, with AudioLMError", async () => {
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), addValueResidual: "yes" as unknown as boolean }), "ERR_AUDIOLM_INVALID_ARGUMENT", /addValueResidual must be a boolean/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), hasCondition: true }), "ERR_AUDIOLM_INVALID_ARGUMENT", /null key\/value/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), stage: "acoustic" }), "ERR_AUDIOLM_INVALID_ARGUMENT", /stage/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), numSemanticTokens: undefined }), "ERR_AUDIOLM_INVALID_ARGUMENT", /numSemanticTokens/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), dim: 48 }), "ERR_AUDIOLM_INVALID_CHECKPOINT", /shape/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), depth: 3, addValueResidual: false }), "ERR_AUDIOLM_INVALID_CHECKPOINT", /lacks transformer\.layers\.2/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...sem(), depth: 1 }), "ERR_AUDIOLM_INVALID_CHECKPOINT", /unexpected tensors/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), { ...cfgOf("coarse.json") }), "ERR_AUDIOLM_INVALID_CHECKPOINT", /lacks|shape/);
    await rejects(convertAudiolmPytorch(join(FIX, "bad_cross.pt"), out(), { stage: "semantic", dim: 16, depth: 1, heads: 2, dimHead: 8, numSemanticTokens: 10 }), "ERR_AUDIOLM_INVALID_CHECKPOINT", /cross-attention/);
    await rejects(convertAudiolmPytorch(join(FIX, "missing.pt"), out(), sem()), "ERR_AUDIOLM_IO", /does not exist/);
    await rejects(convertAudiolmPytorch(join(FIX, "semantic.pt"), out(), join(FIX, "missing.json")), "ERR_AUDIOLM_IO", /does not exist/);
  });
});
