import type { EligibilityState, LagPolicy, Phase, ReplicaObservation } from "./types.js";

/**
 * Per-replica admission with hysteresis: previous state + one monitor observation -> next state.
 *
 * Leaving is immediate, coming back is not:
 * - down, replication stopped, lag unknown, or lag > lag.maxMs: excluded at once;
 * - an excluded replica is re-admitted only after lag.readmitChecks consecutive observations
 *   with lag < lag.readmitBelowMs (defaults: 3 checks below 2000 ms);
 * - a serving replica stays serving anywhere up to lag.maxMs, so the band between readmitBelowMs
 *   and maxMs is where the hysteresis works: a lag oscillating around maxMs (2800, 3200, 2800,
 *   ...) is excluded once and stays out, instead of flapping every check as a single threshold
 *   does (ProxySQL #3340, #1959, #4018).
 *
 * Worked example (defaults; one observation per line):
 *
 *   lag     phase after   reason
 *   100     serving       null                                (first check: admitted)
 *   3100    excluded      "lag 3100ms > max 3000ms"
 *   2500    excluded      "lag 2500ms (re-admit below 2000ms)"
 *   1900    excluded      "re-admitting: 1/3 checks below 2000ms"
 *   1800    excluded      "re-admitting: 2/3 checks below 2000ms"
 *   1700    serving       null
 *
 * Unknown lag is never read as 0 (MaxScale MXS-2919): a replica whose SQL thread stopped reports
 * Seconds_Behind_Master NULL, and its data only gets older.
 *
 * `@@read_only` does not exclude: it is the operator's guard against stray writes, not a
 * freshness signal, and many replicas run without it. A replica promoted by a failover stops
 * replicating, which does exclude it.
 *
 * The first observation of a replica nobody excluded admits it under the plain max rule (lag <=
 * maxMs): at start the proxy should not wait readmitChecks periods to use healthy replicas.
 */

export function initialState(): EligibilityState {
  return {
    phase: "unchecked",
    eligible: false,
    reason: "not checked yet",
    belowCount: 0,
    transitions: 0,
    lagMs: null,
    usable: false,
    at: 0,
  };
}

/**
 * A replica added to a running proxy (a config reload): it starts excluded, so it serves only
 * after lag.readmitChecks checks below lag.readmitBelowMs, like any replica coming back. A server
 * just cloned from a backup is often far behind at first, and may look fresh for a moment
 * before its IO thread has fetched what it lacks.
 */
export function admittingState(): EligibilityState {
  return { ...initialState(), phase: "excluded", reason: "added: not checked yet" };
}

/** Why this observation excludes a replica at once, or null when it may serve. */
export function exclusionReason(obs: ReplicaObservation, lag: LagPolicy): string | null {
  if (!obs.up) return "down";
  if (!obs.replicating) {
    return obs.lagMs === null ? "replication stopped: lag unknown" : "replication stopped";
  }
  if (obs.lagMs === null) return "lag unknown";
  if (obs.lagMs > lag.maxMs) return `lag ${ms(obs.lagMs)} > max ${ms(lag.maxMs)}`;
  return null;
}

/** The next state after one observation. Observations older than the last one applied are ignored. */
export function observeReplica(
  prev: EligibilityState,
  obs: ReplicaObservation,
  lag: LagPolicy,
): EligibilityState {
  if (obs.at < prev.at) return prev;
  const lagMs = obs.up ? obs.lagMs : null;
  const seen = { lagMs, at: obs.at, usable: obs.up && obs.replicating && obs.lagMs !== null };
  const excluded = exclusionReason(obs, lag);
  if (excluded !== null) return next(prev, "excluded", excluded, 0, seen);
  // Up, replicating, known lag <= max.
  if (prev.phase !== "excluded") return next(prev, "serving", null, 0, seen);
  const lagNow = lagMs!;
  if (lagNow >= lag.readmitBelowMs) {
    return next(prev, "excluded", `lag ${ms(lagNow)} (re-admit below ${ms(lag.readmitBelowMs)})`, 0, seen);
  }
  const needed = Math.max(1, lag.readmitChecks);
  const below = prev.belowCount + 1;
  if (below >= needed) return next(prev, "serving", null, 0, seen);
  return next(
    prev,
    "excluded",
    `re-admitting: ${below}/${needed} checks below ${ms(lag.readmitBelowMs)}`,
    below,
    seen,
  );
}

/**
 * Excludes a replica now, because a statement on it failed in a way that says the backend is
 * unreachable (not at the next check). It comes back like any excluded replica: after
 * readmitChecks good observations; until the monitor has seen it again, min_serving skips it too.
 */
export function markDown(prev: EligibilityState, reason: string): EligibilityState {
  return next(prev, "excluded", reason, 0, { lagMs: prev.lagMs, at: prev.at, usable: false });
}

function next(
  prev: EligibilityState,
  phase: Phase,
  reason: string | null,
  belowCount: number,
  seen: Pick<EligibilityState, "lagMs" | "at" | "usable">,
): EligibilityState {
  const eligible = phase === "serving";
  return {
    phase,
    eligible,
    reason,
    belowCount,
    transitions: prev.transitions + (eligible !== prev.eligible ? 1 : 0),
    lagMs: seen.lagMs,
    usable: seen.usable,
    at: seen.at,
  };
}

/** Whole milliseconds, as the reasons show them ("lag 3400ms > max 3000ms"). */
function ms(n: number): string {
  return `${Math.round(n)}ms`;
}
