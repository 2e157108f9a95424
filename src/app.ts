import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createAdminApp } from "./admin/app.js";
import type { BackendStatus, StatusSource } from "./admin/status.js";
import { type BackupJobs, startBackupJobs } from "./backup/jobs.js";
import { Balancer } from "./balancer/balancer.js";
import { LagTracker } from "./balancer/lag-state.js";
import type { Config } from "./config/types.js";
import { DigestStore } from "./digests/store.js";
import { HaError } from "./errors.js";
import { EventFeed } from "./events/feed.js";
import { readBackendPositions } from "./ha/discovery.js";
import { createCoordinator } from "./ha/fleet.js";
import { HaManager } from "./ha/manager.js";
import { createHaOps } from "./ha/ops-adapter.js";
import type { TopologyView } from "./ha/topology-view.js";
import { Metrics } from "./metrics/registry.js";
import { Monitor } from "./monitor/monitor.js";
import type { BackendObservation, BackendRole } from "./monitor/types.js";
import type { BackendPool } from "./proxy/backend-pool.js";
import { BalancedPicker } from "./proxy/balanced-picker.js";
import { RedisUserWriteLog } from "./proxy/consistency/redis-user-writes.js";
import { UserWriteLog } from "./proxy/consistency/user-write-log.js";
import type { SessionHooks } from "./proxy/context.js";
import { ProxyServer } from "./proxy/server.js";
import { buildTlsContext } from "./proxy/tls-context.js";
import { loadTlsMaterial } from "./proxy/tls-material.js";
import { Upstreams } from "./proxy/upstreams.js";

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
  /** Drains (stop accepting, let statements finish up to drainTimeoutMs) and stops everything. */
  stop(): Promise<void>;
}

