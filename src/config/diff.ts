import { formatByteSize, formatDuration } from "./duration.js";
import type { ConfigProblem } from "./load.js";
import { formatAddress } from "./schema.js";
import type { BackendConfig, Config, UserConfig } from "./types.js";

/**
 * What a config reload changes (issue #18): the running config against the file's, as a list of
 * changes to make live and a list of keys that only a restart can change. Pure: `reload.ts` in
 * src/cluster applies the list, each change in one place; table-tested in
 * test/unit/config-diff.test.ts.
 *
 * Backends and users are compared by name. A backend whose address changed under the same name
 * cannot be moved live (its pool, monitor loop and metrics are that server's): it keeps running
 * at the old address and the change waits for a restart; give it a new name to add the new
 * server and drain the old one instead. Where the file says the primary is (`backends.primary`)
 * is where a fresh fleet starts; once running, the topology decides (failover, switchover), so a
 * backend moving between `primary` and `replicas` in the file is no change at all.
 *
 * Worked example: running has replicas r1 (weight 1), r2; the file has r1 (weight 3), r3, and
 * `lag.max: 5s`, `listen: 0.0.0.0:6033`:
 *
 *   backend-added r3 · backend-removed r2 · backend-weight r1 1 → 3 · setting lag.max 3s → 5s
 *   restart: listen 127.0.0.1:6033 → 0.0.0.0:6033 (the client listener is bound at start)
 *
 * and `next` is the file's config with `listen` still 127.0.0.1:6033: what runs after the reload.
 */

export type ConfigChange =
  | { kind: "backend-added"; backend: BackendConfig }
  | { kind: "backend-removed"; name: string }
  | { kind: "backend-weight"; name: string; from: number; to: number }
  | { kind: "backend-priority"; name: string; from: number; to: number }
  | { kind: "user-added"; name: string }
  | { kind: "user-removed"; name: string }
  | { kind: "user-changed"; name: string; fields: ("password" | "default_schema")[] }
  /** A setting that takes effect at once: `key` in file terms, values as the file writes them. */
  | { kind: "setting"; key: string; from: string; to: string };

/** A key the file changed that the running proxy keeps until it restarts. */
export interface RestartNeeded {
  key: string;
  /** From and to as the file writes them; "(secret)" for secrets and sections holding them. */
  from: string;
  to: string;
  why: string;
}

export interface ConfigDiff {
  /** To apply now, in this order: backends, users, settings. */
  changes: ConfigChange[];
  restart: RestartNeeded[];
  /** The config to run after the reload: the file's, with every restart-only key still as running. */
  next: Config;
}

type Show = (c: Config) => string;

interface Setting {
  key: string;
  show: Show;
  /** What is compared when `show` hides it (secrets, whole sections); default `show`. */
  value?: (c: Config) => unknown;
  /** Null: live. Otherwise why it needs a restart; a function when it depends on the values. */
  restart: string | null | ((from: Config, to: Config) => string | null);
}

const SECRET = "(secret)";
const ms = (v: number) => formatDuration(v);
const secret = (v: unknown): string => (v === undefined ? "(unset)" : SECRET);

const BOUND = "bound at start";
const MONITOR = "the monitor's loops and heartbeat writer keep the values they started with";
const TLS = "TLS material is loaded at start";
const FAILOVER_ACCOUNTS = "the failover operations are built with their accounts at start";

