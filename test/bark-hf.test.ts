// The Hugging Face BarkModel layout: a model.safetensors + config.json made from the suno fixture
// checkpoints with Hugging Face's tensor names (modeling_bark: input_embeds_layer(s),
// position_embeds_layer, layers.N.layernorm_1/2, attn.att_proj/out_proj, mlp.in_proj/out_proj,
// layernorm_final, lm_head(s); prefixes semantic./coarse_acoustics./fine_acoustics.) must convert
// to exactly the components that suno's own checkpoints give.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import { convertBark } from "../lib/convert/bark.js";
import { loadCheckpoint } from "../lib/convert/weights.js";
import { AudioLMError } from "../lib/errors.js";
import { readSafetensors, writeSafetensors } from "../lib/formats/safetensors.js";
import { tempDir } from "./helpers.js";

const FIX = join(import.meta.dirname, "fixtures", "bark");
const tmp = tempDir("audiolm-bark-hf-");
afterAll(() => tmp.cleanup());

const TO_HF: Array<[RegExp, string]> = [
  [/^transformer\.wte\.weight$/, "input_embeds_layer.weight"],
  [/^transformer\.wtes\.(\d+)\.weight$/, "input_embeds_layers.$1.weight"],
  [/^transformer\.wpe\.weight$/, "position_embeds_layer.weight"],
  [/^transformer\.h\.(\d+)\.ln_1\.(.+)$/, "layers.$1.layernorm_1.$2"],
  [/^transformer\.h\.(\d+)\.ln_2\.(.+)$/, "layers.$1.layernorm_2.$2"],
  [/^transformer\.h\.(\d+)\.attn\.c_attn\.(.+)$/, "layers.$1.attn.att_proj.$2"],
  [/^transformer\.h\.(\d+)\.attn\.c_proj\.(.+)$/, "layers.$1.attn.out_proj.$2"],
  [/^transformer\.h\.(\d+)\.attn\.bias$/, "layers.$1.attn.bias"],
  [/^transformer\.h\.(\d+)\.mlp\.c_fc\.(.+)$/, "layers.$1.mlp.in_proj.$2"],
  [/^transformer\.h\.(\d+)\.mlp\.c_proj\.(.+)$/, "layers.$1.mlp.out_proj.$2"],
  [/^transformer\.ln_f\.(.+)$/, "layernorm_final.$1"],
  [/^lm_head\.weight$/, "lm_head.weight"],
  [/^lm_heads\.(\d+)\.weight$/, "lm_heads.$1.weight"],
];

async function makeHfDir(dir: string, extra?: { name: string; shape: number[] }): Promise<void> {
  const stages = [["semantic", "text", "semantic_config"], ["coarse_acoustics", "coarse", "coarse_acoustics_config"], ["fine_acoustics", "fine", "fine_acoustics_config"]];
  const tensors: Array<{ name: string; dtype: "F32"; shape: number[]; data: Float32Array }> = [];
  const config: Record<string, unknown> = { model_type: "bark" };
  for (const [prefix, file, key] of stages) {
    const { tensors: t, object } = await loadCheckpoint(join(FIX, `${file}.pt`));
    const args = (object as Map<string, unknown>).get("model_args") as Map<string, unknown>;
    const vocab = args.get("vocab_size");
    config[key] = {
      hidden_size: args.get("n_embd"), num_heads: args.get("n_head"), num_layers: args.get("n_layer"), block_size: args.get("block_size"),
      input_vocab_size: args.get("input_vocab_size") ?? vocab, output_vocab_size: args.get("output_vocab_size") ?? vocab, bias: args.get("bias"),
      ...(args.has("n_codes_total") ? { n_codes_total: args.get("n_codes_total"), n_codes_given: args.get("n_codes_given") } : {}),
    };
    for (const [full, w] of t) {
      const name = full.replace(/^model\./, "").replace(/^_orig_mod\./, "");
      const rule = TO_HF.find(([re]) => re.test(name));
      if (!rule) throw new Error(`no Hugging Face name for ${name}`);
      tensors.push({ name: `${prefix}.${name.replace(rule[0], rule[1])}`, dtype: "F32", shape: w.shape, data: w.data });
    }
  }
  if (extra) tensors.push({ name: extra.name, dtype: "F32", shape: extra.shape, data: new Float32Array(extra.shape.reduce((a, b) => a * b, 1)) });
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
}

describe("Bark from the Hugging Face BarkModel layout", () => {
  it("gives the same components as suno's checkpoints, tensor for tensor", async () => {
    const hfDir = join(tmp.dir, "hf");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(hfDir);
    await makeHfDir(hfDir);
    const fromHf = await convertBark(hfDir, join(tmp.dir, "out-hf"));
    const fromSuno = await convertBark(FIX, join(tmp.dir, "out-suno"), { variant: "small" });
    for (const stage of ["semantic", "coarse", "fine"] as const) {
      expect(fromHf.configs[stage]).toEqual(fromSuno.configs[stage]);
      const a = await readSafetensors(fromHf.files[stage]!);
      const b = await readSafetensors(fromSuno.files[stage]!);
      expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
      for (const [name, t] of a.tensors) expect([...t.data], `${stage} ${name}`).toEqual([...b.tensors.get(name)!.data]);
    }
  });

  it("rejects tensors it does not know, naming them", async () => {
    const hfDir = join(tmp.dir, "hf-bad");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(hfDir);
    await makeHfDir(hfDir, { name: "semantic.layers.0.attn.rotary.weight", shape: [2] });
    const err = await convertBark(hfDir, join(tmp.dir, "out-bad")).catch((e) => e);
    expect(err).toBeInstanceOf(AudioLMError);
    expect((err as Error).message).toMatch(/semantic\.layers\.0\.attn\.rotary\.weight/);
  });
});
