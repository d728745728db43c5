#!/usr/bin/env node
// Runs every native test executable that the build produced (build/Release/tests/test_*),
// streaming their output, and fails if any fails or if none was found.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dirs = ["build/Release/tests", "build/tests", "build/Debug/tests"].map((d) => join(root, d));
const dir = dirs.find((d) => existsSync(d));
if (!dir) {
  console.error(`native tests: no test executables found in ${dirs.join(", ")}; run \`npm install\` or \`npm run build\` first`);
  process.exit(1);
}
const tests = readdirSync(dir).filter((f) => f.startsWith("test_")).sort();
if (tests.length === 0) {
  console.error(`native tests: ${dir} holds no test_* executables`);
  process.exit(1);
}
let failed = 0;
for (const t of tests) {
  console.log(`\n# native ${t}`);
  const r = spawnSync(join(dir, t), process.argv.slice(2), { stdio: "inherit", cwd: root });
  if (r.status !== 0) {
    failed++;
    console.error(`# native ${t} FAILED (exit ${r.status ?? r.signal})`);
  }
}
console.log(`\n# native test executables: ${tests.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
