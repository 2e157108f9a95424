import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { isAlias, LineCounter, parseDocument, visit } from "yaml";
import type { z } from "zod";
import { RwsplitError } from "../errors.js";
import { applyEnv, applyFlags, type CliFlags, type Override, type Raw } from "./overrides.js";
import { configSchema, show } from "./schema.js";
import type { Config } from "./types.js";

export type { CliFlags } from "./overrides.js";

export interface ConfigProblem {
  /** Where, in file terms: `pool.max_per_backend`, `backends.replicas[1].port`, or `file:line:col`. */
  path: string;
  /** What was expected and what was found. */
  message: string;
}

/** CONFIG_INVALID (values) or CONFIG_UNREADABLE (file or YAML syntax), with every problem found. */
export class ConfigError extends RwsplitError {
  readonly problems: ConfigProblem[];
  constructor(code: "CONFIG_INVALID" | "CONFIG_UNREADABLE", problems: ConfigProblem[]) {
    super(
      code,
      `${code === "CONFIG_INVALID" ? "config is invalid" : "config file cannot be read"}: ${problems
        .map((p) => `${p.path}: ${p.message}`)
        .join("; ")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

const MAX_YAML_ERRORS = 5;

/**
 * The file's YAML as plain data. Relative tls paths are resolved against the file's directory, so a
 * config and its certificate can move together.
 */
export function readConfigFile(file: string): Raw {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === "ENOENT" ? "no such file" : err.code === "EACCES" ? "permission denied" : err.message;
    throw new ConfigError("CONFIG_UNREADABLE", [{ path: file, message: `cannot read the file: ${why}` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const problems = doc.errors
      .slice(0, MAX_YAML_ERRORS)
      .map((e) => ({ path: at(e.pos[0]), message: `not valid YAML: ${e.message}` }));
    throw new ConfigError("CONFIG_UNREADABLE", problems);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // The usual cause: an unquoted password hash, since `*name` is a YAML alias.
    let where = file;
    visit(doc, {
      Alias(_, node) {
        if (isAlias(node) && node.range) where = at(node.range[0]);
        return visit.BREAK;
      },
    });
    const hint = '; a value starting with "*" is a YAML alias: quote password hashes ("*2470C0...")';
    throw new ConfigError("CONFIG_UNREADABLE", [
      { path: where, message: `not valid YAML: ${(e as Error).message}${hint}` },
    ]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new ConfigError("CONFIG_INVALID", [
      { path: "(root)", message: `expected a YAML mapping of settings, found ${show(data)}` },
    ]);
  }
  const raw = data as Raw;
  const tls = raw.tls;
  if (tls !== null && typeof tls === "object" && !Array.isArray(tls)) {
    const t = tls as Raw;
    for (const key of ["cert_file", "key_file"]) {
      const v = t[key];
      if (typeof v === "string" && v !== "" && !isAbsolute(v)) t[key] = resolve(dirname(file), v);
    }
  }
  return raw;
}

function pathString(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out === "" ? String(p) : `.${String(p)}`;
  }
  return out === "" ? "(root)" : out;
}

/** The override that last wrote `path` or a mapping above it. */
function sourceOf(path: string, applied: readonly Override[]): string | undefined {
  for (let i = applied.length - 1; i >= 0; i--) {
    const o = applied[i]!;
    if (path === o.path || path.startsWith(`${o.path}.`) || path.startsWith(`${o.path}[`)) return o.source;
  }
  return undefined;
}

function problemsOf(issues: readonly z.core.$ZodIssue[], applied: readonly Override[]): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const add = (path: readonly PropertyKey[], message: string) => {
    const p = pathString(path);
    const source = sourceOf(p, applied);
    out.push({ path: p, message: source === undefined ? message : `${message} (from ${source})` });
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      // schema.ts writes one message line per key, in `keys` order.
      const lines = issue.message.split("\n");
      for (const [i, k] of issue.keys.entries()) add([...issue.path, k], lines[i] ?? "unknown key");
    } else {
      add(issue.path, issue.message);
    }
  }
  return out;
}

/** Parsed YAML (after overrides) → Config, or a ConfigError listing every problem. */
export function validateConfig(raw: unknown, applied: readonly Override[] = []): Config {
  const r = configSchema.safeParse(raw);
  if (!r.success) throw new ConfigError("CONFIG_INVALID", problemsOf(r.error.issues, applied));
  return r.data;
}

/**
 * File values, then environment overrides (see overrides.ts), then CLI flags, validated into a
 * Config. Without a file, flags or environment alone must name a primary and a user.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: CliFlags }): Config {
  const file = opts.file ?? opts.flags?.config;
  const raw = file === undefined ? {} : readConfigFile(file);
  const env = applyEnv(raw, opts.env ?? {});
  const flags = applyFlags(raw, opts.flags ?? {});
  const overrideProblems = [...env.problems, ...flags.problems];
  const applied = [...env.applied, ...flags.applied];
  if (overrideProblems.length === 0) return validateConfig(raw, applied);
  // A malformed override was not applied: skip what validation then says about the same section.
  const sections = new Set(overrideProblems.map((p) => p.path.split(/[.[]/)[0]));
  let rest: ConfigProblem[] = [];
  try {
    validateConfig(raw, applied);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    rest = e.problems.filter((p) => !sections.has(p.path.split(/[.[]/)[0]));
  }
  throw new ConfigError("CONFIG_INVALID", [...overrideProblems, ...rest]);
}

/** One line per problem, `config: <path>: <message>`, for stderr (check-config and serve exit 2 after it). */
export function formatProblems(err: unknown): string {
  if (err instanceof ConfigError)
    return err.problems.map((p) => `config: ${p.path}: ${p.message}`).join("\n");
  return `config: ${err instanceof Error ? err.message : String(err)}`;
}
