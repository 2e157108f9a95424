import type { Balancer } from "../balancer/balancer.js";
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
  /** The user of the pick in progress, for the balancer's pool-exhausted check (no allocation). */
  private user: string | null = null;

  constructor(
    replicas: readonly BackendPool[],
    readonly balancer: Balancer,
    private readonly observations: () => ReadonlyMap<string, BackendObservation>,
  ) {
    for (const p of replicas) this.byName.set(p.endpoint.name, p);
  }

  pick(req: ReplicaRequest): ReplicaChoice {
    const want = req.minGtid !== null ? parseGtidPos(req.minGtid) : null;
    const obs = want !== null ? this.observations() : null;
    this.user = req.user;
    const r = this.balancer.pickReplica({
      maxLagMs: req.maxLagMs,
      exclude: req.exclude,
      reject:
        want === null
          ? null
          : (name) => {
              const pos = obs!.get(name)?.gtidSlavePos;
              const have = pos ? parseGtidPos(pos) : null;
              return have !== null && gtidCovers(have, want)
                ? null
                : "has not applied this session's last write";
            },
    });
    if (r.backend === null) return { pool: null, reason: r.reason };
    return { pool: this.byName.get(r.backend)! };
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

/**
 * The monitor's observation as the balancer reads it. While the primary is down, a replica whose
 * IO thread lost it but whose SQL thread still runs without error holds the newest data anyone
 * reachable has: it keeps serving reads at the lag it had when the primary went away
 * (`lastLagMs`; unknown stays unknown), so reads do not stop during a failover.
 */
export function toReplicaObservation(
  o: BackendObservation,
  primaryDown = false,
  lastLagMs: number | null = null,
) {
  const orphaned = primaryDown && o.up && o.sqlRunning === true && o.ioState !== "Yes" && lastLagMs !== null;
  return {
    up: o.up,
    replicating: orphaned || o.replicating === true,
    lagMs: orphaned ? lastLagMs : o.lagMs,
    readOnly: o.readOnly === true,
    at: o.checkedAt,
  };
}
