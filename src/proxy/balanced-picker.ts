import type { Balancer, PickOptions } from "../balancer/balancer.js";
import { gtidCovers, parseGtidPos } from "../monitor/gtid.js";
import type { BackendObservation } from "../monitor/types.js";
import type { BackendPool } from "./backend-pool.js";
import type { ReplicaChoice, ReplicaPicker, ReplicaRequest } from "./upstreams.js";

/**
 * The data path's view of the balancer (src/balancer): it turns a read's constraints (max_lag
 * hint, read-your-writes GTID, a replica to avoid) into a balancer pick and back into a pool.
 */
export class BalancedPicker implements ReplicaPicker {
  private readonly byName = new Map<string, BackendPool>();
  /** One answer per replica, so that a successful pick allocates nothing (read-only for callers). */
  private readonly choices = new Map<string, ReplicaChoice>();
  /** The user of the pick in progress, for the balancer's pool-exhausted check (no allocation). */
  private user: string | null = null;
  /** The balancer's options, rewritten per pick (the balancer does not keep them). */
  private readonly options: PickOptions = { maxLagMs: null, exclude: null, reject: null };

  constructor(
    replicas: readonly BackendPool[],
    readonly balancer: Balancer,
    private readonly observations: () => ReadonlyMap<string, BackendObservation>,
  ) {
    for (const p of replicas) {
      this.byName.set(p.endpoint.name, p);
      this.choices.set(p.endpoint.name, Object.freeze({ pool: p }));
    }
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
            const pos = obs!.get(name)?.gtidSlavePos;
            const have = pos ? parseGtidPos(pos) : null;
            return have !== null && gtidCovers(have, want)
              ? null
              : "has not applied this session's last write";
          };
    const r = this.balancer.pickReplica(o);
    o.reject = null;
    if (r.backend === null) return { pool: null, reason: r.reason };
    return this.choices.get(r.backend)!;
  }

  /** For the balancer's `isExhausted`: the pool of `name` has no connection left for the picking user. */
  exhausted(name: string): boolean {
    const user = this.user;
    return user !== null && (this.byName.get(name)?.exhausted(user) ?? false);
  }

  done(pool: BackendPool): void {
    this.balancer.release(pool.endpoint.name);
  }

  markDown(pool: BackendPool, reason: string): void {
    this.balancer.markDown(pool.endpoint.name, reason, Date.now());
  }
}
