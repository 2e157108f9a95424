import type { Logger } from "pino";
import { Cluster } from "../cluster/cluster.js";
import type { RuntimeControl } from "../cluster/reload.js";
import type { Config } from "../config/types.js";
import { startControlPlane } from "../control-plane.js";
import { EventFeed } from "../events/feed.js";
import type { HaManager } from "../ha/manager.js";
import { Metrics } from "../metrics/registry.js";
import { Monitor } from "../monitor/monitor.js";
import { WorkerPool } from "./pool.js";
import { RelayingRuntimeStore } from "./relaying-store.js";

/** A running supervisor of `serve --workers N`. */
export interface Supervisor {
  listen: { host: string; port: number };
  adminListen: { host: string; port: number } | null;
  runtime: RuntimeControl;
  /** Drains every worker and stops the rest. */
  stop(): Promise<void>;
}

/**
 * `serve --workers N`: this process runs the monitor, the HA manager, reloads, backups and the
 * admin app once (control-plane.ts), and N worker processes serve the clients (pool.ts,
 * worker.ts). The workers get every observation, topology change, hold of writes and runtime
 * record from here as it happens (one IPC message each, well under the 50 ms a worker may lag).
 */
export async function startSupervisor(
  config: Config,
  logger: Logger,
  source?: { file: string; load(): Config },
): Promise<Supervisor> {
  const metrics = new Metrics();
  const events = new EventFeed();
  let ha: HaManager | null = null;
  let pool: WorkerPool | null = null;
  const cluster = new Cluster({
    config,
    logger,
    metrics,
    events,
    monitor: Monitor,
    onObservation: (o) => {
      ha?.onObservation(o);
      pool?.observation(o);
    },
  });
  // One certificate for every worker (a generated one is made here, once).
  const tls = config.tls.enabled
    ? await (async () => {
        const m = await import("../proxy/tls-material.js");
        return m.tlsPem(await m.loadTlsMaterial(config.tls));
      })()
    : null;
  const workers = new WorkerPool(config.workers, {
    tls,
    config,
    logger,
    metrics,
    topology: () => ({
      generation: cluster.upstreams.generation,
      primary: cluster.upstreams.primary.endpoint.name,
      fenced: [...cluster.upstreams.fenced],
    }),
    observations: () => [...cluster.latest.values()],
    record: () => store!.forWorkers(),
    onBackendFailure: (backend) => ha?.onBackendFailure(backend),
  });
  pool = workers;
  let store: RelayingRuntimeStore | null = null;
  const control = await startControlPlane(
    {
      config,
      logger,
      source,
      cluster,
      metrics,
      events,
      plane: workers,
      wrapStore: (inner) => {
        store = new RelayingRuntimeStore(inner, (r) => workers.record(r));
        return store;
      },
    },
    (h) => {
      ha = h;
    },
  );
  return {
    listen: control.listen,
    adminListen: control.adminListen,
    runtime: control.runtime,
    stop: () => control.stop(),
  };
}
