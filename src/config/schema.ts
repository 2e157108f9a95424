import { availableParallelism } from "node:os";
import { z } from "zod";
import { backupProblems, backupSection, toBackupConfig } from "./backup-schema.js";
import { KIB } from "./duration.js";
import {
  adminToken,
  bool,
  duration,
  identifier,
  int,
  leaf,
  list,
  mapping,
  oneOf,
  packetSize,
  password,
  redisUrl,
  section,
  show,
  text,
  workersLeaf,
} from "./leaves.js";
import type { BackendConfig, Config, HostPort } from "./types.js";

export { show, unknownKeyMessage } from "./leaves.js";

/**
 * The one schema for the config file. File keys are snake_case and durations are "500ms"/"2s"/"1m"
 * or milliseconds; `configSchema` turns a file's parsed YAML into the typed `Config` (camelCase,
 * `...Ms` numbers). Every object is strict: a misspelt key is an error naming the key it probably
 * meant, never a silently ignored setting. Every message says what was expected and what was found,
 * and never echoes a password.
 */

// ---- addresses -------------------------------------------------------------------------------

/** "host:port", "[::1]:6033" (IPv6 bracketed, as in URLs); otherwise the reason it is not an address. */
export function parseAddress(s: string): HostPort | string {
  const v = s.trim();
  const m = /^\[([0-9A-Za-z:.%]+)\]:(\d{1,5})$/.exec(v) ?? /^([^\s:[\]/]+):(\d{1,5})$/.exec(v);
  if (m) return { host: m[1]!, port: Number(m[2]) };
  if (!v.includes(":")) return "the :port is missing";
  if (!v.startsWith("[") && v.indexOf(":") !== v.lastIndexOf(":"))
    return "put an IPv6 host in brackets, like [::1]:6033";
  return 'expected "host:port"';
}

export function formatAddress(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Port 0 (any free port) is fine for what rwsplit listens on, never for a backend. */
function portLeaf(minPort: 0 | 1) {
  return leaf(`a port number ${minPort}..65535`, (v) =>
    typeof v === "number" && Number.isInteger(v) && v >= minPort && v <= 65535 ? v : undefined,
  );
}

/** A string "host:port" becomes {host, port}; anything else goes on to `then` to be checked as a mapping. */
function fromAddressString<T extends z.ZodType>(portMin: 0 | 1, then: T) {
  return z
    .unknown()
    .transform((v, ctx) => {
      if (typeof v !== "string") return v;
      const a = parseAddress(v);
      if (typeof a === "string" || a.port < portMin || a.port > 65535) {
        const why = typeof a === "string" ? a : `port must be ${portMin}..65535`;
        ctx.addIssue({
          code: "custom",
          message: `${why}: expected "host:port" or {host, port}, found ${show(v)}`,
        });
        return z.NEVER;
      }
      return a;
    })
    .pipe(then);
}

const ADDRESS = '"host:port" or {host, port}';

const listenAddress = (host: string, port: number) =>
  fromAddressString(0, mapping({ host: text("a host name or IP"), port: portLeaf(0) }, ADDRESS)).default({
    host,
    port,
  });

const backend = fromAddressString(
  1,
  mapping(
    {
      host: text("a host name or IP"),
      port: portLeaf(1),
      name: text().optional(),
      weight: leaf("a number > 0", (v) =>
        typeof v === "number" && v > 0 && Number.isFinite(v) ? v : undefined,
      ).default(1),
      priority: int(-1000, 1000).default(0),
    },
    `${ADDRESS}, optionally with name, weight and priority`,
  ),
).transform((b): BackendConfig => ({ ...b, name: b.name ?? formatAddress(b) }));

// ---- the file --------------------------------------------------------------------------------

const user = mapping(
  { name: text(), password: password(), default_schema: text().optional() },
  "{name, password, default_schema?}",
);

export const fileSchema = mapping(
  {
    listen: listenAddress("127.0.0.1", 6033),
    admin: section({
      listen: listenAddress("127.0.0.1", 6070),
      enabled: bool().default(true),
      token: adminToken().optional(),
    }),
    log: section({
      level: oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const).default("info"),
    }),
    backends: mapping(
      { primary: backend, replicas: list(backend, "a list of backends").default([]) },
      "a mapping with primary and replicas",
    ).prefault({ primary: undefined }),
    // At least one unless auth.from_backend (checked by `usersOrAccounts`, which sees both).
    users: list(user, "a list of users ({name, password})").optional(),
    auth: section({
      from_backend: bool().default(false),
      user: text().optional(),
      password: password().optional(),
      refresh_interval: duration().default(300_000),
      refresh_min_gap: duration(false).default(1000),
    }),
    monitor: section({
      // ProxySQL's mysql-monitor_username / mysql-monitor_password defaults.
      user: text().default("monitor"),
      password: password().default("monitor"),
      interval: duration().default(500),
      timeout: duration().default(1000),
      heartbeat: section({
        enabled: bool().default(true),
        interval: duration().default(250),
        schema: identifier().default("rwsplit"),
      }),
    }),
    pool: section({
      max_per_backend: int(1).default(200),
      connect_timeout: duration().default(3000),
      idle_timeout: duration().default(60_000),
      ping_after_idle: duration(false).default(5000),
      acquire_timeout: duration().default(5000),
    }),
    limits: section({
      max_client_connections: int(1).default(10_000),
      max_allowed_packet: packetSize().default(KIB ** 3),
      relay_stall_warn: duration().default(5000),
    }),
    tls: section({
      enabled: bool().default(true),
      cert_file: text("a file path").optional(),
      key_file: text("a file path").optional(),
    }),
    routing: section({
      consistency: oneOf(["user", "session", "eventual", "primary"] as const).default("user"),
      consistency_window: duration().default(10_000),
      consistency_wait: duration(false).default(50),
      read_fallback: oneOf(["primary", "error"] as const).default("primary"),
    }),
    lag: section({
      soft: duration(false).default(500),
      max: duration().default(3000),
      readmit_below: duration(false).default(2000),
      readmit_checks: int(1).default(3),
      min_serving: int(0).default(0),
    }),
    failover: section({
      automatic: bool().default(true),
      user: text().optional(),
      password: password().optional(),
      replication_user: text().optional(),
      replication_password: password().optional(),
      detect: duration().default(2000),
      hold_writes: duration(false).default(10_000),
      catch_up: duration().default(10_000),
      switchover_timeout: duration().default(5000),
    }),
    drain_timeout: duration(false).default(10_000),
    workers: workersLeaf().default(1),
    young_generation: oneOf(["fixed", "elastic"] as const).default("fixed"),
    digests: section({
      max: int(0).default(5000),
    }),
    redis: mapping({ url: redisUrl() }, "a mapping with url").optional(),
    backup: backupSection,
  },
  "a YAML mapping of settings",
);

