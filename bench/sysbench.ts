import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Endpoint } from "./loadgen/common.js";

const run = promisify(execFile);

/** One sysbench workload: the Lua test, prepared or text statements, extra flags. */
export interface SysbenchScenario {
  test: "oltp_point_select" | "oltp_read_only" | "oltp_read_write" | "oltp_write_only";
  /** `--db-ps-mode`: auto = server-side prepared statements, disable = text queries. */
  ps: "auto" | "disable";
  extra?: string[];
  /**
   * Every statement is a read outside a transaction, so rwsplit sends them all to the replicas:
   * the other targets then reach the replicas too (direct: one replica; HAProxy: round robin over
   * both), as the issue asks ("whichever the scenario would reach").
   */
  replicaReads?: boolean;
}

export function scenarioName(s: SysbenchScenario): string {
  const extra = s.extra ? ` ${s.extra.join(" ")}` : "";
  return `${s.test} (${s.ps === "disable" ? "text" : "prepared"})${extra}${s.replicaReads ? " → replicas" : ""}`;
}

export interface SysbenchTable {
  tables: number;
  tableSize: number;
}

export interface SysbenchFigures {
  queries: number;
  qps: number;
  tps: number;
  /** Latency of one sysbench event (a point select, or a whole transaction), ms. */
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  errors: number;
  reconnects: number;
}

/** Connection flags, and the table flags of the OLTP tests (a Lua test of ours takes none). */
function baseArgs(e: Endpoint, t: SysbenchTable | null): string[] {
  return [
    "--db-driver=mysql",
    `--mysql-host=${e.host}`,
    `--mysql-port=${e.port}`,
    `--mysql-user=${e.user}`,
    `--mysql-password=${e.password}`,
    `--mysql-db=${e.database}`,
    ...(t === null ? [] : [`--tables=${t.tables}`, `--table-size=${t.tableSize}`]),
  ];
}

export async function sysbenchPrepare(e: Endpoint, t: SysbenchTable): Promise<void> {
  await run("sysbench", [...baseArgs(e, t), "--threads=4", "oltp_read_write", "prepare"], {
    timeout: 300_000,
  });
}

/** Runs one scenario for `seconds`; returns sysbench's whole output (kept as the raw record). */
export async function sysbenchRun(
  e: Endpoint,
  t: SysbenchTable,
  s: SysbenchScenario,
  threads: number,
  seconds: number,
): Promise<string> {
  return runTest([...baseArgs(e, t), `--db-ps-mode=${s.ps}`, ...(s.extra ?? [])], s.test, threads, seconds);
}

/**
 * A sysbench Lua test in which every event is one text `SELECT 1`: the smallest statement a
 * database answers (no table, no row), so that with many connections the proxy in front of it,
 * not the database, is what runs out of CPU first. sysbench counts each as a read query.
 */
export const SELECT_1_LUA = `function thread_init()
  drv = sysbench.sql.driver()
  con = drv:connect()
end
function thread_done()
  con:disconnect()
end
function event()
  con:query("SELECT 1")
end
`;

/** Runs the Lua test at `script` (a path; SELECT_1_LUA written to a file) for `seconds`. */
export async function sysbenchScript(
  e: Endpoint,
  script: string,
  threads: number,
  seconds: number,
): Promise<string> {
  return runTest(baseArgs(e, null), script, threads, seconds);
}

async function runTest(args: string[], test: string, threads: number, seconds: number): Promise<string> {
  const { stdout } = await run(
    "sysbench",
    [
      ...args,
      `--threads=${threads}`,
      `--time=${seconds}`,
      "--percentile=99",
      // The latency histogram at the end gives p50 and p95 too (sysbench prints one percentile).
      "--histogram=on",
      test,
      "run",
    ],
    { timeout: (seconds + 60) * 1000, maxBuffer: 1 << 24 },
  );
  return stdout;
}

/**
 * The percentile `p` (0..100) of sysbench's latency histogram: lines of `value |*** count`, value
 * in ms, ascending.
 */
export function histogramPercentile(out: string, p: number): number {
  const rows = [...out.matchAll(/^\s+([\d.]+) \|[* ]*\s(\d+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
  const total = rows.reduce((n, [, c]) => n + c!, 0);
  if (total === 0) return Number.NaN;
  let seen = 0;
  for (const [v, c] of rows) {
    seen += c!;
    if (seen >= (p / 100) * total) return v!;
  }
  return rows[rows.length - 1]![0]!;
}

export function parseSysbench(out: string): SysbenchFigures {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    queries: num(/queries:\s+(\d+)/),
    qps: num(/queries:\s+\d+\s+\(([\d.]+) per sec/),
    tps: num(/transactions:\s+\d+\s+\(([\d.]+) per sec/),
    avgMs: num(/avg:\s+([\d.]+)/),
    p50Ms: histogramPercentile(out, 50),
    p95Ms: histogramPercentile(out, 95),
    p99Ms: num(/99th percentile:\s+([\d.]+)/),
    errors: num(/ignored errors:\s+(\d+)/),
    reconnects: num(/reconnects:\s+(\d+)/),
  };
}
