import { describe, expect, test } from "vitest";
import type { BackendObservation } from "../../src/monitor/types.js";
import { toReplicaObservation } from "../../src/proxy/balanced-picker.js";
import { observation } from "../helpers/observation.js";

function obs(over: Partial<BackendObservation>): BackendObservation {
  return observation({ lagMs: 40, checkedAt: 7, ...over });
}

const lostPrimary = obs({ ioState: "Connecting", replicating: false, lagMs: null, lagSource: null });

const ctx = (primaryDown: boolean, lastLagMs: number | null, ioLostAt: number | null = null) => ({
  primaryDown,
  lastLagMs,
  ioLostAt,
});

describe("toReplicaObservation: what the balancer sees", () => {
  test.each([
    ["healthy replica", obs({}), ctx(false, null), { replicating: true, lagMs: 40 }],
    [
      "IO thread lost a live primary at this check: keeps serving at its last lag",
      lostPrimary,
      ctx(false, 40, 7),
      { replicating: true, lagMs: 40 },
    ],
    [
      "IO thread lost a live primary 2 s ago: last lag + 2 s, the most it can be behind",
      obs({ ...lostPrimary, checkedAt: 2007 }),
      ctx(false, 40, 7),
      { replicating: true, lagMs: 2040 },
    ],
    [
      "IO thread stopped (STOP SLAVE IO_THREAD, not retrying): not replicating, lag unknown",
      obs({ ...lostPrimary, ioState: "No" }),
      ctx(false, 40, null),
      { replicating: false, lagMs: null },
    ],
    [
      "IO thread lost a live primary, lag unknown before: stays unknown",
      lostPrimary,
      ctx(false, null, 7),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, IO lost, SQL running: keeps serving at its last lag, frozen",
      obs({ ...lostPrimary, checkedAt: 5007 }),
      ctx(true, 40, 7),
      { replicating: true, lagMs: 40 },
    ],
    [
      "primary down but the lag before was unknown: stays unknown",
      lostPrimary,
      ctx(true, null),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, SQL thread stopped: not serving",
      obs({ ...lostPrimary, sqlRunning: false }),
      ctx(true, 40),
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, replica down too",
      obs({ ...lostPrimary, up: false }),
      ctx(true, 40),
      { up: false, replicating: false },
    ],
  ] as const)("%s", (_name, o, c, want) => {
    expect(toReplicaObservation(o, c)).toMatchObject(want);
  });
});
