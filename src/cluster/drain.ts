/**
 * Taking a backend out of service without dropping a client (issue #18): a drain. Pure: the
 * state of one backend's drain, and the next state from what is still running on it;
 * table-tested in test/unit/drain.test.ts. `cluster.ts` feeds it and carries out its steps.
 *
 * A drain has a purpose: `maintenance` (`rwsplit drain NAME`: the backend stays configured and
 * monitored, `rwsplit undrain NAME` puts it back) or `removal` (the config no longer lists it:
 * once drained, its pool closes and it is forgotten). Either way, from its start the backend gets
 * no new reads; reads in flight and sessions pinned to it (a READ ONLY transaction on a replica)
 * go on until they finish, up to `drain_timeout`:
 *
 *   draining ── nothing running on it (no read in flight, no connection open) ──► drained
 *      │                                                                          ▲
 *      └── drain_timeout passed: what is left is closed (forced) ──────────────────┘
 *   drained, purpose removal ──► removed (the caller closes its pool and forgets it)
 *
 * Worked example (drain_timeout 10 s; `load` is reads in flight / connections open):
 *
 *   t      event / load                 phase      purpose      step
 *   0      rwsplit drain r2             draining   maintenance
 *   0.2    2 / 3                        draining   maintenance  wait
 *   1.4    0 / 0                        drained    maintenance  (drained at 1.4)
 *   5      config drops r2 (reload)     drained    removal
 *   5      0 / 0                        drained    removal      remove
 *
 * and for a session that keeps its READ ONLY transaction open past the timeout:
 *
 *   0      rwsplit drain r2             draining   maintenance
 *   9.9    0 / 1                        draining   maintenance  wait
 *   10     0 / 1                        drained    maintenance  close (forced: that transaction is lost)
 */

export type DrainPurpose = "maintenance" | "removal";
export type DrainPhase = "draining" | "drained";

export interface DrainState {
  readonly phase: DrainPhase;
  readonly purpose: DrainPurpose;
  /** When the drain started (ms since the epoch). */
  readonly since: number;
  /** When what is still running gets closed: `since` + drain_timeout. */
  readonly deadline: number;
  /** When it became drained; null while draining. */
  readonly drainedAt: number | null;
  /** It became drained by the deadline: connections still in use were closed. */
  readonly forced: boolean;
}

/** What still runs on the backend. */
export interface DrainLoad {
  /** Reads the balancer counts in flight there. */
  inFlight: number;
  /** Its pool's connections: leased (statements, pinned sessions), idle, or being opened. */
  connections: number;
}

export interface DrainStep {
  state: DrainState;
  /** Close every connection to it now (the deadline passed, or one was left behind once drained). */
  close: boolean;
  /** Close its pool and forget it (a removal, drained). */
  remove: boolean;
}

/**
 * A drain starts (or is asked for again). Asking again changes nothing; a removal takes over a
 * maintenance drain (keeping its deadline: the clock started when traffic stopped); a
 * maintenance drain of a backend being removed is that removal.
 */
export function startDrain(
  prev: DrainState | undefined,
  purpose: DrainPurpose,
  now: number,
  timeoutMs: number,
): DrainState {
  if (prev === undefined) {
    return {
      phase: "draining",
      purpose,
      since: now,
      deadline: now + timeoutMs,
      drainedAt: null,
      forced: false,
    };
  }
  if (purpose === "removal" && prev.purpose === "maintenance") return { ...prev, purpose };
  return prev;
}

/** The next state from the backend's load now. */
export function stepDrain(s: DrainState, load: DrainLoad, now: number): DrainStep {
  if (s.phase === "drained") {
    return { state: s, close: load.connections > 0, remove: s.purpose === "removal" };
  }
  const idle = load.inFlight <= 0 && load.connections <= 0;
  if (idle || now >= s.deadline) {
    const state: DrainState = { ...s, phase: "drained", drainedAt: now, forced: !idle };
    return { state, close: !idle, remove: s.purpose === "removal" };
  }
  return { state: s, close: false, remove: false };
}

/** Why an undrain is refused, or null: a removal is undone by listing the backend again and reloading. */
export function undrainRefusal(s: DrainState | undefined, name: string): string | null {
  if (s?.purpose === "removal")
    return `${name} is being removed (the config no longer lists it): add it back to the file and reload`;
  return null;
}

/** For /backends and logs: "draining (maintenance, 3 s left)", "drained (removal)". */
export function describeDrain(s: DrainState, now: number): string {
  if (s.phase === "drained") return `drained (${s.purpose}${s.forced ? ", closed at drain_timeout" : ""})`;
  const left = Math.max(0, Math.ceil((s.deadline - now) / 1000));
  return `draining (${s.purpose}, ${left} s left before drain_timeout)`;
}
