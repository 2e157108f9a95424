import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createAdminApp } from "./admin/app.js";
import type { StatusSource } from "./admin/status.js";
import type { BackupJobs } from "./backup/jobs.js";
import { backendStatuses } from "./cluster/backend-status.js";
import { Cluster } from "./cluster/cluster.js";
import { RuntimeControl } from "./cluster/reload.js";
import { LocalRuntimeStore } from "./cluster/runtime-store.js";
import type { Config } from "./config/types.js";
import { DigestStore } from "./digests/store.js";
import { HaError } from "./errors.js";
import { EventFeed } from "./events/feed.js";
import { createCoordinator } from "./ha/fleet.js";
import { HaManager } from "./ha/manager.js";
import { Metrics } from "./metrics/registry.js";
import type { Monitor } from "./monitor/monitor.js";
import type { BackendObservation } from "./monitor/types.js";
import { UserWriteLog } from "./proxy/consistency/user-write-log.js";
import type { SessionHooks } from "./proxy/context.js";
import { ProxyServer } from "./proxy/server.js";
import { buildTlsContext } from "./proxy/tls-context.js";

/** A running rwsplit: the proxy and, around it, the monitor and what serves ops. */
export interface Rwsplit {
  proxy: ProxyServer;
  monitor: Monitor;
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
 * The composition root: builds every component from the config and starts them.
 *
 * What only some configs use is imported when the config asks for it (TLS material, Redis, the
 * failover operations, backups): a module once loaded holds its code and objects for as long as
 * the process runs, and the AWS SDK, ioredis and the certificate generator together are most of
 * an idle proxy's memory. A reload cannot turn these on (they need a restart, see config/diff.ts).
 */
export async function startRwsplit(config: Config, logger: Logger, source?: ReloadSource): Promise<Rwsplit> {
  const tls = config.tls.enabled
    ? buildTlsContext(await (await import("./proxy/tls-material.js")).loadTlsMaterial(config.tls))
    : null;
  const metrics = new Metrics();
  const digests = new DigestStore(config.digests.max);
  const events = new EventFeed();
  /** Statements by kind, for the status page's reads and writes per second. */
  const kinds = { read: 0, write: 0, session: 0 };
  let ha: HaManager | null = null;
  // The backends and everything per backend: pools, monitor loops, balancer (src/cluster).
  const cluster = new Cluster({
    config,
    logger,
    metrics,
    events,
    onObservation: (o) => ha?.onObservation(o),
  });
  const { upstreams, monitor, latest } = cluster;
  const hooks: SessionHooks = {
    onStatement(route, backend, reason, durationNs, errno, sample) {
      metrics.queryCounter(route, backend, reason).inc();
      metrics.queryDuration(route).observe(durationNs / 1e9);
      if (errno !== 0) metrics.errorCounter(errno).inc();
      if (reason === "consistency_fallback" || reason === "no_replica")
        metrics.readFallbackCounter(reason).inc();
      const kind = sample.kind;
      if (kind === "read") kinds.read++;
      else if (kind === "write") kinds.write++;
      else if (kind === "session") kinds.session++;
      digests.record(sample, route, backend, reason, durationNs, errno);
    },
    onClientError(errno) {
      metrics.errorCounter(errno).inc();
    },
    // A refused connect or a lost connection: if it is the primary, check it now (faster failover).
    onBackendFailure(backend) {
      ha?.onBackendFailure(backend);
    },
    onReplicaWriteBlocked(backend) {
      metrics.replicaWritesBlocked.get([backend]).inc();
    },
    onRelayStall() {
      metrics.relayStalls.inc();
    },
    onConsistencyWait(backend, result) {
      metrics.consistencyWaits.get([backend, result]).inc();
    },
    onClientConnect() {
      metrics.clientConnected();
    },
    onClientDisconnect() {
      metrics.clientDisconnected();
    },
  };
  // routing.consistency: user — each user's last write; shared with the other instances on redis.url.
  const routing = config.routing;
  const userWrites =
    routing.consistency !== "user"
      ? undefined
      : config.redis !== undefined
        ? new (await import("./proxy/consistency/redis-user-writes.js")).RedisUserWriteLog({
            url: config.redis.url,
            windowMs: routing.consistencyWindowMs,
            logger,
          })
        : new UserWriteLog(routing.consistencyWindowMs);
  userWrites?.start();
  metrics.watchConsistencySharing(() => userWrites?.status().shared === "redis");
  const proxy = new ProxyServer({
    config,
    logger,
    tls,
    upstreams,
    hooks,
    ...(userWrites ? { userWrites } : {}),
  });
  const status: StatusSource = {
    listening: () => proxy.isListening(),
    primaryReachable: () => monitor.primaryReachable(),
    sessions: () => proxy.sessionsInfo(),
    backends: () => backendStatuses(cluster),
    topology: () => ha!.status(),
    digests: { list: (sort, limit) => digests.list(sort, limit), reset: () => digests.reset() },
    events: { list: (limit, afterId) => events.list(limit, afterId) },
    statementKinds: () => kinds,
    consistency: () => ({
      scope: runtime.config.routing.consistency,
      windowMs: runtime.config.routing.consistencyWindowMs,
      waitMs: runtime.config.routing.consistencyWaitMs,
      ...(userWrites?.status() ?? { shared: "local", lastError: null, users: 0, evicted: 0 }),
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
      reload: (who) => runtime.reload("admin", who),
      drain: (name, who) => runtime.drain(name, who),
      undrain: (name, who) => runtime.undrain(name, who),
      status: () => runtime.status(),
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
      apply: (t) => cluster.applyTopology(t),
      holdWrites: () => upstreams.holdWrites(),
      releaseWrites: () => upstreams.releaseWrites(),
      primaryWork: () => proxy.primaryWork(),
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
  await ha.start();
  cluster.start();
  const runtime = new RuntimeControl({
    config,
    load: source === undefined ? null : () => source.load(),
    file: source?.file ?? null,
    targets: { cluster, proxy, ha, logger },
    store:
      config.redis === undefined
        ? new LocalRuntimeStore(coordinator.instanceId)
        : new (await import("./cluster/redis-runtime-store.js")).RedisRuntimeStore({
            url: config.redis.url,
            logger,
            instanceId: coordinator.instanceId,
          }),
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
  try {
    listen = await proxy.start();
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
    await proxy.close();
    await runtime.stop();
    await cluster.stop();
    await ha.stop();
    await backups?.stop();
    await admin?.close();
    await userWrites?.stop();
    throw e;
  }
  return {
    proxy,
    monitor,
    metrics,
    digests,
    events,
    admin,
    listen,
    adminListen,
    status,
    ha,
    backups,
    cluster,
    runtime,
    observations: () => latest,
    async stop() {
      await proxy.drain(runtime.config.drainTimeoutMs);
      await runtime.stop();
      await cluster.stop();
      await ha?.stop();
      await backups?.stop();
      await admin?.close();
      await userWrites?.stop();
    },
  };
}
