import type { Logger } from "pino";
import type { Cluster } from "./cluster/cluster.js";
import type { Config } from "./config/types.js";
import type { DigestStore } from "./digests/store.js";
import type { Metrics } from "./metrics/registry.js";
import { UserWriteLog } from "./proxy/consistency/user-write-log.js";
import type { SessionHooks, SessionPeers, TlsContext } from "./proxy/context.js";
import { ProxyServer } from "./proxy/server.js";
import { buildTlsContext } from "./proxy/tls-context.js";
import type { TlsMaterial, TlsPem } from "./proxy/tls-material.js";

/** Statements by kind, for the status page's reads and writes per second. */
export interface StatementKinds {
  read: number;
  write: number;
  session: number;
}

export interface DataPathOptions {
  config: Config;
  logger: Logger;
  /** The backends: the data path uses its pools and picker (`cluster.upstreams`). */
  cluster: Cluster;
  metrics: Metrics;
  digests: DigestStore;
  /** A refused connect or a lost connection (the HA manager checks the primary at once). */
  onBackendFailure(backend: string): void;
  /** The user-write log to use instead of this process's own or Redis's (worker processes). */
  userWrites?: UserWriteLog;
  /** The first client connection id (worker processes take disjoint ranges). */
  firstConnectionId?: number;
  /** The other worker processes' sessions, for KILL. */
  peers?: SessionPeers;
  /** The certificate and keys to use instead of loading them (a worker takes the supervisor's). */
  tlsPem?: TlsPem;
}

/** What serves MySQL clients: the proxy server, the counters its hooks keep, the user-write log. */
export interface DataPath {
  proxy: ProxyServer;
  kinds: StatementKinds;
  userWrites: UserWriteLog | undefined;
}

/**
 * The client side of a running rwsplit, in one process: TLS material, the hooks that turn each
 * statement into metrics, digests and counters, the per-user write log of
 * `routing.consistency: user`, and the ProxyServer over the cluster's pools. Built once per
 * process that serves clients: the only one with `workers: 1`, each worker process otherwise.
 * Not started: `proxy.start()` binds the listener.
 */
export async function buildDataPath(o: DataPathOptions): Promise<DataPath> {
  const { config, logger, metrics, digests } = o;
  const tls: TlsContext | null = config.tls.enabled ? buildTlsContext(await tlsMaterial(o)) : null;
  const kinds: StatementKinds = { read: 0, write: 0, session: 0 };
  const hooks = sessionHooks(metrics, digests, kinds, o.onBackendFailure);
  // routing.consistency: user — each user's last write; shared with the other instances on redis.url.
  const routing = config.routing;
  const userWrites =
    routing.consistency !== "user"
      ? undefined
      : (o.userWrites ??
        (config.redis !== undefined
          ? new (await import("./proxy/consistency/redis-user-writes.js")).RedisUserWriteLog({
              url: config.redis.url,
              windowMs: routing.consistencyWindowMs,
              logger,
            })
          : new UserWriteLog(routing.consistencyWindowMs)));
  userWrites?.start();
  metrics.watchConsistencySharing(() => userWrites?.status().shared === "redis");
  const proxy = new ProxyServer({
    config,
    logger,
    tls,
    upstreams: o.cluster.upstreams,
    hooks,
    ...(userWrites ? { userWrites } : {}),
    ...(o.firstConnectionId === undefined ? {} : { firstConnectionId: o.firstConnectionId }),
    ...(o.peers === undefined ? {} : { peers: o.peers }),
  });
  return { proxy, kinds, userWrites };
}

/**
 * The hooks that turn each statement into metrics, digests and the status page's counters: what
 * the data path runs per statement besides the proxying itself (the session-loop bench runs them too).
 */
export function sessionHooks(
  metrics: Metrics,
  digests: DigestStore,
  kinds: StatementKinds,
  onBackendFailure: (backend: string) => void,
): SessionHooks {
  return {
    onStatement(route, backend, reason, durationNs, errno, sample, endedAt) {
      metrics.queryCounter(route, backend, reason).inc();
      metrics.queryDuration(route).observe(durationNs / 1e9);
      if (errno !== 0) metrics.errorCounter(errno).inc();
      if (reason === "consistency_fallback" || reason === "no_replica")
        metrics.readFallbackCounter(reason).inc();
      const kind = sample.kind;
      if (kind === "read") kinds.read++;
      else if (kind === "write") kinds.write++;
      else if (kind === "session") kinds.session++;
      digests.record(sample, route, backend, reason, durationNs, errno, endedAt);
    },
    onClientError(errno) {
      metrics.errorCounter(errno).inc();
    },
    onBackendFailure: (backend) => onBackendFailure(backend),
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
}

async function tlsMaterial(o: DataPathOptions): Promise<TlsMaterial> {
  const m = await import("./proxy/tls-material.js");
  const pem = o.tlsPem;
  if (pem !== undefined) return m.tlsMaterialFromPem(pem.cert, pem.key, pem.generated, pem.rsaKey);
  return m.loadTlsMaterial(o.config.tls);
}
