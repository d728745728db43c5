// Memory comes back at dispose(): load / dispose cycles of the default model end near the
// resident set they started from (bench/memory.mjs, in a child process of its own so that this
// runner's heap does not blur the figures). Before the fix, each cycle kept about 28 MB until
// garbage collection: the addon left a copy of the model in the External it was handed.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

describe("memory", () => {
  it("gives the default model's memory back at dispose(), cycle after cycle", () => {
    const r = spawnSync(process.execPath, ["--expose-gc", join(ROOT, "bench", "memory.mjs"), "--cycles", "30", "--json"], {
      encoding: "utf8",
      cwd: ROOT,
      // The CPU backend, what a service runs, also in the suite's strict-backend pass.
      env: { ...process.env, AUDIOLM_BACKEND: "cpu" },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    // A loaded model holds tens of MB, so the bounds below fail if a cycle keeps it.
    expect(out.rssMB.loaded - out.rssMB.before).toBeGreaterThan(40);
    expect(out.afterDisposeOverBeforeMB).toBeLessThan(20);
    expect(out.afterCyclesOverBeforeMB).toBeLessThan(50);
  });
});
