import { describe, expect, test } from "vitest";
import {
  INITIAL_LAG_STATE,
  type LagState,
  LagTracker,
  nextLagState,
  toReplicaObservation,
} from "../../src/balancer/lag-state.js";
import type { BackendObservation } from "../../src/monitor/types.js";
import { observation } from "../helpers/observation.js";

// The lag policy's memory (src/balancer/lag-state.ts): what the balancer takes a replica's lag to
// be while its IO thread has lost its source. The worked examples of the file comment, as tables.

function obs(over: Partial<BackendObservation>): BackendObservation {
  return observation({ lagMs: 40, checkedAt: 7, ...over });
}

const lostPrimary = obs({ ioState: "Connecting", replicating: false, lagMs: null, lagSource: null });

const state = (lastLagMs: number | null, ioLostSince: number | null = null): LagState => ({
  ...INITIAL_LAG_STATE,
  lastLagMs,
  ioLostSince,
});

describe("one check: what the balancer sees", () => {
  test.each([
    ["healthy replica", obs({}), false, state(null), { replicating: true, lagMs: 40 }],
    [
      "IO thread lost a live primary at this check: keeps serving at its last lag",
      lostPrimary,
      false,
      state(40),
      { replicating: true, lagMs: 40 },
    ],
    [
      "IO thread lost a live primary 2 s ago: last lag + 2 s, the most it can be behind",
      obs({ ...lostPrimary, checkedAt: 2007 }),
      false,
      state(40, 7),
      { replicating: true, lagMs: 2040 },
    ],
    [
      "IO thread stopped (STOP SLAVE IO_THREAD, not retrying): not replicating, lag unknown",
      obs({ ...lostPrimary, ioState: "No" }),
      false,
      state(40),
      { replicating: false, lagMs: null },
    ],
    [
      "IO thread lost a live primary, lag unknown before: stays unknown",
      lostPrimary,
      false,
      state(null),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, IO lost, SQL running: keeps serving at its last lag, frozen",
      obs({ ...lostPrimary, checkedAt: 5007 }),
      true,
      state(40, 7),
      { replicating: true, lagMs: 40 },
    ],
    [
      "primary down, IO stopped (a failover's repoint), SQL running: still at its last lag",
      obs({ ...lostPrimary, ioState: "No" }),
      true,
      state(40),
      { replicating: true, lagMs: 40 },
    ],
    [
      "primary down but the lag before was unknown: stays unknown",
      lostPrimary,
      true,
      state(null),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, SQL thread stopped: not serving",
      obs({ ...lostPrimary, sqlRunning: false }),
      true,
      state(40),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, replica down too",
      obs({ ...lostPrimary, up: false }),
      true,
      state(40),
      { up: false, replicating: false },
    ],
    [
      "primary down, a lag measured now is not remembered (nor needed: it replicates)",
      obs({ lagMs: 90 }),
      true,
      state(40),
      { replicating: true, lagMs: 90 },
    ],
  ] as const)("%s", (_name, o, primaryDown, prev, want) => {
    expect(toReplicaObservation(o, nextLagState(prev, o, primaryDown))).toMatchObject(want);
  });
});

type Row = [
  t: number,
  primaryUp: boolean,
  io: string,
  sql: boolean,
  lag: number | null,
  want: LagState,
  /** Its effective lag is known and within lag.max = 3000 ms. */
  withinMax: boolean,
];

/** Feeds the rows in order to one replica and checks the state after each. */
function timeline(rows: Row[]) {
  let s = INITIAL_LAG_STATE;
  for (const [t, primaryUp, io, sql, lag, want, withinMax] of rows) {
    const o = obs({
      checkedAt: t,
      ioState: io,
      sqlRunning: sql,
      lagMs: lag,
      replicating: io === "Yes" && sql,
    });
    s = nextLagState(s, o, !primaryUp);
    expect(s, `t=${t}`).toEqual(want);
    expect(s.effectiveLagMs !== null && s.effectiveLagMs <= 3000, `t=${t}`).toBe(withinMax);
  }
}

const lag = (
  lastLagMs: number | null,
  ioLostSince: number | null,
  orphaned: boolean,
  effectiveLagMs: number | null,
) => ({
  lastLagMs,
  ioLostSince,
  orphaned,
  effectiveLagMs,
});

describe("worked examples (the file comment's tables)", () => {
  test("the replica alone loses the primary: its lag grows until lag.max excludes it", () => {
    timeline([
      [0, true, "Yes", true, 40, lag(40, null, false, 40), true],
      [500, true, "Yes", true, 60, lag(60, null, false, 60), true],
      [1000, true, "Connecting", true, null, lag(60, 1000, true, 60), true],
      [2000, true, "Connecting", true, null, lag(60, 1000, true, 1060), true],
      [4000, true, "Connecting", true, null, lag(60, 1000, true, 3060), false],
      [4500, true, "Yes", true, 80, lag(80, null, false, 80), true],
    ]);
  });

  test("the primary goes down: the lag is frozen at the last one seen", () => {
    timeline([
      [500, true, "Yes", true, 60, lag(60, null, false, 60), true],
      [1000, false, "Connecting", true, null, lag(60, 1000, true, 60), true],
      [6000, false, "Connecting", true, null, lag(60, 1000, true, 60), true],
      [6500, false, "No", true, null, lag(60, null, true, 60), true],
      [7000, false, "Connecting", false, null, lag(60, null, false, null), false],
    ]);
  });

  test("a lost run ends when the IO thread reconnects: the next loss counts from its own start", () => {
    timeline([
      [0, true, "Yes", true, 40, lag(40, null, false, 40), true],
      [1000, true, "Preparing", true, null, lag(40, 1000, true, 40), true],
      [1500, true, "Yes", true, 50, lag(50, null, false, 50), true],
      [2000, true, "Connecting", true, null, lag(50, 2000, true, 50), true],
      [2600, true, "Connecting", true, null, lag(50, 2000, true, 650), true],
    ]);
  });
});

describe("LagTracker", () => {
  test("keeps one state per replica, takes the primary's latest check, forgets on clear()", () => {
    const t = new LagTracker();
    expect(t.stateOf("r1")).toBeNull();
    t.observe("r1", obs({ name: "r1", lagMs: 40, checkedAt: 0 }), undefined);
    t.observe("r2", obs({ name: "r2", lagMs: 70, checkedAt: 0 }), { up: true });
    // No primary check yet counts as up: the lost replica's lag grows.
    expect(t.observe("r1", obs({ ...lostPrimary, checkedAt: 100 }), undefined)).toMatchObject({
      replicating: true,
      lagMs: 40,
    });
    expect(t.observe("r1", obs({ ...lostPrimary, checkedAt: 600 }), { up: true }).lagMs).toBe(540);
    // The primary's check failed: frozen.
    expect(t.observe("r1", obs({ ...lostPrimary, checkedAt: 5000 }), { up: false }).lagMs).toBe(40);
    expect(t.stateOf("r1")).toEqual(lag(40, 100, true, 40));
    expect(t.stateOf("r2")).toEqual(lag(70, null, false, 70));
    t.clear();
    expect(t.stateOf("r1")).toBeNull();
    // After a topology change nothing is remembered: a lost replica's lag is unknown.
    expect(t.observe("r1", obs({ ...lostPrimary, checkedAt: 5500 }), { up: false })).toMatchObject({
      replicating: false,
      lagMs: null,
    });
  });
});
