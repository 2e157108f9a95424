import { randomInt } from "node:crypto";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { classify } from "../../src/routing/classify.js";
import { digestInto, digestText } from "../../src/routing/digest.js";
import { setAssignments } from "../../src/routing/set-assignments.js";
import { routeStatement } from "../../src/routing/statement.js";

// Every statement a client sends goes through these scanners on the event loop: one that never
// returns stops every session of the process. `SELECT .5a` once did (the digest moved its lexer
// back to offset -1 and lexed the statement again for ever). Statements made of the fragments
// the scanners treat specially (numbers, signs, dots, quotes, comments, variables, keywords)
// must each be scanned, and within a few steps of their length.
//
// Replay a failure: RWSPLIT_PROPERTY_SEED=<seed> npx vitest run test/unit/sql-scanners-terminate.property.test.ts

const SEED = process.env.RWSPLIT_PROPERTY_SEED
  ? Number(process.env.RWSPLIT_PROPERTY_SEED)
  : randomInt(2 ** 31);

const FRAGMENTS = [
  ".",
  "5",
  "0",
  "1",
  "x",
  "b",
  "e",
  "E",
  "+",
  "-",
  "a",
  "X",
  "N",
  "_utf8mb4",
  " ",
  "\n",
  "\t",
  "'",
  '"',
  "`",
  "\\",
  "(",
  ")",
  ",",
  ";",
  ":",
  "=",
  "?",
  "!",
  "$",
  "{",
  "}",
  "@",
  "@@",
  "/*",
  "*/",
  "/*!",
  "/*!50000",
  "/*M!",
  "/*+",
  "--",
  "-- ",
  "#",
  "\0",
  "é",
  "—",
  "SELECT ",
  "SET ",
  "INSERT ",
  "UPDATE ",
  "FROM ",
  "WITH ",
  "CALL ",
  "LOCK ",
  "BEGIN",
  "GLOBAL ",
  "SESSION ",
  "NAMES ",
  "autocommit",
  "FOR UPDATE",
  "LAST_INSERT_ID()",
  "0x",
  "0b",
  "1e",
  ".5",
  "-.5",
  "1.",
  "e+",
  "e-",
];

const statement = fc
  .array(fc.constantFrom(...FRAGMENTS), { minLength: 1, maxLength: 14 })
  .map((f) => f.join(""));

/** Each scanner on `sql`, as the data path runs them (the routed statement's payload starts with the command byte). */
function scanAll(sql: Buffer): void {
  classify(sql);
  digestText(sql);
  digestInto(sql, 0, sql.length, { hi: 0, lo: 0 });
  setAssignments(sql, 0, sql.length);
  routeStatement(Buffer.concat([Buffer.of(0x03), sql]), 1);
}

describe(`SQL scanners return on any statement (seed ${SEED})`, () => {
  test("statements of the fragments the scanners treat specially", () => {
    fc.assert(
      fc.property(statement, (sql) => {
        scanAll(Buffer.from(sql));
      }),
      { seed: SEED, numRuns: 20_000 },
    );
  });

  test("arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        scanAll(Buffer.from(bytes));
      }),
      { seed: SEED, numRuns: 5_000 },
    );
  });

  test("the statements that once looped are scanned and digested as the server's tokens", () => {
    for (const sql of ["SELECT .5a", "SELECT -.5x, (.5e1x)", "SELECT .5e", "SELECT 1.5a", "SELECT +.5_"]) {
      scanAll(Buffer.from(sql));
      expect(digestText(Buffer.from(sql)).length).toBeGreaterThan(0);
    }
  });
});
