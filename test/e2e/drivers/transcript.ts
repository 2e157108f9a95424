/**
 * What every driver script of the matrix prints: one JSON object on stdout,
 *
 *   {"driver": "pymysql 1.0.2",
 *    "cases": {"crud_utf8mb4": {"steps": [["insert", {"affected": 2}], ["select", [[1, "😀"]]]]},
 *              "json_column": {"steps": [...], "fatal": {"errno": 1243, "sqlstate": "HY000", "message": "..."}}}}
 *
 * A step is [label, value]: the value is what the driver gave the application (rows, affected
 * rows, insert ids, OUT parameters, ...), or {"error": {errno, sqlstate, message}} when the
 * statement failed (some steps fail on purpose: a lock that is taken, a duplicate key). A case
 * stops at its first unexpected exception, recorded as `fatal`. Binary values are {"hex": ...},
 * so every language writes the same canonical JSON.
 */

export interface ErrorInfo {
  errno: number | null;
  sqlstate: string | null;
  message: string;
}

export type Step = [label: string, value: unknown];

export interface CaseResult {
  steps: Step[];
  fatal?: ErrorInfo;
  /** The @@server_id of each statement the case read it in (steps labelled `@where`). */
  where?: number[];
}

export interface Transcript {
  driver: string;
  cases: Record<string, CaseResult>;
}

/** The parameters a driver script gets, as environment variables (RW_*). */
export interface DriverTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The run's own database, and a second one for switching databases. */
  db: string;
  db2: string;
  /** An account that exists on the server but is not listed in rwsplit's config. */
  unlistedUser: string;
  unlistedPassword: string;
  /** The same target behind a byte-counting relay, for the compression case. */
  compressHost: string;
  compressPort: number;
  /** Unique per run: names of server-wide things (GET_LOCK names). */
  tag: string;
  /** How many connections the many_connections case opens at once. */
  connections: number;
}

export function targetEnv(t: DriverTarget): Record<string, string> {
  return {
    RW_HOST: t.host,
    RW_PORT: String(t.port),
    RW_USER: t.user,
    RW_PASSWORD: t.password,
    RW_DB: t.db,
    RW_DB2: t.db2,
    RW_UNLISTED_USER: t.unlistedUser,
    RW_UNLISTED_PASSWORD: t.unlistedPassword,
    RW_COMPRESS_HOST: t.compressHost,
    RW_COMPRESS_PORT: String(t.compressPort),
    RW_TAG: t.tag,
    RW_CONNS: String(t.connections),
  };
}

/** Canonical JSON values for the Node drivers: Buffers as hex, bigints and dates as strings. */
export function canon(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return { hex: v.toString("hex") };
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
  if (Array.isArray(v)) return v.map(canon);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = canon(x);
    return out;
  }
  return v;
}

export function errorInfo(e: unknown): ErrorInfo {
  const err = e as { errno?: number; sqlState?: string; sqlstate?: string; code?: string; message?: string };
  return {
    errno: typeof err.errno === "number" ? err.errno : null,
    sqlstate: err.sqlState ?? err.sqlstate ?? null,
    message: String(err.message ?? e),
  };
}

/**
 * Builds a transcript for the in-process (Node) drivers: `step` records a value or the error it
 * threw; `run` records one case, a throw ending it as `fatal`.
 */
export class Recorder {
  readonly cases: Record<string, CaseResult> = {};
  private current: Step[] = [];

  constructor(readonly only: ReadonlySet<string> | null = null) {}

  /** Records what `fn` resolves to (canonicalised), or its error; never throws. */
  async step(label: string, fn: () => Promise<unknown> | unknown): Promise<unknown> {
    try {
      const v = await fn();
      this.current.push([label, canon(v)]);
      return v;
    } catch (e) {
      this.current.push([label, { error: errorInfo(e) }]);
      return undefined;
    }
  }

  /** Records a value computed by the script itself. */
  note(label: string, value: unknown): void {
    this.current.push([label, canon(value)]);
  }

  async run(name: string, fn: () => Promise<void>): Promise<void> {
    if (this.only && !this.only.has(name)) return;
    this.current = [];
    const result: CaseResult = { steps: this.current };
    try {
      await fn();
    } catch (e) {
      result.fatal = errorInfo(e);
    }
    this.cases[name] = result;
  }
}
