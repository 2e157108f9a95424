import { describe, expect, it } from "vitest";
import { Command } from "../../src/protocol/constants/commands.js";
import type { BackendConnection } from "../../src/proxy/backend-connection.js";
import { Keep } from "../../src/proxy/idle-connections.js";
import type { Dispatch, StatementOutcome } from "../../src/proxy/session/dispatch.js";
import { PreviousStatement } from "../../src/proxy/session/previous-statement.js";
import type { Asks } from "../../src/routing/router.js";
import { routeStatement } from "../../src/routing/statement.js";
import { poolRequest, scriptedPool } from "../helpers/scripted-pool.js";

const req = poolRequest("a");

function dispatch(sql: string | null, command: number = Command.QUERY): Dispatch {
  const statement = sql === null ? null : routeStatement(Buffer.from(`\x03${sql}`, "latin1"), 1);
  // A COM_STMT_PREPARE runs no statement: its steps say which one it prepares (prepare.ts).
  if (command === Command.STMT_PREPARE && statement !== null)
    return { command, statement: null, steps: { prepares: statement } } as unknown as Dispatch;
  return { command, statement } as unknown as Dispatch;
}

/** A COM_STMT_PREPARE of `sql` (the lease does not forget the statement before it). */
const PREPARE = Command.STMT_PREPARE;

type Ran = [sql: string | null, outcome: Partial<StatementOutcome>, command?: number];

/**
 * Each statement runs on its own connection (as a pool under load may give), then goes back to
 * the pool; which of them does a question about earlier statements go to? (Measured on MariaDB
 * 10.11; see previous-statement.ts.)
 */
const cases: [string, Ran[], Asks, number | null][] = [
  [
    "ROW_COUNT(): the previous statement, whatever it was",
    [
      ["UPDATE t SET a = 1", {}],
      ["DO 1", {}],
    ],
    "statement",
    1,
  ],
  [
    "FOUND_ROWS(): the last result set",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["DO 1", {}],
    ],
    "rows",
    0,
  ],
  [
    "FOUND_ROWS(): SET and DML keep it",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SET @x = 1", {}],
      ["UPDATE t SET a = 1", {}],
    ],
    "rows",
    0,
  ],
  [
    "FOUND_ROWS(): a failed SELECT keeps it",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SELECT a FROM nosuch", { errno: 1146 }],
    ],
    "rows",
    0,
  ],
  [
    "FOUND_ROWS(): SHOW WARNINGS keeps it",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SHOW WARNINGS", { resultSet: true }],
    ],
    "rows",
    0,
  ],
  [
    "FOUND_ROWS(): SELECT @@warning_count is a result set",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SELECT @@warning_count", { resultSet: true }],
    ],
    "rows",
    1,
  ],
  [
    "FOUND_ROWS(): SELECT ... INTO counts",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SELECT a INTO @x FROM t", {}],
    ],
    "rows",
    1,
  ],
  [
    "warnings: kept through statements without a table",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SELECT 1", {}],
      ["SET sql_mode = ''", {}],
      ["USE app", {}],
    ],
    "warnings",
    0,
  ],
  [
    "warnings: COM_PING and COM_INIT_DB keep them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      [null, {}, Command.PING],
      [null, {}, Command.INIT_DB],
    ],
    "warnings",
    0,
  ],
  [
    "warnings: SHOW WARNINGS keeps them (a diagnostic)",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SHOW WARNINGS", { resultSet: true }],
    ],
    "warnings",
    0,
  ],
  [
    "warnings: a statement with a table clears them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SELECT a FROM t", {}],
    ],
    "warnings",
    1,
  ],
  [
    "warnings: an error replaces them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SELECT nosuch()", { errno: 1305 }],
      ["SELECT 1", {}],
    ],
    "warnings",
    1,
  ],
  [
    "warnings: new ones replace them",
    [
      ["SELECT a FROM t", {}],
      ["SELECT 'b' + 1", { warnings: 1 }],
      ["DO 1", {}],
    ],
    "warnings",
    1,
  ],
  [
    "warnings: COM_STMT_PREPARE clears them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      [null, {}, Command.STMT_PREPARE],
    ],
    "warnings",
    1,
  ],
  [
    "ROW_COUNT(): a COM_STMT_PREPARE keeps the statement before it",
    [
      ["UPDATE t SET a = 1", {}],
      ["SELECT ROW_COUNT()", {}, PREPARE],
    ],
    "statement",
    0,
  ],
  [
    "ROW_COUNT(): a failed COM_STMT_PREPARE is the previous statement",
    [
      ["UPDATE t SET a = 1", {}],
      ["SELECT a FROM nosuch", { errno: 1146 }, PREPARE],
    ],
    "statement",
    1,
  ],
  [
    "FOUND_ROWS(): a COM_STMT_PREPARE keeps it",
    [
      ["SELECT a FROM t", { resultSet: true }],
      ["SELECT a FROM t WHERE a = ?", {}, PREPARE],
    ],
    "rows",
    0,
  ],
  [
    "warnings: a COM_STMT_PREPARE without a table keeps them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SELECT @@warning_count", {}, PREPARE],
    ],
    "warnings",
    0,
  ],
  [
    "warnings: a prepared SHOW WARNINGS keeps them (PDO prepares every statement)",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SHOW WARNINGS", {}, PREPARE],
    ],
    "warnings",
    0,
  ],
  [
    "warnings: a COM_STMT_PREPARE with a table clears them",
    [
      ["SELECT 'a' + 1", { warnings: 1 }],
      ["SELECT a FROM t WHERE a = ?", {}, PREPARE],
    ],
    "warnings",
    1,
  ],
  ["nothing ran yet", [], "warnings", null],
];