/** Every setting outside backends and users, in file order; `show` renders the file's own form. */
const SETTINGS: readonly Setting[] = [
  { key: "listen", show: (c) => formatAddress(c.listen), restart: `the client listener is ${BOUND}` },
  { key: "admin.listen", show: (c) => formatAddress(c.admin.listen), restart: `the admin app is ${BOUND}` },
  { key: "admin.enabled", show: (c) => String(c.admin.enabled), restart: `the admin app is ${BOUND}` },
  {
    key: "admin.token",
    show: (c) => secret(c.admin.token),
    value: (c) => c.admin.token,
    restart: "the admin app reads it at start",
  },
  { key: "log.level", show: (c) => c.log.level, restart: null },
  { key: "workers", show: (c) => String(c.workers), restart: "worker processes are started at start" },
  { key: "young_generation", show: (c) => c.youngGeneration, restart: "each process sets it at start" },
  {
    key: "auth",
    show: (c) => (c.accountsFromBackend === undefined ? "from_backend: false" : "from_backend: true"),
    value: (c) => JSON.stringify(c.accountsFromBackend ?? null),
    restart: "the loader of the primary's accounts starts with the proxy",
  },
  { key: "monitor.user", show: (c) => c.monitor.user, restart: MONITOR },
  {
    key: "monitor.password",
    show: (c) => secret(c.monitor.password),
    value: (c) => c.monitor.password,
    restart: MONITOR,
  },
  { key: "monitor.interval", show: (c) => ms(c.monitor.intervalMs), restart: MONITOR },
  { key: "monitor.timeout", show: (c) => ms(c.monitor.timeoutMs), restart: MONITOR },
  {
    key: "monitor.heartbeat.enabled",
    show: (c) => String(c.monitor.heartbeat.enabled),
    restart: MONITOR,
  },
  { key: "monitor.heartbeat.interval", show: (c) => ms(c.monitor.heartbeat.intervalMs), restart: MONITOR },
  { key: "monitor.heartbeat.schema", show: (c) => c.monitor.heartbeat.schema, restart: MONITOR },
  { key: "pool.max_per_backend", show: (c) => String(c.pool.maxPerBackend), restart: null },
  { key: "pool.connect_timeout", show: (c) => ms(c.pool.connectTimeoutMs), restart: null },
  { key: "pool.idle_timeout", show: (c) => ms(c.pool.idleTimeoutMs), restart: null },
  { key: "pool.ping_after_idle", show: (c) => ms(c.pool.pingAfterIdleMs), restart: null },
  { key: "pool.acquire_timeout", show: (c) => ms(c.pool.acquireTimeoutMs), restart: null },
  {
    key: "limits.max_client_connections",
    show: (c) => String(c.limits.maxClientConnections),
    restart: null,
  },
  // Read when a client connects: connections made before keep theirs.
  {
    key: "limits.max_allowed_packet",
    show: (c) => String(formatByteSize(c.limits.maxAllowedPacket)),
    restart: null,
  },
  { key: "limits.relay_stall_warn", show: (c) => ms(c.limits.relayStallWarnMs), restart: null },
  { key: "tls.enabled", show: (c) => String(c.tls.enabled), restart: TLS },
  { key: "tls.cert_file", show: (c) => c.tls.certFile ?? "(unset)", restart: TLS },
  { key: "tls.key_file", show: (c) => c.tls.keyFile ?? "(unset)", restart: TLS },
  {
    key: "routing.consistency",
    show: (c) => c.routing.consistency,
    // `user` keeps each user's last write (shared through Redis): that log exists only when the
    // proxy started with it. Leaving `user`, or moving among the others, is live.
    restart: (from, to) =>
      to.routing.consistency === "user" && from.routing.consistency !== "user"
        ? "the per-user write log (routing.consistency: user) is set up at start"
        : null,
  },
  {
    key: "routing.consistency_window",
    show: (c) => ms(c.routing.consistencyWindowMs),
    restart: "the per-user write log keeps the window it started with",
  },
  { key: "routing.consistency_wait", show: (c) => ms(c.routing.consistencyWaitMs), restart: null },
  { key: "routing.read_fallback", show: (c) => c.routing.readFallback, restart: null },
  { key: "lag.soft", show: (c) => ms(c.lag.softMs), restart: null },
  { key: "lag.max", show: (c) => ms(c.lag.maxMs), restart: null },
  { key: "lag.readmit_below", show: (c) => ms(c.lag.readmitBelowMs), restart: null },
  { key: "lag.readmit_checks", show: (c) => String(c.lag.readmitChecks), restart: null },
  { key: "lag.min_serving", show: (c) => String(c.lag.minServing), restart: null },
  { key: "failover.automatic", show: (c) => String(c.failover.automatic), restart: null },
  { key: "failover.user", show: (c) => c.failover.admin?.user ?? "(unset)", restart: FAILOVER_ACCOUNTS },
  {
    key: "failover.password",
    show: (c) => secret(c.failover.admin?.password),
    value: (c) => c.failover.admin?.password,
    restart: FAILOVER_ACCOUNTS,
  },
  {
    key: "failover.replication_user",
    show: (c) => c.failover.replication?.user ?? "(unset)",
    restart: FAILOVER_ACCOUNTS,
  },
  {
    key: "failover.replication_password",
    show: (c) => secret(c.failover.replication?.password),
    value: (c) => c.failover.replication?.password,
    restart: FAILOVER_ACCOUNTS,
  },
  { key: "failover.detect", show: (c) => ms(c.failover.detectMs), restart: null },
  { key: "failover.hold_writes", show: (c) => ms(c.failover.holdWritesMs), restart: null },
  { key: "failover.catch_up", show: (c) => ms(c.failover.catchUpMs), restart: null },
  { key: "failover.switchover_timeout", show: (c) => ms(c.failover.switchoverTimeoutMs), restart: null },
  { key: "drain_timeout", show: (c) => ms(c.drainTimeoutMs), restart: null },
  { key: "digests.max", show: (c) => String(c.digests.max), restart: "the digest store is sized at start" },
  {
    key: "redis.url",
    show: (c) => secret(c.redis?.url),
    value: (c) => c.redis?.url,
    restart: "the fleet's Redis clients connect at start",
  },
  {
    key: "backup",
    // It holds credentials: compared whole, never shown.
    show: (c) => secret(c.backup),
    value: (c) => JSON.stringify(c.backup ?? null),
    restart: "backup schedules and the binlog archive start with the proxy",
  },
];

