import { parse as parseYaml } from "yaml";

/**
 * Environment variables and CLI flags, applied to the file's parsed YAML (snake_case keys) before
 * validation: file, then environment, then flags. Each override records where it came from so that a
 * bad value is reported as "(from RWSPLIT_PRIMARY)" or "(from --user)", not as a mystery in the file.
 *
 * Environment:
 *   RWSPLIT_LISTEN=host:port            listen
 *   RWSPLIT_ADMIN_LISTEN=host:port      admin.listen
 *   RWSPLIT_ADMIN_TOKEN=secret          admin.token
 *   RWSPLIT_LOG_LEVEL=level             log.level
 *   RWSPLIT_PRIMARY=host:port           backends.primary
 *   RWSPLIT_REPLICAS=h:p,h:p            backends.replicas (empty: no replicas)
 *   RWSPLIT_USERS=name:pass,name:pass   users (a password may contain ':' but not ',')
 *   RWSPLIT_MONITOR_USER=name:pass      monitor.user and monitor.password
 *   RWSPLIT_REDIS_URL=redis://...       redis.url
 *   RWSPLIT__SECTION__KEY=value         any other key, e.g. RWSPLIT__POOL__MAX_PER_BACKEND=50; the value
 *                                       is read as a YAML scalar, an empty value removes the key
 * The named variables are applied after the generic ones, so they win.
 */

/** Flags of `rwsplit serve`; each replaces what the file and the environment say. */
export interface CliFlags {
  listen?: string;
  admin?: string;
  primary?: string;
  /** Replaces the whole replica list. */
  replica?: string[];
  /** NAME:PASSWORD, split at the first ':'; replaces the whole user list. */
  user?: string[];
  monitorUser?: string;
  logLevel?: string;
  /** --workers N|auto */
  workers?: string;
  config?: string;
}

export type Raw = Record<string, unknown>;

export interface Override {
  /** Dotted file path the value was written to, e.g. "backends.replicas". */
  path: string;
  /** "RWSPLIT_PRIMARY", "--user", ... */
  source: string;
}

export interface OverrideResult {
  applied: Override[];
  /** Values that cannot even be placed (a credential without ':'), as config problems. */
  problems: { path: string; message: string }[];
}

const isMapping = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * Sets `raw[path]`, creating mappings on the way (replacing any non-mapping in between); a numeric
 * segment indexes into an existing list (RWSPLIT__BACKENDS__REPLICAS__0__WEIGHT=2).
 */
