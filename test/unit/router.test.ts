import { describe, expect, test } from "vitest";
import { type RouteSession, type RouteStatement, route } from "../../src/routing/router.js";

const read: RouteStatement = {
  kind: "read",
  beginReadOnly: false,
  beginsTransaction: false,
  needsPrimary: false,
  hint: null,
};
const write: RouteStatement = { ...read, kind: "write" };
const free: RouteSession = {
  pinned: null,
  pinReason: null,
  consistency: "session",
  hasUnreplicatedWrite: false,
};

describe("route", () => {
  const cases: [string, RouteStatement, RouteSession, unknown][] = [
    [
      "a read goes to a replica",
      read,
      free,
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: false },
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
      { ...free, pinned: "primary", pinReason: "transaction" },
      { target: "pinned", reason: "pinned" },
    ],
    [
      "a pinned session stays pinned, even with a replica hint",
      { ...read, hint: { route: "replica" } },
      { ...free, pinned: "primary", pinReason: "temp_tables" },
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
      { target: "replica", reason: "read_only_transaction", maxLagMs: null, requireCaughtUp: false },
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
      { target: "replica", reason: "hint", maxLagMs: null, requireCaughtUp: false },
    ],
    [
      "a max_lag hint is passed on",
      { ...read, hint: { maxLagMs: 500 } },
      free,
      { target: "replica", reason: "hint", maxLagMs: 500, requireCaughtUp: false },
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
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: true },
    ],
    [
      "consistency=eventual after a write takes any replica",
      read,
      { ...free, consistency: "eventual", hasUnreplicatedWrite: true },
      { target: "replica", reason: "read", maxLagMs: null, requireCaughtUp: false },
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