describe("PreviousStatement: where the answer is", () => {
  it.each(cases)("%s", async (_name, ran, asks, expected) => {
    const pool = scriptedPool(10);
    const conns: BackendConnection[] = [];
    for (let i = 0; i < ran.length; i++) conns.push(await pool.acquire(req));
    const prev = new PreviousStatement();
    ran.forEach(([sql, outcome, command], i) => {
      const o: StatementOutcome = { status: 0, errno: 0, warnings: 0, resultSet: false, ...outcome };
      if (command !== PREPARE || sql === null) prev.forget();
      const keep = prev.ran(conns[i]!, pool, dispatch(sql, command), o, true);
      pool.release(conns[i]!, req.keyString, Date.now(), keep);
    });
    const there = prev.take(asks, req.keyString, null, Date.now());
    expect(there === null ? null : conns.indexOf(there.conn)).toBe(expected);
    pool.destroyAll();
  });

  it("another session's lease in between: no answer (the question goes to the primary)", async () => {
    const pool = scriptedPool(1);
    const conn = await pool.acquire(req);
    const prev = new PreviousStatement();
    const keep = prev.ran(
      conn,
      pool,
      dispatch("SELECT 'a' + 1"),
      { status: 0, errno: 0, warnings: 1, resultSet: true },
      true,
    );
    pool.release(conn, req.keyString, Date.now(), keep);
    expect(keep).toBe(Keep.RESERVED);
    // At the limit, another session takes the kept connection.
    const other = await pool.acquire(req);
    expect(other).toBe(conn);
    pool.release(other, req.keyString);
    expect(prev.take("warnings", req.keyString, null, Date.now())).toBeNull();
    pool.destroyAll();
  });

  it("a write's connection waits behind the others; one holding warnings stays reserved until they are gone", async () => {
    const pool = scriptedPool(10);
    const [w, r, t] = [await pool.acquire(req), await pool.acquire(req), await pool.acquire(req)];
    const prev = new PreviousStatement();
    const o = (warnings: number): StatementOutcome => ({ status: 0, errno: 0, warnings, resultSet: false });
    const run = (conn: BackendConnection, sql: string, warnings: number): Keep => {
      prev.forget();
      const keep = prev.ran(conn, pool, dispatch(sql), o(warnings), true);
      pool.release(conn, req.keyString, Date.now(), keep);
      return keep;
    };
    expect(run(w, "UPDATE t SET a = 1", 0)).toBe(Keep.AT_END);
    expect(w.keptUntil).toBe(0);
    expect(run(r, "SELECT 'a' + 1", 1)).toBe(Keep.RESERVED);
    expect(r.keptUntil).toBeGreaterThan(0);
    prev.forget(); // a statement without a table next: the warnings stay where they are
    expect(r.keptUntil).toBeGreaterThan(0);
    expect(run(t, "SELECT a FROM t", 0)).toBe(Keep.NO); // a table empties the list: r goes back
    expect(r.keptUntil).toBe(0);
    pool.destroyAll();
  });
});
