import type { BackendObservation } from "../monitor/types.js";

/**
 * Deciding that the primary has failed (pure, table-tested). One failed check is not a failure:
 * the primary must have been down for `detectMs` without a single successful check, and every
 * replica that is still reachable and replicated from it must have lost it too (its IO thread is
 * no longer connected). A replica still connected to the primary means the proxy, not the
 * primary, is cut off: promoting then would make two primaries.
 *
 * The clock starts when the first failed check STARTED (its `checkedAt − checkDurationMs`): from
 * that moment on every check failed, so "down for detectMs" is exactly "missed every check for
 * detectMs". A check that hung until monitor.timeout counts from when it was sent. Not from the
 * last successful check: the time between it and the first failure was not observed at all (the
 * primary may have answered the whole time), and after a stall of the monitor (a blocked event
 * loop, a starved CPU) one failed check would then be "down for detectMs". The data path's
 * failures (Monitor.checkNow) make the first failed check come right after a crash instead.
 */

export type Verdict = "healthy" | "suspect" | "failed";

export interface DetectorState {
  /** `Date.now()` when the first failed check of the current run of failures started; null while up. */
  downSince: number | null;
}

export interface Assessment {
  state: DetectorState;
  verdict: Verdict;
  /** Why, for logs and /backends. */
  reason: string;
}

export const INITIAL_DETECTOR_STATE: DetectorState = { downSince: null };

export function assessPrimary(
  state: DetectorState,
  primary: BackendObservation | undefined,
  replicas: readonly BackendObservation[],
  now: number,
  detectMs: number,
): Assessment {
  if (primary === undefined || primary.checkedAt === 0) {
    return { state, verdict: "healthy", reason: "primary not checked yet" };
  }
  if (primary.up) return { state: INITIAL_DETECTOR_STATE, verdict: "healthy", reason: "primary up" };
  const downSince = state.downSince ?? Math.floor(primary.checkedAt - primary.checkDurationMs);
  const next = { downSince };
  const downFor = now - downSince;
  const why = primary.lastError ?? "check failed";
  if (downFor < detectMs) {
    return { state: next, verdict: "suspect", reason: `primary down for ${downFor} ms (${why})` };
  }
  const reachable = replicas.filter((r) => r.up);
  if (reachable.length === 0) {
    return {
      state: next,
      verdict: "suspect",
      reason: `primary down for ${downFor} ms and no replica is reachable to confirm it or take over`,
    };
  }
  const stillConnected = reachable.filter((r) => r.ioState === "Yes");
  if (stillConnected.length > 0) {
    return {
      state: next,
      verdict: "suspect",
      reason: `primary unreachable from the proxy for ${downFor} ms, but ${stillConnected
        .map((r) => r.name)
        .join(", ")} still replicate from it: not failing over`,
    };
  }
  return {
    state: next,
    verdict: "failed",
    reason: `primary down for ${downFor} ms (${why}); replicas ${reachable
      .map((r) => `${r.name} (IO thread ${r.ioState ?? "not configured"})`)
      .join(", ")} lost it too`,
  };
}
