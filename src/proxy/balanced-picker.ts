import type { Balancer, PickOptions } from "../balancer/balancer.js";
import { type GtidPosition, gtidCovers, parseGtidPos } from "../monitor/gtid.js";
import type { BackendObservation } from "../monitor/types.js";
import { mergePositions } from "../routing/user-writes.js";
import type { BackendPool } from "./backend-pool.js";
import { type WaitView, waitCandidates } from "./consistency/wait-candidates.js";
import type { ReplicaChoice, ReplicaPicker, ReplicaRequest } from "./upstreams.js";

/**
 * The data path's view of the balancer (src/balancer): it turns a read's constraints (max_lag
 * hint, read-your-writes GTID, a replica to avoid) into a balancer pick and back into a pool.
 */
export class BalancedPicker implements ReplicaPicker {
  private readonly byName = new Map<string, BackendPool>();
  /** The pools in the balancer's order (its `isExhausted` index). */
  private readonly byIndex: (BackendPool | undefined)[];
  /** One answer per replica, so that a successful pick allocates nothing (read-only for callers). */
  private readonly choices = new Map<string, ReplicaChoice>();
  /** The user of the pick in progress, for the balancer's pool-exhausted check (no allocation). */
  private user: string | null = null;
  /** The balancer's options, rewritten per pick (the balancer does not keep them). */
  private readonly options: PickOptions = { maxLagMs: null, exclude: null, reject: null };
  /** When a read's MASTER_GTID_WAIT last timed out or failed, per replica. */
  private readonly waitFailures = new Map<string, number>();
  /**
   * What successful waits proved each replica has applied since its last check, and when: a later
   * read that needs no more goes there without waiting again, until the monitor's next check
   * (whose position then speaks for the replica, also if it went back: a restored replica).
   */
  private readonly confirmed = new Map<string, { position: GtidPosition; at: number }>();

  /**
   * `lagResolutionMs`: what a caught-up replica's lag may read (the heartbeat period; 1000 for
   * Seconds_Behind_Master), for the wait candidates (wait-candidates.ts).
   */
  constructor(
    replicas: readonly BackendPool[],
    readonly balancer: Balancer,
    private readonly observations: () => ReadonlyMap<string, BackendObservation>,
    private readonly lagResolutionMs = 1000,
  ) {
    for (const p of replicas) {
      this.byName.set(p.endpoint.name, p);
      this.choices.set(p.endpoint.name, Object.freeze({ pool: p }));
    }
    this.byIndex = balancer.replicaNames().map((name) => this.byName.get(name));
  }

  pick(req: ReplicaRequest): ReplicaChoice {
    const want = req.minGtid !== null ? parseGtidPos(req.minGtid) : null;
    const obs = want !== null ? this.observations() : null;
    this.user = req.user;
    const o = this.options;
    o.maxLagMs = req.maxLagMs;
    o.exclude = req.exclude;
    o.reject =
      want === null
        ? null
        : (name) => {
            const o = obs!.get(name);
            const pos = o?.gtidSlavePos;
            const have = pos ? parseGtidPos(pos) : null;
            if (have !== null && gtidCovers(have, want)) return null;
            const c = this.confirmed.get(name);
            if (c !== undefined && c.at > (o?.checkedAt ?? 0) && gtidCovers(c.position, want)) return null;
            return "has not applied this session's last write";
          };
    const r = this.balancer.pickReplica(o);
    o.reject = null;
    if (r.backend === null) return { pool: null, reason: r.reason };
    return this.choices.get(r.backend)!;
  }

  pickToWait(req: ReplicaRequest, waitMs: number): ReplicaChoice {
    const want = req.minGtid !== null ? parseGtidPos(req.minGtid) : null;
    if (want === null) return { pool: null, reason: "no GTID to wait for" };
    const obs = this.observations();
    const views: WaitView[] = [];
    for (const name of this.byName.keys()) {
      const o = obs.get(name);
      if (o === undefined) continue;
      const waitFailedAt = this.waitFailures.get(name) ?? null;
      views.push({
        name,
        gtidSlavePos: o.gtidSlavePos,
        lagMs: o.lagMs,
        checkedAt: o.checkedAt,
        waitFailedAt,
      });
    }
    const names = waitCandidates(want, views, { waitMs, lagResolutionMs: this.lagResolutionMs });
    if (names.length === 0)
      return { pool: null, reason: "no replica is likely to apply the write within the wait" };
    this.user = req.user;
    const o = this.options;
    o.maxLagMs = req.maxLagMs;
    o.exclude = req.exclude;
    o.reject = (name) => (names.includes(name) ? null : "less likely to have applied the write");
    const r = this.balancer.pickReplica(o);
    o.reject = null;
    if (r.backend === null) return { pool: null, reason: r.reason };
    return this.choices.get(r.backend)!;
  }

  waitFailed(pool: BackendPool): void {
    this.waitFailures.set(pool.endpoint.name, Date.now());
  }

  waitSucceeded(pool: BackendPool, gtid: string): void {
    const name = pool.endpoint.name;
    const got = parseGtidPos(gtid);
    if (got === null) return;
    const c = this.confirmed.get(name);
    const checkedAt = this.observations().get(name)?.checkedAt ?? 0;
    const position = c !== undefined && c.at > checkedAt ? mergePositions(c.position, got) : got;
    this.confirmed.set(name, { position, at: Date.now() });
  }

  /**
   * For the balancer's `isExhausted` (asked per replica per read): the pool of the balancer's
   * replica `index` has no connection left for the picking user.
   */
  exhausted(index: number): boolean {
    const user = this.user;
    if (user === null) return false;
    return this.byIndex[index]?.exhausted(user) ?? false;
  }

  done(pool: BackendPool): void {
    this.balancer.release(pool.endpoint.name);
  }

  markDown(pool: BackendPool, reason: string): void {
    this.balancer.markDown(pool.endpoint.name, reason, Date.now());
  }
}
