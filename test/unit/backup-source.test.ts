import { describe, expect, test } from "vitest";
import { chooseSource, type SourceCandidate, transactionsBehind } from "../../src/backup/source-select.js";

const node = (name: string, over: Partial<SourceCandidate> = {}): SourceCandidate => ({
  name,
  role: "replica",
  reachable: true,
  error: null,
  readOnly: true,
  ioRunning: "Yes",
  sqlRunning: true,
  lastSqlError: null,
  lastIoError: null,
  gtid: "0-1-100",
  ...over,
});
const primary = (over: Partial<SourceCandidate> = {}) =>
  node("primary", {
    role: "primary",
    readOnly: false,
    ioRunning: null,
    sqlRunning: null,
    gtid: "0-1-100",
    ...over,
  });

describe("transactionsBehind", () => {
  test.each([
    ["0-1-100", "0-1-100", 0],
    ["0-1-100", "0-1-90", 10],
    ["0-1-100,1-2-50", "0-1-90,1-2-45", 15],
    ["0-1-100,1-2-50", "0-1-100", 50],
    ["0-1-100", "0-1-120", 0],
    ["0-1-100", null, null],
    ["garbage", "0-1-1", null],
  ])("primary %s, replica %s: %s behind", (p, r, want) => {
    expect(transactionsBehind(p, r)).toBe(want);
  });
});

describe("chooseSource", () => {
  const cases: {
    name: string;
    nodes: SourceCandidate[];
    allowPrimary?: boolean;
    source: string | null;
    why?: RegExp;
  }[] = [
    {
      name: "the least-behind replica",
      nodes: [primary(), node("r1", { gtid: "0-1-90" }), node("r2", { gtid: "0-1-99" })],
      source: "r2",
    },
    { name: "ties go to config order", nodes: [primary(), node("r1"), node("r2")], source: "r1" },
    {
      name: "ties on GTID broken by the monitor's lag",
      nodes: [primary(), node("r1", { lagMs: 800 }), node("r2", { lagMs: 20 })],
      source: "r2",
    },
    {
      name: "an unreachable replica is skipped",
      nodes: [primary(), node("r1", { reachable: false, error: "refused" }), node("r2", { gtid: "0-1-10" })],
      source: "r2",
    },
    {
      name: "a SQL error is skipped",
      nodes: [
        primary(),
        node("r1", { sqlRunning: false, lastSqlError: "1062 dup" }),
        node("r2", { gtid: "0-1-1" }),
      ],
      source: "r2",
    },
    {
      name: "an IO thread not connected is skipped",
      nodes: [primary(), node("r1", { ioRunning: "Connecting" }), node("r2", { gtid: "0-1-1" })],
      source: "r2",
    },
    {
      name: "a writable replica is skipped",
      nodes: [primary(), node("r1", { readOnly: false }), node("r2", { gtid: "0-1-1" })],
      source: "r2",
    },
    {
      name: "a SQL thread stopped without error (a killed backup) qualifies",
      nodes: [primary(), node("r1", { sqlRunning: false })],
      source: "r1",
      why: /stopped/,
    },
    {
      name: "fenced nodes never",
      nodes: [primary(), node("old", { role: "fenced" })],
      source: null,
      why: /allow_primary/,
    },
    {
      name: "no healthy replica: not the primary by default",
      nodes: [primary(), node("r1", { reachable: false })],
      source: null,
      why: /allow_primary/,
    },
    {
      name: "no healthy replica: the primary when allowed",
      nodes: [primary(), node("r1", { reachable: false })],
      allowPrimary: true,
      source: "primary",
    },
    {
      name: "no replicas configured, primary allowed",
      nodes: [primary()],
      allowPrimary: true,
      source: "primary",
      why: /no replica is configured/,
    },
    {
      name: "primary allowed but unreachable",
      nodes: [primary({ reachable: false, error: "down" })],
      allowPrimary: true,
      source: null,
      why: /unreachable/,
    },
  ];
  test.each(cases)("$name", ({ nodes, allowPrimary, source, why }) => {
    const c = chooseSource(nodes, { allowPrimary: allowPrimary ?? false });
    expect(c.ok ? c.source : null).toBe(source);
    if (why) expect(c.why).toMatch(why);
  });

  test("every replica not chosen is named with the reason", () => {
    const c = chooseSource(
      [
        primary(),
        node("r1", { reachable: false, error: "refused" }),
        node("r2", { gtid: "0-1-50" }),
        node("r3"),
      ],
      {
        allowPrimary: false,
      },
    );
    expect(c.ok && c.source).toBe("r3");
    expect(c.rejected).toEqual([
      { name: "r1", why: "unreachable: refused" },
      { name: "r2", why: "further behind than r3 (50 vs 0 transactions)" },
    ]);
  });
});
