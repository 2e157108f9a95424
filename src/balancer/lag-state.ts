import type { ReplicaObservation } from "./types.js";

/**
 * The lag policy's memory: what the balancer takes a replica's lag to be when its monitor check
 * alone cannot say, because the replica's IO thread lost its source.
 *
 * A replica whose IO thread lost its source (Slave_IO_Running "Connecting"/"Preparing": retrying)
 * while its SQL thread runs without error still holds everything it received: it keeps serving
 * reads instead of dropping out at once, at a lag that says what may be missing. The monitor
 * reports its lag as unknown then (it cannot be measured: monitor/lag.ts), so the policy
 * remembers the lag of the replica's last check while it replicated and the primary was up
 * (`lastLagMs`), and when its IO thread was first seen lost (`ioLostSince`):
 * - the primary is up (this replica alone is cut off, or the primary's own check is not in yet):
 *   the lag is `lastLagMs` + the time since the IO thread was lost, the most it can be behind by
 *   now; so it weighs less and less, and drops out past lag.max like any lagging replica;
 * - the primary is down too (a failover is coming): `lastLagMs`, frozen: nobody reachable has
 *   newer data, so reads do not stop during a failover.
 * Unknown lag before stays unknown (never treated as fresh: MaxScale MXS-2919); a stopped IO
 * thread ("No": STOP SLAVE) or SQL thread is not replicating, and the replica is not served.
 *
 * Worked example (Vitess go/vt/discovery/replicationlag.go is the model): replica r1, checked
 * every 500 ms; its link to the primary breaks at t = 1000 while the primary stays up; lag.max
 * is 3000 ms. `effective` is the lag the balancer gets.
 *
 *   t      primary  IO thread   SQL   lag    lastLagMs  ioLostSince  orphaned  effective
 *   0      up       Yes         Yes   40     40         null         no        40
 *   500    up       Yes         Yes   60     60         null         no        60
 *   1000   up       Connecting  Yes   null   60         1000         yes       60
 *   2000   up       Connecting  Yes   null   60         1000         yes       1060
 *   4000   up       Connecting  Yes   null   60         1000         yes       3060  (past lag.max: excluded)
 *   4500   up       Yes         Yes   80     80         null         no        80
 *
 * The same replica when the primary itself goes down at t = 1000 (its IO thread loses it too):
 *
 *   t      primary  IO thread   SQL   lag    lastLagMs  ioLostSince  orphaned  effective
 *   500    up       Yes         Yes   60     60         null         no        60
 *   1000   down     Connecting  Yes   null   60         1000         yes       60
 *   6000   down     Connecting  Yes   null   60         1000         yes       60    (frozen)
 * and, instead of the last row:
 *   6000   down     No          Yes   null   60         null         yes       60    (IO stopped, by a repoint: still holds all it got)
 *   6000   down     Connecting  No    null   60         null         no        null  (SQL thread stopped: not replicating)
 *
 * The memory starts empty at start and after every topology change (a new primary: the old
 * lags measured against the old one say nothing).
 */

/** What the lag policy reads of one monitor check (a `BackendObservation` has all of it). */
export interface LagInput {
  up: boolean;
  /** Slave_IO_Running and Slave_SQL_Running are both "Yes"; null when not a replica. */
  replicating: boolean | null;
  /** The worst IO thread state of the check ("Yes", "Connecting", "Preparing", "No"); null when none. */
  ioState: string | null;
  sqlRunning: boolean | null;
  /** The measured lag; null when unknown. */
  lagMs: number | null;
  readOnly: boolean | null;
  /** When the check finished (ms since the epoch). */
  checkedAt: number;
}

/** The lag policy's state of one replica, after its latest check; shown at /backends as `lagPolicy`. */
export interface LagState {
  /** The lag at its last check while it replicated and the primary was up; null if unknown. */
  lastLagMs: number | null;
  /** `checkedAt` of the first check of the current run that found its IO thread retrying; null while connected. */
  ioLostSince: number | null;
  /** Its IO thread lost its source and it serves on remembered lag (see the file comment). */
  orphaned: boolean;
  /** The lag the balancer got at the latest check; null when unknown. */
  effectiveLagMs: number | null;
}

export const INITIAL_LAG_STATE: LagState = Object.freeze({
  lastLagMs: null,
  ioLostSince: null,
  orphaned: false,
  effectiveLagMs: null,
});

/** Connecting/Preparing: the IO thread lost its source and is retrying (unlike "No": stopped). */
export function ioLost(o: LagInput): boolean {
  return o.up && o.sqlRunning === true && o.ioState !== null && o.ioState !== "Yes" && o.ioState !== "No";
}

/** The state after one check of the replica; `primaryDown`: the primary's latest check failed. Pure. */
export function nextLagState(prev: LagState, o: LagInput, primaryDown: boolean): LagState {
  const ioLostSince = !ioLost(o) ? null : (prev.ioLostSince ?? o.checkedAt);
  const lastLagMs = !primaryDown && o.lagMs !== null ? o.lagMs : prev.lastLagMs;
  // With the primary down, a stopped IO thread ("No") loses nothing more either.
  const lostSource = primaryDown ? o.up && o.sqlRunning === true && o.ioState !== "Yes" : ioLost(o);
  const orphaned = lostSource && lastLagMs !== null;
  const sinceLost = ioLostSince === null ? 0 : Math.max(0, o.checkedAt - ioLostSince);
  const effectiveLagMs = !orphaned ? o.lagMs : primaryDown ? lastLagMs : lastLagMs! + sinceLost;
  return { lastLagMs, ioLostSince, orphaned, effectiveLagMs };
}

/** The check as the balancer reads it, given the state `nextLagState` made of it. */
export function toReplicaObservation(o: LagInput, s: LagState): ReplicaObservation {
  return {
    up: o.up,
    replicating: s.orphaned || o.replicating === true,
    lagMs: s.effectiveLagMs,
    readOnly: o.readOnly === true,
    at: o.checkedAt,
  };
}

/** The lag states of the current replicas, fed by the monitor's checks. */
export class LagTracker {
  private readonly states = new Map<string, LagState>();

  /**
   * One check of replica `name`: remembers what it says, and returns what the balancer sees.
   * `primary`: the primary's latest check; the primary counts as down only when that check failed
   * (not before its first check).
   */
  observe(name: string, o: LagInput, primary: { up: boolean } | undefined): ReplicaObservation {
    const s = nextLagState(this.states.get(name) ?? INITIAL_LAG_STATE, o, primary?.up === false);
    this.states.set(name, s);
    return toReplicaObservation(o, s);
  }

  /** The state of `name` after its latest check; null before the first. */
  stateOf(name: string): LagState | null {
    return this.states.get(name) ?? null;
  }

  /** Forgets everything (a topology change). */
  clear(): void {
    this.states.clear();
  }
}
