import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createAdminApp } from "./admin/app.js";
import type { BackendStatus, ConsistencyStatus, StatusSource } from "./admin/status.js";
import type { BackupJobs } from "./backup/jobs.js";
import { backendStatuses } from "./cluster/backend-status.js";
import type { Cluster } from "./cluster/cluster.js";
import { type ReloadTargets, RuntimeControl } from "./cluster/reload.js";
import { LocalRuntimeStore, type RuntimeStore } from "./cluster/runtime-store.js";
import type { Config } from "./config/types.js";
import type { StatementKinds } from "./data-path.js";
import type { DigestListing, DigestSort } from "./digests/store.js";
import { HaError } from "./errors.js";
import type { EventFeed } from "./events/feed.js";
import { createCoordinator } from "./ha/fleet.js";
import { HaManager } from "./ha/manager.js";
import type { TopologyView } from "./ha/topology-view.js";
import type { Metrics } from "./metrics/registry.js";
import type { SharingStatus } from "./proxy/consistency/user-write-log.js";

/**
 * What serves the clients, as the control plane drives it: the ProxyServer of this process
 * (`workers: 1`, app.ts) or the worker processes (src/workers/pool.ts). The control plane holds
 * and releases writes around a topology change, waits for the primary's work to end, and asks for
 * sessions, counters and digests; it never touches a client connection itself.
 */
