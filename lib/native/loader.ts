/** Loads the compiled addon once and explains precisely why when it cannot. */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type { NativeAddon } from "./addon-types.js";
import { AudioLMError } from "../errors.js";

let cached: NativeAddon | undefined;

/** The package root: the nearest directory above this file whose package.json is ours. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, "utf8")).name === "audiolm-node") return dir;
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new AudioLMError("ERR_AUDIOLM_NATIVE_LOAD", "cannot find the audiolm-node package root");
    dir = up;
  }
}

/** The native addon; throws ERR_AUDIOLM_NATIVE_LOAD with the paths tried and the loader's reason. */
export function native(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = [
    process.env.AUDIOLM_ADDON,
    join(root, "build", "Release", "audiolm.node"),
    join(root, "build", "Debug", "audiolm.node"),
  ].filter((p): p is string => !!p);
  const require = createRequire(import.meta.url);
  const reasons: string[] = [];
  for (const p of candidates) {
    if (!existsSync(p)) {
      reasons.push(`${p}: not found`);
      continue;
    }
    try {
      cached = require(p) as NativeAddon;
      return cached;
    } catch (err) {
      reasons.push(`${p}: ${(err as Error).message}`);
    }
  }
  throw new AudioLMError(
    "ERR_AUDIOLM_NATIVE_LOAD",
    `the audiolm native addon could not be loaded (run \`npm install\` or \`npm run build\` in ${root} to build it):\n  ` +
      reasons.join("\n  "),
  );
}

/** Re-throws a native error as an AudioLMError with the caller's stack, keeping its code. */
export function rethrow(err: unknown): never {
  if (err instanceof AudioLMError) throw err;
  const e = err as { code?: string; message?: string };
  if (e && typeof e.code === "string" && e.code.startsWith("ERR_AUDIOLM_")) {
    throw new AudioLMError(e.code as AudioLMError["code"], e.message ?? String(err), { cause: err });
  }
  throw err;
}
