// Loads mutated component files through the native loaders, one after another, in a process of
// its own so that the parent can see a crash (a signal) and which case caused it. Prints, for
// each case, a line "start <i>" before it and a JSON outcome after it.
//   node test/fuzz/native-child.mjs KIND FILE...    (KIND: codec | transformer | tokenizer)
import { writeSync } from "node:fs";

const { Codec, Transformer, SemanticTokenizer } = await import(new URL("../../dist/index.js", import.meta.url).href);
const [kind, ...files] = process.argv.slice(2);
const loader = { codec: Codec, transformer: Transformer, tokenizer: SemanticTokenizer }[kind];
if (!loader) throw new Error(`unknown kind ${kind}`);
const say = (s) => writeSync(1, s + "\n");

for (let i = 0; i < files.length; i++) {
  say(`start ${i}`);
  let outcome;
  try {
    const m = await loader.load(files[i]);
    // A model that loads must also run on a small input without crashing.
    try {
      if (kind === "codec") {
        const codes = await m.encode(new Float32Array(m.sampleRate / 10).fill(0.1).map((v, j) => Math.sin(j) * v));
        await m.decode(codes);
      } else if (kind === "transformer") {
        await m.logits([new Int32Array(Math.min(4, m.config.maxPositions) * m.config.inputCodebooks).fill(0)]);
      } else {
        await m.tokenize(new Float32Array(m.sampleRate / 2).map((_, j) => Math.sin(j / 7) * 0.3));
      }
      outcome = { outcome: "ok" };
    } catch (err) {
      outcome = { outcome: err?.code?.startsWith?.("ERR_AUDIOLM_") ? "coded" : "uncoded", code: err?.code, message: String(err?.message).slice(0, 200), during: "run" };
    } finally {
      await m.dispose();
    }
  } catch (err) {
    outcome = { outcome: err?.code?.startsWith?.("ERR_AUDIOLM_") ? "coded" : "uncoded", code: err?.code, message: String(err?.message).slice(0, 200) };
  }
  say(JSON.stringify({ i, ...outcome }));
}
