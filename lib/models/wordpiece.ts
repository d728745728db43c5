/**
 * A BERT WordPiece tokenizer for a cased vocabulary (Bark reads text with
 * bert-base-multilingual-cased): `vocab.txt` holds one token per line, the id being the line
 * number. Text goes through BERT's basic tokenization for a cased model, in the slow Python
 * BertTokenizer's order — cleaning (NUL, U+FFFD and control characters dropped, whitespace
 * characters mapped to a space), spaces around CJK ideographs, then Unicode NFC, splitting on
 * whitespace, each punctuation character a token of its own; no lower-casing and no accent
 * stripping — then greedy longest-match-first WordPiece with the
 * "##" continuation prefix (a word longer than 100 characters, or one that cannot be matched to
 * the end, becomes [UNK]). The special tokens of the vocabulary ([PAD], [UNK], [CLS], [SEP],
 * [MASK]) written in the text are kept whole. `encode` adds no [CLS]/[SEP] (Bark's
 * `tokenizer.encode(text, add_special_tokens=False)`).
 */
import { readFileSync } from "node:fs";

import { AudioLMError, invalidArgument } from "../errors.js";

export interface WordPieceOptions {
  /** The unknown token (default "[UNK]"). */
  unkToken?: string;
  /** Words longer than this many characters become the unknown token (default 100). */
  maxInputCharsPerWord?: number;
}

const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/** Python's whitespace (str.isspace / re's \s for str), for Bark's `re.sub(r"\s+", " ", text).strip()`. */
const PY_WHITESPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/** Bark's text normalisation before tokenising: runs of whitespace → one space, trimmed. */
export function normalizeBarkText(text: string): string {
  return text.replace(PY_WHITESPACE, " ").replace(/^ | $/g, "");
}

function isWhitespace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || /^\p{Zs}$/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === "\t" || ch === "\n" || ch === "\r") return false;
  return /^\p{C}$/u.test(ch);
}

function isPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /^\p{P}$/u.test(ch);
}

/** BERT's "Chinese character" blocks (CJK Unified Ideographs and extensions, compatibility ideographs). */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** Python's str.split() whitespace, for the split after cleaning (U+2028/2029 survive cleaning). */
const SPLIT_WHITESPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/**
 * BERT's basic tokenization of a cased model (no lower-casing, no accent stripping). NFC comes
 * after cleaning, as in transformers' BasicTokenizer: a combining mark that followed a dropped
 * character ("e", U+200B, U+0301) composes with the letter before it ("é").
 */
export function basicTokenize(text: string): string[] {
  let cleaned = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
    if (isWhitespace(ch)) cleaned += " ";
    else if (isCjk(cp)) cleaned += ` ${ch} `;
    else cleaned += ch;
  }
  // NFC maps CJK compatibility ideographs to unified ones (both spaced out above) and creates
  // no whitespace, control or CJK character from others, so doing it last changes nothing else
  const out: string[] = [];
  for (const word of cleaned.normalize("NFC").split(SPLIT_WHITESPACE)) {
    if (word === "") continue;
    let cur = "";
    for (const ch of word) {
      if (isPunctuation(ch)) {
        if (cur) out.push(cur);
        out.push(ch);
        cur = "";
      } else cur += ch;
    }
    if (cur) out.push(cur);
  }
  return out;
}

/** WordPiece over a BERT vocab.txt. */
export class WordPieceTokenizer {
  /** Token → id (a token listed twice keeps its last line, as BERT's load_vocab). */
  readonly vocab: ReadonlyMap<string, number>;
  /** Number of lines (ids 0…size−1). */
  readonly size: number;
  readonly unkToken: string;
  readonly unkId: number;
  private readonly maxChars: number;
  private readonly specials: string[];

  constructor(tokens: readonly string[], opts: WordPieceOptions = {}) {
    if (!Array.isArray(tokens) || tokens.length === 0) invalidArgument("WordPiece vocabulary", "a non-empty array of tokens", tokens);
    const vocab = new Map<string, number>();
    tokens.forEach((t, i) => vocab.set(t, i));
    this.vocab = vocab;
    this.size = tokens.length;
    this.unkToken = opts.unkToken ?? "[UNK]";
    const unk = vocab.get(this.unkToken);
    if (unk === undefined) throw new AudioLMError("ERR_AUDIOLM_INVALID_MODEL", `the WordPiece vocabulary has no unknown token ${this.unkToken}`);
    this.unkId = unk;
    this.maxChars = opts.maxInputCharsPerWord ?? 100;
    // longest first, so that no special token shadows a longer one
    this.specials = SPECIAL_TOKENS.filter((t) => vocab.has(t)).sort((a, b) => b.length - a.length);
  }

  /** Parses vocab.txt text: one token per line ("\n"-separated; a final newline ends the last line). */
  static fromVocabText(text: string, opts?: WordPieceOptions): WordPieceTokenizer {
    const lines = text.split("\n");
    if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    return new WordPieceTokenizer(lines, opts);
  }

  /** Reads a vocab.txt. */
  static fromFile(path: string, opts?: WordPieceOptions): WordPieceTokenizer {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new AudioLMError("ERR_AUDIOLM_IO", `cannot read the WordPiece vocabulary ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return WordPieceTokenizer.fromVocabText(text, opts);
    } catch (err) {
      if (err instanceof AudioLMError) throw new AudioLMError(err.code, `${path}: ${err.message}`, { cause: err });
      throw err;
    }
  }

  /** WordPiece pieces of one word (["[UNK]"] when it cannot be matched or is too long). */
  wordPieces(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unkToken];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        let sub = chars.slice(start, end).join("");
        if (start > 0) sub = "##" + sub;
        if (this.vocab.has(sub)) {
          found = sub;
          break;
        }
        end--;
      }
      if (found === undefined) return [this.unkToken];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  /** Text → tokens (strings). */
  tokenize(text: string): string[] {
    if (typeof text !== "string") invalidArgument("text", "a string", text);
    const out: string[] = [];
    // special tokens written in the text are split out first and kept whole
    let rest = text;
    while (rest.length > 0) {
      let at = -1;
      let which = "";
      for (const s of this.specials) {
        const i = rest.indexOf(s);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          which = s;
        }
      }
      const chunk = at < 0 ? rest : rest.slice(0, at);
      for (const word of basicTokenize(chunk)) out.push(...this.wordPieces(word));
      if (at < 0) break;
      out.push(which);
      rest = rest.slice(at + which.length);
    }
    return out;
  }

  /** Text → ids, without [CLS]/[SEP]. */
  encode(text: string): Int32Array {
    return Int32Array.from(this.tokenize(text), (t) => this.vocab.get(t) ?? this.unkId);
  }
}
