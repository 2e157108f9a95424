import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { z } from "zod";
import { RwsplitError } from "../errors.js";
import { fileSchema, toConfig } from "./schema.js";
import type { Config } from "./types.js";

/** CLI flags of `rwsplit serve` that override file and environment values. */
export interface CliFlags {
  listen?: string;
  admin?: string;
  primary?: string;
  replica?: string[];
  user?: string[];
  monitorUser?: string;
  logLevel?: string;
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends RwsplitError {
  constructor(
    readonly problems: ConfigProblem[],
    code: "CONFIG_INVALID" | "CONFIG_UNREADABLE" = "CONFIG_INVALID",
  ) {
    super(code, problems.map((p) => `${p.path}: ${p.message}`).join("; "));
  }
}

type Raw = Record<string, unknown>;

function obj(parent: Raw, key: string): Raw {
  const v = parent[key];
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Raw;
  const fresh: Raw = {};
  parent[key] = fresh;
  return fresh;
}

function splitCredential(v: string): { name: string; password: string } {
  const i = v.indexOf(":");
  return i < 0 ? { name: v, password: "" } : { name: v.slice(0, i), password: v.slice(i + 1) };
}

/**
 * Environment overrides: RWSPLIT_LISTEN, RWSPLIT_ADMIN_LISTEN, RWSPLIT_LOG_LEVEL,
 * RWSPLIT_PRIMARY, RWSPLIT_REPLICAS (comma-separated), RWSPLIT_USERS (name:password,...),
 * RWSPLIT_MONITOR_USER (name:password), RWSPLIT_REDIS_URL, and RWSPLIT__SECTION__KEY=value for
 * any other key (value read as a YAML scalar).
 */
function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): void {
  const e = (k: string) => (env[k] !== undefined && env[k] !== "" ? env[k] : undefined);
  if (e("RWSPLIT_LISTEN")) raw.listen = e("RWSPLIT_LISTEN");
  if (e("RWSPLIT_ADMIN_LISTEN")) obj(raw, "admin").listen = e("RWSPLIT_ADMIN_LISTEN");
  if (e("RWSPLIT_LOG_LEVEL")) obj(raw, "log").level = e("RWSPLIT_LOG_LEVEL");
  if (e("RWSPLIT_PRIMARY")) obj(raw, "backends").primary = e("RWSPLIT_PRIMARY");
  if (e("RWSPLIT_REPLICAS"))
    obj(raw, "backends").replicas = e("RWSPLIT_REPLICAS")!
      .split(",")
      .map((s) => s.trim());
  if (e("RWSPLIT_USERS")) raw.users = e("RWSPLIT_USERS")!.split(",").map(splitCredential);
  if (e("RWSPLIT_MONITOR_USER")) {
    const c = splitCredential(e("RWSPLIT_MONITOR_USER")!);
    Object.assign(obj(raw, "monitor"), { user: c.name, password: c.password });
  }
  if (e("RWSPLIT_REDIS_URL")) obj(raw, "redis").url = e("RWSPLIT_REDIS_URL");
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("RWSPLIT__") || v === undefined) continue;
    const path = k.slice("RWSPLIT__".length).toLowerCase().split("__");
    let at = raw;
    for (const p of path.slice(0, -1)) at = obj(at, p);
    at[path[path.length - 1]!] = parseYaml(v);
  }
}

function applyFlags(raw: Raw, f: CliFlags): void {
  if (f.listen) raw.listen = f.listen;
  if (f.admin) obj(raw, "admin").listen = f.admin;
  if (f.logLevel) obj(raw, "log").level = f.logLevel;
  if (f.primary) obj(raw, "backends").primary = f.primary;
  if (f.replica && f.replica.length > 0) obj(raw, "backends").replicas = f.replica;
  if (f.user && f.user.length > 0) raw.users = f.user.map(splitCredential);
  if (f.monitorUser) {
    const c = splitCredential(f.monitorUser);
    Object.assign(obj(raw, "monitor"), { user: c.name, password: c.password });
  }
}

/** File values, then environment overrides, then CLI flags; validated into a Config. */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: CliFlags }): Config {
  let raw: Raw = {};
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.file, "utf8");
    } catch (e) {
      throw new ConfigError(
        [{ path: opts.file, message: `cannot read the file: ${(e as Error).message}` }],
        "CONFIG_UNREADABLE",
      );
    }
    try {
      const parsed = parseYaml(text) as unknown;
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new ConfigError([{ path: "(root)", message: "expected a YAML mapping of keys" }]);
        }
        raw = parsed as Raw;
      }
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      const where =
        e instanceof YAMLParseError && e.linePos
          ? ` at line ${e.linePos[0].line}, column ${e.linePos[0].col}`
          : "";
      throw new ConfigError(
        [{ path: opts.file, message: `not valid YAML${where}: ${(e as Error).message.split("\n")[0]}` }],
        "CONFIG_UNREADABLE",
      );
    }
  }
  applyEnv(raw, opts.env ?? {});
  applyFlags(raw, opts.flags ?? {});
  return validateConfig(raw);
}

export function validateConfig(raw: unknown): Config {
  const r = fileSchema.safeParse(raw, { reportInput: true });
  if (!r.success) throw new ConfigError(problemsOf(r.error.issues));
  return toConfig(r.data);
}

function pathString(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? String(p) : `.${String(p)}`;
  return out || "(root)";
}

function problemsOf(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PropertyKey[] = [],
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const i of issues) {
    const path = [...prefix, ...i.path];
    if (i.code === "invalid_union") {
      // Report the branch that got furthest (its issues are not "wrong type at the root").
      const branches = i.errors.map((b) =>
        b.filter((x) => !(x.code === "invalid_type" && x.path.length === 0)),
      );
      const best = branches.find((b) => b.length > 0);
      if (best) {
        out.push(...problemsOf(best, path));
        continue;
      }
      out.push({
        path: pathString(path),
        message: 'expected a "host:port" string or a mapping with host and port',
      });
      continue;
    }
    if (i.code === "unrecognized_keys") {
      for (const k of i.keys)
        out.push({
          path: pathString([...path, k]),
          message: "unknown key (misspelt? see config.example.yaml)",
        });
      continue;
    }
    if (i.code === "invalid_type") {
      const got = i.input === undefined ? "nothing (the key is missing)" : JSON.stringify(i.input);
      out.push({ path: pathString(path), message: `expected ${i.expected}, got ${got}` });
      continue;
    }
    out.push({ path: pathString(path), message: i.message });
  }
  return out;
}

/** One line per problem, `config: <path>: <message>`, for stderr. */
export function formatProblems(e: unknown): string {
  if (e instanceof ConfigError) return e.problems.map((p) => `config: ${p.path}: ${p.message}`).join("\n");
  return `config: ${e instanceof Error ? e.message : String(e)}`;
}

/** The effective config as a plain object with passwords masked (check-config, /backends). */
export function maskSecrets(config: Config): unknown {
  return {
    ...config,
    users: config.users.map((u) => ({ ...u, password: "***" })),
    monitor: { ...config.monitor, password: "***" },
  };
}
