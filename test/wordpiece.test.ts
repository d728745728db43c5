// The BERT WordPiece tokenizer Bark reads text with (lib/models/wordpiece.ts): hand-derived ids over a
// small cased vocabulary (test/fixtures/wordpiece/vocab.txt); ids made by Hugging Face's Rust
// tokenizers (test/fixtures/make_wordpiece_reference.mjs) for 41 sentences over a synthetic
// vocabulary, committed; and — when test/fixtures/make_wordpiece_fixtures.py has been run with
// Python transformers — BertTokenizer's own output for bert-base-multilingual-cased.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { AudioLMError } from "../lib/errors.js";
import { WordPieceTokenizer, basicTokenize, normalizeBarkText } from "../lib/models/wordpiece.js";

const DIR = join(import.meta.dirname, "fixtures", "wordpiece");
const tok = WordPieceTokenizer.fromFile(join(DIR, "vocab.txt"));
const ids = (text: string) => Array.from(tok.encode(text));
const UNK = 1;

describe("WordPiece (cased BERT rules)", () => {
  it("reads vocab.txt: id = line number", () => {
    expect(tok.size).toBe(35);
    expect(tok.vocab.get("[UNK]")).toBe(1);
    expect(tok.vocab.get("Café")).toBe(5);
    expect(tok.vocab.get("?")).toBe(34);
    expect(WordPieceTokenizer.fromVocabText("a\n[UNK]\nb").size).toBe(3);
  });

  it("keeps case and accents: Café is one word, café is not in the vocabulary", () => {
    expect(ids("Café")).toEqual([5]);
    expect(ids("Cafés")).toEqual([5, 19]); // longest match first, then ##s
    expect(ids("café")).toEqual([UNK]);
    expect(ids("CAFÉ")).toEqual([UNK]);
    expect(ids("Caf")).toEqual([6]);
    expect(ids("é")).toEqual([31]);
  });

  it("composes to NFC after cleaning, as transformers' BasicTokenizer", () => {
    expect(ids("nai\u0308ve")).toEqual([26]);
    expect(ids("Cafe\u0301")).toEqual([5]);
    // U+200B is dropped first, then e + U+0301 composes (NFC before cleaning would leave "e\u0301")
    expect(ids("Cafe\u200b\u0301")).toEqual([5]);
    expect(basicTokenize("e\u0000\u0301")).toEqual(["\u00e9"]);
  });

  it("follows BERT's Python code where Hugging Face's Rust tokenizers differs (not in its fixture)", () => {
    // CJK Extension E from U+2B820 (Python's range; the Rust library starts it at U+2B920)
    expect(basicTokenize("\u{2B820}x\u{2B91F}")).toEqual(["\u{2B820}", "x", "\u{2B91F}"]);
    // unassigned code points are category Cn, "control" to Python's unicodedata: dropped
    expect(basicTokenize("a\u0378b")).toEqual(["ab"]);
    // punctuation added in later Unicode versions is split off (Arabic end of text mark, U+061D)
    expect(basicTokenize("a\u061db")).toEqual(["a", "\u061d", "b"]);
  });

  it("splits punctuation (ASCII ranges and Unicode P*) into tokens of their own", () => {
    expect(ids("hello, world!")).toEqual([8, 10, 9, 11]);
    expect(ids("hello,world!?")).toEqual([8, 10, 9, 11, 34]);
    expect(ids("don't")).toEqual([24, 23, 25]);
    expect(ids("¿hello?")).toEqual([22, 8, 34]);
    expect(ids("x-x")).toEqual([33, 32, 33]);
    // "$" (ASCII 36, Unicode Sc) is punctuation for BERT: its own token, unknown here
    expect(ids("x$x")).toEqual([33, UNK, 33]);
    expect(basicTokenize("a...b")).toEqual(["a", ".", ".", ".", "b"]);
    expect(basicTokenize("«x»—y")).toEqual(["«", "x", "»", "—", "y"]);
  });

  it("puts every CJK ideograph in a token of its own", () => {
    expect(ids("中文")).toEqual([17, 18]);
    expect(ids("hello中文world")).toEqual([8, 17, 18, 9]);
    expect(ids("日本語")).toEqual([29, 30, UNK]);
    expect(basicTokenize("aカナb")).toEqual(["aカナb"]); // kana are not ideographs
    expect(basicTokenize("𠀀x")).toEqual(["𠀀", "x"]); // extension B
  });

  it("WordPiece: ## continuations, unknown words and the 100-character limit", () => {
    expect(ids("unwanted")).toEqual([13, 14, 15]);
    expect(ids("want unwant")).toEqual([16, 13, 14]);
    expect(ids("running")).toEqual([UNK]); // no "##n…": the whole word is [UNK]
    expect(ids("unwantedx")).toEqual([UNK]);
    expect(ids("xyz hello")).toEqual([UNK, 8]);
    expect(ids("a" + "b".repeat(99))).toEqual([20, ...new Array(99).fill(21)]);
    expect(ids("a" + "b".repeat(100))).toEqual([UNK]);
    // characters are code points: 100 astral characters are not 200
    expect(tok.wordPieces("中".repeat(101))).toEqual(["[UNK]"]);
  });

  it("drops control characters, NUL and U+FFFD; whitespace characters separate words", () => {
    expect(ids("hel\u0007lo")).toEqual([8]);
    expect(ids("hel\u0000lo\ufffd")).toEqual([8]);
    expect(ids("hello\u200bworld")).toEqual([UNK]); // Cf dropped: "helloworld"
    expect(ids("hello\tworld\n")).toEqual([8, 9]);
    expect(ids("hello\u00a0world\u3000!")).toEqual([8, 9, 11]);
    expect(ids("hello\u2028world")).toEqual([8, 9]);
    expect(ids("  ")).toEqual([]);
  });

  it("keeps special tokens written in the text whole", () => {
    expect(ids("hello[MASK]world")).toEqual([8, 4, 9]);
    expect(ids("[UNK] [SEP]")).toEqual([1, 3]);
    expect(ids("[mask]")).toEqual([UNK, UNK, UNK]); // "[", "mask", "]"
  });

  it("normalises whitespace as Bark does", () => {
    expect(normalizeBarkText("  hello \n\n world\u3000 ")).toBe("hello world");
    expect(normalizeBarkText("a\u0085b\x1cc")).toBe("a b c");
    expect(normalizeBarkText(" \t\n")).toBe("");
  });

  it("rejects a vocabulary without [UNK]", () => {
    expect(() => WordPieceTokenizer.fromVocabText("a\nb\n")).toThrow(AudioLMError);
    expect(() => WordPieceTokenizer.fromFile(join(DIR, "missing.txt"))).toThrow(/cannot read/);
  });
});

