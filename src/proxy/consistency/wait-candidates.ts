import { type GtidPosition, parseGtidPos } from "../../monitor/gtid.js";

/**
 * Which replicas a read that must see a write may wait on (MASTER_GTID_WAIT), when no replica has
 * applied that write as far as the monitor's last checks saw. Pure.
 *
 * The monitor's positions are up to one check old (monitor.interval, 500 ms), so right after a
 * write they show it nowhere, although a replica that keeps up has usually applied it within a
 * millisecond. Waiting on that replica for a few milliseconds keeps the read off the primary
 * (MaxScale's causal_reads does the same). Waiting where the write cannot arrive in time only
 * delays the read before it goes to the primary anyway, so a replica is a candidate only when:
 *
 *   its position and lag are known      a replica the monitor cannot read says nothing
 *   lag - lagResolution <= wait         it applies what the primary commits within the wait.
 *                                       The heartbeat lag of a caught-up replica reads anywhere
 *                                       from 0 to one heartbeat period (src/monitor/lag.ts), so
 *                                       the period is taken off first: 200 ms with a 250 ms
 *                                       period still qualifies, MASTER_DELAY=2 (2000+) does not
 *   no wait on it failed since its      a replica that just let a wait time out (SQL thread
 *   last check                          stopped, a long transaction applying) is not asked again
 *                                       until the monitor has looked at it again: one timeout per
 *                                       replica per check, not one per read
 *
 * Of the candidates, the ones most likely caught up are kept: those missing the fewest
 * transactions of the wanted position at their last check (per domain, wanted sequence number
 * minus theirs). Ties are left to the balancer, so waits spread like reads.
 *
 *   want 0-1-105; r1 at 0-1-104, lag 3 ms; r2 at 0-1-100, lag 3 ms   -> [r1]
 *   want 0-1-105; r1 and r2 at 0-1-104                                 -> [r1, r2]
 *   want 0-1-105; r1 at 0-1-104 lag 2100 ms (MASTER_DELAY), r2 stopped -> []
 */

export interface WaitView {
  name: string;
  /** `@@gtid_slave_pos` at the replica's last check; null when unknown. */
  gtidSlavePos: string | null;
  /** Its lag at that check in ms; null when unknown. */
  lagMs: number | null;
  /** When that check was made (ms since the epoch). */
  checkedAt: number;
  /** When a wait on it last timed out or failed; null if never. */
  waitFailedAt: number | null;
}

export interface WaitPolicy {
  /** routing.consistency_wait. */
  waitMs: number;
  /** What a caught-up replica's lag may read: the heartbeat period, or 1000 for Seconds_Behind_Master. */
  lagResolutionMs: number;
}

export function waitCandidates(want: GtidPosition, views: readonly WaitView[], policy: WaitPolicy): string[] {
  let best: bigint | null = null;
  let out: string[] = [];
  for (const v of views) {
    if (v.lagMs === null || v.lagMs - policy.lagResolutionMs > policy.waitMs) continue;
    if (v.waitFailedAt !== null && v.waitFailedAt >= v.checkedAt) continue;
    const have = parseGtidPos(v.gtidSlavePos);
    if (have === null || v.gtidSlavePos === null) continue;
    const missing = missingTransactions(have, want);
    if (best === null || missing < best) {
      best = missing;
      out = [v.name];
    } else if (missing === best) out.push(v.name);
  }
  return out;
}

/** Transactions of `want` that a server at `have` has not applied (0 when it covers `want`). */
export function missingTransactions(have: GtidPosition, want: GtidPosition): bigint {
  let n = 0n;
  for (const w of want.values()) {
    const h = have.get(w.domain)?.seq ?? 0n;
    if (w.seq > h) n += w.seq - h;
  }
  return n;
}
