import type { Config } from "../config/types.js";
import type { BackendEndpoint } from "./backend-connection.js";
import { BackendPool, type PoolOptions } from "./backend-pool.js";

/** What a read needs from the replica it runs on. */
export interface ReplicaRequest {
  /** Skip replicas lagging more than this (a max_lag hint). */
  maxLagMs: number | null;
  /** Only replicas that have applied this GTID position (read-your-writes), or null. */
  minGtid: string | null;
  /** A replica that just failed this statement (retry elsewhere). */
  exclude: string | null;
}

export type ReplicaChoice = { pool: BackendPool } | { pool: null; reason: string };

/**
 * Chooses the replica for a read. The lag-aware balancer implements it once the monitor runs;
 * without one, replicas take turns and the ones marked down are skipped.
 */
export interface ReplicaPicker {
  pick(req: ReplicaRequest): ReplicaChoice;
  /** A read on this replica finished (in-flight accounting). */
  done(pool: BackendPool): void;
  /** A statement failed on this replica because the backend is unreachable: stop using it now. */
  markDown(pool: BackendPool, reason: string): void;
}

/**
 * The backend pools the proxy routes to. The primary takes writes; replicas serve reads chosen
 * by the picker. Failover swaps which pool is `primary` (later issue) without touching sessions.
 */
export class Upstreams {
  primary: BackendPool;
  readonly replicas: BackendPool[];
  picker: ReplicaPicker;

  constructor(config: Config) {
    const opts: PoolOptions = config.pool;
    const pool = (b: BackendEndpoint) => new BackendPool({ name: b.name, host: b.host, port: b.port }, opts);
    this.primary = pool(config.backends.primary);
    this.replicas = config.backends.replicas.map(pool);
    this.picker = new RoundRobinPicker(this.replicas);
  }

  all(): BackendPool[] {
    return [this.primary, ...this.replicas];
  }

  close(): void {
    for (const p of this.all()) p.close();
  }

  destroyAll(): void {
    for (const p of this.all()) p.destroyAll();
  }
}

/** The picker without a monitor: take turns, skip replicas marked down for a few seconds. */
export class RoundRobinPicker implements ReplicaPicker {
  private next = 0;
  private readonly downUntil = new Map<BackendPool, number>();

  constructor(private readonly replicas: readonly BackendPool[]) {}

  pick(req: ReplicaRequest): ReplicaChoice {
    if (req.minGtid !== null) return { pool: null, reason: "no monitor: replica GTID positions unknown" };
    const now = Date.now();
    for (let i = 0; i < this.replicas.length; i++) {
      const pool = this.replicas[(this.next + i) % this.replicas.length]!;
      if ((this.downUntil.get(pool) ?? 0) > now || pool.endpoint.name === req.exclude) continue;
      this.next = (this.next + i + 1) % this.replicas.length;
      return { pool };
    }
    return {
      pool: null,
      reason: this.replicas.length === 0 ? "no replicas configured" : "no replica available",
    };
  }

  done(): void {}

  markDown(pool: BackendPool): void {
    this.downUntil.set(pool, Date.now() + 5000);
  }
}
