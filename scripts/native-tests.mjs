#!/usr/bin/env node
// Runs every native test executable that the build produced (build/Release/tests/test_*),
// streaming their output, and fails if any fails or if none was found.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// AUDIOLM_NATIVE_TESTS names another build's test folder (CI's sanitizer build).
const dirs = (process.env.AUDIOLM_NATIVE_TESTS ? [process.env.AUDIOLM_NATIVE_TESTS] : ["build/Release/tests", "build/tests", "build/Debug/tests"]).map((d) => join(root, d));
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
// Model tests that load through the backend interface run again on the strict backend, whose
// memory host code cannot touch (native/cpu/strict_backend.cpp).
const onStrict = new Set(["test_transformer", "test_semantic", "test_codec"]);
const runs = tests.flatMap((t) => (onStrict.has(t) ? [[t, false], [t, true]] : [[t, false]]));
let failed = 0;
for (const [t, strict] of runs) {
  const name = strict ? `${t} (strict backend)` : t;
  console.log(`\n# native ${name}`);
  const env = strict ? { ...process.env, AUDIOLM_BACKEND: "strict" } : process.env;
  const r = spawnSync(join(dir, t), process.argv.slice(2), { stdio: "inherit", cwd: root, env });
  if (r.status !== 0) {
    failed++;
    console.error(`# native ${name} FAILED (exit ${r.status ?? r.signal})`);
  }
}
console.log(`\n# native test executables: ${runs.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
