import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A micro-benchmark's results: bench/results/<name>-<when as a file name>.json (everything it
 * measured) and bench/results/<name>-latest.md (the summary the README links). Returns the JSON's
 * path relative to the checkout, for the line that says what was written.
 */
export function writeResults(name: string, when: string, data: unknown, md: string): string {
  const results = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench", "results");
  mkdirSync(results, { recursive: true });
  const file = `${name}-${when.replace(/[:.]/g, "-")}.json`;
  writeFileSync(join(results, file), `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(join(results, `${name}-latest.md`), md);
  return `bench/results/${file}`;
}
