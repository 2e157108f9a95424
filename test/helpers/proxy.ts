import pino from "pino";
import { type Rwsplit, startRwsplit } from "../../src/app.js";
import type { Config } from "../../src/config/types.js";
import { ProxyServer } from "../../src/proxy/server.js";
import { buildTlsContext } from "../../src/proxy/tls-context.js";
import { loadTlsMaterial } from "../../src/proxy/tls-material.js";
import type { SandboxCredentials } from "../../src/sandbox/cluster.js";

export interface Endpoint {
  host: string;
  port: number;
}

/** A complete effective config for tests: the sandbox's backends, its app user, a free port. */
export function testConfig(primary: Endpoint, replicas: Endpoint[], overrides: Partial<Config> = {}): Config {
  const backend = (e: Endpoint, i: number) => ({
    name: i < 0 ? "primary" : `replica${i + 1}`,
    host: e.host,
    port: e.port,
    weight: 1,
    priority: 0,
  });
  return {
    listen: { host: "127.0.0.1", port: 0 },
    admin: { listen: { host: "127.0.0.1", port: 0 }, enabled: false },
    log: { level: "silent" },
    backends: { primary: backend(primary, -1), replicas: replicas.map(backend) },
    users: [{ name: "app", password: "app-pass" }],
    monitor: {
      user: "monitor",
      password: "monitor-pass",
      intervalMs: 500,
      timeoutMs: 1000,
      heartbeat: { enabled: true, intervalMs: 250, schema: "rwsplit" },
    },
    pool: {
      maxPerBackend: 200,
      connectTimeoutMs: 3000,
      idleTimeoutMs: 60000,
      pingAfterIdleMs: 5000,
      acquireTimeoutMs: 5000,
    },
    limits: { maxClientConnections: 10000, maxAllowedPacket: 1 << 30, relayStallWarnMs: 5000 },
    tls: { enabled: false },
    // "session", not the file's default "user": the suite's tests share one user ("app"), and a
    // write in one test would otherwise steer the next test's reads for consistency_window.
    routing: {
      consistency: "session",
      consistencyWindowMs: 10_000,
      consistencyWaitMs: 50,
      readFallback: "primary",
    },
    lag: { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 },
    failover: {
      automatic: false,
      detectMs: 2000,
      holdWritesMs: 10_000,
      catchUpMs: 10_000,
      switchoverTimeoutMs: 5000,
    },
    drainTimeoutMs: 2000,
    workers: 1,
    youngGeneration: "fixed",
    digests: { max: 5000 },
    ...overrides,
  };
}

export interface TestProxy {
  server: ProxyServer;
  host: string;
  port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts the data path in-process on a free port (with a self-signed certificate if `tls`). */
export async function startProxy(config: Config, opts: { tls?: boolean } = {}): Promise<TestProxy> {
  const logger = pino({ level: config.log.level });
  const tls = opts.tls ? buildTlsContext(await loadTlsMaterial({ ...config.tls, enabled: true })) : null;
  let blocked = 0;
  const hooks = { onStatement() {}, onClientError() {}, onReplicaWriteBlocked: () => void blocked++ };
  const server = new ProxyServer({ config, logger, tls, hooks });
  const { host, port } = await server.start();
  const close = async () => {
    await server.close();
    noWriteReachedAReplica(blocked);
  };
  return { server, host, port, close, [Symbol.asyncDispose]: close };
}

/**
 * Issue #12: nothing unsafe is ever about to be written to a replica. The send-time guard counts
 * what it stopped; every test proxy checks at close that it stopped nothing, so the whole suite
 * keeps rwsplit_replica_writes_blocked_total at 0.
 */
function noWriteReachedAReplica(blocked: number): void {
  if (blocked > 0) {
    throw new Error(
      `the send-time guard stopped ${blocked} statement(s) bound for a replica: a routing bug (issue #12)`,
    );
  }
}

export interface TestApp extends TestProxy {
  app: Rwsplit;
}

/** The whole stack in-process (proxy + monitor + lag-aware picker), as `rwsplit serve` runs it. */
export async function startApp(config: Config): Promise<TestApp> {
  const logger = pino({ level: config.log.level });
  const app = await startRwsplit(config, logger);
  const close = async () => {
    await app.stop();
    noWriteReachedAReplica(app.metrics.replicaWritesBlocked.entries.reduce((n, e) => n + e.cell.value, 0));
  };
  return {
    app,
    server: app.proxy,
    host: app.listen.host,
    port: app.listen.port,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * testConfig with automatic failover, run as the sandbox's failover and replication users;
 * `failover` sets the timings a test needs (detectMs, holdWritesMs, ...).
 */
export function failoverConfig(
  sb: { primary: Endpoint; replicas: Endpoint[]; credentials: SandboxCredentials },
  failover: Partial<Config["failover"]> = {},
  overrides: Partial<Config> = {},
): Config {
  const c = testConfig(sb.primary, sb.replicas, overrides);
  const { failover: f, replication: r } = sb.credentials;
  c.failover = {
    ...c.failover,
    automatic: true,
    admin: { user: f.user, password: f.password },
    replication: { user: r.user, password: r.password },
    ...failover,
  };
  return c;
}