function setPath(raw: Raw, path: readonly string[], value: unknown): void {
  let at: Raw = raw;
  for (let i = 0; i < path.length - 1; i++) {
    const next = at[path[i]!];
    if (isMapping(next) || (Array.isArray(next) && /^\d+$/.test(path[i + 1]!))) {
      at = next as Raw;
    } else {
      const fresh: Raw = {};
      at[path[i]!] = fresh;
      at = fresh;
    }
  }
  const last = path[path.length - 1]!;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

const NULL_LITERALS = new Set(["", "~", "null", "Null", "NULL"]);

/**
 * A YAML scalar ("50" → 50, "true" → true, "2s" stays "2s"), but text YAML would mangle stays text:
 * "*ABC..." (an alias to YAML, a password hash here), "#x" (a comment to YAML), "a: b" (a mapping).
 * An explicit null removes the key, so its default applies.
 */
export function parseScalar(value: string): unknown {
  let parsed: unknown;
  try {
    parsed = parseYaml(value);
  } catch {
    return value;
  }
  if (parsed === null || parsed === undefined) return NULL_LITERALS.has(value.trim()) ? undefined : value;
  if (typeof parsed === "object") return value;
  return parsed;
}

/** NAME:PASSWORD at the first ':' (passwords may contain ':'); null when there is no ':'. */
export function splitCredential(v: string): { name: string; password: string } | null {
  const i = v.indexOf(":");
  // Trim the name ("a:x, b:y" lists), never the password.
  return i < 0 ? null : { name: v.slice(0, i).trim(), password: v.slice(i + 1) };
}

class Applier {
  readonly result: OverrideResult = { applied: [], problems: [] };
  constructor(private readonly raw: Raw) {}

  set(path: readonly string[], value: unknown, source: string): void {
    setPath(this.raw, path, value);
    this.result.applied.push({ path: path.join("."), source });
  }

  /** A malformed entry is a problem and leaves the users as they were. */
  users(values: readonly string[], source: string): void {
    const users = values.map((v) => splitCredential(v));
    users.forEach((c, i) => {
      if (c === null) this.problem(`users[${i}]`, `expected NAME:PASSWORD, found no ":" (from ${source})`);
    });
    if (users.every((c) => c !== null)) this.set(["users"], users, source);
  }

  monitorUser(value: string, source: string): void {
    const c = splitCredential(value);
    // No silent fallback to the default password when only a name is given.
    if (c === null) {
      this.problem("monitor", `expected NAME:PASSWORD, found no ":" (from ${source})`);
      return;
    }
    this.set(["monitor", "user"], c.name, source);
    this.set(["monitor", "password"], c.password, source);
  }

  private problem(path: string, message: string): void {
    this.result.problems.push({ path, message });
  }
}

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

export function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): OverrideResult {
  const a = new Applier(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("RWSPLIT__") || value === undefined) continue;
    const path = name.slice("RWSPLIT__".length).toLowerCase().split("__");
    if (path.some((p) => p === "")) continue;
    a.set(path, parseScalar(value), name);
  }
  const get = (name: string) => {
    const v = env[name];
    return v === undefined ? undefined : v.trim() === "" && name !== "RWSPLIT_REPLICAS" ? undefined : v;
  };
  const named: [string, readonly string[]][] = [
    ["RWSPLIT_LISTEN", ["listen"]],
    ["RWSPLIT_ADMIN_LISTEN", ["admin", "listen"]],
    ["RWSPLIT_ADMIN_TOKEN", ["admin", "token"]],
    ["RWSPLIT_LOG_LEVEL", ["log", "level"]],
    ["RWSPLIT_PRIMARY", ["backends", "primary"]],
    ["RWSPLIT_REDIS_URL", ["redis", "url"]],
  ];
  for (const [name, path] of named) {
    const v = get(name);
    if (v !== undefined) a.set(path, v.trim(), name);
  }
  const replicas = get("RWSPLIT_REPLICAS");
  if (replicas !== undefined) a.set(["backends", "replicas"], list(replicas), "RWSPLIT_REPLICAS");
  const users = get("RWSPLIT_USERS");
  if (users !== undefined) a.users(users.split(","), "RWSPLIT_USERS");
  const monitor = get("RWSPLIT_MONITOR_USER");
  if (monitor !== undefined) a.monitorUser(monitor, "RWSPLIT_MONITOR_USER");
  return a.result;
}

export function applyFlags(raw: Raw, flags: CliFlags): OverrideResult {
  const a = new Applier(raw);
  if (flags.listen !== undefined) a.set(["listen"], flags.listen, "--listen");
  if (flags.admin !== undefined) a.set(["admin", "listen"], flags.admin, "--admin");
  if (flags.logLevel !== undefined) a.set(["log", "level"], flags.logLevel, "--log-level");
  if (flags.workers !== undefined) {
    const n = flags.workers.trim();
    a.set(["workers"], /^[0-9]+$/.test(n) ? Number(n) : n, "--workers");
  }
  if (flags.primary !== undefined) a.set(["backends", "primary"], flags.primary, "--primary");
  if (flags.replica !== undefined) a.set(["backends", "replicas"], flags.replica, "--replica");
  if (flags.user !== undefined) a.users(flags.user, "--user");
  if (flags.monitorUser !== undefined) a.monitorUser(flags.monitorUser, "--monitor-user");
  return a.result;
}
