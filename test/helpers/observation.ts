import type { BackendObservation } from "../../src/monitor/types.js";

/** A monitor observation of a healthy replica (0 lag by heartbeat, both threads running), changed by `over`. */
export function observation(over: Partial<BackendObservation> = {}): BackendObservation {
  return {
    name: "r1",
    role: "replica",
    up: true,
    readOnly: true,
    replicating: true,
    lagMs: 0,
    lagSource: "heartbeat",
    ioState: "Yes",
    sqlRunning: true,
    gtidIoPos: null,
    source: null,
    gtidSlavePos: null,
    gtidCurrentPos: null,
    gtidBinlogPos: null,
    maxPreparedStmtCount: 16382,
    maxAllowedPacket: null,
    globals: null,
    lastError: null,
    checkedAt: 1,
    checkDurationMs: 1,
    ...over,
  };
}
