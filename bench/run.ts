/**
 * `npm run bench [-- --quick] [-- --target NAME=HOST:PORT] [-- --compare NAME=DIR] [-- --only PHASE,...]`:
 * on a local sandbox cluster, against the primary directly, rwsplit and HAProxy (TCP mode); in the
 * sysbench phase also rwsplit-primary (every statement on the primary: the proxy's cost without
 * the split) and, with `--compare NAME=DIR`, the rwsplit built in another checkout DIR (its
 * dist/src/cli/main.js), side by side in the same rounds (before/after a change):
 *   sysbench  OLTP scenarios, interleaved round by round so drift favours no one;
 *   storm     connect + one query + quit, as fast as possible (loadgen/storm.ts);
 *   idle      a fresh rwsplit's memory at start, idle (loadgen/start-memory.ts), then thousands of
 *             authenticated idle connections: proxy memory per connection (loadgen/idle.ts);
 *   churn     many short sessions (connect, authenticate, one query, quit; some malformed), the
 *             proxy's RSS before and after (loadgen/churn.ts);
 *   large     one large streamed result set: MB/s and the proxy's peak RSS (loadgen/large-result.ts);
 *   lag       stale reads with one replica held behind, per lag policy (loadgen/lag.ts);
 *   stress    issue #19's relay stress test for `--stress-minutes` (default 30; --quick: 0.5), seeded
 *             (`RWSPLIT_STRESS_SEED` or `--stress-seed`), `--stress-clients` clients (stress/phase.ts);
 *   connectorj  issue #19's Connector/J reproduction, `--connectorj-runs` runs in a row (default
 *             200; --quick: 10) against rwsplit as its own process (connectorj/RelayStall.java).
 * Writes bench/results/<stamp>.json (every raw output kept), <stamp>.md, latest.md and latest.svg,
 * and prints the tables. Everything it starts (sandbox, proxies, temp dir) is stopped and removed
 * on the way out, also on failure or Ctrl-C.
 *
 * RWSPLIT_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof" passes flags to the rwsplit
 * processes' node, for profiling.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { sandboxDown, sandboxUp, waitForReplicas } from "../src/sandbox/cluster.js";
import { renderChart } from "./chart.js";
import { runRelayStall } from "./connectorj/run.js";
import { lagSteps } from "./lag-policies.js";
import { sessionChurn } from "./loadgen/churn.js";
import { type Endpoint, globalStatusSum } from "./loadgen/common.js";
import { idleConnections } from "./loadgen/idle.js";
import { largeResult } from "./loadgen/large-result.js";
import { startMemory } from "./loadgen/start-memory.js";
import { connectionStorm } from "./loadgen/storm.js";
import { cpuTicks, ProcessWatch, rssKb } from "./proc.js";
import { type LagHold, type Loadgen, renderMarkdown, type ScenarioResult } from "./report.js";
import { runSteps, type Step, type Timing } from "./steps.js";
import { stressPhase } from "./stress/phase.js";
import {
  parseSysbench,
  type SysbenchScenario,
  scenarioName,
  sysbenchPrepare,
  sysbenchRun,
} from "./sysbench.js";
import { replicaWritesBlocked, startHaproxy, startRwsplit, stopAll } from "./targets.js";

const exec = promisify(execFile);
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const flagValues = (name: string) => args.filter((_, i) => args[i - 1] === name);
const extraTargets = flagValues("--target").map((t) => {
  const [name, addr] = t.split("=");
  const [host, port] = (addr ?? "").split(":");
  return { name: name!, host: host!, port: Number(port) };
});
const compareBuilds = flagValues("--compare").map((t) => {
  const [name, dir] = t.split("=");
  if (!name || !dir) throw new Error(`--compare: expected NAME=DIR, got ${t}`);
  return { name, main: resolve(dir, "dist/src/cli/main.js") };
});
const PHASES = ["sysbench", "storm", "idle", "churn", "large", "lag", "stress", "connectorj"] as const;
type Phase = (typeof PHASES)[number];
const only = new Set(flagValues("--only").flatMap((v) => v.split(",")));
for (const p of only) {
  if (!PHASES.includes(p as Phase))
    throw new Error(`--only: unknown phase ${p} (one of ${PHASES.join(", ")})`);
}
const runs = (p: Phase) => only.size === 0 || only.has(p);
const numberFlag = (name: string, fallback: number): number => {
  const v = flagValues(name).at(-1);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: not a positive number: ${v}`);
  return n;
};

/**
 * Sizes: quick mode has to fit in 2 minutes with the build and the sandbox (one short round of
 * every sysbench test), the full run in 15.
 */
