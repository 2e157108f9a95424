import { describe, expect, test } from "vitest";
import { decideKill, type KillTargetInfo } from "../../src/proxy/commands/kill-policy.js";
import type { KillStatement } from "../../src/routing/kill-statement.js";

const thread = (scope: "connection" | "query", id: number): KillStatement => ({
  kind: "thread",
  scope,
  id,
  idText: String(id),
});

const issuer = { id: 10, user: "app" };
const own = (id: number): KillTargetInfo => ({ id, user: "app" });

type Case = [name: string, stmt: KillStatement, target: KillTargetInfo | null, expected: string];

// expected: "kill <scope> <id>", "self <scope>", or "errno"
const cases: Case[] = [
  ["own session, KILL QUERY", thread("query", 11), own(11), "kill query 11"],
  ["own session, KILL CONNECTION", thread("connection", 11), own(11), "kill connection 11"],
  ["itself, KILL QUERY", thread("query", 10), own(10), "self query"],
  ["itself, KILL", thread("connection", 10), own(10), "self connection"],
  ["no such session", thread("connection", 999999), null, "1094"],
  ["no such session, QUERY", thread("query", 999999), null, "1094"],
  ["registry answered another id", thread("query", 12), own(11), "1094"],
  ["another user's session", thread("query", 11), { id: 11, user: "other" }, "1095"],
  ["another user's session, CONNECTION", thread("connection", 11), { id: 11, user: "other" }, "1095"],
  ["a session still logging in", thread("connection", 11), { id: 11, user: null }, "1095"],
  ["user names compare exactly", thread("query", 11), { id: 11, user: "APP" }, "1095"],
  ["KILL USER", { kind: "user" }, null, "1235"],
  ["KILL QUERY ID", { kind: "query-id" }, null, "1235"],
  ["KILL <expression>", { kind: "expression" }, null, "1235"],
  ["KILL in a multi-statement", { kind: "multi" }, own(11), "1235"],
  ["KILL without an id", { kind: "syntax" }, null, "1064"],
];

describe("decideKill", () => {
  test.each(cases)("%s", (_name, stmt, target, expected) => {
    const d = decideKill(stmt, issuer, target);
    const got =
      d.action === "refuse"
        ? String(d.error.errno)
        : d.self
          ? `self ${d.scope}`
          : `kill ${d.scope} ${d.targetId}`;
    expect(got).toBe(expected);
  });

  test("refusals carry the server's SQLSTATE and say what to do", () => {
    const unknown = decideKill(thread("query", 77), issuer, null);
    expect(unknown).toMatchObject({ error: { errno: 1094, sqlState: "HY000" } });
    if (unknown.action === "refuse") {
      expect(unknown.error.message).toMatch(/^Unknown thread id: 77\b/);
      expect(unknown.error.message).toMatch(/handshake/);
      expect(unknown.error.message).toMatch(/CONNECTION_ID\(\)/);
    }
    const denied = decideKill(thread("query", 11), issuer, { id: 11, user: "other" });
    expect(denied).toMatchObject({ error: { errno: 1095, sqlState: "HY000" } });
    if (denied.action === "refuse") expect(denied.error.message).toMatch(/^You are not owner of thread 11\b/);
    for (const kind of ["user", "query-id", "expression", "multi"] as const) {
      const d = decideKill({ kind }, issuer, null);
      expect(d).toMatchObject({ error: { errno: 1235, sqlState: "42000" } });
      if (d.action === "refuse") expect(d.error.message).toMatch(/: .*(use|give|send|kill each)/i);
    }
  });
});
