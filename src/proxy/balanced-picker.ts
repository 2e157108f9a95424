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

  done(pool: BackendPool): void {
    this.balancer.release(pool.endpoint.name);
  }

  markDown(pool: BackendPool, reason: string): void {
    this.balancer.markDown(pool.endpoint.name, reason, Date.now());
  }
}

/** The monitor's observation as the balancer reads it. */
export function toReplicaObservation(o: BackendObservation) {
  return {
    up: o.up,
    replicating: o.replicating === true,
    lagMs: o.lagMs,
    readOnly: o.readOnly === true,
    at: o.checkedAt,
  };
}