export interface DataPlane {
  /** Binds the client listener; where it listens. */
  start(): Promise<{ host: string; port: number }>;
  isListening(): boolean;
  sessions(): unknown;
  /** Sessions with a statement running on the primary or a transaction open there. */
  primaryWork(): number;
  holdWrites(): void;
  releaseWrites(): void;
  /** The cluster took a new topology (the workers must take it too). */
  topologyApplied(t: TopologyView): void;
  /** What a reload changes on the client side. */
  readonly reloadTarget: ReloadTargets["proxy"];
  statementKinds(): StatementKinds;
  /** routing.consistency: user — how users' last writes are kept; null for the other scopes. */
  userWrites(): SharingStatus | null;
  digests: {
    list(sort: DigestSort, limit: number): DigestListing | Promise<DigestListing>;
    reset(): void;
    recent?(): DigestListing | null;
  };
  /** /backends with the pools' counts where they are kept elsewhere (worker processes). */
  withPools?(backends: BackendStatus[]): BackendStatus[];
  /** Stops accepting, lets statements finish up to `timeoutMs`, closes the rest. */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface ControlPlaneOptions {
  config: Config;
  logger: Logger;
  source?: { file: string; load(): Config } | undefined;
  cluster: Cluster;
  metrics: Metrics;
  events: EventFeed;
  plane: DataPlane;
  /** Wraps the runtime store (the supervisor relays its records to the workers). */
  wrapStore?(store: RuntimeStore): RuntimeStore;
}

export interface ControlPlane {
  status: StatusSource;
  ha: HaManager;
  runtime: RuntimeControl;
  backups: BackupJobs | null;
  admin: FastifyInstance | null;
  listen: { host: string; port: number };
  adminListen: { host: string; port: number } | null;
  stop(): Promise<void>;
}

/**
 * Everything around the data plane, once per rwsplit: the HA manager and its coordinator, the
 * runtime control (reloads, drains, the fleet), backups, and the admin app over a StatusSource.
 * Starts the cluster's monitor and the data plane's listener.
 */
export async function startControlPlane(
  o: ControlPlaneOptions,
  setHa: (ha: HaManager) => void,
): Promise<ControlPlane> {
  const { config, logger, cluster, metrics, events, plane } = o;
  const { upstreams, monitor, latest } = cluster;
  let ha: HaManager | null = null;
  let runtime: RuntimeControl | null = null;
  const status: StatusSource = {
    listening: () => plane.isListening(),
    primaryReachable: () => monitor.primaryReachable(),
    sessions: () => plane.sessions(),
    backends: () => plane.withPools?.(backendStatuses(cluster)) ?? backendStatuses(cluster),
    topology: () => ha!.status(),
    digests: plane.digests,
    events: { list: (limit, afterId) => events.list(limit, afterId) },
    statementKinds: () => plane.statementKinds(),
    consistency: (): ConsistencyStatus => ({
      scope: runtime!.config.routing.consistency,
      windowMs: runtime!.config.routing.consistencyWindowMs,
      waitMs: runtime!.config.routing.consistencyWaitMs,
      ...(plane.userWrites() ?? { shared: "local", lastError: null, users: 0, evicted: 0 }),
    }),
    control: {
      switchover: (to) => ha!.switchover(to),
      rejoin: (name) => ha!.rejoin(name),
      failover: () => {
        if (monitor.primaryReachable()) {
          throw new HaError("HA_CONFLICT", "the primary is reachable: use switchover to move it");
        }
        return ha!.failover("requested through the admin API");
      },
    },
    runtime: {
      reload: (who) => runtime!.reload("admin", who),
      drain: (name, who) => runtime!.drain(name, who),
      undrain: (name, who) => runtime!.undrain(name, who),
      status: () => runtime!.status(),
    },
  };
  const coordinator = await createCoordinator(config.redis, { logger });
  const failoverUser = config.failover.admin !== undefined && config.failover.replication !== undefined;
  // The replication operations (and the SQL client they use) only with failover credentials.
  const haOps = failoverUser ? await import("./ha/ops-adapter.js") : null;
  const discovery = failoverUser ? await import("./ha/discovery.js") : null;
  ha = new HaManager({
    config,
    coordinator,
    ops: haOps?.createHaOps(config, logger, (n) => cluster.backend(n)?.priority ?? 0) ?? null,
    // Discovery at start: each backend read within the monitor's check timeout.
    ...(discovery
      ? { readPositions: () => discovery.readBackendPositions(config, config.monitor.timeoutMs) }
      : {}),
    drained: (name) => cluster.isDrained(name),
    target: {
      apply: (t) => {
        cluster.applyTopology(t);
        plane.topologyApplied(t);
      },
      holdWrites: () => {
        upstreams.holdWrites();
        plane.holdWrites();
      },
      releaseWrites: () => {
        upstreams.releaseWrites();
        plane.releaseWrites();
      },
      primaryWork: () => plane.primaryWork(),
      recheck: (backend) => monitor.checkNow(backend),
    },
    observation: (name) => latest.get(name),
    logger,
    onChange: (r) => {
      metrics.topologyChange(r.kind, r.ok, (r.sinceDownMs ?? r.durationMs) / 1000);
      events.push({
        kind: r.kind,
        level: r.ok ? "warn" : "error",
        backend: r.to,
        message: r.ok
          ? `${r.kind} ${r.from} → ${r.to ?? "none"} done in ${r.durationMs} ms (generation ${r.generation ?? "?"})`
          : `${r.kind} from ${r.from} failed after ${r.durationMs} ms: ${r.error ?? "unknown error"}`,
        data: { generation: r.generation, durationMs: r.durationMs, steps: r.steps.length },
      });
    },
  });
  setHa(ha);
  await ha.start();
  cluster.start();
  const store: RuntimeStore =
    config.redis === undefined
      ? new LocalRuntimeStore(coordinator.instanceId)
      : new (await import("./cluster/redis-runtime-store.js")).RedisRuntimeStore({
          url: config.redis.url,
          logger,
          instanceId: coordinator.instanceId,
        });
  runtime = new RuntimeControl({
    config,
    load: o.source === undefined ? null : () => o.source!.load(),
    file: o.source?.file ?? null,
    targets: { cluster, proxy: plane.reloadTarget, ha, logger },
    store: o.wrapStore?.(store) ?? store,
    metrics,
    events,
  });
  await runtime.start();
  const backups =
    config.backup === undefined
      ? null
      : await (await import("./backup/jobs.js")).startBackupJobs(config, {
          logger,
          metrics,
          topology: () => ha!.topology(),
          lagMs: (name) => latest.get(name)?.lagMs ?? null,
          instanceId: coordinator.instanceId,
          backends: () => cluster.backends(),
        });
  if (backups !== null) status.backups = () => backups.status();
  let listen: { host: string; port: number };
  let admin: FastifyInstance | null = null;
  let adminListen: { host: string; port: number } | null = null;
  const rt = runtime;
  const stopRest = async () => {
    await rt.stop();
    await cluster.stop();
    await ha?.stop();
    await backups?.stop();
    await admin?.close();
  };
  try {
    listen = await plane.start();
    if (config.admin.enabled) {
      admin = createAdminApp({ status, metrics, logger, token: config.admin.token });
      await admin.listen({ host: config.admin.listen.host, port: config.admin.listen.port });
      const addr = admin.server.address();
      adminListen =
        typeof addr === "object" && addr !== null ? { host: addr.address, port: addr.port } : null;
      logger.info(
        adminListen ?? {},
        "admin endpoints: / (status page) /healthz /readyz /backends /metrics /digests",
      );
    }
  } catch (e) {
    await plane.close();
    await stopRest();
    throw e;
  }
  return {
    status,
    ha,
    runtime: rt,
    backups,
    admin,
    listen,
    adminListen,
    async stop() {
      await plane.drain(rt.config.drainTimeoutMs);
      await stopRest();
    },
  };
}