const S = quick
  ? {
      rounds: 1,
      seconds: 2,
      tableSize: 10_000,
      scenarios: [
        { test: "oltp_point_select", ps: "auto", replicaReads: true },
        { test: "oltp_point_select", ps: "disable", replicaReads: true },
        { test: "oltp_read_only", ps: "auto", extra: ["--skip_trx=on"], replicaReads: true },
        { test: "oltp_read_write", ps: "auto" },
        { test: "oltp_write_only", ps: "auto" },
      ] as SysbenchScenario[],
      stormSeconds: 2,
      idleRwsplit: 4000,
      idleHaproxy: 1000,
      idleSettleMs: 500,
      // Only the early reading: quick mode has no time to wait for V8's memory reducer.
      startReadingsMs: [5000],
      churnSessions: 3000,
      churnWarmup: 300,
      // Too short for V8 to give back the young generation the load grew: an upper bound.
      churnSettleMs: 1000,
      largeRows: 64 * 1024,
      lagSeconds: 2,
      stressMinutes: 0.5,
      connectorjRuns: 10,
    }
  : {
      rounds: 3,
      seconds: 8,
      tableSize: 50_000,
      scenarios: [
        { test: "oltp_point_select", ps: "auto", replicaReads: true },
        { test: "oltp_point_select", ps: "disable", replicaReads: true },
        { test: "oltp_read_only", ps: "auto" },
        { test: "oltp_read_only", ps: "auto", extra: ["--skip_trx=on"], replicaReads: true },
        { test: "oltp_read_write", ps: "auto" },
        { test: "oltp_read_write", ps: "disable" },
        { test: "oltp_write_only", ps: "auto" },
      ] as SysbenchScenario[],
      stormSeconds: 5,
      idleRwsplit: 10_000,
      idleHaproxy: 1500,
      idleSettleMs: 2000,
      startReadingsMs: [5000, 20_000],
      churnSessions: 100_000,
      churnWarmup: 2000,
      // Long enough for V8's memory reducer to give back the young generation the load grew
      // (it runs about 8 s after the last full GC once idle): growth left is what stayed.
      churnSettleMs: 15_000,
      largeRows: 200 * 1024,
      lagSeconds: 8,
      stressMinutes: 30,
      connectorjRuns: 200,
    };
