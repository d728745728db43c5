#!/usr/bin/env node
// Two builds of the package, the same benchmark, alternating: runs `bench/<name>.mjs` in a base
// checkout (built, e.g. a `git worktree` of an earlier commit) and in this one, turn about, and
// prints the median of each figure per build and their ratio. On a noisy machine this is the
// fair way to say "no slower than before": both builds see the same noise.
//
//   node bench/compare-builds.mjs --base /tmp/base [--rounds 5] transformer --no-torch --batch 1,16 --runs 3
//
// The benchmark's last output line must be its JSON summary; every numeric leaf is compared.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let base = null, rounds = 5;
while (args[0]?.startsWith("--")) {
  const flag = args.shift();
  if (flag === "--base") base = resolve(args.shift() ?? "");
  else if (flag === "--rounds") rounds = Number(args.shift());
  else throw new Error(`unknown option ${flag}`);
}
const name = args.shift();
if (!base || !name || !Number.isInteger(rounds) || rounds < 1) {
  console.error("usage: node bench/compare-builds.mjs --base DIR [--rounds N] BENCH [bench args...]");
  process.exit(2);
}
for (const dir of [base, here]) {
  if (!existsSync(join(dir, "bench", `${name}.mjs`))) {
    console.error(`${dir} has no bench/${name}.mjs`);
    process.exit(2);
  }
}

/** Numeric leaves of a JSON object as "a.b.c" → value. */
function leaves(obj, prefix = "", out = new Map()) {
  for (const [k, v] of Object.entries(obj ?? {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "number") out.set(key, v);
    else if (v && typeof v === "object") leaves(v, key, out);
  }
  return out;
}

function run(dir) {
  const r = spawnSync(process.execPath, [join(dir, "bench", `${name}.mjs`), ...args], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${dir}: bench ${name} failed:\n${r.stderr}`);
  const last = r.stdout.trim().split("\n").pop();
  return leaves(JSON.parse(last));
}

const figures = { base: [], here: [] };
for (let i = 0; i < rounds; i++) {
  // Alternate which build goes first, so neither always runs on a warmer machine.
  const order = i % 2 ? ["here", "base"] : ["base", "here"];
  for (const which of order) figures[which].push(run(which === "base" ? base : here));
  process.stderr.write(`round ${i + 1}/${rounds} done\n`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const keys = [...figures.here[0].keys()].filter((k) => figures.base.every((m) => m.has(k)));
const rows = keys.map((k) => {
  const b = median(figures.base.map((m) => m.get(k)));
  const h = median(figures.here.map((m) => m.get(k)));
  return { figure: k, base: b, here: h, ratio: b ? h / b : null };
});
console.log(`bench ${name}: medians over ${rounds} alternating rounds (ratio = this build / base; for a time, below 1 is faster)`);
for (const r of rows) console.log(`${r.figure.padEnd(52)} ${r.base.toPrecision(5).padStart(12)} ${r.here.toPrecision(5).padStart(12)} ${r.ratio === null ? "-" : r.ratio.toFixed(3)}`);
console.log(JSON.stringify({ bench: name, rounds, base, rows }));
