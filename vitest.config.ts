import { defineConfig } from "vitest/config";

// Three layers (STYLE.md principle 9): unit tests are pure and fast; integration and e2e tests
// start real MariaDB sandboxes on free ports.
export default defineConfig({
  test: {
    // One file at a time: sandboxes are heavy on a 2-core machine, and unit files take milliseconds.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          globalSetup: ["test/global-setup.ts"],
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "e2e",
          globalSetup: ["test/global-setup.ts"],
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