const STRESS_MINUTES = numberFlag("--stress-minutes", S.stressMinutes);
const STRESS_CLIENTS = numberFlag("--stress-clients", 4);
const STRESS_SEED = numberFlag(
  "--stress-seed",
  Number(process.env.RWSPLIT_STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
);
const CONNECTORJ_RUNS = numberFlag("--connectorj-runs", S.connectorjRuns);
const THREADS = 8;
const TABLES = 4;
const STORM_CONCURRENCY = 8;
const IDLE_CONCURRENCY = 32;
const CHURN_CONCURRENCY = 16;
/** One churn session in this many sends a malformed packet instead of logging in. */
const CHURN_MALFORMED_EVERY = 20;
const ROW_BYTES = 1024;
/**
 * The stale-read phase, twice: a replica 2 s behind in applying (MASTER_DELAY: what
 * Seconds_Behind_Master sees), and one receiving the binlog 800 ms late (what it cannot see).
 */
const LAG_HOLDS: LagHold[] = [
  { kind: "master_delay", delayMs: 2000 },
  { kind: "delay_line", delayMs: 800 },
];
const LAG_WRITERS = 4;
const LAG_READERS = 4;
/** For the idle scenario's rwsplit: room above its connections (the default limit is 10 000). */
const MAX_CLIENT_CONNECTIONS = 12_000;

/** The soft limit on open files of this process: the idle scenario must stay under it. */
function openFilesLimit(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return m ? Number(m[1]) : 1024;
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(os.tmpdir(), "rwsplit-bench-"));
  const children: ChildProcess[] = [];
  const track = (c: ChildProcess) => children.push(c);
  const dir = join(work, "sandbox");
  const clk = Number((await exec("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
  const cleanups: (() => Promise<void>)[] = [];
  const timings: Timing[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    process.stderr.write("\nbench: interrupted, stopping what it started...\n");
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    process.stdout.write("bench: starting the sandbox cluster...\n");
    const sb = await startSandbox(dir);
    const { app, root } = sb.credentials;
    const endpoint = (
      host: string,
      port: number,
      user: { user: string; password: string } = app,
    ): Endpoint => ({
      host,
      port,
      user: user.user,
      password: user.password,
      database: "app",
    });
    const primary = endpoint(sb.primary.host, sb.primary.port);
    const nodes = [sb.primary, ...sb.replicas].map((n) => endpoint(n.host, n.port, root));
    const table = { tables: TABLES, tableSize: S.tableSize };
    process.stdout.write("bench: sysbench prepare, starting rwsplit and HAProxy...\n");
    const [, rw, ha, variants] = await Promise.all([
      // The replicas must hold the tables too: the → replicas scenarios read them there directly.
      runs("sysbench") ? sysbenchPrepare(primary, table).then(() => waitForReplicas(sb)) : Promise.resolve(),
      startRwsplit("rwsplit", sb, track),
      startHaproxy(sb, work, 4000, track),
      // Only the sysbench phase compares these.
      runs("sysbench")
        ? Promise.all([
            startRwsplit("rwsplit-primary", sb, track, { RWSPLIT__ROUTING__CONSISTENCY: "primary" }),
            ...compareBuilds.map((b) => startRwsplit(b.name, sb, track, {}, { main: b.main })),
          ])
        : Promise.resolve([]),
    ]);
    const rwsplits = [rw, ...variants];
    const targets = [
      {
        name: "direct",
        ep: primary,
        readEp: endpoint(sb.replicas[0]!.host, sb.replicas[0]!.port),
        pid: null as number | null,
      },
      {
        name: "rwsplit",
        ep: endpoint(rw.host, rw.port),
        readEp: endpoint(rw.host, rw.port),
        pid: rw.pid as number | null,
      },
      {
        name: "haproxy",
        ep: endpoint(ha.host, ha.port),
        readEp: endpoint(ha.host, ha.replicasPort),
        pid: ha.pid as number | null,
      },
      ...extraTargets.map((t) => ({
        name: t.name,
        ep: endpoint(t.host, t.port),
        readEp: endpoint(t.host, t.port),
        pid: null as number | null,
      })),
    ];
    const steps: Step[] = [];

    // ---- sysbench ----------------------------------------------------------------------
    const scenarios = runs("sysbench") ? S.scenarios : [];
    const sysbenchTargets = [
      ...targets,
      ...variants.map((v) => ({
        name: v.name,
        ep: endpoint(v.host, v.port),
        readEp: endpoint(v.host, v.port),
        pid: v.pid as number | null,
      })),
    ];
    const results: ScenarioResult[] = scenarios.map((s) => ({
      scenario: scenarioName(s),
      targets: sysbenchTargets.map((t) => ({ target: t.name, runs: [] })),
    }));
    for (let round = 0; round < S.rounds; round++) {
      for (const [si, s] of scenarios.entries()) {
        // Rotate the order each round so no target always runs first (cache warmth, drift).
        const order = sysbenchTargets.map(
          (_, i) => sysbenchTargets[(i + round + si) % sysbenchTargets.length]!,
        );
        for (const t of order) {
          steps.push({
            label: results[si]!.scenario,
            target: t.name,
            run: async () => {
              const before = t.pid !== null ? cpuTicks(t.pid) : 0;
              const raw = await sysbenchRun(s.replicaReads ? t.readEp : t.ep, table, s, THREADS, S.seconds);
              const parsed = parseSysbench(raw);
              const cpuMs = t.pid !== null ? ((cpuTicks(t.pid) - before) * 1000) / clk : null;
              results[si]!.targets.find((x) => x.target === t.name)!.runs.push({
                ...parsed,
                cpuUsPerQuery: cpuMs !== null && parsed.queries > 0 ? (cpuMs * 1000) / parsed.queries : null,
                rssKb: t.pid !== null ? rssKb(t.pid) : null,
                raw,
              });
            },
          });
        }
      }
    }

    // ---- load generator ----------------------------------------------------------------
    const loadgen: Loadgen = {
      storm: { concurrency: STORM_CONCURRENCY, seconds: S.stormSeconds, runs: [] },
      idle: { runs: [] },
      churn: [],
      largeResult: { rows: S.largeRows, rowBytes: ROW_BYTES, runs: [] },
      lag: [],
      stress: [],
      connectorj: [],
    };
    if (runs("storm")) {
      for (const t of targets) {
        steps.push({
          label: "connection storm",
          target: t.name,
          run: async (progress) => {
            const connections0 = await globalStatusSum(nodes, "Connections");
            const watch = t.pid !== null ? new ProcessWatch(t.pid, clk) : null;
            const result = await connectionStorm({
              endpoint: t.ep,
              concurrency: STORM_CONCURRENCY,
              durationMs: S.stormSeconds * 1000,
              onProgress: progress,
            });
            const proxy = watch?.stop() ?? null;
            loadgen.storm.runs.push({
              target: t.name,
              result,
              proxy,
              // Less the one connection the second count makes.
              backendConnections: (await globalStatusSum(nodes, "Connections")) - connections0 - nodes.length,
              cpuUsPerConnection:
                proxy !== null && result.connections > 0 ? (proxy.cpuMs * 1000) / result.connections : null,
            });
          },
        });
      }
    }
    if (runs("idle")) {
      // Each idle connection is a file descriptor here and in the proxy (HAProxy: two).
      const room = openFilesLimit() - 500;
      const nRw = Math.min(S.idleRwsplit, room);
      steps.push({
        label: `${nRw} idle connections`,
        target: "rwsplit",
        run: async (progress) => {
          // A fresh process, so the heap must grow for the connections: one that served the other
          // scenarios has free heap that would hide part of their cost.
          const fresh = await startRwsplit("rwsplit-idle", sb, track, {
            RWSPLIT__LIMITS__MAX_CLIENT_CONNECTIONS: String(MAX_CLIENT_CONNECTIONS),
          });
          const metrics = `http://127.0.0.1:${fresh.adminPort}/metrics`;
          try {
            // Its memory at start, before any client (issue #15).
            loadgen.idle.start = await startMemory({
              pid: fresh.pid,
              metrics,
              readyAt: Date.now(),
              atMs: S.startReadingsMs,
            });
            const ep = endpoint(fresh.host, fresh.port);
            const idle = { endpoint: ep, concurrency: IDLE_CONCURRENCY, settleMs: S.idleSettleMs };
            // Warm-up: the first connections compile the code they run; that is not per connection.
            await idleConnections({ ...idle, connections: 200, proxyPid: null });
            const result = await idleConnections({
              ...idle,
              connections: nRw,
              proxyPid: fresh.pid,
              proxyMetrics: metrics,
              onProgress: progress,
            });
            loadgen.idle.runs.push({ target: "rwsplit", result });
          } finally {
            await stopAll([fresh.child]);
          }
        },
      });
      const nHa = Math.min(S.idleHaproxy, Math.floor(room / 2));
      steps.push({
        label: `${nHa} idle connections`,
        target: "haproxy",
        run: async (progress) => {
          const result = await idleConnections({
            endpoint: endpoint(ha.host, ha.port),
            connections: nHa,
            concurrency: IDLE_CONCURRENCY,
            settleMs: S.idleSettleMs,
            proxyPid: ha.pid,
            onProgress: progress,
          });
          loadgen.idle.runs.push({ target: "haproxy", result });
        },
      });
    }
    if (runs("churn")) {
      steps.push({
        label: `${S.churnSessions} short sessions`,
        target: "rwsplit",
        run: async (progress) => {
          // A fresh process: memory the other scenarios left behind would hide a leak's growth.
          const fresh = await startRwsplit("rwsplit-churn", sb, track);
          try {
            const result = await sessionChurn({
              endpoint: endpoint(fresh.host, fresh.port),
              sessions: S.churnSessions,
              warmup: S.churnWarmup,
              concurrency: CHURN_CONCURRENCY,
              malformedEvery: CHURN_MALFORMED_EVERY,
              proxyPid: fresh.pid,
              settleMs: S.churnSettleMs,
              onProgress: progress,
            });
            loadgen.churn?.push({ target: "rwsplit", result });
          } finally {
            await stopAll([fresh.child]);
          }
        },
      });
    }
    if (runs("large")) {
      for (const t of targets) {
        steps.push({
          label: `large result (${Math.round((S.largeRows * ROW_BYTES) / 2 ** 20)} MB)`,
          target: t.name,
          run: async (progress) => {
            const result = await largeResult({
              endpoint: t.ep,
              rows: S.largeRows,
              rowBytes: ROW_BYTES,
              proxyPid: t.pid,
              clkTck: clk,
              onProgress: progress,
            });
            loadgen.largeResult.runs.push({ target: t.name, result });
          },
        });
      }
    }
    if (runs("lag")) {
      for (const hold of LAG_HOLDS) {
        const lag = lagSteps({
          sb,
          haproxy: ha,
          endpoint: (host, port, as) => endpoint(host, port, as === "root" ? root : app),
          track,
          cleanups,
          clkTck: clk,
          hold,
          seconds: S.lagSeconds,
          writers: LAG_WRITERS,
          readers: LAG_READERS,
        });
        loadgen.lag.push(lag.section);
        steps.push(...lag.steps);
      }
    }

    if (runs("connectorj")) {
      steps.push({
        label: `Connector/J, ${CONNECTORJ_RUNS} runs (issue #19)`,
        target: "rwsplit",
        run: async (progress) => {
          let done = 0;
          const r = await runRelayStall({
            ...endpoint(rw.host, rw.port),
            runs: CONNECTORJ_RUNS,
            socketTimeoutMs: 30_000,
            onLine: (line) => {
              progress(++done / CONNECTORJ_RUNS);
              if (!/: ok in /.test(line)) process.stderr.write(`connectorj: ${line}\n`);
            },
          });
          loadgen.connectorj!.push({ target: "rwsplit", ...r });
        },
      });
    }
    if (runs("stress")) {
      process.stdout.write(
        `bench: relay stress seed ${STRESS_SEED} (replay: RWSPLIT_STRESS_SEED=${STRESS_SEED} npm run bench -- --only stress --stress-minutes ${STRESS_MINUTES} --stress-clients ${STRESS_CLIENTS})\n`,
      );
      steps.push({
        label: `relay stress, ${STRESS_MINUTES} min (issue #19)`,
        target: "rwsplit (in-process)",
        run: async (progress) => {
          loadgen.stress!.push(
            await stressPhase({
              sb,
              minutes: STRESS_MINUTES,
              clients: STRESS_CLIENTS,
              seed: STRESS_SEED,
              onProgress: progress,
              stop: () => interrupted,
            }),
          );
        },
      });
    }

    // ---- run ---------------------------------------------------------------------------
    timings.push({
      step: "sandbox up, sysbench prepare, proxies started",
      seconds: (Date.now() - started) / 1000,
    });
    await runSteps(steps, timings, () => interrupted);
    // Issue #12: the send-time guard never had to keep a statement from a replica.
    const writeGuard: Record<string, number | null> = {};
    for (const t of rwsplits) writeGuard[t.name] = await replicaWritesBlocked(t.adminPort);

    // ---- report ------------------------------------------------------------------------
    const version = async (cmd: string, a: string[]) =>
      (await exec(cmd, a).catch(() => ({ stdout: "?" }))).stdout.split("\n")[0]!.trim();
    const machine = {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      mariadb: await version("mariadbd", ["--version"]),
      haproxy: await version("haproxy", ["-v"]),
      sysbench: await version("sysbench", ["--version"]),
      openFilesLimit: openFilesLimit(),
    };
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const outDir = resolve("bench/results");
    mkdirSync(outDir, { recursive: true });
    const report = {
      command: `npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`,
      date: new Date().toISOString(),
      machine,
      settings: {
        rounds: S.rounds,
        seconds: S.seconds,
        threads: THREADS,
        tables: TABLES,
        tableSize: S.tableSize,
      },
      rwsplit: { env: rw.env },
      variants: variants.map((v) => ({ name: v.name, env: v.env })),
      writeGuard,
      results,
      loadgen,
      timings,
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
    writeFileSync(join(outDir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
    const md = renderMarkdown(report);
    writeFileSync(join(outDir, `${stamp}.md`), md);
    writeFileSync(join(outDir, "latest.md"), md);
    writeFileSync(join(outDir, "latest.svg"), renderChart(report));
    process.stdout.write(`\n${md}\nresults: bench/results/${stamp}.json (${report.durationSeconds} s)\n`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await stopAll(children);
    await sandboxDown(dir).catch((e) =>
      process.stderr.write(`bench: sandbox down: ${(e as Error).message}\n`),
    );
    rmSync(work, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/**
 * A sandbox on three consecutive free ports below the ephemeral range (where a client socket could
 * take one between the check and mariadbd's bind); another set when one of them is taken.
 */
async function startSandbox(dir: string) {
  for (let attempt = 1; ; attempt++) {
    const basePort = 15_000 + Math.floor(Math.random() * 17_000);
    try {
      return await sandboxUp({ dir, basePort, replicas: 2 });
    } catch (e) {
      if (attempt >= 5 || !/already in use/.test((e as Error).message)) throw e;
    }
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
