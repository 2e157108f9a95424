import { describe, expect, test } from "vitest";
import type { CheckResult } from "../../src/monitor/backend-check.js";
import { heartbeatLagMs, resolveLag } from "../../src/monitor/lag.js";
import { observe } from "../../src/monitor/observation.js";
import type { HeartbeatWriterState, ReplicationStatus } from "../../src/monitor/types.js";

const T0 = 1_700_000_000_000_000; // µs
const ms = (n: number) => n * 1000;

function status(over: Partial<ReplicationStatus> = {}): ReplicationStatus {
  return {
    channels: [],
    ioRunning: true,
    sqlRunning: true,
    broken: false,
    secondsBehindMaster: 0,
    lastError: null,
    ...over,
  };
}

function writer(over: Partial<HeartbeatWriterState> = {}): HeartbeatWriterState {
  return { working: true, newestTsUs: T0, periodMs: 250, lastError: null, ...over };
}

describe("heartbeatLagMs(reading, newestTsUs, periodMs)", () => {
  // Worked examples, P = 250 ms. `ts` = the replica's row, `now` = the replica's clock,
  // `newest` = the newest heartbeat the writer committed.
  test.each([
    ["caught up, read right after the write", 0, 1, 0, 1],
    ["caught up, read just before the next write", 0, 249, 0, 249],
    ["one heartbeat behind", 0, 300, 250, 300],
    ["applier stopped 2 s ago, writer healthy", 0, 2000, 1900, 2000],
    // The writer could not commit for 2 s (primary stalled): a replica holding the newest
    // heartbeat is not blamed for the writer's delay: at most one period.
    ["writer stalled, replica caught up", 0, 2000, 0, 250],
    // ... but one that was 500 ms behind when the writer stalled stays 500 ms (+P) behind.
    ["writer stalled, replica 500 ms behind", 0, 2500, 500, 750],
    // Replica clock 5 ms behind the primary's: never negative.
    ["replica clock behind", 0, -5, 0, 0],
    // A second writer (another rwsplit) wrote something newer than ours.
    ["newer row than our newest write", 100, 150, 0, 50],
  ])("%s", (_name, tsMs, nowMs, newestMs, expected) => {
    const lag = heartbeatLagMs({ tsUs: T0 + ms(tsMs), replicaNowUs: T0 + ms(nowMs) }, T0 + ms(newestMs), 250);
    expect(lag).toBe(expected);
  });

  test("microsecond resolution", () => {
    expect(heartbeatLagMs({ tsUs: T0, replicaNowUs: T0 + 1234 }, T0, 250)).toBe(1.234);
  });
});

describe("resolveLag", () => {
  const fresh = { tsUs: T0, replicaNowUs: T0 + ms(40) };
  const stale = { tsUs: T0, replicaNowUs: T0 + ms(2000) };
  const newest = writer({ newestTsUs: T0 + ms(1900) });
  test.each([
    ["heartbeat when both threads run", status(), fresh, writer(), 40, "heartbeat"],
    [
      "SQL thread stopped without error: heartbeat keeps growing",
      status({ sqlRunning: false, secondsBehindMaster: null }),
      stale,
      newest,
      2000,
      "heartbeat",
    ],
    [
      "STOP SLAVE: unknown even with a heartbeat",
      status({ ioRunning: false, sqlRunning: false, secondsBehindMaster: null }),
      fresh,
      writer(),
      null,
      null,
    ],
    [
      "IO thread reconnecting to a lost primary: unknown",
      status({ ioRunning: false, broken: true, secondsBehindMaster: null }),
      fresh,
      writer(),
      null,
      null,
    ],
    [
      "SQL thread stopped by an error: unknown",
      status({ sqlRunning: false, broken: true, secondsBehindMaster: null }),
      stale,
      newest,
      null,
      null,
    ],
    ["not a replica", null, fresh, writer(), null, null],
    [
      "no heartbeat row: Seconds_Behind_Master",
      status({ secondsBehindMaster: 3 }),
      null,
      writer(),
      3000,
      "seconds_behind_master",
    ],
    [
      "writer not working: Seconds_Behind_Master",
      status({ secondsBehindMaster: 0 }),
      fresh,
      writer({ working: false }),
      0,
      "seconds_behind_master",
    ],
    [
      "heartbeat disabled: Seconds_Behind_Master",
      status({ secondsBehindMaster: 1 }),
      null,
      null,
      1000,
      "seconds_behind_master",
    ],
    [
      "no heartbeat, SQL thread stopped: unknown, never 0",
      status({ sqlRunning: false, secondsBehindMaster: null }),
      null,
      writer({ working: false }),
      null,
      null,
    ],
    [
      "no heartbeat, Seconds_Behind_Master NULL: unknown",
      status({ secondsBehindMaster: null }),
      null,
      null,
      null,
      null,
    ],
  ] as const)("%s", (_name, replication, heartbeat, w, lagMs, lagSource) => {
    expect(resolveLag({ replication, heartbeat, writer: w })).toEqual({ lagMs, lagSource });
  });
});