/** The file after parsing and defaults: still snake_case, durations already in ms. */
export type FileConfig = z.output<typeof fileSchema>;

/**
 * `users` may be left out (or empty) only when the primary's accounts log in
 * (auth.from_backend). Runs even when other keys have problems, so a missing `users` is
 * reported with them; the value may then be partly invalid, hence the defensive reads.
 */
function usersOrAccounts(f: unknown, ctx: z.core.$RefinementCtx<FileConfig>): void {
  const v = (f ?? {}) as { users?: unknown; auth?: { from_backend?: unknown } };
  if (v.auth?.from_backend === true) return;
  if (v.users === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["users"],
      message: "missing: expected a list of users ({name, password}), or auth.from_backend: true",
    });
  } else if (Array.isArray(v.users) && v.users.length === 0) {
    ctx.addIssue({
      code: "custom",
      path: ["users"],
      message: "expected at least one user, found none (or auth.from_backend: true)",
    });
  }
}

/** Checks that span keys; each problem is reported at the key to change. */
function crossField(f: FileConfig, ctx: z.core.$RefinementCtx<FileConfig>): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message });
  if (f.lag.soft >= f.lag.max) {
    issue(["lag", "soft"], `expected less than lag.max (${f.lag.max} ms), found ${f.lag.soft} ms`);
  }
  if (f.lag.readmit_below > f.lag.max) {
    issue(
      ["lag", "readmit_below"],
      `expected at most lag.max (${f.lag.max} ms), found ${f.lag.readmit_below} ms`,
    );
  }
  if ((f.tls.cert_file === undefined) !== (f.tls.key_file === undefined)) {
    const [has, lacks] =
      f.tls.cert_file === undefined ? ["key_file", "cert_file"] : ["cert_file", "key_file"];
    issue(
      ["tls", lacks],
      `missing: tls.${has} is set, so tls.${lacks} is needed too (or neither, for a generated certificate)`,
    );
  }
  const all = [f.backends.primary, ...f.backends.replicas];
  const where = (i: number) => (i === 0 ? ["backends", "primary"] : ["backends", "replicas", i - 1]);
  const label = (i: number) => (i === 0 ? "backends.primary" : `backends.replicas[${i - 1}]`);
  const addresses = new Map<string, number>();
  const names = new Map<string, number>();
  all.forEach((b, i) => {
    const addr = `${b.host.toLowerCase()}:${b.port}`;
    const sameAddr = addresses.get(addr);
    if (sameAddr !== undefined)
      issue(where(i), `${formatAddress(b)} is already ${label(sameAddr)}: each backend once`);
    else addresses.set(addr, i);
    const sameName = names.get(b.name);
    if (sameName !== undefined && sameAddr === undefined) {
      issue(
        [...where(i), "name"],
        `name "${b.name}" is already used by ${label(sameName)}: names label metrics`,
      );
    } else names.set(b.name, i);
  });
  const fo = f.failover;
  const pairs: [keyof typeof fo, keyof typeof fo][] = [
    ["user", "password"],
    ["user", "replication_user"],
    ["replication_user", "replication_password"],
  ];
  for (const [has, needs] of pairs) {
    if (fo[has] !== undefined && fo[needs] === undefined) {
      issue(
        ["failover", needs],
        `missing: failover.${has} is set, so failover.${needs} is needed too (promotion repoints replicas with it)`,
      );
    }
  }
  if ((f.auth.user === undefined) !== (f.auth.password === undefined)) {
    const [has, lacks] = f.auth.user === undefined ? ["password", "user"] : ["user", "password"];
    issue(
      ["auth", lacks],
      `missing: auth.${has} is set, so auth.${lacks} is needed too (or neither, for the monitor account)`,
    );
  }
  for (const p of backupProblems(f.backup)) issue(p.path, p.message);
  const users = new Map<string, number>();
  (f.users ?? []).forEach((u, i) => {
    const same = users.get(u.name);
    if (same !== undefined) issue(["users", i, "name"], `user "${u.name}" is already users[${same}]`);
    else users.set(u.name, i);
  });
}

