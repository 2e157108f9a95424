import { describe, expect, test } from "vitest";
import type { BackendObservation } from "../../src/monitor/types.js";
import { toReplicaObservation } from "../../src/proxy/balanced-picker.js";

function obs(over: Partial<BackendObservation>): BackendObservation {
  return {
    name: "r1",
    role: "replica",
    up: true,
    readOnly: true,
    replicating: true,
    lagMs: 40,
    lagSource: "heartbeat",
    ioState: "Yes",
    sqlRunning: true,
    gtidIoPos: null,
    source: null,
    gtidSlavePos: null,
    gtidCurrentPos: null,
    gtidBinlogPos: null,
    lastError: null,
    checkedAt: 7,
    checkDurationMs: 1,
    ...over,
  };
}

const lostPrimary = obs({ ioState: "Connecting", replicating: false, lagMs: null, lagSource: null });

describe("toReplicaObservation: what the balancer sees", () => {
  test.each([
    ["healthy replica", obs({}), false, null, { replicating: true, lagMs: 40 }],
    [
      "IO thread lost a live primary: not replicating, lag unknown",
      lostPrimary,
      false,
      40,
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, IO lost, SQL running: keeps serving at its last lag",
      lostPrimary,
      true,
      40,
      { replicating: true, lagMs: 40 },
    ],
    [
      "primary down but the lag before was unknown: stays unknown",
      lostPrimary,
      true,
      null,
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, SQL thread stopped: not serving",
      obs({ ...lostPrimary, sqlRunning: false }),
      true,
      40,
      { replicating: false, lagMs: null },
    ],
    [
      "primary down, replica down too",
      obs({ ...lostPrimary, up: false }),
      true,
      40,
      { up: false, replicating: false },
    ],
  ] as const)("%s", (_name, o, primaryDown, lastLag, want) => {
    expect(toReplicaObservation(o, primaryDown, lastLag)).toMatchObject(want);
  });
});
