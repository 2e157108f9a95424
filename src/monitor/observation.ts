import type { CheckResult } from "./backend-check.js";
import { resolveLag } from "./lag.js";
import type { BackendObservation, BackendRole, HeartbeatWriterState } from "./types.js";

/** Turns one check's outcome into the observation the rest of rwsplit sees. Pure. */

export interface ObserveInput {
  name: string;
  role: BackendRole;
  /** Null when the check failed (connect, ping, a query, or the timeout). */
  result: CheckResult | null;
  /** Why the check failed. */
  error: string | null;
  /** The heartbeat writer's state; null when the heartbeat is disabled. */
  writer: HeartbeatWriterState | null;
  checkedAt: number;
  checkDurationMs: number;
}

/** The observation of a backend nobody has checked yet, or that failed its check. */
export function downObservation(
  name: string,
  role: BackendRole,
  error: string,
  checkedAt = 0,
  checkDurationMs = 0,
): BackendObservation {
  return {
    name,
    role,
    up: false,
    readOnly: null,
    replicating: null,
    lagMs: null,
    lagSource: null,
    ioState: null,
    sqlRunning: null,
    gtidIoPos: null,
    source: null,
    gtidSlavePos: null,
    gtidCurrentPos: null,
    gtidBinlogPos: null,
    maxPreparedStmtCount: null,
    maxAllowedPacket: null,
    globals: null,
    lastError: error,
    checkedAt,
    checkDurationMs,
  };
}

export function observe(i: ObserveInput): BackendObservation {
  const { result, role } = i;
  if (!result) {
    return downObservation(i.name, role, i.error ?? "check failed", i.checkedAt, i.checkDurationMs);
  }
  const r = result.replication;
  const isReplica = role === "replica";
  const lag = isReplica
    ? resolveLag({ replication: r, heartbeat: result.heartbeat, writer: i.writer })
    : { lagMs: null, lagSource: null };
  const lastError =
    r?.lastError ??
    (result.replicationError ? `replication status unreadable: ${result.replicationError}` : null) ??
    (isReplica && !r ? "not a replica: SHOW SLAVE STATUS is empty" : null) ??
    (role === "primary" && i.writer && !i.writer.working && i.writer.lastError
      ? `heartbeat writer: ${i.writer.lastError}`
      : null);
  return {
    name: i.name,
    role,
    up: true,
    readOnly: result.variables.readOnly,
    // A replica with no (readable) replication status is not replicating; a primary replicating
    // from nobody has nothing to report.
    replicating: r ? r.ioRunning && r.sqlRunning : isReplica ? false : null,
    lagMs: lag.lagMs,
    lagSource: lag.lagSource,
    ioState: r ? (worstIoState(r.channels.map((c) => c.ioRunning)) ?? (r.ioRunning ? "Yes" : "No")) : null,
    sqlRunning: r ? r.sqlRunning : null,
    gtidIoPos: r?.channels[0]?.gtidIoPos ?? null,
    source:
      r?.channels[0]?.masterHost && r.channels[0].masterPort !== null
        ? { host: r.channels[0].masterHost, port: r.channels[0].masterPort }
        : null,
    gtidSlavePos: result.variables.gtidSlavePos,
    gtidCurrentPos: result.variables.gtidCurrentPos,
    gtidBinlogPos: result.variables.gtidBinlogPos,
    maxPreparedStmtCount: result.variables.maxPreparedStmtCount,
    maxAllowedPacket: result.variables.maxAllowedPacket,
    globals: result.globals,
    lastError,
    checkedAt: i.checkedAt,
    checkDurationMs: i.checkDurationMs,
  };
}

/** "No" beats "Connecting"/"Preparing" beats "Yes": one stopped channel makes the server not replicating. */
function worstIoState(states: string[]): string | null {
  if (states.length === 0) return null;
  if (states.includes("No")) return "No";
  return states.find((x) => x !== "Yes") ?? "Yes";
}
