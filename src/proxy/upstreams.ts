import type { Config } from "../config/types.js";
import type { BackendEndpoint } from "./backend-connection.js";
import { BackendPool, type PoolOptions } from "./backend-pool.js";

/**
 * The backend pools the proxy routes to. The primary takes writes; replicas serve reads chosen
 * by the balancer. Failover swaps which pool is `primary` (later issue) without touching sessions.
 */
export class Upstreams {
  primary: BackendPool;
  readonly replicas: BackendPool[];

  constructor(config: Config) {
    const opts: PoolOptions = config.pool;
    const pool = (b: BackendEndpoint) => new BackendPool({ name: b.name, host: b.host, port: b.port }, opts);
    this.primary = pool(config.backends.primary);
    this.replicas = config.backends.replicas.map(pool);
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