function restartWhy(s: Setting, from: Config, to: Config): string | null {
  return typeof s.restart === "function" ? s.restart(from, to) : s.restart;
}

/** The file's backends, named as running where an address changed (restart), in file order. */
function diffBackends(
  running: Config,
  file: Config,
): { changes: ConfigChange[]; restart: RestartNeeded[]; next: Config["backends"] } {
  const changes: ConfigChange[] = [];
  const restart: RestartNeeded[] = [];
  const before = new Map(allBackends(running).map((b) => [b.name, b]));
  const after = new Set(allBackends(file).map((b) => b.name));
  const keep = (b: BackendConfig): BackendConfig => {
    const was = before.get(b.name);
    if (was === undefined) {
      changes.push({ kind: "backend-added", backend: b });
      return b;
    }
    if (was.host !== b.host || was.port !== b.port) {
      restart.push({
        key: `backends.${b.name}`,
        from: formatAddress(was),
        to: formatAddress(b),
        why: "a backend keeps its address while it runs: add the new server under a new name and remove this one instead",
      });
    }
    if (was.weight !== b.weight)
      changes.push({ kind: "backend-weight", name: b.name, from: was.weight, to: b.weight });
    if (was.priority !== b.priority)
      changes.push({ kind: "backend-priority", name: b.name, from: was.priority, to: b.priority });
    return { ...b, host: was.host, port: was.port };
  };
  // Added and changed in file order, then removed in running order.
  const primary = keep(file.backends.primary);
  const replicas = file.backends.replicas.map(keep);
  for (const name of before.keys()) if (!after.has(name)) changes.push({ kind: "backend-removed", name });
  const order = (c: ConfigChange) => (c.kind === "backend-added" ? 0 : c.kind === "backend-removed" ? 1 : 2);
  changes.sort((a, b) => order(a) - order(b));
  return { changes, restart, next: { primary, replicas } };
}

function diffUsers(running: readonly UserConfig[], file: readonly UserConfig[]): ConfigChange[] {
  const out: ConfigChange[] = [];
  const before = new Map(running.map((u) => [u.name, u]));
  const after = new Set(file.map((u) => u.name));
  for (const u of file) {
    const was = before.get(u.name);
    if (was === undefined) {
      out.push({ kind: "user-added", name: u.name });
      continue;
    }
    const fields: ("password" | "default_schema")[] = [];
    if (was.password !== u.password) fields.push("password");
    if (was.defaultSchema !== u.defaultSchema) fields.push("default_schema");
    if (fields.length > 0) out.push({ kind: "user-changed", name: u.name, fields });
  }
  for (const u of running) if (!after.has(u.name)) out.push({ kind: "user-removed", name: u.name });
  return out;
}

