/**
 * Seeded mutations of real files for the fuzz suite: bit flips, interesting values written over
 * integers, truncation, insertion and duplicated chunks for bytes; for JSON, values swapped for
 * absurd ones and keys dropped. The same seed gives the same cases.
 */

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 1000, 16000, 44100];

/** One mutation of `src` (a new array; `src` is untouched). */
export function mutateBytes(src: Uint8Array, r: () => number): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const out = Uint8Array.from(src);
  const at = () => pick(Math.max(1, out.length));
  switch (pick(7)) {
    case 0: // flip a few bits
      for (let i = 0, n = 1 + pick(8); i < n && out.length; i++) out[at()] ^= 1 << pick(8);
      return out;
    case 1: // an interesting little-endian 32-bit value over whatever was there
      if (out.length >= 4) new DataView(out.buffer).setUint32(pick(out.length - 3), INTERESTING_32[pick(INTERESTING_32.length)]!, true);
      return out;
    case 2: // a header-sized field (the first 64 bytes hold most of them) set to 0xff.. or 0
      for (let i = 0, n = 1 + pick(4); i < n; i++) out[pick(Math.min(64, out.length))] = r() < 0.5 ? 0xff : 0;
      return out;
    case 3: // truncated
      return out.subarray(0, pick(out.length + 1));
    case 4: { // random bytes inserted
      const pos = at(), n = 1 + pick(16);
      const ins = Uint8Array.from({ length: n }, () => pick(256));
      return Uint8Array.from([...out.subarray(0, pos), ...ins, ...out.subarray(pos)]);
    }
    case 5: { // a chunk duplicated in place
      const a = at(), n = Math.min(out.length - a, 1 + pick(64));
      const chunk = out.slice(a, a + n);
      return Uint8Array.from([...out.subarray(0, a), ...chunk, ...out.subarray(a)]);
    }
    default: // random bytes overwritten
      for (let i = 0, n = 1 + pick(32); i < n && out.length; i++) out[at()] = pick(256);
      return out;
  }
}

const ODD_VALUES: unknown[] = [null, -1, 0, 1e308, -1e308, 2 ** 53, 0.5, "", "x".repeat(10_000), [], {}, true, [1e9], { a: 1 }, "NaN", 4096, 1 << 30];

/** One mutation of a JSON value: a leaf (or a whole subtree) swapped for an odd value, or a key dropped. */
export function mutateJson(src: unknown, r: () => number): unknown {
  const copy = JSON.parse(JSON.stringify(src)) as unknown;
  const paths: Array<{ parent: Record<string, unknown> | unknown[]; key: string | number }> = [];
  const walk = (v: unknown) => {
    if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        paths.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k });
        walk(x);
      }
    }
  };
  walk(copy);
  if (paths.length === 0) return ODD_VALUES[Math.floor(r() * ODD_VALUES.length)];
  const p = paths[Math.floor(r() * paths.length)]!;
  if (r() < 0.25 && !Array.isArray(p.parent)) delete (p.parent as Record<string, unknown>)[p.key as string];
  else (p.parent as Record<string | number, unknown>)[p.key] = ODD_VALUES[Math.floor(r() * ODD_VALUES.length)];
  return copy;
}
