import type { Config } from "../config/types.js";
import { gtidCovers, parseGtidPos } from "../monitor/gtid.js";
import type { BackendObservation } from "../monitor/types.js";
import type { BackendPool } from "./backend-pool.js";
import type { ReplicaChoice, ReplicaPicker, ReplicaRequest } from "./upstreams.js";

/** Where the picker gets each replica's admission state and effective weight. */
export interface ReplicaPolicy {
  /** Effective weight (0 = not eligible) and why not, for one replica, from the latest observation. */
  weigh(name: string, obs: BackendObservation | undefined): { weight: number; reason: string | null };
}

/**
 * Chooses a replica from the monitor's latest observations: eligible ones (policy weight > 0)
 * that satisfy the read's constraints (max_lag hint, the session's last write GTID for
 * read-your-writes), by weighted power-of-two-choices over in-flight reads.
 */
export class MonitoredPicker implements ReplicaPicker {
  private readonly inFlight = new Map<BackendPool, number>();
  private readonly downUntil = new Map<BackendPool, number>();

  constructor(
    private readonly replicas: readonly BackendPool[],
    private readonly observations: () => ReadonlyMap<string, BackendObservation>,
    private readonly policy: ReplicaPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  pick(req: ReplicaRequest): ReplicaChoice {
    const obs = this.observations();
    const now = Date.now();
    const want = req.minGtid !== null ? parseGtidPos(req.minGtid) : null;
    let total = 0;
    const cands: { pool: BackendPool; weight: number }[] = [];
    const why: string[] = [];
    for (const pool of this.replicas) {
      const name = pool.endpoint.name;
      const o = obs.get(name);
      if (name === req.exclude) continue;
      if ((this.downUntil.get(pool) ?? 0) > now) {
        why.push(`${name} failed a query just now`);
        continue;
      }
      const { weight, reason } = this.policy.weigh(name, o);
      if (weight <= 0) {
        why.push(`${name} ${reason ?? "not eligible"}`);
        continue;
      }
      if (req.maxLagMs !== null && (o?.lagMs ?? Number.POSITIVE_INFINITY) > req.maxLagMs) {
        why.push(`${name} lag ${o?.lagMs ?? "unknown"}ms > max_lag ${req.maxLagMs}ms`);
        continue;
      }
      if (want !== null) {
        const have = o?.gtidSlavePos ? parseGtidPos(o.gtidSlavePos) : null;
        if (have === null || !gtidCovers(have, want)) {
          why.push(`${name} has not applied this session's last write yet`);
          continue;
        }
      }
      cands.push({ pool, weight });
      total += weight;
    }
    if (cands.length === 0) {
      return { pool: null, reason: why.length > 0 ? why.join("; ") : "no replicas configured" };
    }
    if (cands.length === 1) return this.take(cands[0]!.pool);
    // Weighted power of two choices: two draws by weight, the less loaded per unit of weight wins.
    const a = draw(cands, total, this.random());
    let b = draw(cands, total, this.random());
    if (b === a) b = cands[(cands.indexOf(a) + 1) % cands.length]!;
    const la = (this.inFlight.get(a.pool) ?? 0) / a.weight;
    const lb = (this.inFlight.get(b.pool) ?? 0) / b.weight;
    return this.take(lb < la ? b.pool : a.pool);
  }

  private take(pool: BackendPool): ReplicaChoice {
    this.inFlight.set(pool, (this.inFlight.get(pool) ?? 0) + 1);
    return { pool };
  }

  done(pool: BackendPool): void {
    const n = this.inFlight.get(pool) ?? 0;
    if (n > 0) this.inFlight.set(pool, n - 1);
  }

  markDown(pool: BackendPool): void {
    // Until the monitor's next checks confirm it is back.
    this.downUntil.set(pool, Date.now() + 2000);
  }

  inFlightOf(pool: BackendPool): number {
    return this.inFlight.get(pool) ?? 0;
  }
}

function draw<T extends { weight: number }>(cands: T[], total: number, r: number): T {
  let x = r * total;
  for (const c of cands) {
    x -= c.weight;
    if (x < 0) return c;
  }
  return cands[cands.length - 1]!;
}

/**
 * The simple policy until the hysteresis balancer is wired: up, replicating, known lag within
 * lag.max; weight falls linearly from full at lag.soft to zero at lag.max.
 */
export function linearLagPolicy(config: Config): ReplicaPolicy {
  const weights = new Map(config.backends.replicas.map((r) => [r.name, r.weight]));
  const { softMs, maxMs } = config.lag;
  return {
    weigh(name, o) {
      if (o === undefined || o.checkedAt === 0) return { weight: 0, reason: "not checked yet" };
      if (!o.up) return { weight: 0, reason: "down" };
      if (o.lagMs === null) return { weight: 0, reason: "lag unknown (replication stopped?)" };
      if (o.lagMs > maxMs) return { weight: 0, reason: `lag ${o.lagMs}ms > max ${maxMs}ms` };
      const f = o.lagMs <= softMs ? 1 : 1 - (o.lagMs - softMs) / (maxMs - softMs);
      return { weight: (weights.get(name) ?? 1) * Math.max(f, 0.01), reason: null };
    },
  };
}
