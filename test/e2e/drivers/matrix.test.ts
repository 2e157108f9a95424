import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CASES, type CaseName, COMPRESSED_LIMIT } from "./cases.js";
import { DRIVERS } from "./drivers.js";
import { type DriverSpec, type Matrix, type RunResult, startMatrix } from "./harness.js";

// The driver matrix (issue #14): every client runs the same application scenario directly against
// the primary and through rwsplit (reads split over 2 replicas); each case's transcripts must be
// equal. Cases that fail today are `test.fails` with their cause (drivers.ts), so each fix flips
// one. `DRIVER_MATRIX=mysql2,pymysql` runs only those drivers; `DRIVER_MATRIX_DUMP=DIR` writes
// each run's transcript there (DIR/<driver>.direct.json, DIR/<driver>.rwsplit.json). The end of
// the run prints the matrix as a Markdown table.

let matrix: Matrix;
/** driver id -> case -> verdict, for the table printed at the end. */
const verdicts = new Map<string, Map<string, string>>();

beforeAll(async () => {
  matrix = await startMatrix();
});

afterAll(async () => {
  await matrix?.close();
  if (verdicts.size > 0) console.log(table());
});

const only = process.env.DRIVER_MATRIX?.split(",").filter(Boolean);
const drivers = only ? DRIVERS.filter((d) => only.includes(d.id)) : DRIVERS;

for (const driver of drivers) describeDriver(driver);

/** The cause's label: what comes before its first colon ("#14 accounts"). */
const label = (cause: string) => cause.slice(0, cause.indexOf(":") > 0 ? cause.indexOf(":") : 40);

function describeDriver(driver: DriverSpec): void {
  const record = (name: string, passed: boolean, expectedToFail: boolean) => {
    const row = verdicts.get(driver.id) ?? new Map<string, string>();
    verdicts.set(driver.id, row);
    row.set(name, passed ? (expectedToFail ? "FIXED?" : "pass") : expectedToFail ? "fails" : "FAIL");
  };

  /** Runs the checks, records the verdict, rethrows a failure (which `test.fails` expects). */
  const judged = (name: string, expectedToFail: boolean, checks: () => void) => () => {
    try {
      checks();
    } catch (e) {
      record(name, false, expectedToFail);
      throw e;
    }
    record(name, true, expectedToFail);
  };

  describe(driver.title, () => {
    let direct: RunResult;
    let proxied: RunResult;

    beforeAll(async () => {
      direct = await matrix.run(driver, "direct");
      proxied = await matrix.run(driver, "rwsplit");
      const dump = process.env.DRIVER_MATRIX_DUMP;
      if (dump) {
        mkdirSync(dump, { recursive: true });
        for (const [via, r] of [
          ["direct", direct],
          ["rwsplit", proxied],
        ] as const) {
          writeFileSync(join(dump, `${driver.id}.${via}.json`), JSON.stringify(r, null, 1));
        }
      }
      console.log(
        `${driver.title}: ${direct.transcript.driver}; direct ${direct.ms} ms, rwsplit ${proxied.ms} ms, replica statements ${JSON.stringify(proxied.replicaStatements)}`,
      );
    });

    test("runs every case directly without an unexpected error", () => {
      const fatal = Object.entries(direct.transcript.cases).filter(([, c]) => c.fatal);
      expect(fatal).toEqual([]);
      expect(Object.keys(direct.transcript.cases).sort()).toEqual([...driver.cases].sort());
    });

    const reads = driver.replicaReadsFail;
    (reads ? test.fails : test)(
      `reads through rwsplit reached both replicas${reads ? ` [fails today: ${label(reads)}]` : ""}`,
      judged("reads reach both replicas", reads !== undefined, () => {
        const counts = Object.values(proxied.replicaStatements);
        expect(counts.length).toBe(2);
        for (const n of counts) expect(n).toBeGreaterThan(0);
      }),
    );

    for (const name of driver.cases) {
      const cause = driver.fails[name];
      (cause ? test.fails : test)(
        `${name}: ${CASES[name]}${cause ? ` [fails today: ${label(cause)}]` : ""}`,
        judged(name, cause !== undefined, () => {
          const d = direct.transcript.cases[name];
          const p = proxied.transcript.cases[name];
          expect(d?.fatal).toBeUndefined();
          expect({ ...p, where: undefined }).toEqual({ ...d, where: undefined });
          if (d?.where) {
            // Where the case's reads ran (its `@where` steps): directly all on the primary;
            // through rwsplit as many, at least one on a replica.
            expect(d.where.every((id) => id === matrix.serverIds.primary)).toBe(true);
            expect(p?.where?.length).toBe(d.where.length);
            expect(p?.where?.some((id) => matrix.serverIds.replicas.includes(id))).toBe(true);
          }
          if (name === "compression") {
            // The direct run proves the driver compresses; through rwsplit it must too.
            expect(direct.compressedBytes).toBeLessThan(COMPRESSED_LIMIT);
            expect(proxied.compressedBytes).toBeLessThan(COMPRESSED_LIMIT);
          }
        }),
      );
    }
  });
}

/** The matrix as Markdown: a row per case, a column per driver. */
function table(): string {
  const ids = drivers.filter((d) => verdicts.has(d.id));
  const rows: string[] = ["reads reach both replicas", ...(Object.keys(CASES) as CaseName[])];
  const lines = [
    `| case | ${ids.map((d) => d.title).join(" | ")} |`,
    `|---|${ids.map(() => "---").join("|")}|`,
  ];
  for (const r of rows) {
    if (!ids.some((d) => verdicts.get(d.id)?.has(r))) continue;
    lines.push(`| ${r} | ${ids.map((d) => verdicts.get(d.id)?.get(r) ?? "–").join(" | ")} |`);
  }
  return `driver matrix (pass; fails = expected failure, see drivers.ts; FAIL = unexpected; FIXED? = expected failure that passed):\n${lines.join("\n")}`;
}
