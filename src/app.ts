import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createAdminApp } from "./admin/app.js";
import type { BackendStatus, StatusSource } from "./admin/status.js";
import { Balancer } from "./balancer/balancer.js";
import type { Config } from "./config/types.js";
import { Metrics } from "./metrics/registry.js";
import { Monitor } from "./monitor/monitor.js";
import type { BackendObservation } from "./monitor/types.js";
import type { BackendPool } from "./proxy/backend-pool.js";
import { BalancedPicker, toReplicaObservation } from "./proxy/balanced-picker.js";
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
  admin: FastifyInstance | null;
  /** Where clients connect (the real port when the config asked for 0). */
  listen: { host: string; port: number };
  /** Where the admin app listens, when enabled. */
  adminListen: { host: string; port: number } | null;
  /** Latest observation per backend name. */
  observations(): ReadonlyMap<string, BackendObservation>;
  status: StatusSource;
  /** Drains (stop accepting, let statements finish up to drainTimeoutMs) and stops everything. */
  stop(): Promise<void>;
}

/** The composition root: builds every component from the config and starts them. */
export async function startRwsplit(config: Config, logger: Logger): Promise<Rwsplit> {
  const tls = config.tls.enabled ? buildTlsContext(await loadTlsMaterial(config.tls)) : null;
  const metrics = new Metrics();
  const latest = new Map<string, BackendObservation>();
  const upstreams = new Upstreams(config);
  const pools = new Map(upstreams.replicas.map((p) => [p.endpoint.name, p]));
  const balancer = new Balancer(config.backends.replicas, config.lag, {
    // Cheap on the hot path: counts, no allocation. Users share the limit check of the first user.
    isExhausted: (name) => pools.get(name)?.exhausted(config.users[0]!.name) ?? false,
    // Logged once per transition, never silently (ProxySQL #3340: no flapping unnoticed).
    onTransition: (t) => {
      logger.warn(
        { backend: t.name, to: t.to, reason: t.reason, lagMs: t.lagMs },
        "replica eligibility changed",
      );
      metrics.balancerTransition(t.name, t.to);
    },
  });
  const monitor = new Monitor(
    { backends: config.backends, monitor: config.monitor },
    {
      logger,
      onObservation: (o) => {
        latest.set(o.name, o);
        if (o.role === "replica") balancer.observe(o.name, toReplicaObservation(o), Date.now());
      },
    },
  );
  upstreams.picker = new BalancedPicker(upstreams.replicas, balancer, () => latest);
  const hooks: SessionHooks = {
    onStatement(route, backend, reason, durationNs, errno) {
      metrics.queryCounter(route, backend, reason).inc();
      metrics.queryDuration(route).observe(durationNs / 1e9);
      if (errno !== 0) metrics.errorCounter(errno).inc();
      if (reason === "consistency_fallback" || reason === "no_replica")
        metrics.readFallbackCounter(reason).inc();
    },
    onClientError(errno) {
      metrics.errorCounter(errno).inc();
    },
    onClientConnect() {
      metrics.clientConnected();
    },
    onClientDisconnect() {
      metrics.clientDisconnected();
    },
  };
  const proxy = new ProxyServer({ config, logger, tls, upstreams, hooks });
  const backendStatus = (pool: BackendPool, role: "primary" | "replica", weight: number): BackendStatus => {
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
      reason: role === "primary" ? (o?.up ? null : (o?.lastError ?? "not checked yet")) : w.reason,
      inFlight: b ? b.inFlight : stats.busy,
      pool: { open: stats.open, idle: stats.idle, busy: stats.busy, waiting: stats.waiting, max: stats.max },
      lastError: o?.lastError ?? pool.lastError,
      lastCheckAt: o && o.checkedAt > 0 ? new Date(o.checkedAt).toISOString() : null,
    };
  };
  const status: StatusSource = {
    listening: () => proxy.isListening(),
    primaryReachable: () => monitor.primaryReachable(),
    sessions: () => proxy.sessionsInfo(),
    backends: () => [
      backendStatus(upstreams.primary, "primary", config.backends.primary.weight),
      ...upstreams.replicas.map((p, i) => backendStatus(p, "replica", config.backends.replicas[i]!.weight)),
    ],
  };
  monitor.start();
  let listen: { host: string; port: number };
  let admin: FastifyInstance | null = null;
  let adminListen: { host: string; port: number } | null = null;
  try {
    listen = await proxy.start();
    if (config.admin.enabled) {
      admin = createAdminApp({ status, metrics, logger });
      await admin.listen({ host: config.admin.listen.host, port: config.admin.listen.port });
      const addr = admin.server.address();
      adminListen =
        typeof addr === "object" && addr !== null ? { host: addr.address, port: addr.port } : null;
      logger.info(adminListen ?? {}, "admin endpoints: /healthz /readyz /backends /metrics");
    }
  } catch (e) {
    await proxy.close();
    await monitor.stop();
    await admin?.close();
    throw e;
  }
  return {
    proxy,
    monitor,
    metrics,
    admin,
    listen,
    adminListen,
    status,
    observations: () => latest,
    async stop() {
      await proxy.drain(config.drainTimeoutMs);
      await monitor.stop();
      await admin?.close();
    },
  };
}
