import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { StatusSource } from "./admin/status.js";
import type { BackupJobs } from "./backup/jobs.js";
import { type BackendMonitor, Cluster } from "./cluster/cluster.js";
import type { RuntimeControl } from "./cluster/reload.js";
import type { Config } from "./config/types.js";
import { type DataPlane, startControlPlane } from "./control-plane.js";
import { buildDataPath } from "./data-path.js";
import { DigestStore } from "./digests/store.js";
import { EventFeed } from "./events/feed.js";
import type { HaManager } from "./ha/manager.js";
import { Metrics } from "./metrics/registry.js";
import { Monitor } from "./monitor/monitor.js";
import type { BackendObservation } from "./monitor/types.js";
import type { ProxyServer } from "./proxy/server.js";

/** A running rwsplit: the proxy and, around it, the monitor and what serves ops. */
export interface Rwsplit {
  proxy: ProxyServer;
  monitor: BackendMonitor;
  metrics: Metrics;
  /** Query digests (GET /digests, the status page). */
  digests: DigestStore;
  /** Recent events for people (the status page, GET /events); other parts push theirs here. */
  events: EventFeed;
  admin: FastifyInstance | null;
  /** Where clients connect (the real port when the config asked for 0). */
  listen: { host: string; port: number };
  /** Where the admin app listens, when enabled. */
  adminListen: { host: string; port: number } | null;
  /** Latest observation per backend name. */
  observations(): ReadonlyMap<string, BackendObservation>;
  status: StatusSource;
  ha: HaManager;
  /** Scheduled backups and the binlog archive (config `backup:`), or null. */
  backups: BackupJobs | null;
  /** The backends and everything per backend (pools, monitor loops, balancer). */
  cluster: Cluster;
  /** Reloads, drains and the fleet's runtime changes (issue #18). */
  runtime: RuntimeControl;
  /** Drains (stop accepting, let statements finish up to drainTimeoutMs) and stops everything. */
  stop(): Promise<void>;
}

/** Where a reload reads the config again (`rwsplit serve --config FILE`); absent: no reload. */
export interface ReloadSource {
  /** The file, for /backends and the log. */
  file: string;
  /** Reads and validates it again, with the same environment and flags as at start (throws ConfigError). */
  load(): Config;
}

/**
 * The composition root of a single-process rwsplit (`workers: 1`; src/workers/ runs the same
 * parts over several processes): the backends (src/cluster), the data path that serves clients
 * (data-path.ts), and the control plane around it (control-plane.ts: HA, reloads, backups, admin).
 *
 * What only some configs use is imported when the config asks for it (TLS material, Redis, the
 * failover operations, backups): a module once loaded holds its code and objects for as long as
 * the process runs, and the AWS SDK, ioredis and the certificate generator together are most of
 * an idle proxy's memory. A reload cannot turn these on (they need a restart, see config/diff.ts).
 */
export async function startRwsplit(config: Config, logger: Logger, source?: ReloadSource): Promise<Rwsplit> {
  const metrics = new Metrics();
  const digests = new DigestStore(config.digests.max);
  const events = new EventFeed();
  let ha: HaManager | null = null;
  // The backends and everything per backend: pools, monitor loops, balancer (src/cluster).
  const cluster = new Cluster({
    config,
    logger,
    metrics,
    events,
    monitor: Monitor,
    onObservation: (o) => ha?.onObservation(o),
  });
  const { proxy, kinds, userWrites } = await buildDataPath({
    config,
    logger,
    cluster,
    metrics,
    digests,
    // A refused connect or a lost connection: if it is the primary, check it now (faster failover).
    onBackendFailure: (backend) => ha?.onBackendFailure(backend),
  });
  const plane: DataPlane = {
    start: () => proxy.start(),
    isListening: () => proxy.isListening(),
    sessions: () => proxy.sessionsInfo(),
    primaryWork: () => proxy.primaryWork(),
    // The pools are the cluster's: the control plane holds and releases them itself.
    holdWrites: () => {},
    releaseWrites: () => {},
    topologyApplied: () => {},
    reloadTarget: proxy,
    statementKinds: () => kinds,
    userWrites: () => userWrites?.status() ?? null,
    digests: { list: (sort, limit) => digests.list(sort, limit), reset: () => digests.reset() },
    drain: async (ms) => {
      await proxy.drain(ms);
      await userWrites?.stop();
    },
    close: async () => {
      await proxy.close();
      await userWrites?.stop();
    },
  };
  const control = await startControlPlane(
    { config, logger, source, cluster, metrics, events, plane },
    (h) => {
      ha = h;
    },
  );
  return {
    proxy,
    monitor: cluster.monitor,
    metrics,
    digests,
    events,
    admin: control.admin,
    listen: control.listen,
    adminListen: control.adminListen,
    status: control.status,
    ha: control.ha,
    backups: control.backups,
    cluster,
    runtime: control.runtime,
    observations: () => cluster.latest,
    stop: () => control.stop(),
  };
}
