/**
 * What protocol compression between the client and rwsplit costs (issue #14), against the same
 * load uncompressed. Not a test. Run: `npm run build && node dist/bench/compression.js`
 * (`--quick`: fewer rounds, shorter). Brings up a sandbox (primary + 2 replicas) and rwsplit
 * (from dist/, its own process, TLS off), then, interleaved round by round so drift favours
 * neither side:
 *
 * - point selects: 4 mysql2 connections, each `SELECT c FROM pt WHERE id = ?` (text protocol,
 *   one row) back to back for a fixed time; queries/s, latency, rwsplit's CPU µs per query;
 * - a large result: one `SELECT seq, REPEAT(...)` of ~40 MB (compressible, like most text),
 *   streamed; payload MB/s, rwsplit's CPU ms per MB, and the bytes rwsplit wrote to sockets
 *   (/proc/PID/io wchar: the client's wire bytes, the backend side being a few queries).
 *
 * - in process, no sockets: what CompressedTransport itself adds to one point select (a 44-byte
 *   compressed query frame in, a 129-byte result set out as one zlib frame), CPU µs, the number
 *   the shared machine's noise does not blur.
 *
 * Writes bench/results/compression-<date>.json (every round) and compression-latest.md, prints
 * the table, and stops everything it started (by pid) and removes its temp dir.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import mysql from "mysql2";
import mysqlp from "mysql2/promise";
import { CompressedWriter, zlibCodec } from "../src/protocol/compression/index.js";
import { packet } from "../src/protocol/framing.js";
import { CompressedTransport } from "../src/proxy/session/compressed-transport.js";
import type { ClientTransport } from "../src/proxy/session/transport.js";
import { sandboxDown, sandboxUp, waitForReplicas } from "../src/sandbox/cluster.js";
import { freePort } from "../src/sandbox/ports.js";
import {
  connectionOptions,
  type Endpoint,
  inParallel,
  latencyHistogram,
  recordSince,
  summarize,
} from "./loadgen/common.js";
import { ProcessWatch } from "./proc.js";
import { writeResults } from "./results-files.js";
import { startRwsplit, stopAll } from "./targets.js";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 2 : 3;
const POINT_SECONDS = quick ? 3 : 6;
const CONNECTIONS = 4;
const LARGE_ROWS = quick ? 100_000 : 200_000;
const LARGE_ROW_BYTES = 200;

interface PointRound {
  compressed: boolean;
  queries: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerQuery: number;
  errors: number;
}

interface LargeRound {
  compressed: boolean;
  payloadMB: number;
  seconds: number;
  mbPerSec: number;
  cpuMsPerMB: number;
  /** Bytes rwsplit wrote to sockets during the query (≈ what the client received). */
  wireMB: number;
  peakRssMB: number;
}

/** write syscalls' bytes of a process so far (/proc/PID/io `wchar`). */
function wchar(pid: number): number {
  const m = /wchar:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  return Number(m?.[1] ?? 0);
}

