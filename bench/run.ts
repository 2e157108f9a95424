/**
 * `npm run bench [-- --quick] [-- --target NAME=HOST:PORT] [-- --compare NAME=DIR] [-- --only PHASE,...]`:
 * on a local sandbox cluster, against the primary directly, rwsplit and HAProxy (TCP mode); in the
 * sysbench phase also node-relay (bench/node-relay.ts: a bare Node TCP relay in front of the
 * primary, the floor of a Node proxy's cost), rwsplit-primary (every statement on the primary: the
 * proxy's cost without the split) and, with `--compare NAME=DIR`, the rwsplit built in another
 * checkout DIR (its dist/src/cli/main.js), side by side in the same rounds (before/after a change):
 *   sysbench  OLTP scenarios, interleaved round by round so drift favours no one;
 *   proxy-bound  many connections sending `SELECT 1`, so the proxy is the bottleneck: node-relay,
 *             HAProxy and rwsplit once per `--proxy-bound-workers` entry (default 1,2: `workers: 1`
 *             and `workers: 2`, i.e. `serve --workers N`), interleaved; an entry `-` leaves the key
 *             out (the build's default), which tests the phase on a build without the key. A build
 *             that rejects the key skips the phase with its message, and the rest of the run goes on;
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
import { ProcessWatch, rssKb, treeCpuTicks } from "./proc.js";
import {
  type LagHold,
  type Loadgen,
  type ProxyBound,
  renderMarkdown,
  type ScenarioResult,
  summarise,
} from "./report.js";
import { runSteps, type Step, type Timing } from "./steps.js";
import { stressPhase } from "./stress/phase.js";
import {
  parseSysbench,
  SELECT_1_LUA,
  type SysbenchScenario,
  scenarioName,
  sysbenchPrepare,
  sysbenchRun,
  sysbenchScript,
} from "./sysbench.js";
import {
  type RwsplitTarget,
  replicaWritesBlocked,
  startHaproxy,
  startMemoryFloor,
  startNodeRelay,
  startRwsplit,
  stopAll,
} from "./targets.js";

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
const PHASES = [
  "sysbench",
  "proxy-bound",
  "storm",
  "idle",
  "churn",
  "large",
  "lag",
  "stress",
  "connectorj",
] as const;
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
/** `workers` of each proxy-bound rwsplit: a number sets the key, `-` leaves it out (null). */
const PROXY_BOUND_WORKERS = (flagValues("--proxy-bound-workers").at(-1) ?? "1,2").split(",").map((v) => {
  if (v.trim() === "-") return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--proxy-bound-workers: expected integers ≥ 1 or -, got ${v}`);
  return n;
});

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
      proxyBoundSeconds: 3,
      stormSeconds: 2,
      idleRwsplit: 4000,
      idleHaproxy: 1000,
      idleSettleMs: 500,
      // Only the early reading: quick mode has no time to wait for V8's memory reducer.
      startReadingsMs: [5000],
      churnSessions: 3000,
      churnWarmup: 300,
      // With `young_generation: elastic`, too short for V8 to give back the young generation the
      // load grew (an upper bound); the default `fixed` does not grow it.
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
      proxyBoundSeconds: 10,
      stormSeconds: 5,
      idleRwsplit: 10_000,
      idleHaproxy: 1500,
      idleSettleMs: 2000,
      startReadingsMs: [5000, 20_000],
      churnSessions: 100_000,
      churnWarmup: 2000,
      // Long enough for V8's memory reducer to run once idle (10–30 s after the load; with
      // `young_generation: elastic` it gives back the young generation the load grew): growth
      // left is what stayed.
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
/** Connections of the proxy-bound phase: enough that the proxy, not the round trip, limits the rate. */
const PROXY_BOUND_THREADS = 64;
const PROXY_BOUND_QUERY = "SELECT 1";
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
    process.stdout.write("bench: sysbench prepare, starting rwsplit, HAProxy and node-relay...\n");
    const [, rw, ha, variants, relay, bound] = await Promise.all([
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
      runs("sysbench") || runs("proxy-bound") ? startNodeRelay(sb, track) : Promise.resolve(null),
      runs("proxy-bound") ? startProxyBound(sb, track) : Promise.resolve(null),
    ]);
    const rwsplits = [rw, ...variants, ...(bound !== null && "started" in bound ? bound.started : [])];
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
    /** A sysbench run against `t`, its figures and the proxy's CPU time over it into `into`. */
    const measured =
      (t: { name: string; pid: number | null }, into: ScenarioResult, go: () => Promise<string>) =>
      async () => {
        const before = t.pid !== null ? treeCpuTicks(t.pid) : 0;
        const raw = await go();
        const parsed = parseSysbench(raw);
        const cpuMs = t.pid !== null ? ((treeCpuTicks(t.pid) - before) * 1000) / clk : null;
        into.targets
          .find((x) => x.target === t.name)!
          .runs.push({
            ...parsed,
            cpuMs,
            cpuUsPerQuery: cpuMs !== null && parsed.queries > 0 ? (cpuMs * 1000) / parsed.queries : null,
            rssKb: t.pid !== null ? rssKb(t.pid) : null,
            raw,
          });
      };
    const relayTarget =
      relay === null
        ? []
        : [
            {
              name: relay.name,
              ep: endpoint(relay.host, relay.port),
              // It cannot split: the primary, also where the others reach the replicas.
              readEp: endpoint(relay.host, relay.port),
              pid: relay.pid as number | null,
            },
          ];

    // ---- sysbench ----------------------------------------------------------------------
    const scenarios = runs("sysbench") ? S.scenarios : [];
    const sysbenchTargets = [
      ...targets,
      ...relayTarget,
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
            run: measured(t, results[si]!, () =>
              sysbenchRun(s.replicaReads ? t.readEp : t.ep, table, s, THREADS, S.seconds),
            ),
          });
        }
      }
    }

    // ---- proxy-bound -------------------------------------------------------------------
    let proxyBound: ProxyBound | undefined;
    if (bound !== null) {
      const boundTargets = [
        ...relayTarget,
        { name: "haproxy", ep: endpoint(ha.host, ha.port), pid: ha.pid as number | null },
        ...("started" in bound ? bound.started : []).map((t) => ({
          name: t.name,
          ep: endpoint(t.host, t.port),
          pid: t.pid as number | null,
        })),
      ];
      const scenario: ScenarioResult = {
        scenario: `${PROXY_BOUND_QUERY}, ${PROXY_BOUND_THREADS} connections`,
        targets: "started" in bound ? boundTargets.map((t) => ({ target: t.name, runs: [] })) : [],
      };
      proxyBound = {
        query: PROXY_BOUND_QUERY,
        threads: PROXY_BOUND_THREADS,
        seconds: S.proxyBoundSeconds,
        rounds: S.rounds,
        workers: bound.workers,
        ...("skipped" in bound ? { skipped: bound.skipped } : {}),
        scenario,
      };
      if ("skipped" in bound) process.stderr.write(`bench: proxy-bound phase skipped: ${bound.skipped}\n`);
      else {
        const script = join(work, "select-1.lua");
        writeFileSync(script, SELECT_1_LUA);
        for (let round = 0; round < S.rounds; round++) {
          for (const [i] of boundTargets.entries()) {
            const t = boundTargets[(i + round) % boundTargets.length]!;
            steps.push({
              label: `proxy-bound: ${scenario.scenario}`,
              target: t.name,
              run: measured(t, scenario, () =>
                sysbenchScript(t.ep, script, PROXY_BOUND_THREADS, S.proxyBoundSeconds),
              ),
            });
          }
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
          // The floors under its memory at start, idle beside it: Node alone, and with the
          // libraries `serve` loads (bench/memory-floor.ts). Started first and stopped at once.
          const floors = [await startMemoryFloor("node", track), await startMemoryFloor("libraries", track)];
          // A fresh process, so the heap must grow for the connections: one that served the other
          // scenarios has free heap that would hide part of their cost.
          const fresh = await startRwsplit("rwsplit-idle", sb, track, {
            RWSPLIT__LIMITS__MAX_CLIENT_CONNECTIONS: String(MAX_CLIENT_CONNECTIONS),
          }).catch(async (e) => {
            await stopAll(floors.map((f) => f.child));
            throw e;
          });
          const metrics = `http://127.0.0.1:${fresh.adminPort}/metrics`;
          try {
            // Its memory at start, before any client (issue #15).
            loadgen.idle.start = await startMemory({
              pid: fresh.pid,
              metrics,
              readyAt: Date.now(),
              atMs: S.startReadingsMs,
              floors,
            }).finally(() => stopAll(floors.map((f) => f.child)));
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
      ...(proxyBound !== undefined ? { proxyBound } : {}),
      summary: [...results, ...(proxyBound !== undefined ? [proxyBound.scenario] : [])].flatMap(summarise),
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
 * The proxy-bound phase's rwsplits, one per PROXY_BOUND_WORKERS entry, every statement on the
 * primary like node-relay and HAProxy. One that fails to start (a build that rejects `workers`)
 * skips the phase with its message instead of failing the run.
 */
async function startProxyBound(
  sb: Awaited<ReturnType<typeof startSandbox>>,
  track: (c: ChildProcess) => void,
): Promise<{ workers: ProxyBound["workers"] } & ({ started: RwsplitTarget[] } | { skipped: string })> {
  const names = PROXY_BOUND_WORKERS.map((w) => (w === null ? "rwsplit-nokey" : `rwsplit-w${w}`));
  const unique = names.map((n, i) => (names.filter((x) => x === n).length > 1 ? `${n}-${i + 1}` : n));
  const workers = unique.map((target, i) => ({ target, workers: PROXY_BOUND_WORKERS[i]! }));
  const started = await Promise.allSettled(
    workers.map((w) =>
      startRwsplit(
        w.target,
        sb,
        track,
        { RWSPLIT__ROUTING__CONSISTENCY: "primary" },
        w.workers === null ? {} : { workers: w.workers },
      ),
    ),
  );
  const failed = started.find((r) => r.status === "rejected");
  if (failed !== undefined) {
    for (const r of started) if (r.status === "fulfilled") await stopAll([r.value.child]);
    return { workers, skipped: String((failed.reason as Error).message ?? failed.reason) };
  }
  return { workers, started: started.map((r) => (r as PromiseFulfilledResult<RwsplitTarget>).value) };
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
