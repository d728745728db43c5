// The shape of lib/: no import circles (type-only imports count: they tie two files together for a
// reader as much as value imports do) and files a reader can take in one sitting.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const LIB = join(dirname(fileURLToPath(import.meta.url)), "..", "lib");
const MAX_LINES = 600;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** Relative imports and re-exports of a file, resolved to .ts paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)["'](\.[^"']+)["']/gm)].map((m) => m[1]!);
  return specs.map((s) => resolve(dirname(file), s.replace(/\.js$/, ".ts")));
}

/** Every cycle's files, in order, found by depth-first search (each cycle reported once). */
function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === "open") found.push(stack.slice(stack.indexOf(g)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe("lib/ layout", () => {
  const files = sources(LIB);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it("has no import circles", () => {
    const rel = (f: string) => relative(LIB, f);
    expect(files.length).toBeGreaterThan(30);
    // Every relative import names a file that exists (else the graph below would miss edges).
    for (const [f, deps] of graph) for (const d of deps) expect(graph.has(d), `${rel(f)} imports ${rel(d)}`).toBe(true);
    expect(cycles(graph).map((c) => c.map(rel).join(" → "))).toEqual([]);
  });

  it("finds a circle when there is one (the check can fail)", () => {
    const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    expect(cycles(g)).toEqual([["a", "b", "c"]]);
  });

  it(`keeps every file under ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ f: relative(LIB, f), n: readFileSync(f, "utf8").split("\n").length }))
      .filter((x) => x.n > MAX_LINES);
    expect(long).toEqual([]);
  });
});