async function pointSelects(e: Endpoint, pid: number, clk: number, compressed: boolean): Promise<PointRound> {
  const conns = await Promise.all(
    Array.from({ length: CONNECTIONS }, () =>
      mysqlp.createConnection({ ...connectionOptions(e), compress: compressed }),
    ),
  );
  const h = latencyHistogram();
  let errors = 0;
  // Warm up: every connection has its backend connections, the JIT has the path.
  await inParallel(CONNECTIONS, async (i) => {
    for (let k = 0; k < 200; k++) await conns[i]!.query("SELECT c FROM pt WHERE id = ?", [k]);
  });
  const watch = new ProcessWatch(pid, clk, 200);
  const end = Date.now() + POINT_SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await inParallel(CONNECTIONS, async (i) => {
    const c = conns[i]!;
    let k = i;
    while (Date.now() < end) {
      k = (k + 7919) % 10_000;
      const start = process.hrtime.bigint();
      try {
        await c.query("SELECT c FROM pt WHERE id = ?", [k]);
        recordSince(h, start);
      } catch {
        errors++;
      }
    }
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const usage = watch.stop();
  await Promise.all(conns.map((c) => c.end()));
  const s = summarize(h);
  return {
    compressed,
    queries: s.count,
    qps: s.count / seconds,
    p50Ms: s.p50Ms,
    p99Ms: s.p99Ms,
    cpuUsPerQuery: (usage.cpuMs * 1000) / Math.max(1, s.count),
    errors,
  };
}

async function largeResult(e: Endpoint, pid: number, clk: number, compressed: boolean): Promise<LargeRound> {
  const sql = `SELECT seq, REPEAT(CONCAT('row ', seq, ' of a compressible result; '), ${Math.ceil(LARGE_ROW_BYTES / 40)}) AS pad FROM seq_1_to_${LARGE_ROWS}`;
  const conn = mysql.createConnection({ ...connectionOptions(e), rowsAsArray: true, compress: compressed });
  await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
  const watch = new ProcessWatch(pid, clk, 20);
  const w0 = wchar(pid);
  const t0 = process.hrtime.bigint();
  let payload = 0;
  const stream = conn.query(sql).stream({ highWaterMark: 256 });
  for await (const row of stream as AsyncIterable<[number, string]>) payload += row[1].length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const wire = wchar(pid) - w0;
  const usage = watch.stop();
  conn.destroy();
  const mb = payload / 2 ** 20;
  return {
    compressed,
    payloadMB: mb,
    seconds,
    mbPerSec: mb / seconds,
    cpuMsPerMB: usage.cpuMs / mb,
    wireMB: wire / 2 ** 20,
    peakRssMB: usage.rssPeakKb / 1024,
  };
}

/** CPU µs CompressedTransport adds to one point select: the query frame in, the result set out. */
function transportCost(): number {
  const inner: ClientTransport = {
    remoteHost: "bench",
    secure: false,
    pendingBytes: 0,
    attach() {},
    write: () => true,
    onceDrained() {},
    offDrained() {},
    startTls() {},
    end() {},
    destroy() {},
  };
  const t = new CompressedTransport(inner, zlibCodec());
  t.attach({ data() {}, closed() {} });
  const query = Buffer.concat(
    new CompressedWriter().encode(packet(0, Buffer.from("\x03SELECT c FROM pt WHERE id = 1234", "latin1"))),
  );
  const result = Buffer.concat([
    packet(1, Buffer.from([1])),
    packet(2, Buffer.alloc(60, 0x41)),
    packet(3, Buffer.from("value 1234 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
    packet(4, Buffer.from([0xfe, 0, 0, 2, 0, 0, 0])),
  ]);
  const n = 50_000;
  const run = () => {
    for (let i = 0; i < n; i++) {
      t.unwrap(query);
      t.packetRead(0);
      t.write(result);
    }
    t.packetRead(0);
  };
  run();
  const c0 = process.cpuUsage();
  run();
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / n;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), "rwsplit-bench-compression-"));
  const dir = join(work, "sandbox");
  const children: ChildProcess[] = [];
  const clk = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  const points: PointRound[] = [];
  const larges: LargeRound[] = [];
  try {
    process.stdout.write("bench: starting the sandbox cluster...\n");
    const sb = await sandboxUp({
      dir,
      ports: [await freePort(), await freePort(), await freePort()],
      replicas: 2,
    });
    const { host, port } = sb.primary;
    const root = await mysqlp.createConnection({ host, port, ...sb.credentials.root, database: "app" });
    await root.query("CREATE TABLE app.pt (id INT PRIMARY KEY, c VARCHAR(120) NOT NULL)");
    await root.query(
      "INSERT INTO app.pt SELECT seq, CONCAT('value ', seq, ' ', REPEAT('x', 60)) FROM seq_0_to_9999",
    );
    await root.end();
    await waitForReplicas(sb, 60_000);
    const proxy = await startRwsplit("rwsplit", sb, (c) => children.push(c));
    const { app } = sb.credentials;
    const e: Endpoint = {
      host: proxy.host,
      port: proxy.port,
      user: app.user,
      password: app.password,
      database: "app",
    };
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate which goes first, so a warming machine favours neither.
      const order = round % 2 ? [false, true] : [true, false];
      for (const compressed of order) {
        const p = await pointSelects(e, proxy.pid, clk, compressed);
        points.push(p);
        process.stdout.write(
          `round ${round} point selects ${compressed ? "compressed  " : "uncompressed"}: ${p.qps.toFixed(0)} q/s, ${p.cpuUsPerQuery.toFixed(1)} µs CPU/query\n`,
        );
      }
      for (const compressed of order) {
        const l = await largeResult(e, proxy.pid, clk, compressed);
        larges.push(l);
        process.stdout.write(
          `round ${round} large result  ${compressed ? "compressed  " : "uncompressed"}: ${l.mbPerSec.toFixed(1)} MB/s, ${l.wireMB.toFixed(1)} MB on the wire\n`,
        );
      }
    }
  } finally {
    await stopAll(children);
    await sandboxDown(dir).catch((err) =>
      process.stderr.write(`bench: sandbox down: ${(err as Error).message}\n`),
    );
    rmSync(work, { recursive: true, force: true });
  }

  const transportUs = transportCost();
  const pick = <T extends { compressed: boolean }>(rows: T[], c: boolean, f: (r: T) => number) =>
    median(rows.filter((r) => r.compressed === c).map(f));
  const table = [
    "| load | uncompressed | compressed (zlib) | compressed / uncompressed |",
    "|---|---:|---:|---:|",
  ];
  const row = (label: string, a: number, b: number, digits: number) =>
    table.push(`| ${label} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${(b / a).toFixed(2)} |`);
  const both = <T extends { compressed: boolean }>(rows: T[], f: (r: T) => number) =>
    [pick(rows, false, f), pick(rows, true, f)] as const;
  row("point selects: queries/s", ...both(points, (r) => r.qps), 0);
  row("point selects: p50 ms", ...both(points, (r) => r.p50Ms), 3);
  row("point selects: p99 ms", ...both(points, (r) => r.p99Ms), 3);
  row("point selects: rwsplit CPU µs/query", ...both(points, (r) => r.cpuUsPerQuery), 1);
  row(`large result (${LARGE_ROWS} rows): payload MB/s`, ...both(larges, (r) => r.mbPerSec), 1);
  row("large result: rwsplit CPU ms/MB", ...both(larges, (r) => r.cpuMsPerMB), 2);
  row("large result: MB on the client's wire", ...both(larges, (r) => r.wireMB), 1);
  row("large result: rwsplit peak RSS MB", ...both(larges, (r) => r.peakRssMB), 0);
  table.push(
    `| in process: CompressedTransport per point select, CPU µs | – | ${transportUs.toFixed(1)} | – |`,
  );

  const when = new Date().toISOString();
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  const md = [
    "# Protocol compression: cost through rwsplit",
    "",
    `\`node dist/bench/compression.js${quick ? " --quick" : ""}\`, ${when}, Node ${process.version}, ${cpu}, ${os.cpus().length} cores (shared), medians of ${ROUNDS} interleaved rounds.`,
    `Point selects: ${CONNECTIONS} mysql2 connections for ${POINT_SECONDS} s per round (reads split over 2 replicas); large result: ${LARGE_ROWS} rows of ~${LARGE_ROW_BYTES} bytes, streamed.`,
    "mysql2's `compress: true` is the compressed client (zlib); rwsplit's backend connections never compress.",
    "",
    ...table,
    "",
  ].join("\n");
  const file = writeResults(
    "compression",
    when,
    { when, node: process.version, cpu, quick, points, larges, transportUs },
    md,
  );
  process.stdout.write(`\n${md}\nwrote ${file} and bench/results/compression-latest.md\n`);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
