import type { HeartbeatReading, HeartbeatWriterState, LagSource, ReplicationStatus } from "./types.js";

/**
 * A replica's lag, from what one check saw. Pure.
 *
 * What the heartbeat measures. The writer stamps row 1 with the primary's NOW(6) every period P;
 * replication carries the row, in commit order, with everything else. If a replica holds ts = R
 * at its time t, it has applied every transaction the primary committed before R, so
 * `measured = t - R` (TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) on the replica) is an upper bound
 * on its staleness: any write older than `measured` is visible there. The bound is loose by at
 * most the age the heartbeat already had when the replica applied it, i.e. by up to P plus
 * replication latency when all is well: a replica that is fully caught up reads 0..P. This
 * resolution is the price of a cheap writer; P = 250 ms keeps it under typical thresholds.
 *
 * Compensation for a slow writer. If the newest heartbeat the writer committed (N) is itself older
 * than P (the primary was slow to commit it: semi-sync waits, a busy disk), `measured` would also
 * count the writer's delay, which is not the replica's fault: a replica holding N has everything
 * the heartbeat can show. So the part of the newest heartbeat's age beyond one period is taken off:
 *   lag = measured - max(0, (t - N) - P)
 * which leaves a caught-up replica at most P, and a replica that stopped applying at R (writer
 * still writing) growing with t, as it must.
 *
 * Clocks. `t` is the replica's clock and `R`, `N` the primary's: skew between them adds to (or
 * subtracts from) every value. The sandbox's nodes share one clock; in production run NTP/chrony
 * on every node (typical skew is well under a millisecond). A replica clock behind the primary's
 * could make `measured` negative: it is clamped to 0. Both sides use UTC sessions (time_zone
 * '+00:00'), so the servers' time zone settings do not matter.
 *
 * When the lag is unknown (null), never 0:
 * - the server replicates from nobody (no SHOW SLAVE STATUS rows);
 * - the IO thread is not connected (STOP SLAVE, "Connecting" after losing the primary): the
 *   replica no longer receives the primary's changes, so it cannot catch up and there is nothing
 *   to measure against; MaxScale MXS-2919: unknown lag must not look fresh;
 * - a thread stopped with an error (broken replication);
 * - neither source is usable (no heartbeat, and Seconds_Behind_Master is NULL).
 * A replica whose IO thread runs but whose SQL thread was stopped without error (STOP SLAVE
 * SQL_THREAD, e.g. for a backup) still receives heartbeats it does not apply: the heartbeat lag
 * grows by itself, which is exactly its staleness.
 */

export interface LagInput {
  /** The replica's replication status; null when it replicates from nobody. */
  replication: ReplicationStatus | null;
  /** The replica's heartbeat row; null when it could not be read. */
  heartbeat: HeartbeatReading | null;
  /** The writer's state; null when the heartbeat is disabled. */
  writer: HeartbeatWriterState | null;
}

export interface LagResult {
  lagMs: number | null;
  lagSource: LagSource | null;
}

const UNKNOWN: LagResult = { lagMs: null, lagSource: null };

/** The compensated heartbeat lag in ms (see the file comment); exported for the table tests. */
export function heartbeatLagMs(
  reading: HeartbeatReading,
  newestTsUs: number | null,
  periodMs: number,
): number {
  const measuredUs = reading.replicaNowUs - reading.tsUs;
  // Another writer (a second rwsplit) may have written something newer than ours.
  const newestUs = Math.max(newestTsUs ?? reading.tsUs, reading.tsUs);
  const writerDelayUs = Math.max(0, reading.replicaNowUs - newestUs - periodMs * 1000);
  return Math.max(0, measuredUs - writerDelayUs) / 1000;
}

export function resolveLag(input: LagInput): LagResult {
  const r = input.replication;
  if (!r?.ioRunning || r.broken) return UNKNOWN;
  const w = input.writer;
  if (input.heartbeat && w?.working) {
    return { lagMs: heartbeatLagMs(input.heartbeat, w.newestTsUs, w.periodMs), lagSource: "heartbeat" };
  }
  if (r.sqlRunning && r.secondsBehindMaster !== null) {
    return { lagMs: r.secondsBehindMaster * 1000, lagSource: "seconds_behind_master" };
  }
  return UNKNOWN;
}
