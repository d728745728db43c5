import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Child processes: a native crash would show as a failed file, not a dead runner.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
