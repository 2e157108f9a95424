import { describe, expect, test } from "vitest";
import { classifyString } from "../../src/routing/classify.js";
import { embedsKill, type KillStatement, parseKill, processKill } from "../../src/routing/kill-statement.js";
import { hasFlag, StatementFlag } from "../../src/routing/statement-flags.js";

const conn = (id: number): KillStatement => ({ kind: "thread", scope: "connection", id, idText: String(id) });
const query = (id: number): KillStatement => ({ kind: "thread", scope: "query", id, idText: String(id) });

// Every statement here starts with KILL (maybe after comments): the classifier flags it KILL, so
// the session parses it and never forwards it.
const cases: [sql: string, expected: KillStatement][] = [
  ["KILL 5", conn(5)],
  ["kill 5", conn(5)],
  ["KiLl   5", conn(5)],
  ["KILL 5;", conn(5)],
  ["KILL 5 ;  ; ", conn(5)],
  ["  \n\tKILL\n12\t", conn(12)],
  ["KILL CONNECTION 7", conn(7)],
  ["kill connection 7;", conn(7)],
  ["KILL QUERY 7", query(7)],
  ["kill query 7", query(7)],
  ["KILL HARD 7", conn(7)],
  ["KILL SOFT 7", conn(7)],
  ["KILL HARD CONNECTION 7", conn(7)],
  ["KILL SOFT QUERY 7", query(7)],
  ["kill hard query 7", query(7)],
  ["/* app: timeout */ KILL QUERY 42", query(42)],
  ["KILL /* x */ QUERY /* y */ 42 /* z */", query(42)],
  ["KILL QUERY 42 -- cancel\n", query(42)],
  ["KILL QUERY 42 # cancel", query(42)],
  ["/*!KILL QUERY 42*/", query(42)],
  ["/*M!100000 KILL */ 42", conn(42)],
  ["/* rwsplit: route=replica */ KILL 3", conn(3)],
  ["KILL 0", conn(0)],
  ["KILL 4294967295", conn(4294967295)],
  [
    "KILL 99999999999999999999",
    { kind: "thread", scope: "connection", id: 1e20, idText: "99999999999999999999" },
  ],
  // Not a plain number: the server would evaluate it, rwsplit does not.
  ["KILL CONNECTION_ID()", { kind: "own", scope: "connection" }],
  ["kill query connection_id ( ) ;", { kind: "own", scope: "query" }],
  ["KILL HARD CONNECTION CONNECTION_ID()", { kind: "own", scope: "connection" }],
  ["KILL CONNECTION_ID() + 1", { kind: "expression" }],
  ["KILL CONNECTION_ID", { kind: "expression" }],
  ["KILL CONNECTION_ID(); SELECT 1", { kind: "multi" }],
  ["KILL 5+1", { kind: "expression" }],
  ["KILL -5", { kind: "expression" }],
  ["KILL 0x10", { kind: "expression" }],
  ["KILL 1e3", { kind: "expression" }],
  ["KILL 5.0", { kind: "expression" }],
  ["KILL @id", { kind: "expression" }],
  ["KILL '5'", { kind: "expression" }],
  ["KILL (5)", { kind: "expression" }],
  ["KILL t.5", { kind: "expression" }],
  ["KILL QUERY ID 5", { kind: "query-id" }],
  ["kill hard query id 5;", { kind: "query-id" }],
  ["KILL USER app", { kind: "user" }],
  ["KILL CONNECTION USER 'app'@'%'", { kind: "user" }],
  ["KILL SOFT QUERY USER app", { kind: "user" }],
  ["KILL", { kind: "syntax" }],
  ["KILL;", { kind: "syntax" }],
  ["KILL QUERY", { kind: "syntax" }],
  ["KILL QUERY ID", { kind: "syntax" }],
  ["KILL USER", { kind: "syntax" }],
  ["KILL HARD", { kind: "syntax" }],
  ["KILL 5 /* unterminated", { kind: "syntax" }],
  // More than one statement: refused whole, never forwarded in part.
  ["KILL 5; SELECT 1", { kind: "multi" }],
  ["KILL 5; KILL 6", { kind: "multi" }],
  ["SELECT 1; KILL 5", { kind: "multi" }],
];

describe("parseKill", () => {
  test.each(cases)("%s", (sql, expected) => {
    expect(parseKill(Buffer.from(sql, "utf8"))).toEqual(expected);
    // ... and with the COM_QUERY command byte in front, as the session calls it.
    expect(parseKill(Buffer.from(`\x03${sql}`, "latin1"), 1)).toEqual(expected);
    // Whatever the form, the classifier flags it, so the session never forwards it.
    expect(hasFlag(classifyString(sql).flags, StatementFlag.KILL)).toBe(true);
  });

  test("statements that only mention kill are not flagged", () => {
    for (const sql of [
      "SELECT kill FROM t",
      "SELECT 'KILL 5'",
      "UPDATE t SET kill = 1",
      "-- KILL 5\nSELECT 1",
    ]) {
      expect(hasFlag(classifyString(sql).flags, StatementFlag.KILL), sql).toBe(false);
    }
  });
});

describe("processKill (COM_PROCESS_KILL: int<1> 0x0c, int<4> id)", () => {
  test.each([
    [[0x0c, 5, 0, 0, 0], conn(5)],
    [[0x0c, 0x01, 0x02, 0x00, 0x00], conn(0x201)],
    [[0x0c, 0xff, 0xff, 0xff, 0xff], conn(0xffffffff)],
    [[0x0c, 5, 0, 0, 0, 0x99], conn(5)],
    [[0x0c, 5, 0, 0], null],
    [[0x0c], null],
  ] as [number[], KillStatement | null][])("%j", (bytes, expected) => {
    expect(processKill(Buffer.from(bytes))).toEqual(expected);
  });
});

describe("embedsKill (PREPARE ... FROM '...', EXECUTE IMMEDIATE '...')", () => {
  test.each([
    ["PREPARE s FROM 'KILL 5'", true],
    ["PREPARE s FROM 'kill query ?'", true],
    ['PREPARE s FROM "  /* c */ KILL ?"', true],
    ["EXECUTE IMMEDIATE 'KILL 5'", true],
    ["execute immediate 'KILL QUERY 5'", true],
    ["SELECT 1; PREPARE s FROM 'KILL 5'", true],
    ["PREPARE s FROM 'SELECT 1'", false],
    ["PREPARE s FROM 'SELECT ''KILL 5'''", false],
    ["PREPARE s FROM @sql", false],
    ["EXECUTE s USING 'KILL 5'", false],
    ["EXECUTE IMMEDIATE 'SELECT ?' USING 'KILL'", false],
    ["INSERT INTO t VALUES ('kill me'); EXECUTE s", false],
  ])("%s -> %s", (sql, expected) => {
    expect(embedsKill(Buffer.from(sql, "utf8"))).toBe(expected);
    const f = classifyString(sql).flags;
    // The session looks only when the classifier saw PREPARE or EXECUTE.
    expect(hasFlag(f, StatementFlag.PREPARE_SQL) || hasFlag(f, StatementFlag.EXECUTE_SQL)).toBe(true);
  });
});
