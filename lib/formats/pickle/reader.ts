/**
 * The byte cursor under the pickle VM: bounds-checked reads of opcode arguments and decoding of the
 * literal forms (text ints and floats, longs, quoted and raw-unicode-escaped strings).
 */
import { AudioLMError } from "../../errors.js";
import type { ReadPickleOptions } from "./values.js";

const MAX_NUMERIC_TEXT = 100_000;

export class PickleReader {
  readonly buf: Buffer;
  pos: number;
  /** Offset of the opcode being executed (for error messages). */
  opPos = 0;
  readonly source: string;

  constructor(
    buf: Buffer,
    start: number,
    readonly opts: ReadPickleOptions,
  ) {
    this.buf = buf;
    this.pos = start;
    this.source = opts.source ?? "pickle";
  }

  fail(message: string): never {
    throw new AudioLMError("ERR_AUDIOLM_INVALID_CHECKPOINT", `${this.source}: ${message} (pickle opcode at byte offset ${this.opPos})`);
  }

  // --- reading ------------------------------------------------------------------------------
  need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      this.fail(`truncated pickle: needs ${n} more bytes at offset ${this.pos} but the data ends at ${this.buf.length}`);
    }
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readUInt32LE(this.pos + 4);
    this.pos += 8;
    const v = hi * 4294967296 + lo;
    if (hi >= 0x200000 || v > this.buf.length) this.fail(`length ${hi >= 0x200000 ? "≥ 2^53" : v} exceeds the data`);
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("truncated pickle: missing newline after a text argument");
    const s = this.buf.toString("latin1", this.pos, end);
    this.pos = end + 1;
    return s;
  }
  lineUtf8(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("truncated pickle: missing newline after a text argument");
    const s = this.buf.toString("utf8", this.pos, end);
    this.pos = end + 1;
    return s;
  }

  // --- values -------------------------------------------------------------------------------
  int(big: bigint): number | bigint {
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  decodeLong(b: Buffer): number | bigint {
    if (b.length === 0) return 0;
    if (b.length <= 6) {
      let v = 0;
      for (let i = b.length - 1; i >= 0; i--) v = v * 256 + b[i]!;
      if (b[b.length - 1]! & 0x80) v -= 2 ** (8 * b.length);
      return v;
    }
    const hex = Buffer.from(b).reverse().toString("hex");
    let big = BigInt("0x" + hex);
    if (b[b.length - 1]! & 0x80) big -= 1n << BigInt(8 * b.length);
    return this.int(big);
  }
  parseIntText(s: string): number | bigint {
    const t = s.trim().replace(/L$/, "");
    if (t.length > MAX_NUMERIC_TEXT || !/^[+-]?\d+$/.test(t)) this.fail(`invalid integer literal ${JSON.stringify(s.slice(0, 40))}`);
    return this.int(BigInt(t));
  }
  parseFloatText(s: string): number {
    const t = s.trim();
    if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/i.test(t)) return NaN;
    if (t.length > MAX_NUMERIC_TEXT || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) this.fail(`invalid float literal ${JSON.stringify(s.slice(0, 40))}`);
    return Number(t);
  }
  py2str(b: Buffer): string | Buffer {
    const enc = this.opts.encoding ?? "utf-8";
    if (enc === "bytes") return b;
    return b.toString(enc === "latin1" ? "latin1" : "utf8");
  }
  /** Decodes a protocol-0 quoted string literal (Python `repr` of a py2 str). */
  quotedString(s: string): Buffer {
    const t = s.replace(/\s+$/, "");
    const q = t[0];
    if (t.length < 2 || (q !== "'" && q !== '"') || t[t.length - 1] !== q) this.fail("STRING argument is not a quoted string");
    const body = t.slice(1, -1);
    const out: number[] = [];
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c !== 0x5c) {
        out.push(c & 0xff);
        continue;
      }
      const n = body[++i];
      if (n === undefined) this.fail("STRING ends with a lone backslash");
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, "\\": 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, "\n": -1 };
      if (n in simple) {
        if (simple[n]! >= 0) out.push(simple[n]!);
      } else if (n === "x") {
        const h = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(h)) this.fail("STRING has an invalid \\x escape");
        out.push(parseInt(h, 16));
        i += 2;
      } else if (/[0-7]/.test(n)) {
        let o = n;
        while (o.length < 3 && /[0-7]/.test(body[i + 1] ?? "")) o += body[++i];
        out.push(parseInt(o, 8) & 0xff);
      } else {
        out.push(92, n.charCodeAt(0) & 0xff);
      }
    }
    return Buffer.from(out);
  }
  /** Decodes raw-unicode-escape (protocol-0 UNICODE). */
  rawUnicodeEscape(s: string): string {
    return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a: string | undefined, b: string | undefined) => {
      const cp = parseInt((a ?? b)!, 16);
      if (cp > 0x10ffff) this.fail("UNICODE has an invalid code point");
      return String.fromCodePoint(cp);
    });
  }
}
