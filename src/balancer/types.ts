import type { Config } from "../config/types.js";

/**
 * The balancer's vocabulary. Everything under src/balancer is pure: time and randomness come in
 * as arguments, and nothing here touches a socket, a timer or the monitor's connections.
 */

/** `lag.*` from the effective config (all ms); see config/types.ts for the defaults. */
export type LagPolicy = Config["lag"];

/**
 * What the balancer needs from one monitor check of one replica. From the monitor's
 * `BackendObservation` o: `{ up: o.up, replicating: o.replicating === true, lagMs: o.lagMs,
 * readOnly: o.readOnly === true, at: o.checkedAt }`.
 */
export interface ReplicaObservation {
  /** The check connected and answered in time. */
  up: boolean;
  /** Slave_IO_Running and Slave_SQL_Running are both "Yes". */
  replicating: boolean;
  /** Replication lag; null = unknown, which is never read as 0 (MaxScale MXS-2919). */
  lagMs: number | null;
  /** `@@read_only`. Reported, not used to exclude: see eligibility.ts. */
  readOnly: boolean;
  /** When the check finished (ms since the epoch). */
  at: number;
}

/**
 * Admission phases of one replica (STYLE.md principle 4: a named state, not booleans).
 * - `unchecked`: no observation yet; receives no reads.
 * - `serving`: receives reads while it stays up, replicating, with known lag <= lag.maxMs.
 * - `excluded`: receives no reads until lag.readmitChecks consecutive observations below
 *   lag.readmitBelowMs (the hysteresis that stops the flapping of ProxySQL #3340, #1959, #4018).
 */
export const PHASES = ["unchecked", "serving", "excluded"] as const;
export type Phase = (typeof PHASES)[number];

export interface EligibilityState {
  phase: Phase;
  /** Same as `phase === "serving"`: the balancer may send reads here (before lag.minServing). */
  eligible: boolean;
  /** Why it is not eligible, or how far re-admission has got; null while serving. */
  reason: string | null;
  /** Consecutive observations below lag.readmitBelowMs while excluded. */
  belowCount: number;
  /** Times `eligible` flipped (unchecked -> serving counts, unchecked -> excluded does not). */
  transitions: number;
  /** Lag at the last observation; null when unknown or never observed. */
  lagMs: number | null;
  /**
   * The last observation saw it up and replicating with known lag, and no query has failed on it
   * since: lag.minServing may keep it serving even when the hysteresis excludes it.
   */
  usable: boolean;
  /** `at` of the last observation applied (older ones arriving late are ignored); 0 before. */
  at: number;
}

/** One replica as the weighting sees it: its configured weight and its admission state. */
export interface WeighInput {
  name: string;
  /** Configured relative share of reads (backends.replicas[].weight, > 0, default 1). */
  weight: number;
  state: EligibilityState;
  /** Drained for maintenance or removal (src/cluster/drain.ts): no reads, whatever its state. */
  drained?: boolean;
}

export interface WeightedReplica {
  name: string;
  /** After lag.minServing. */
  eligible: boolean;
  /** Why not eligible, or why eligible despite the state machine (min_serving); null otherwise. */
  reason: string | null;
  /** weight × max(lagFactor, MIN_SERVING_FACTOR) when eligible, 0 otherwise (lag-weight.ts). */
  effectiveWeight: number;
}

/** Fired once per change of a replica's effective eligibility (after lag.minServing). */
export interface TransitionEvent {
  name: string;
  to: "serving" | "excluded";
  /** Why it went there (null when it went back to plain serving). */
  reason: string | null;
  lagMs: number | null;
  /** The `now` of the observe()/markDown() call that caused it. */
  at: number;
}

/** One replica as `/backends` shows the balancer's view of it. */
export interface ReplicaSnapshot {
  name: string;
  phase: Phase;
  eligible: boolean;
  reason: string | null;
  lagMs: number | null;
  /** Configured weight. */
  weight: number;
  effectiveWeight: number;
  /** Reads picked for it and not yet released. */
  inFlight: number;
  /** Effective eligibility changes since start (the same events as onTransition). */
  transitions: number;
  /** `at` of the last observation; 0 before the first. */
  observedAt: number;
}
