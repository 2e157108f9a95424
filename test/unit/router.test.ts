import { describe, expect, test } from "vitest";
import {
  type RouteSession,
  type RouteStatement,
  replicaMaySend,
  route,
  routeCommand,
} from "../../src/routing/router.js";
import { routeStatement } from "../../src/routing/statement.js";

const read: RouteStatement = {
  kind: "read",
  beginReadOnly: false,
  beginsTransaction: false,
  asks: null,
  readsLastInsertId: false,
  readOnlyTxnSafe: true,
  implicitCommit: false,
  hint: null,
};
const write: RouteStatement = { ...read, kind: "write", readOnlyTxnSafe: false };
const free: RouteSession = {
  pinned: null,
  consistency: "session",
  hasUnreplicatedWrite: false,
};

describe("route", () => {
  const cases: [string, RouteStatement, RouteSession, unknown][] = [
    [
      "a read goes to a replica",
      read,
      free,
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: false, pinOnReplica: false },
    ],
    ["a write goes to the primary", write, free, { target: "primary", reason: "write" }],
    [
      "a session statement goes to the primary",
      { ...read, kind: "session" },
      free,
      { target: "primary", reason: "session" },
    ],
    [
      "a pinned session stays pinned, even for reads",
      read,
      { ...free, pinned: "primary" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "a pinned session stays pinned, even with a replica hint",
      { ...read, hint: { route: "replica" } },
      { ...free, pinned: "primary" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "BEGIN goes to the primary",
      { ...write, beginsTransaction: true },
      free,
      { target: "primary", reason: "in_transaction" },
    ],
    [
      "START TRANSACTION READ ONLY goes to a replica",
      { ...read, beginReadOnly: true },
      free,
      {
        target: "replica",
        reason: "read_only_transaction",
        maxLagMs: null,
        requireCaughtUp: false,
        pinOnReplica: true,
      },
    ],
    [
      "START TRANSACTION READ ONLY with consistency=primary",
      { ...read, beginReadOnly: true },
      { ...free, consistency: "primary" },
      { target: "primary", reason: "consistency_primary" },
    ],
    [
      "a route=primary hint wins over a read",
      { ...read, hint: { route: "primary" } },
      free,
      { target: "primary", reason: "hint" },
    ],
    [
      "a route=replica hint does not move a write",
      { ...write, hint: { route: "replica" } },
      free,
      { target: "primary", reason: "write" },
    ],
    [
      "a route=replica hint skips read-your-writes",
      { ...read, hint: { route: "replica" } },
      { ...free, hasUnreplicatedWrite: true },
      { target: "replica", reason: "hint", maxLagMs: null, requireCaughtUp: false, pinOnReplica: false },
    ],
    [
      "a max_lag hint is passed on",
      { ...read, hint: { maxLagMs: 500 } },
      free,
      { target: "replica", reason: "hint", maxLagMs: 500, requireCaughtUp: false, pinOnReplica: false },
    ],
    [
      "consistency=primary sends reads to the primary",
      read,
      { ...free, consistency: "primary" },
      { target: "primary", reason: "consistency_primary" },
    ],
    [
      "consistency=session after a write asks for a caught-up replica",
      read,
      { ...free, hasUnreplicatedWrite: true },
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: true, pinOnReplica: false },
    ],
    [
      "consistency=session, START TRANSACTION READ ONLY after the session's write: a caught-up replica",
      { ...read, beginReadOnly: true },
      { ...free, hasUnreplicatedWrite: true },
      {
        target: "replica",
        reason: "read_only_transaction",
        maxLagMs: null,
        requireCaughtUp: true,
        pinOnReplica: true,
      },
    ],
    [
      "consistency=user, the user wrote within the window: a caught-up replica",
      read,
      { ...free, consistency: "user", hasUnreplicatedWrite: true },
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: true, pinOnReplica: false },
    ],
    [
      "consistency=user, the user wrote nothing (or long ago): any replica",
      read,
      { ...free, consistency: "user" },
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: false, pinOnReplica: false },
    ],
    [
      "consistency=user, a max_lag hint keeps read-your-writes",
      { ...read, hint: { maxLagMs: 500 } },
      { ...free, consistency: "user", hasUnreplicatedWrite: true },
      { target: "replica", reason: "hint", maxLagMs: 500, requireCaughtUp: true, pinOnReplica: false },
    ],
    [
      "consistency=user, a route=replica hint skips read-your-writes",
      { ...read, hint: { route: "replica" } },
      { ...free, consistency: "user", hasUnreplicatedWrite: true },
      { target: "replica", reason: "hint", maxLagMs: null, requireCaughtUp: false, pinOnReplica: false },
    ],
    [
      "consistency=user, a write still goes to the primary",
      write,
      { ...free, consistency: "user", hasUnreplicatedWrite: true },
      { target: "primary", reason: "write" },
    ],
    [
      "consistency=user, START TRANSACTION READ ONLY after the user's write: a caught-up replica",
      { ...read, beginReadOnly: true },
      { ...free, consistency: "user", hasUnreplicatedWrite: true },
      {
        target: "replica",
        reason: "read_only_transaction",
        maxLagMs: null,
        requireCaughtUp: true,
        pinOnReplica: true,
      },
    ],
    [
      "consistency=eventual after a write takes any replica",
      read,
      { ...free, consistency: "eventual", hasUnreplicatedWrite: true },
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: false, pinOnReplica: false },
    ],
    [
      "inside a READ ONLY transaction on a replica, a read stays there",
      read,
      { ...free, pinned: "replica" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "inside a READ ONLY transaction on a replica, COMMIT stays there",
      { ...write, readOnlyTxnSafe: true },
      { ...free, pinned: "replica" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "inside a READ ONLY transaction on a replica, a write is refused as the server would (1792)",
      write,
      { ...free, pinned: "replica" },
      {
        target: "refuse",
        reason: "read_only_transaction",
        error: expect.objectContaining({ errno: 1792, sqlState: "25006" }),
      },
    ],
    [
      "inside a READ ONLY transaction on a replica, DDL commits it there, then goes to the primary (the server commits implicitly)",
      { ...write, implicitCommit: true },
      { ...free, pinned: "replica" },
      {
        target: "end_read_only",
        reason: "read_only_transaction",
        next: { target: "primary", reason: "write" },
      },
    ],
    [
      "inside a READ ONLY transaction on a replica, BEGIN commits it there and starts a transaction on the primary",
      { ...write, kind: "session", beginsTransaction: true, implicitCommit: true },
      { ...free, pinned: "replica" },
      {
        target: "end_read_only",
        reason: "read_only_transaction",
        next: { target: "primary", reason: "in_transaction" },
      },
    ],
    [
      "inside a READ ONLY transaction on a replica, another START TRANSACTION READ ONLY commits it and starts anew on a replica",
      {
        ...read,
        kind: "session",
        readOnlyTxnSafe: false,
        beginReadOnly: true,
        beginsTransaction: true,
        implicitCommit: true,
      },
      { ...free, pinned: "replica" },
      {
        target: "end_read_only",
        reason: "read_only_transaction",
        next: expect.objectContaining({
          target: "replica",
          reason: "read_only_transaction",
          pinOnReplica: true,
        }),
      },
    ],
    [
      "a session statement that is not replayable is refused inside a replica READ ONLY transaction",
      { ...read, kind: "session", readOnlyTxnSafe: false },
      { ...free, pinned: "replica" },
      { target: "refuse", reason: "read_only_transaction", error: expect.objectContaining({ errno: 1792 }) },
    ],
    [
      "a session pinned to the primary sends a write there",
      write,
      { ...free, pinned: "primary" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "a read about the previous statement goes where that ran, replica or primary",
      { ...read, asks: "statement" },
      free,
      { target: "previous", reason: "previous", anyBackend: true, asks: "statement" },
    ],
    [
      "so does one about warnings, with read-your-writes pending and under consistency primary",
      { ...read, asks: "warnings" },
      { ...free, hasUnreplicatedWrite: true, consistency: "primary" },
      { target: "previous", reason: "previous", anyBackend: true, asks: "warnings" },
    ],
    [
      "a write about the previous statement goes where that ran only on the primary",
      { ...write, asks: "warnings" },
      free,
      { target: "previous", reason: "previous", anyBackend: false, asks: "warnings" },
    ],
    [
      "a read of LAST_INSERT_ID() goes to the primary, whose connection most likely holds it",
      { ...read, readsLastInsertId: true },
      free,
      { target: "primary", reason: "needs_primary" },
    ],
    [
      "inside a READ ONLY transaction on a replica it stays there (the value is synced)",
      { ...read, readsLastInsertId: true },
      { ...free, pinned: "replica" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "a pinned session asks its pinned connection",
      { ...read, asks: "statement" },
      { ...free, pinned: "replica" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "a primary hint wins over the previous statement's connection",
      { ...read, asks: "warnings", hint: { route: "primary" } },
      free,
      { target: "primary", reason: "hint" },
    ],
  ];
  test.each(cases)("%s", (_name, stmt, session, expected) => {
    expect(route(stmt, session)).toEqual(expected);
  });
});

describe("routeCommand", () => {
  test("a command that is no statement goes to the pinned connection, else the primary", () => {
    expect(routeCommand(free)).toEqual({ target: "primary", reason: "session" });
    expect(routeCommand({ ...free, pinned: "primary" })).toEqual({ target: "pinned", reason: "pinned" });
    expect(routeCommand({ ...free, pinned: "replica" })).toEqual({ target: "pinned", reason: "pinned" });
  });
});

describe("replicaMaySend: the send-time guard", () => {
  const cases: [string, RouteStatement | null, boolean, boolean][] = [
    ["a read", read, false, true],
    ["a write", write, false, false],
    ["a session statement outside a transaction", { ...read, kind: "session" }, false, false],
    ["a command that is no statement (PING, PREPARE, FETCH)", null, false, true],
    ["COMMIT inside a READ ONLY transaction there", { ...write, readOnlyTxnSafe: true }, true, true],
    ["a write inside a READ ONLY transaction there", write, true, false],
  ];
  test.each(cases)("%s", (_name, stmt, inTxn, expected) => {
    expect(replicaMaySend(stmt, inTxn)).toBe(expected);
  });
});

// What a statement asks of earlier ones on its connection (src/proxy/session/previous-statement.ts).
describe("routeStatement: asks", () => {
  const cases: [string, string | null, string][] = [
    ["SELECT ROW_COUNT()", "statement", "read"],
    ["SELECT FOUND_ROWS()", "rows", "read"],
    ["SELECT ROW_COUNT(), FOUND_ROWS()", "statement", "read"],
    ["SHOW WARNINGS", "warnings", "read"],
    ["SHOW ERRORS LIMIT 1", "warnings", "read"],
    ["SELECT @@warning_count, @@error_count", "warnings", "read"],
    ["GET DIAGNOSTICS @n = NUMBER", "warnings", "write"],
    ["INSERT INTO t SELECT ROW_COUNT()", "statement", "write"],
    ["SELECT 1", null, "read"],
  ];
  test.each(cases)("%s asks about %s (a %s)", (sql, asks, kind) => {
    const r = routeStatement(Buffer.from(`\x03${sql}`, "latin1"), 1);
    expect({ asks: r.route.asks, kind: r.route.kind }).toEqual({ asks, kind });
  });
});