/** The running config against the file's: what changes live, what waits for a restart, what runs next. */
export function diffConfig(running: Config, file: Config): ConfigDiff {
  const backends = diffBackends(running, file);
  const changes: ConfigChange[] = [...backends.changes, ...diffUsers(running.users, file.users)];
  const restart: RestartNeeded[] = [...backends.restart];
  for (const s of SETTINGS) {
    const value = s.value ?? s.show;
    if (value(running) === value(file)) continue;
    const from = s.show(running);
    const to = s.show(file);
    const why = restartWhy(s, running, file);
    if (why !== null) restart.push({ key: s.key, from, to, why });
    else changes.push({ kind: "setting", key: s.key, from, to });
  }
  return { changes, restart, next: nextConfig(running, file, backends.next, restart) };
}

/**
 * The file's config where it changes live, the running one where it needs a restart. Sections
 * are taken whole from one side, except routing (consistency and its window may differ in kind).
 */
function nextConfig(
  running: Config,
  file: Config,
  backends: Config["backends"],
  restart: readonly RestartNeeded[],
): Config {
  const waits = new Set(restart.map((r) => r.key));
  const { admin: _admin, replication: _replication, ...timings } = file.failover;
  return {
    ...running,
    log: file.log,
    backends,
    users: file.users,
    pool: file.pool,
    limits: file.limits,
    routing: {
      ...file.routing,
      consistency: waits.has("routing.consistency") ? running.routing.consistency : file.routing.consistency,
      consistencyWindowMs: running.routing.consistencyWindowMs,
    },
    lag: file.lag,
    failover: {
      ...timings,
      ...(running.failover.admin === undefined ? {} : { admin: running.failover.admin }),
      ...(running.failover.replication === undefined ? {} : { replication: running.failover.replication }),
    },
    drainTimeoutMs: file.drainTimeoutMs,
  };
}

/** The primary first, then the replicas: every configured backend. */
export function allBackends(c: Config): BackendConfig[] {
  return [c.backends.primary, ...c.backends.replicas];
}

/**
 * Changes a running proxy must refuse whatever the file says, given who is primary now: the
 * primary cannot be removed (its writes would have nowhere to go). Reported like the file's own
 * problems, so a reload that removes it changes nothing.
 */
export function refusedChanges(
  changes: readonly ConfigChange[],
  topology: { generation: number; primary: string },
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const c of changes) {
    if (c.kind === "backend-removed" && c.name === topology.primary) {
      out.push({
        path: "backends",
        message: `"${c.name}" is the primary (topology generation ${topology.generation}) and cannot be removed: move the primary first (rwsplit switchover --to <replica>), then remove it`,
      });
    }
  }
  return out;
}

/** One line for logs, events and the CLI; never a password. */
export function describeChange(c: ConfigChange): string {
  switch (c.kind) {
    case "backend-added":
      return `backend ${c.backend.name} added (${formatAddress(c.backend)}, weight ${c.backend.weight})`;
    case "backend-removed":
      return `backend ${c.name} removed (drained first)`;
    case "backend-weight":
      return `backend ${c.name} weight ${c.from} → ${c.to}`;
    case "backend-priority":
      return `backend ${c.name} priority ${c.from} → ${c.to}`;
    case "user-added":
      return `user ${c.name} added`;
    case "user-removed":
      return `user ${c.name} removed (its open sessions go on)`;
    case "user-changed":
      return `user ${c.name}: ${c.fields.join(" and ")} changed (new logins)`;
    case "setting":
      return `${c.key}: ${c.from} → ${c.to}`;
  }
}

/** One line for a key that waits for a restart; secrets are only said to have changed. */
export function describeRestart(r: RestartNeeded): string {
  const what = r.from === r.to ? `${r.key} changed` : `${r.key}: ${r.from} → ${r.to}`;
  return `${what} (needs a restart: ${r.why})`;
}