// Written by test/fixtures/make_wordpiece_reference.mjs with Hugging Face's Rust `tokenizers` (npm
// "tokenizers", the code behind BertTokenizerFast) set up as bert-base-multilingual-cased plus the
// slow BertTokenizer's NFC step, over a synthetic vocabulary: committed, so this always runs.
describe("WordPiece vs Hugging Face tokenizers (Rust), synthetic cased vocabulary", () => {
  type Case = { text: string; tokens: string[]; ids: number[]; bark_tokens: string[]; bark_ids: number[] };
  const ref = JSON.parse(readFileSync(join(DIR, "reference_tokenizers.json"), "utf8")) as { reference: string; cases: Case[] };
  const synth = WordPieceTokenizer.fromFile(join(DIR, "reference_vocab_synthetic.txt"));

  it("the fixture exercises what it should", () => {
    expect(ref.reference).toMatch(/^tokenizers \d/);
    expect(ref.cases.length).toBeGreaterThanOrEqual(30);
    expect(synth.unkId).toBe(100); // laid out like mBERT's vocab.txt: [PAD] 0, [unused1..99], [UNK] 100
    const all = ref.cases.flatMap((c) => c.tokens);
    expect(all.filter((t) => t === "[UNK]").length).toBeGreaterThan(10);
    expect(all.filter((t) => t.startsWith("##")).length).toBeGreaterThan(100);
    for (const t of ["é", "##é", "##ñ", "##ü", "Über", "中", "[MASK]", ",", "20", "##19", "𝒜"]) expect(all, t).toContain(t);
  });

  it.each(ref.cases.map((c, i) => [i, c] as const))("case %i: the reference's ids for the raw text and after Bark's normalisation", (_i, c) => {
    const label = JSON.stringify(c.text);
    expect(Array.from(synth.encode(c.text)), label).toEqual(c.ids);
    expect(synth.tokenize(c.text), label).toEqual(c.tokens);
    const norm = normalizeBarkText(c.text);
    expect(Array.from(synth.encode(norm)), label).toEqual(c.bark_ids);
    expect(synth.tokenize(norm), label).toEqual(c.bark_tokens);
  });
});

// Written by test/fixtures/make_wordpiece_fixtures.py where Python transformers and the real
// bert-base-multilingual-cased vocabulary are available (optional, not committed).
const REF = join(DIR, "reference.json");
const REF_VOCAB = join(DIR, "reference_vocab.txt");
const haveRef = existsSync(REF) && existsSync(REF_VOCAB);
if (!haveRef) {
  console.log(`wordpiece: the optional Python BertTokenizer comparison is skipped: ${REF} not found (run test/fixtures/make_wordpiece_fixtures.py where transformers is installed); the committed tokenizers reference is compared regardless`);
}

describe.skipIf(!haveRef)("WordPiece vs Hugging Face BertTokenizer (bert-base-multilingual-cased)", () => {
  it("gives the reference's tokens for every case (and its ids with the full vocab)", () => {
    const ref = JSON.parse(readFileSync(REF, "utf8")) as { cases: Array<{ text: string; tokens: string[]; ids: number[] }> };
    // the reduced vocabulary holds every token the reference produced (same greedy choices)
    const reduced = WordPieceTokenizer.fromFile(REF_VOCAB);
    const fullPath = process.env.AUDIOLM_BERT_VOCAB;
    const full = fullPath && existsSync(fullPath) ? WordPieceTokenizer.fromFile(fullPath) : null;
    if (!full) console.log("wordpiece: comparing tokens only (set AUDIOLM_BERT_VOCAB to bert-base-multilingual-cased's vocab.txt to compare ids)");
    expect(ref.cases.length).toBeGreaterThan(0);
    for (const c of ref.cases) {
      const text = normalizeBarkText(c.text);
      expect(reduced.tokenize(text), JSON.stringify(c.text)).toEqual(c.tokens);
      if (full) expect(Array.from(full.encode(text)), JSON.stringify(c.text)).toEqual(c.ids);
    }
  });
});