/** snake_case file values → the typed Config. The return type makes the compiler check every field. */
function toConfig(f: FileConfig): Config {
  const { monitor: m, pool: p, lag } = f;
  return {
    listen: f.listen,
    admin: {
      listen: f.admin.listen,
      enabled: f.admin.enabled,
      ...(f.admin.token === undefined ? {} : { token: f.admin.token }),
    },
    log: { level: f.log.level },
    backends: { primary: f.backends.primary, replicas: f.backends.replicas },
    users: (f.users ?? []).map((u) => ({
      name: u.name,
      password: u.password,
      ...(u.default_schema === undefined ? {} : { defaultSchema: u.default_schema }),
    })),
    ...(f.auth.from_backend
      ? {
          accountsFromBackend: {
            user: f.auth.user ?? m.user,
            password: f.auth.password ?? m.password,
            refreshIntervalMs: f.auth.refresh_interval,
            refreshMinGapMs: f.auth.refresh_min_gap,
          },
        }
      : {}),
    monitor: {
      user: m.user,
      password: m.password,
      intervalMs: m.interval,
      timeoutMs: m.timeout,
      heartbeat: {
        enabled: m.heartbeat.enabled,
        intervalMs: m.heartbeat.interval,
        schema: m.heartbeat.schema,
      },
    },
    pool: {
      maxPerBackend: p.max_per_backend,
      connectTimeoutMs: p.connect_timeout,
      idleTimeoutMs: p.idle_timeout,
      pingAfterIdleMs: p.ping_after_idle,
      acquireTimeoutMs: p.acquire_timeout,
    },
    limits: {
      maxClientConnections: f.limits.max_client_connections,
      maxAllowedPacket: f.limits.max_allowed_packet,
      relayStallWarnMs: f.limits.relay_stall_warn,
    },
    tls: {
      enabled: f.tls.enabled,
      ...(f.tls.cert_file === undefined ? {} : { certFile: f.tls.cert_file, keyFile: f.tls.key_file }),
    },
    routing: {
      consistency: f.routing.consistency,
      consistencyWindowMs: f.routing.consistency_window,
      consistencyWaitMs: f.routing.consistency_wait,
      readFallback: f.routing.read_fallback,
    },
    lag: {
      softMs: lag.soft,
      maxMs: lag.max,
      readmitBelowMs: lag.readmit_below,
      readmitChecks: lag.readmit_checks,
      minServing: lag.min_serving,
    },
    failover: {
      automatic: f.failover.automatic,
      ...(f.failover.user === undefined
        ? {}
        : {
            admin: { user: f.failover.user, password: f.failover.password ?? "" },
            replication: {
              user: f.failover.replication_user ?? "",
              password: f.failover.replication_password ?? "",
            },
          }),
      detectMs: f.failover.detect,
      holdWritesMs: f.failover.hold_writes,
      catchUpMs: f.failover.catch_up,
      switchoverTimeoutMs: f.failover.switchover_timeout,
    },
    drainTimeoutMs: f.drain_timeout,
    workers: f.workers === "auto" ? availableParallelism() : f.workers,
    youngGeneration: f.young_generation,
    digests: { max: f.digests.max },
    ...(f.redis === undefined ? {} : { redis: { url: f.redis.url } }),
    ...(f.backup === undefined ? {} : { backup: toBackupConfig(f.backup) }),
  };
}

/** The one schema: parsed YAML (after overrides) in, `Config` out. */
export const configSchema = fileSchema
  .superRefine(usersOrAccounts, { when: () => true })
  .superRefine(crossField)
  .transform(toConfig);

// The contract with every other module: the schema produces exactly `Config`, no more, no less.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const exact: Same<z.output<typeof configSchema>, Config> = true;
void exact;