describe("observe", () => {
  const vars = {
    readOnly: true,
    gtidSlavePos: "0-1-5",
    gtidCurrentPos: "0-1-5",
    gtidBinlogPos: "0-1-5",
    maxPreparedStmtCount: 16382,
    maxAllowedPacket: 16777216,
  };
  const result = (over: Partial<CheckResult> = {}): CheckResult => ({
    variables: vars,
    replication: status(),
    replicationError: null,
    heartbeat: { tsUs: T0, replicaNowUs: T0 + ms(12) },
    globals: null,
    heartbeatError: null,
    ...over,
  });
  const base = {
    name: "r1",
    role: "replica" as const,
    error: null,
    writer: writer(),
    checkedAt: 5,
    checkDurationMs: 2,
  };

  test("a healthy replica", () => {
    expect(observe({ ...base, result: result() })).toEqual({
      name: "r1",
      role: "replica",
      up: true,
      readOnly: true,
      replicating: true,
      lagMs: 12,
      lagSource: "heartbeat",
      ioState: "Yes",
      sqlRunning: true,
      gtidIoPos: null,
      source: null,
      gtidSlavePos: "0-1-5",
      gtidCurrentPos: "0-1-5",
      gtidBinlogPos: "0-1-5",
      maxPreparedStmtCount: 16382,
      maxAllowedPacket: 16777216,
      globals: null,
      lastError: null,
      checkedAt: 5,
      checkDurationMs: 2,
    });
  });

  test("a failed check: down, everything unknown", () => {
    const o = observe({ ...base, result: null, error: "connect ECONNREFUSED 127.0.0.1:1" });
    expect(o).toMatchObject({ up: false, readOnly: null, replicating: null, lagMs: null, lagSource: null });
    expect(o.lastError).toBe("connect ECONNREFUSED 127.0.0.1:1");
  });

  test("a replica without replication configured is not replicating, lag unknown", () => {
    const o = observe({ ...base, result: result({ replication: null }) });
    expect(o).toMatchObject({ up: true, replicating: false, lagMs: null, lagSource: null });
    expect(o.lastError).toMatch(/not a replica/);
  });

  test("an unreadable status (missing privilege) is said so", () => {
    const o = observe({ ...base, result: result({ replication: null, replicationError: "Access denied" }) });
    expect(o).toMatchObject({ replicating: false, lagMs: null });
    expect(o.lastError).toMatch(/Access denied/);
  });

  test("the primary: no lag, replicating null, the writer's failure surfaces", () => {
    const o = observe({
      ...base,
      role: "primary",
      result: result({ replication: null, heartbeat: null }),
      writer: writer({ working: false, lastError: "INSERT command denied" }),
    });
    expect(o).toMatchObject({ role: "primary", up: true, replicating: null, lagMs: null, lagSource: null });
    expect(o.lastError).toBe("heartbeat writer: INSERT command denied");
  });
});
