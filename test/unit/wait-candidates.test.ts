import { describe, expect, test } from "vitest";
import { parseGtidPos } from "../../src/monitor/gtid.js";
import { gtidWaitSql } from "../../src/proxy/consistency/gtid-wait.js";
import {
  missingTransactions,
  type WaitView,
  waitCandidates,
} from "../../src/proxy/consistency/wait-candidates.js";

// Which replica a read waits on (MASTER_GTID_WAIT) when the monitor's positions do not show the
// write it must see anywhere yet.

const POLICY = { waitMs: 50, lagResolutionMs: 250 };
const view = (
  name: string,
  gtid: string | null,
  lagMs: number | null,
  extra: Partial<WaitView> = {},
): WaitView => ({
  name,
  gtidSlavePos: gtid,
  lagMs,
  checkedAt: 1000,
  waitFailedAt: null,
  ...extra,
});

describe("waitCandidates", () => {
  test.each([
    ["the most advanced replica", "0-1-105", [view("r1", "0-1-104", 3), view("r2", "0-1-100", 3)], ["r1"]],
    [
      "ties are left to the balancer",
      "0-1-105",
      [view("r1", "0-1-104", 3), view("r2", "0-1-104", 120)],
      ["r1", "r2"],
    ],
    [
      "a caught-up replica's heartbeat lag reads up to one period: still a candidate",
      "0-1-105",
      [view("r1", "0-1-104", 240)],
      ["r1"],
    ],
    [
      "lag beyond what the wait can cover (MASTER_DELAY=2): none",
      "0-1-105",
      [view("r1", "0-1-104", 2100), view("r2", "0-1-104", 301)],
      [],
    ],
    ["unknown lag (replication stopped, down): none", "0-1-105", [view("r1", "0-1-104", null)], []],
    ["unknown position: none", "0-1-105", [view("r1", null, 3)], []],
    [
      "a wait that failed after the last check: skipped until the next check",
      "0-1-105",
      [view("r1", "0-1-104", 3, { waitFailedAt: 1500 }), view("r2", "0-1-90", 3)],
      ["r2"],
    ],
    [
      "a wait that failed before the last check: a candidate again",
      "0-1-105",
      [view("r1", "0-1-104", 3, { waitFailedAt: 900 }), view("r2", "0-1-90", 3)],
      ["r1"],
    ],
    [
      "every domain counts",
      "0-1-105,1-2-50",
      [view("r1", "0-1-105,1-2-40", 3), view("r2", "0-1-100,1-2-49", 3)],
      ["r2"],
    ],
    [
      "a domain the replica never saw counts whole",
      "0-1-105,1-2-5",
      [view("r1", "0-1-105", 3), view("r2", "0-1-99,1-2-5", 3)],
      ["r1"],
    ],
  ])("%s", (_name, want, views, names) => {
    expect(waitCandidates(parseGtidPos(want)!, views, POLICY)).toEqual(names);
  });

  test("missingTransactions: 0 when covered", () => {
    expect(missingTransactions(parseGtidPos("0-1-9,1-1-1")!, parseGtidPos("0-1-9")!)).toBe(0n);
    expect(missingTransactions(parseGtidPos("0-1-7")!, parseGtidPos("0-1-9,1-1-2")!)).toBe(4n);
  });
});

describe("gtidWaitSql", () => {
  test("one row when caught up, none on timeout: the answer is in the row count", () => {
    expect(gtidWaitSql("0-1-5,1-2-7", 50)).toBe(
      "SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT('0-1-5,1-2-7', 0.050) = 0",
    );
  });

  test.each(["", "0-1", "0-1-5'); DROP TABLE t; --", "0-1-5,", "a-b-c"])("%j is refused", (gtid) => {
    expect(gtidWaitSql(gtid, 50)).toBeNull();
  });
});