/** The composition root: builds every component from the config and starts them. */
export async function startRwsplit(config: Config, logger: Logger): Promise<Rwsplit> {
  const tls = config.tls.enabled ? buildTlsContext(await loadTlsMaterial(config.tls)) : null;
  const metrics = new Metrics();
  const digests = new DigestStore(config.digests.max);
  const events = new EventFeed();
  /** Statements by kind, for the status page's reads and writes per second. */
  const kinds = { read: 0, write: 0, session: 0 };
  const latest = new Map<string, BackendObservation>();
  const upstreams = new Upstreams(config);
  for (const pool of upstreams.pools.values()) metrics.countBytes(pool.endpoint.name, pool.bytes);
  const allBackends = [config.backends.primary, ...config.backends.replicas];
  /** The lag policy's memory of each replica (reads keep flowing during a failover). */
  const lag = new LagTracker();
  let picker: BalancedPicker;
  /** The balancer over the current replicas; rebuilt on a topology change, replaying what is known. */
  const buildBalancer = (): Balancer => {
    const members = new Set(upstreams.replicas.map((p) => p.endpoint.name));
    const b = new Balancer(
      allBackends.filter((x) => members.has(x.name)),
      config.lag,
      {
        // Cheap on the hot path: counts, no allocation; per user (pool limits are per user).
        isExhausted: (name) => picker.exhausted(name),
        // Logged once per transition, never silently (ProxySQL #3340: no flapping unnoticed).
        onTransition: (t) => {
          // Excluded is what an operator must see; serving again (and at start) is good news.
          const level = t.to === "serving" ? "info" : "warn";
          logger[level](
            { backend: t.name, to: t.to, reason: t.reason, lagMs: t.lagMs },
            "replica eligibility changed",
          );
          metrics.balancerTransition(t.name, t.to);
          events.push({
            kind: t.to === "excluded" ? "exclusion" : "readmission",
            level: t.to === "excluded" ? "warn" : "info",
            backend: t.name,
            message:
              t.to === "excluded"
                ? `${t.name} excluded from reads: ${t.reason ?? "unknown reason"}`
                : `${t.name} serving reads${t.lagMs === null ? "" : ` (lag ${Math.round(t.lagMs)} ms)`}`,
            at: t.at,
          });
        },
      },
    );
    for (const name of members) {
      const o = latest.get(name);
      if (o !== undefined && o.checkedAt > 0) feed(b, { ...o, role: "replica" });
    }
    return b;
  };
  const feed = (b: Balancer, o: BackendObservation) =>
    b.observe(o.name, lag.observe(o.name, o, latest.get(upstreams.primary.endpoint.name)), Date.now());
  // What a caught-up replica's lag may read: one heartbeat period, or Seconds_Behind_Master's 1 s.
  const hb = config.monitor.heartbeat;
  const lagResolutionMs = hb.enabled ? hb.intervalMs : 1000;
  let balancer = buildBalancer();
  picker = new BalancedPicker(upstreams.replicas, balancer, () => latest, lagResolutionMs);
  upstreams.picker = picker;
  let ha: HaManager | null = null;
  const monitor = new Monitor(
    { backends: config.backends, monitor: config.monitor },
    {
      logger,
      onObservation: (o) => {
        latest.set(o.name, o);
        // The cache of prepared statements follows the server's max_prepared_stmt_count.
        if (o.maxPreparedStmtCount !== null)
          upstreams.pools.get(o.name)?.statementBudget.setServerLimit(o.maxPreparedStmtCount);
        if (o.role === "replica") feed(balancer, o);
        ha?.onObservation(o);
      },
    },
  );
  const applyTopology = (t: TopologyView) => {
    upstreams.setTopology(t);
    monitor.setTopology(t.primary, t.fenced);
    lag.clear();
    balancer = buildBalancer();
    picker = new BalancedPicker(upstreams.replicas, balancer, () => latest, lagResolutionMs);
    upstreams.picker = picker;
    metrics.topologyGeneration(t.generation);
  };
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
        ? new RedisUserWriteLog({ url: config.redis.url, windowMs: routing.consistencyWindowMs, logger })
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
  const roleOf = (name: string): BackendRole =>
    name === upstreams.primary.endpoint.name
      ? "primary"
      : upstreams.fenced.includes(name)
        ? "fenced"
        : "replica";
  const backendStatus = (pool: BackendPool, role: BackendRole, weight: number): BackendStatus => {
    const o = latest.get(pool.endpoint.name);
    const b = role === "replica" ? balancer.snapshot().find((x) => x.name === pool.endpoint.name) : undefined;
    const w = b ? { weight: b.effectiveWeight, reason: b.reason } : { weight: 0, reason: null };
    const stats = pool.stats();
    return {
      name: pool.endpoint.name,
      role,
      host: pool.endpoint.host,
      port: pool.endpoint.port,
      up: o?.up ?? false,
      readOnly: o?.readOnly ?? null,
      lagMs: o?.lagMs ?? null,
      lagSource: o?.lagSource ?? null,
      weight,
      effectiveWeight: w.weight,
      eligible: role === "primary" ? (o?.up ?? false) : (b?.eligible ?? false),
      reason:
        role === "fenced"
          ? "fenced: a former primary; `rwsplit rejoin` makes it a replica again"
          : role === "primary"
            ? o?.up
              ? null
              : (o?.lastError ?? "not checked yet")
            : w.reason,
      inFlight: b ? b.inFlight : stats.busy,
      pool: {
        open: stats.open,
        idle: stats.idle,
        busy: stats.busy,
        waiting: stats.waiting,
        max: stats.max,
        statements: stats.statements,
      },
      lastError: o?.lastError ?? pool.lastError,
      lastCheckAt: o && o.checkedAt > 0 ? new Date(o.checkedAt).toISOString() : null,
      gtidPosition: o?.gtidCurrentPos || o?.gtidSlavePos || null,
      lagPolicy: role === "replica" ? lag.stateOf(pool.endpoint.name) : null,
    };
  };
  const status: StatusSource = {
    listening: () => proxy.isListening(),
    primaryReachable: () => monitor.primaryReachable(),
    sessions: () => proxy.sessionsInfo(),
    backends: () =>
      allBackends
        .map((b) => backendStatus(upstreams.pools.get(b.name)!, roleOf(b.name), b.weight))
        .sort((a, b) => (a.role === "primary" ? -1 : b.role === "primary" ? 1 : 0)),
    topology: () => ha!.status(),
    digests: { list: (sort, limit) => digests.list(sort, limit), reset: () => digests.reset() },
    events: { list: (limit, afterId) => events.list(limit, afterId) },
    statementKinds: () => kinds,
    consistency: () => ({
      scope: routing.consistency,
      windowMs: routing.consistencyWindowMs,
      waitMs: routing.consistencyWaitMs,
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
  };
  const coordinator = createCoordinator(config.redis, { logger });
  const failoverUser = config.failover.admin !== undefined && config.failover.replication !== undefined;
  ha = new HaManager({
    config,
    coordinator,
    ops: failoverUser ? createHaOps(config, logger) : null,
    // Discovery at start: each backend read within the monitor's check timeout.
    ...(failoverUser ? { readPositions: () => readBackendPositions(config, config.monitor.timeoutMs) } : {}),
    target: {
      apply: applyTopology,
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
  monitor.start();
  const backups = startBackupJobs(config, {
    logger,
    metrics,
    topology: () => ha!.topology(),
    lagMs: (name) => latest.get(name)?.lagMs ?? null,
    instanceId: coordinator.instanceId,
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
    await monitor.stop();
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
    observations: () => latest,
    async stop() {
      await proxy.drain(config.drainTimeoutMs);
      await monitor.stop();
      await ha?.stop();
      await backups?.stop();
      await admin?.close();
      await userWrites?.stop();
    },
  };
}
