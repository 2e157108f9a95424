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

/** What the balancer knows of a replica beyond its latest observation (kept by app.ts `feed`). */
export interface ReplicaContext {
  /** The primary's latest check failed. */
  primaryDown: boolean;
  /** The replica's lag at its last check while it replicated and the primary was up; null if unknown. */
  lastLagMs: number | null;
  /** `checkedAt` of the first check in the current run that found its IO thread not connected; null while connected. */
  ioLostAt: number | null;
}

/** Connecting/Preparing: the IO thread lost its source and is retrying (unlike "No": stopped). */
export function ioLost(o: BackendObservation): boolean {
  return o.up && o.sqlRunning === true && o.ioState !== null && o.ioState !== "Yes" && o.ioState !== "No";
}

/**
 * The monitor's observation as the balancer reads it. A replica whose IO thread lost its source
 * (retrying) while its SQL thread runs without error still holds everything it received: it keeps
 * serving reads instead of dropping out at once, at a lag that says what may be missing:
 * - the primary is down too (a failover is coming): the lag it had when the primary went away,
 *   frozen: nobody reachable has newer data, so reads do not stop during a failover;
 * - the primary is up (this replica alone is cut off, or the primary's own check is not in yet):
 *   that lag plus the time since the IO thread was lost, the most it can be behind by now; so it
 *   weighs less and less, and drops out past lag.max like any lagging replica.
 * Unknown lag before stays unknown (never treated as fresh); a stopped IO or SQL thread is not
 * replicating.
 */
export function toReplicaObservation(
  o: BackendObservation,
  ctx: ReplicaContext = { primaryDown: false, lastLagMs: null, ioLostAt: null },
) {
  const { primaryDown, lastLagMs, ioLostAt } = ctx;
  const lostSource = primaryDown ? o.up && o.sqlRunning === true && o.ioState !== "Yes" : ioLost(o);
  const orphaned = lostSource && lastLagMs !== null;
  const sinceLost = ioLostAt === null ? 0 : Math.max(0, o.checkedAt - ioLostAt);
  return {
    up: o.up,
    replicating: orphaned || o.replicating === true,
    lagMs: orphaned ? (primaryDown ? lastLagMs : lastLagMs + sinceLost) : o.lagMs,
    readOnly: o.readOnly === true,
    at: o.checkedAt,
  };
}
