import type { Command } from "commander";
import { stringify } from "yaml";
import { formatByteSize, formatDuration } from "../../config/duration.js";
import { formatProblems, loadConfig } from "../../config/load.js";
import { formatAddress } from "../../config/schema.js";
import type { BackendConfig, Config } from "../../config/types.js";

const MASK = "***";

function backendEntry(b: BackendConfig): unknown {
  if (b.name === formatAddress(b) && b.weight === 1 && b.priority === 0) return formatAddress(b);
  return { host: b.host, port: b.port, name: b.name, weight: b.weight, priority: b.priority };
}

/** redis://user:secret@host → redis://user:***@host */
function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = MASK;
    return u.toString();
  } catch {
    return MASK;
  }
}

/**
 * The effective config in the file's own terms (snake_case keys, durations like "2s"), with every
 * secret replaced by `***`. Loading it back gives the same Config, passwords aside.
 */
export function effectiveConfigYaml(c: Config): string {
  const file = {
    listen: formatAddress(c.listen),
    admin: {
      listen: formatAddress(c.admin.listen),
      enabled: c.admin.enabled,
      ...(c.admin.token === undefined ? {} : { token: MASK }),
    },
    log: { level: c.log.level },
    backends: { primary: backendEntry(c.backends.primary), replicas: c.backends.replicas.map(backendEntry) },
    users: c.users.map((u) => ({
      name: u.name,
      password: MASK,
      ...(u.defaultSchema === undefined ? {} : { default_schema: u.defaultSchema }),
    })),
    ...(c.accountsFromBackend === undefined
      ? {}
      : {
          auth: {
            from_backend: true,
            user: c.accountsFromBackend.user,
            password: MASK,
            refresh_interval: formatDuration(c.accountsFromBackend.refreshIntervalMs),
            refresh_min_gap: formatDuration(c.accountsFromBackend.refreshMinGapMs),
          },
        }),
    monitor: {
      user: c.monitor.user,
      password: MASK,
      interval: formatDuration(c.monitor.intervalMs),
      timeout: formatDuration(c.monitor.timeoutMs),
      heartbeat: {
        enabled: c.monitor.heartbeat.enabled,
        interval: formatDuration(c.monitor.heartbeat.intervalMs),
        schema: c.monitor.heartbeat.schema,
      },
    },
    pool: {
      max_per_backend: c.pool.maxPerBackend,
      connect_timeout: formatDuration(c.pool.connectTimeoutMs),
      idle_timeout: formatDuration(c.pool.idleTimeoutMs),
      ping_after_idle: formatDuration(c.pool.pingAfterIdleMs),
      acquire_timeout: formatDuration(c.pool.acquireTimeoutMs),
    },
    limits: {
      max_client_connections: c.limits.maxClientConnections,
      max_allowed_packet: formatByteSize(c.limits.maxAllowedPacket),
      relay_stall_warn: formatDuration(c.limits.relayStallWarnMs),
    },
    tls: {
      enabled: c.tls.enabled,
      ...(c.tls.certFile === undefined ? {} : { cert_file: c.tls.certFile }),
      ...(c.tls.keyFile === undefined ? {} : { key_file: c.tls.keyFile }),
    },
    routing: {
      consistency: c.routing.consistency,
      consistency_window: formatDuration(c.routing.consistencyWindowMs),
      consistency_wait: formatDuration(c.routing.consistencyWaitMs),
      read_fallback: c.routing.readFallback,
    },
    lag: {
      soft: formatDuration(c.lag.softMs),
      max: formatDuration(c.lag.maxMs),
      readmit_below: formatDuration(c.lag.readmitBelowMs),
      readmit_checks: c.lag.readmitChecks,
      min_serving: c.lag.minServing,
    },
    failover: {
      automatic: c.failover.automatic,
      ...(c.failover.admin === undefined ? {} : { user: c.failover.admin.user, password: MASK }),
      ...(c.failover.replication === undefined
        ? {}
        : { replication_user: c.failover.replication.user, replication_password: MASK }),
      detect: formatDuration(c.failover.detectMs),
      hold_writes: formatDuration(c.failover.holdWritesMs),
      catch_up: formatDuration(c.failover.catchUpMs),
      switchover_timeout: formatDuration(c.failover.switchoverTimeoutMs),
    },
    drain_timeout: formatDuration(c.drainTimeoutMs),
    ...(c.redis === undefined ? {} : { redis: { url: maskUrl(c.redis.url) } }),
  };
  return stringify(file, { lineWidth: 0 });
}

export interface CheckResult {
  /** 0: valid; 2: invalid or unreadable (the same code `serve` exits with on a bad config). */
  code: 0 | 2;
  stdout: string;
  stderr: string;
}

/** The command's whole behaviour, callable in-process: the file, then RWSPLIT_* from `env`. */
export function checkConfig(file: string, env: NodeJS.ProcessEnv = process.env): CheckResult {
  try {
    const config = loadConfig({ file, env });
    const header = `# effective rwsplit config: ${file}, then RWSPLIT_* environment; passwords masked\n`;
    return { code: 0, stdout: header + effectiveConfigYaml(config), stderr: "" };
  } catch (e) {
    return { code: 2, stdout: "", stderr: `${formatProblems(e)}\n` };
  }
}

export function register(program: Command): void {
  program
    .command("check-config")
    .description(
      "validate a config file: print the effective config (exit 0) or one line per problem (exit 2)",
    )
    .argument("<file>", "YAML config file (see config.example.yaml)")
    .action((file: string) => {
      const r = checkConfig(file);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      process.exitCode = r.code;
    });
}
