import { describe, expect, test } from "vitest";
import {
  type RouteSession,
  type RouteStatement,
  replicaMaySend,
  route,
  routeCommand,
} from "../../src/routing/router.js";

const read: RouteStatement = {
  kind: "read",
  beginReadOnly: false,
  beginsTransaction: false,
  needsPrimary: false,
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
      "a read that needs the primary",
      { ...read, needsPrimary: true },
      free,
      { target: "primary", reason: "needs_primary" },
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
