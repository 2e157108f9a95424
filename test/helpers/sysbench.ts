import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SANDBOX_CREDENTIALS } from "../../src/sandbox/credentials.js";

/**
 * sysbench's OLTP tests against an endpoint (the proxy, usually), for tests:
 *
 *   const tables = { tables: 8, tableSize: 10_000 };
 *   await sysbenchPrepare(proxy, tables);
 *   const r = await sysbenchRun(proxy, tables, { threads: 16, seconds: 60, psMode: "disable" });
 *   expect(r.reconnects).toBe(0);
 *
 * The user, password and database default to the sandbox's application account.
 */

const exec = promisify(execFile);

export interface SysbenchTarget {
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
}

/** `--tables` and `--table-size`: prepare and run must agree. */
export interface SysbenchTables {
  tables: number;
  tableSize: number;
}

export interface SysbenchRunOptions {
  threads: number;
  seconds: number;
  /** Default oltp_read_write. */
  test?: string;
  /** `--db-ps-mode`: auto = server-side prepared statements, disable = text queries; default sysbench's (auto). */
  psMode?: "auto" | "disable";
  /**
   * `--mysql-ignore-errors`: "none" fails on any error; default sysbench's, which retries InnoDB
   * deadlocks (1213) and lock wait timeouts.
   */
  ignoreErrors?: string;
}

export interface SysbenchResult {
  stdout: string;
  stderr: string;
  transactions: number;
  /** "ignored errors": statements sysbench retried (deadlocks, with the default ignore list). */
  ignoredErrors: number;
  reconnects: number;
}

/** The connection and table flags every sysbench command line starts with. */
export function sysbenchArgs(target: SysbenchTarget, tables: SysbenchTables): string[] {
  const app = SANDBOX_CREDENTIALS.app;
  return [
    "--db-driver=mysql",
    `--mysql-host=${target.host}`,
    `--mysql-port=${target.port}`,
    `--mysql-user=${target.user ?? app.user}`,
    `--mysql-password=${target.password ?? app.password}`,
    `--mysql-db=${target.database ?? SANDBOX_CREDENTIALS.database}`,
    `--tables=${tables.tables}`,
    `--table-size=${tables.tableSize}`,
  ];
}

/** Creates and fills the sbtest tables (oltp_read_write prepare, 4 threads). */
export async function sysbenchPrepare(
  target: SysbenchTarget,
  tables: SysbenchTables,
  timeoutMs = 120_000,
): Promise<void> {
  await exec("sysbench", [...sysbenchArgs(target, tables), "--threads=4", "oltp_read_write", "prepare"], {
    timeout: timeoutMs,
  });
}

/** A count from sysbench's summary (`transactions: 1234 (20.5 per sec.)`); NaN when absent. */
export function sysbenchCount(stdout: string, label: string): number {
  return Number(new RegExp(`${label}:\\s+(\\d+)`).exec(stdout)?.[1] ?? Number.NaN);
}

/** Runs a test for `seconds` and returns its output and summary counts; rejects if sysbench fails. */
export async function sysbenchRun(
  target: SysbenchTarget,
  tables: SysbenchTables,
  opts: SysbenchRunOptions,
): Promise<SysbenchResult> {
  const { stdout, stderr } = await withOutput(
    exec(
      "sysbench",
      [
        ...sysbenchArgs(target, tables),
        `--threads=${opts.threads}`,
        `--time=${opts.seconds}`,
        ...(opts.psMode ? [`--db-ps-mode=${opts.psMode}`] : []),
        ...(opts.ignoreErrors ? [`--mysql-ignore-errors=${opts.ignoreErrors}`] : []),
        opts.test ?? "oltp_read_write",
        "run",
      ],
      { timeout: (opts.seconds + 60) * 1000, maxBuffer: 1 << 24 },
    ),
  );
  return {
    stdout,
    stderr,
    transactions: sysbenchCount(stdout, "transactions"),
    ignoredErrors: sysbenchCount(stdout, "ignored errors"),
    reconnects: sysbenchCount(stdout, "reconnects"),
  };
}

/** sysbench prints its FATAL lines on stdout: a failure's message gets the last of them. */
async function withOutput<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    const out = (e as { stdout?: string }).stdout ?? "";
    if (e instanceof Error && out !== "") e.message += `\n${out.trim().split("\n").slice(-8).join("\n")}`;
    throw e;
  }
}
