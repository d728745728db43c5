#!/usr/bin/env node
// Resident memory across load / dispose cycles of a model: before the first load, with one model
// loaded, right after its dispose(), and after N cycles. A service that swaps models must get
// its memory back at dispose(), not keep the high-water mark.
//
//   node bench/memory.mjs [--model models/default] [--cycles 200] [--json]
// Prints the figures; with --check, exits 1 unless the bounds hold (after N cycles within
// 50 MB of before the first load; after one dispose within 20 MB of before its load).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { AudioLM } = await import(join(root, "dist", "index.js"));
const { values: opt } = parseArgs({
  options: {
    model: { type: "string", default: join(root, "models", "default") },
    cycles: { type: "string", default: "200" },
    json: { type: "boolean", default: false },
    check: { type: "boolean", default: false },
  },
});
const cycles = Number(opt.cycles);
const MB = 1024 * 1024;
const rss = () => {
  globalThis.gc?.();  // node --expose-gc: garbage the JS side may still hold counts too
  return process.memoryUsage().rss / MB;
};

// Warm the allocator and the addon once, so the baseline holds what any process using the
// package holds (the addon, its thread pool), not the first load's one-off costs.
{
  const lm = await AudioLM.load(opt.model);
  await lm.dispose();
}
const before = rss();
const lm = await AudioLM.load(opt.model);
const loaded = rss();
await lm.dispose();
const afterDispose = rss();
let peak = loaded;
const t0 = performance.now();
for (let i = 0; i < cycles; i++) {
  const m = await AudioLM.load(opt.model);
  if (i % 20 === 0) peak = Math.max(peak, rss());
  await m.dispose();
}
const afterCycles = rss();
const seconds = (performance.now() - t0) / 1000;
const out = {
  bench: "memory",
  model: opt.model,
  cycles,
  rssMB: { before, loaded, afterDispose, peak, afterCycles },
  afterDisposeOverBeforeMB: afterDispose - before,
  afterCyclesOverBeforeMB: afterCycles - before,
  secondsPerCycle: seconds / cycles,
};
if (!opt.json) {
  console.log(`resident MB: before ${before.toFixed(1)}, loaded ${loaded.toFixed(1)}, after dispose ${afterDispose.toFixed(1)} (${out.afterDisposeOverBeforeMB >= 0 ? "+" : ""}${out.afterDisposeOverBeforeMB.toFixed(1)})`);
  console.log(`after ${cycles} load/dispose cycles: ${afterCycles.toFixed(1)} MB (${out.afterCyclesOverBeforeMB >= 0 ? "+" : ""}${out.afterCyclesOverBeforeMB.toFixed(1)}; peak ${peak.toFixed(1)}), ${(1000 * out.secondsPerCycle).toFixed(0)} ms per cycle`);
}
console.log(JSON.stringify(out));
if (opt.check && !(out.afterCyclesOverBeforeMB <= 50 && out.afterDisposeOverBeforeMB <= 20)) process.exit(1);
