// The backend a model runs on, as the API sees it. `npm test` runs the whole vitest suite a second
// time with AUDIOLM_BACKEND=strict, where "cpu" loads go to the strict test backend (memory
// that host code cannot touch between explicit transfers); this file checks that the switch
// really happened, so that second pass proves something.
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Transformer } from "../lib/models/transformer.js";
import { native } from "../lib/native/loader.js";

const MODEL = join("test", "fixtures", "transformer", "gpt_learned", "model.safetensors");
const DEFAULT = join("models", "default");
const strictRun = process.env.AUDIOLM_BACKEND === "strict";

describe("backends", () => {
  it(`loads every kind of model on the ${strictRun ? "strict" : "cpu"} backend in this run`, async () => {
    const want = strictRun ? "strict" : "cpu";
    await using t = await Transformer.load(MODEL);
    expect(t.config.backend).toBe(want);
    const codec = await native().loadCodec(join(DEFAULT, "codec.safetensors"));
    const tokenizer = await native().loadSemanticTokenizer(join(DEFAULT, "semantic-tokenizer.safetensors"));
    try {
      expect([codec.config().backend, tokenizer.config().backend]).toEqual([want, want]);
    } finally {
      codec.dispose();
      tokenizer.dispose();
    }
  });

  it("gives the same logits on the cpu and strict backends", async () => {
    const tokens = [Int32Array.from([1, 5, 9, 2, 7])];
    const cpu = await native().loadTransformer(MODEL, "cpu");
    const strict = await native().loadTransformer(MODEL, "strict");
    try {
      expect(strict.config().backend).toBe("strict");
      const [a] = await cpu.logits(tokens, undefined, 0);
      const [b] = await strict.logits(tokens, undefined, 0);
      expect(Array.from(b!)).toEqual(Array.from(a!));
    } finally {
      cpu.dispose();
      strict.dispose();
    }
  });

  it("loads on a GPU only when asked, and says why not where there is none", async () => {
    await using auto = await Transformer.load(MODEL, { device: "auto" });
    expect(auto.config.backend).toBe(strictRun ? "strict" : "cpu");
    const info = native().info();
    if (info.cudaCompiled && info.gpus.length > 0) {
      await using gpu = await Transformer.load(MODEL, { device: "cuda" });
      expect(gpu.config.backend).toBe("cuda:0");
    } else {
      await expect(Transformer.load(MODEL, { device: "cuda" })).rejects.toMatchObject({ code: "ERR_AUDIOLM_UNSUPPORTED", message: /no GPU is usable/ });
      await expect(native().loadTransformer(MODEL, "cuda:1")).rejects.toMatchObject({ code: "ERR_AUDIOLM_UNSUPPORTED", message: /cuda:1/ });
    }
    await expect(Transformer.load(MODEL, { device: "gpu" as never })).rejects.toMatchObject({ code: "ERR_AUDIOLM_INVALID_ARGUMENT" });
  });

  it("refuses an unknown backend by name", async () => {
    await expect(native().loadTransformer(MODEL, "tpu")).rejects.toMatchObject({ code: "ERR_AUDIOLM_UNSUPPORTED", message: /tpu/ });
  });
});
