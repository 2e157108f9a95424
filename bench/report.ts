/**
 * The results file's shape, and its Markdown summary. Every figure in the summary is computed
 * here from what the JSON keeps (sysbench's raw output, the load generators' histograms and
 * samples), so each can be traced back; chart.ts draws the same figures.
 */

import type { RelayStallResult } from "./connectorj/run.js";
import type { ChurnResult } from "./loadgen/churn.js";
import type { IdleResult } from "./loadgen/idle.js";
import type { LagResult, ReadStats } from "./loadgen/lag.js";
import type { LargeResultResult } from "./loadgen/large-result.js";
import type { StartMemoryResult } from "./loadgen/start-memory.js";
import type { StormResult } from "./loadgen/storm.js";
import type { ProcessUsage } from "./proc.js";
import type { StressRun } from "./stress/phase.js";
import type { SysbenchFigures } from "./sysbench.js";

export interface RunResult extends SysbenchFigures {
  /** The proxy's CPU time (utime + stime) over the run divided by the queries, µs. */
  cpuUsPerQuery: number | null;
  /** The proxy's CPU time over the run, ms, its processes summed (absent from older results). */
  cpuMs?: number | null;
  rssKb: number | null;
  /** sysbench's own output, kept so every figure can be traced. */
  raw: string;
}

export interface TargetResult {
  target: string;
  runs: RunResult[];
}

export interface ScenarioResult {
  scenario: string;
  targets: TargetResult[];
}

export interface StormRun {
  target: string;
  result: StormResult;
  proxy: ProcessUsage | null;
  cpuUsPerConnection: number | null;
  /** New connections the database servers accepted during the run (`Connections`, all nodes, monitors included). */
  backendConnections: number | null;
}

export interface IdleRun {
  target: string;
  result: IdleResult;
}

export interface LargeResultRun {
  target: string;
  result: LargeResultResult;
}

/** What the proxy believed about the delayed replica during a lag run (from /backends). */
export interface ReplicaView {
  /** [ms since start, lag ms (null: unknown), effective weight, eligible]. */
  samples: [number, number | null, number, boolean][];
  /** Times it was excluded during the run (rwsplit_balancer_transitions_total delta). */
  exclusions: number;
}

export interface LagRun {
  policy: string;
  /** How the policy was set up (overrides, HAProxy listener). */
  setup: string;
  result: LagResult;
  proxy: ProcessUsage | null;
  replicaView: ReplicaView | null;
}

/** How the replica was held behind. */
export interface LagHold {
  /**
   * master_delay: CHANGE MASTER TO MASTER_DELAY (the SQL thread waits; Seconds_Behind_Master
   * shows it); delay_line: the binlog stream reaches the replica late (src/sandbox/delay-line.ts),
   * as over a slow or saturated link: the IO thread lags, the SQL thread keeps up with what it
   * received, and Seconds_Behind_Master stays 0.
   */
  kind: "master_delay" | "delay_line";
  delayMs: number;
}

export interface LagSection {
  hold: LagHold;
  delayedReplica: string;
  delayedServerId: number;
  runs: LagRun[];
}

export interface Loadgen {
  storm: { concurrency: number; seconds: number; runs: StormRun[] };
  /** `start`: a fresh rwsplit's memory before any client (absent from results written before it existed). */
  idle: { runs: IdleRun[]; start?: StartMemoryResult };
  largeResult: { rows: number; rowBytes: number; runs: LargeResultRun[] };
  /** One section per way of holding the replica behind. */
  lag: LagSection[];
  /** Issue #15's session churn (absent from results written before it existed). */
  churn?: { target: string; result: ChurnResult }[];
  /** Issue #19's relay stress run (absent from results written before it existed). */
  stress?: StressRun[];
  /** Issue #19's Connector/J reproduction. */
  connectorj?: ConnectorjRun[];
}

export interface ConnectorjRun {
  target: string;
  result: RelayStallResult;
  seconds: number;
}

/**
 * The proxy-bound scenario (issue #15): many connections sending tiny queries, so the proxy runs
 * out of CPU before the database does; rwsplit once per `workers` setting, side by side.
 */
export interface ProxyBound {
  /** What each connection sends, one statement per sysbench event. */
  query: string;
  threads: number;
  seconds: number;
  rounds: number;
  /** The rwsplit targets and the `workers` each ran with (null: the key left out). */
  workers: { target: string; workers: number | null }[];
  /** Why it did not run (an rwsplit that rejected the `workers` key, say). */
  skipped?: string;
  scenario: ScenarioResult;
}

/** One target's medians in one scenario, with the ratios issue #15's goals are stated in. */
export interface TargetSummary {
  scenario: string;
  target: string;
  qps: number | null;
  cpuUsPerQuery: number | null;
  /** qps / HAProxy's in the same scenario. */
  qpsVsHaproxy: number | null;
  /** CPU µs/query / node-relay's (the Node floor): #15 asks at most 1.1 of rwsplit. */
  cpuVsNodeRelay: number | null;
  /** CPU µs/query / HAProxy's: #15 asks at most 1.2 (prepared) and 1.1 (text) of rwsplit. */
  cpuVsHaproxy: number | null;
}

export interface Report {
  command: string;
  date: string;
  machine: Record<string, unknown>;
  settings: { rounds: number; seconds: number; threads: number; tables?: number; tableSize?: number };
  /** sysbench scenarios. */
  results: ScenarioResult[];
  loadgen?: Loadgen;
  durationSeconds?: number;
  /** rwsplit_replica_writes_blocked_total per rwsplit process at the end (issue #12: 0). */
  writeGuard?: Record<string, number | null>;
  /** Absent from results written before it existed. */
  proxyBound?: ProxyBound;
  /** What the tables show, per scenario and target (computed from `results` by `summarise`). */
  summary?: TargetSummary[];
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

export const fmt = (n: number | null | undefined, d = 0) =>
  n !== null && n !== undefined && Number.isFinite(n) ? n.toFixed(d) : "–";

const pct = (x: number | null | undefined, d = 1) =>
  x !== null && x !== undefined && Number.isFinite(x) ? `${(100 * x).toFixed(d)}%` : "–";

const mb = (kb: number | null | undefined) => (kb === null || kb === undefined ? Number.NaN : kb / 1024);

function table(header: string[], align: string, rows: string[][]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${align
      .split("")
      .map((a) => (a === "r" ? "---:" : "---"))
      .join("|")}|`,
  ]
    .concat(rows.map((r) => `| ${r.join(" | ")} |`))
    .concat([""]);
}

const finite = (n: number) => (Number.isFinite(n) ? n : null);

/** Each target's median qps and CPU µs/query in one scenario, and their ratios to HAProxy and node-relay. */
export function summarise(s: ScenarioResult): TargetSummary[] {
  const med = (t: TargetResult, f: (x: RunResult) => number | null | undefined) =>
    median(t.runs.map((x) => f(x) ?? Number.NaN));
  const qps = new Map(s.targets.map((t) => [t.target, med(t, (x) => x.qps)]));
  const cpu = new Map(s.targets.map((t) => [t.target, med(t, (x) => x.cpuUsPerQuery)]));
  const over = (m: Map<string, number>, t: string, base: string) =>
    finite((m.get(t) ?? Number.NaN) / (m.get(base) ?? Number.NaN));
  return s.targets.map((t) => ({
    scenario: s.scenario,
    target: t.target,
    qps: finite(qps.get(t.target)!),
    cpuUsPerQuery: finite(cpu.get(t.target)!),
    qpsVsHaproxy: over(qps, t.target, "haproxy"),
    cpuVsNodeRelay: over(cpu, t.target, "node-relay"),
    cpuVsHaproxy: over(cpu, t.target, "haproxy"),
  }));
}

/** "x / direct" and "x / haproxy" for one figure, given every target's value. */
function ratios(values: Map<string, number>, target: string): [string, string] {
  const v = values.get(target) ?? Number.NaN;
  return [
    fmt(v / (values.get("direct") ?? Number.NaN), 2),
    fmt(v / (values.get("haproxy") ?? Number.NaN), 2),
  ];
}

function sysbenchSection(r: Report): string[] {
  const lines = [
    `### sysbench: ${r.settings.threads} threads, ${r.settings.seconds} s per run, median of ${r.settings.rounds} interleaved round(s)`,
    "",
    "Latency is per sysbench event (a query for point selects, a transaction otherwise). CPU µs/query: the proxy's utime+stime over the run (its processes summed) divided by the queries; CPU vs node-relay and vs haproxy: that figure over theirs in the same scenario (issue #15 asks rwsplit for at most 1.1× node-relay's, and 1.2× prepared / 1.1× text of HAProxy's).",
    "",
  ];
  const rows: string[][] = [];
  for (const s of r.results) {
    const qps = new Map(s.targets.map((t) => [t.target, median(t.runs.map((x) => x.qps))]));
    const summary = summarise(s);
    for (const [i, t] of s.targets.entries()) {
      const m = (f: (x: RunResult) => number | null) => median(t.runs.map((x) => f(x) ?? Number.NaN));
      rows.push([
        s.scenario,
        t.target,
        fmt(qps.get(t.target)),
        fmt(
          m((x) => x.p50Ms),
          2,
        ),
        fmt(
          m((x) => x.p95Ms),
          2,
        ),
        fmt(
          m((x) => x.p99Ms),
          2,
        ),
        fmt(m((x) => x.errors)),
        fmt(
          m((x) => x.cpuUsPerQuery),
          1,
        ),
        fmt(summary[i]!.cpuVsNodeRelay, 2),
        fmt(summary[i]!.cpuVsHaproxy, 2),
        fmt(m((x) => mb(x.rssKb))),
        ...ratios(qps, t.target),
      ]);
    }
  }
  return lines.concat(
    table(
      [
        "scenario",
        "target",
        "qps",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "CPU µs/query",
        "CPU vs node-relay",
        "CPU vs haproxy",
        "RSS MB",
        "qps vs direct",
        "qps vs haproxy",
      ],
      "llrrrrrrrrrrr",
      rows,
    ),
  );
}

function proxyBoundSection(p: ProxyBound): string[] {
  const lines = [
    `### Proxy-bound: ${p.threads} connections each sending \`${p.query}\` back to back, ${p.seconds} s per run, median of ${p.rounds} interleaved round(s)`,
    "",
    "Tiny statements from many connections, so that the proxy runs out of CPU before the database does (on a shared machine the database and sysbench still take their part of the cores). Every target sends everything to the primary (rwsplit with `routing.consistency: primary`). rwsplit runs once per `workers` setting (`serve --workers N`), side by side in the same rounds; CPU cores: the proxy's CPU time (its processes summed) over the run's length.",
    "",
  ];
  if (p.skipped !== undefined) return lines.concat([`Not run: ${p.skipped}`, ""]);
  const summary = summarise(p.scenario);
  const workers = new Map(p.workers.map((w) => [w.target, w.workers]));
  const rows = p.scenario.targets.map((t, i) => {
    const m = (f: (x: RunResult) => number | null | undefined) =>
      median(t.runs.map((x) => f(x) ?? Number.NaN));
    const w = workers.get(t.target);
    return [
      t.target,
      w === undefined ? "" : w === null ? "(key left out)" : String(w),
      fmt(summary[i]!.qps),
      fmt(
        m((x) => x.p95Ms),
        2,
      ),
      fmt(m((x) => x.errors)),
      fmt(summary[i]!.cpuUsPerQuery, 1),
      fmt(
        m((x) => (x.cpuMs ?? Number.NaN) / 1000 / p.seconds),
        2,
      ),
      fmt(summary[i]!.cpuVsNodeRelay, 2),
      fmt(summary[i]!.qpsVsHaproxy, 2),
    ];
  });
  lines.push(
    ...table(
      [
        "target",
        "workers",
        "qps",
        "p95 ms",
        "errors",
        "CPU µs/query",
        "proxy CPU cores",
        "CPU vs node-relay",
        "qps vs haproxy",
      ],
      "llrrrrrrr",
      rows,
    ),
  );
  const rw = p.workers.map((w) => summary.find((x) => x.target === w.target));
  const first = rw[0];
  for (const other of rw.slice(1)) {
    if (first === undefined || other === undefined) continue;
    lines.push(
      `Scaling, ${other.target} over ${first.target}: ${fmt((other.qps ?? Number.NaN) / (first.qps ?? Number.NaN), 2)}× the qps at ${fmt((other.cpuUsPerQuery ?? Number.NaN) / (first.cpuUsPerQuery ?? Number.NaN), 2)}× the CPU per query.`,
    );
  }
  return lines.concat([""]);
}

function stormSection(l: Loadgen): string[] {
  const rate = new Map(l.storm.runs.map((x) => [x.target, x.result.connectionsPerSec]));
  return [
    `### Connection storm: ${l.storm.concurrency} clients, each looping connect + \`SELECT 1\` + quit for ${l.storm.seconds} s (mysql2)`,
    "",
    ...table(
      [
        "target",
        "connections/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "CPU µs/connection",
        "peak RSS MB",
        "DB connections opened",
        "vs direct",
        "vs haproxy",
      ],
      "lrrrrrrrrrr",
      l.storm.runs.map((x) => [
        x.target,
        fmt(x.result.connectionsPerSec),
        fmt(x.result.cycle.p50Ms, 2),
        fmt(x.result.cycle.p95Ms, 2),
        fmt(x.result.cycle.p99Ms, 2),
        fmt(x.result.errors),
        fmt(x.cpuUsPerConnection),
        fmt(mb(x.proxy?.rssPeakKb)),
        fmt(x.backendConnections),
        ...ratios(rate, x.target),
      ]),
    ),
  ];
}

function startMemorySection(start: StartMemoryResult): string[] {
  const heap = (b: number | undefined) => fmt(b === undefined ? Number.NaN : b / 2 ** 20, 1);
  // Runs from before the floors have none: no column then.
  const floorNames = Object.keys(start.readings[0]?.floors ?? {});
  return [
    "### rwsplit at start: idle, no client",
    "",
    "A fresh `rwsplit serve` (TLS off, no backup, no Redis, admin on), read at fixed times after it was ready (every replica checked), monitor and status page running. RSS is VmRSS (the Node binary's own pages included, ~40 MB of it); heap and external are Node's figures from /metrics. The early reading is what `ps` shows right after a start; by the later one (full runs only) V8's memory reducer has usually run (with `young_generation: elastic` it gives back the young generation startup grew; the default `fixed` never grows it). The floors, read at the same moments, idle beside it since before it started (bench/memory-floor.ts): Node alone, and Node with the libraries `serve` loads (fastify, prom-client, pino, mysql2, zod, yaml, commander) loaded and doing nothing.",
    "",
    ...table(
      [
        "after ready s",
        "RSS MB",
        "heap used MB",
        "heap total MB",
        "external MB",
        ...floorNames.map((n) => `${n}, RSS MB`),
      ],
      `rrrrr${"r".repeat(floorNames.length)}`,
      start.readings.map((x) => [
        fmt(x.afterMs / 1000, 0),
        fmt(mb(x.rssKb), 1),
        heap(x.node?.heapUsed),
        heap(x.node?.heapTotal),
        heap(x.node?.external),
        ...floorNames.map((n) => fmt(mb(x.floors?.[n] ?? Number.NaN), 1)),
      ]),
    ),
  ];
}

function churnSection(runs: { target: string; result: ChurnResult }[]): string[] {
  return [
    "### Session churn: short sessions one after another (connect, authenticate, `SELECT 1`, quit), some malformed",
    "",
    "One session in 20 answers the greeting with a broken packet instead (random bytes, or a packet cut short and the socket closed); closed: those the proxy closed within 5 s. RSS before: a fresh rwsplit after a warm-up and a settle time; after: the same settle time after the last session. Growth is what per-session state left behind would show as (goal: within 15 MB); with `young_generation: elastic` (not the default) and --quick's 1 s settle it would also hold the young generation V8 grew under the load, which V8 gives back 10–30 s after the load ends.",
    "",
    ...table(
      [
        "target",
        "sessions",
        "completed",
        "malformed (closed)",
        "errors",
        "sessions/s",
        "RSS before MB",
        "peak MB",
        "RSS after MB",
        "growth MB",
      ],
      "lrrrrrrrrr",
      runs.map(({ target, result: x }) => [
        target,
        fmt(x.sessions),
        fmt(x.completed),
        `${fmt(x.malformed)} (${fmt(x.malformedClosed)})`,
        fmt(x.errors),
        fmt(x.sessionsPerSec),
        fmt(mb(x.rssBeforeKb), 1),
        fmt(mb(x.rssPeakKb), 1),
        fmt(mb(x.rssAfterKb), 1),
        fmt(mb(x.rssAfterKb - x.rssBeforeKb), 1),
      ]),
    ),
  ];
}

function idleSection(l: Loadgen): string[] {
  const per = new Map(l.idle.runs.map((x) => [x.target, x.result.rssPerConnectionBytes ?? Number.NaN]));
  const delta = (x: IdleRun, k: "heapUsed" | "external") => {
    const b = x.result.metricsBefore?.[k];
    const a = x.result.metricsIdle?.[k];
    return b === undefined || a === undefined || x.result.opened === 0
      ? Number.NaN
      : (a - b) / x.result.opened;
  };
  return [
    "### Idle connections: opened (handshake + authentication), left idle, then each must answer COM_PING",
    "",
    "Per connection: (RSS with all idle − RSS before) / connections; 2nd half: the same over the second half of the connections only (opened after the first half had settled), which leaves out one-off growth such as V8 enlarging its young generation. rwsplit is a fresh process for this (after 200 warm-up connections), so its heap has to grow for them; heap and external: Node's own figures from its /metrics, same difference. HAProxy opens a server connection per client, so it is measured with fewer (MariaDB's max_connections is 2000).",
    "",
    ...table(
      [
        "target",
        "connections",
        "alive",
        "errors",
        "open s",
        "RSS before MB",
        "RSS idle MB",
        "RSS after close MB",
        "KB per connection",
        "KB per connection, 2nd half",
        "heap KB/conn",
        "external KB/conn",
        "vs haproxy",
      ],
      "lrrrrrrrrrrrr",
      l.idle.runs.map((x) => [
        x.target,
        fmt(x.result.opened),
        fmt(x.result.alive),
        fmt(x.result.errors),
        fmt(x.result.openSeconds, 1),
        fmt(mb(x.result.rssBeforeKb)),
        fmt(mb(x.result.rssIdleKb)),
        fmt(mb(x.result.rssAfterCloseKb)),
        fmt((x.result.rssPerConnectionBytes ?? Number.NaN) / 1024, 1),
        fmt((x.result.rssMarginalPerConnectionBytes ?? Number.NaN) / 1024, 1),
        fmt(delta(x, "heapUsed") / 1024, 1),
        fmt(delta(x, "external") / 1024, 1),
        ratios(per, x.target)[1],
      ]),
    ),
  ];
}

function largeSection(l: Loadgen): string[] {
  const rate = new Map(l.largeResult.runs.map((x) => [x.target, x.result.mbPerSec]));
  const totalMb = (l.largeResult.rows * l.largeResult.rowBytes) / 2 ** 20;
  return [
    `### Large result: one SELECT of ${l.largeResult.rows} rows × ${l.largeResult.rowBytes} B (${fmt(totalMb)} MB), streamed with mysql2 \`query().stream()\``,
    "",
    ...table(
      [
        "target",
        "rows",
        "MB/s",
        "first row ms",
        "seconds",
        "proxy RSS before MB",
        "peak RSS MB",
        "CPU ms",
        "error",
        "vs direct",
        "vs haproxy",
      ],
      "lrrrrrrrlrr",
      l.largeResult.runs.map((x) => [
        x.target,
        fmt(x.result.rows),
        fmt(x.result.mbPerSec, 1),
        fmt(x.result.firstRowMs, 1),
        fmt(x.result.seconds, 2),
        fmt(mb(x.result.proxy?.rssStartKb)),
        fmt(mb(x.result.proxy?.rssPeakKb)),
        fmt(x.result.proxy?.cpuMs),
        x.result.error ?? "",
        ...ratios(rate, x.target),
      ]),
    ),
  ];
}

export function holdTitle(h: LagHold): string {
  const d = h.delayMs >= 1000 ? `${h.delayMs / 1000} s` : `${h.delayMs} ms`;
  return h.kind === "master_delay"
    ? `held ${d} behind by MASTER_DELAY`
    : `receiving the binlog ${d} late (IO thread lag)`;
}

function holdText(h: LagHold): string {
  return h.kind === "master_delay"
    ? "The replica's SQL thread applies each event MASTER_DELAY seconds after the primary ran it; Seconds_Behind_Master shows the delay (in whole seconds, and in MariaDB as a sawtooth as the SQL thread sleeps and catches up)."
    : "The binlog stream reaches the replica late, as over a slow or saturated link: its IO thread lags, its SQL thread applies everything it received at once, so Seconds_Behind_Master reads 0 the whole time (MariaDB measures it against the last event received). Only a heartbeat sees this lag.";
}

function lagSection(lag: LagSection): string[] {
  const sid = String(lag.delayedServerId);
  const parts = (x: LagRun) =>
    [x.result.readBackSameSession, x.result.readBackOtherConnection, x.result.background].filter(
      (s): s is ReadStats => s !== null,
    );
  /** Reads and stale reads over every kind of read, served by the delayed replica or by others. */
  const split = (x: LagRun) => {
    let reads = 0;
    let delayedReads = 0;
    let otherReads = 0;
    let otherStale = 0;
    for (const s of parts(x)) {
      reads += s.reads;
      for (const [server, c] of Object.entries(s.byServer)) {
        if (server === sid) delayedReads += c.reads;
        else {
          otherReads += c.reads;
          otherStale += c.stale;
        }
      }
    }
    return {
      delayedShare: reads === 0 ? null : delayedReads / reads,
      otherStale: otherReads === 0 ? null : otherStale / otherReads,
    };
  };
  const meanWeight = (x: LagRun) => {
    const s = x.replicaView?.samples ?? [];
    return s.length === 0 ? Number.NaN : s.reduce((n, v) => n + (v[3] ? v[2] : 0), 0) / s.length;
  };
  const direct = lag.runs.find((x) => x.policy.startsWith("direct"))?.result.all.readsPerSec;
  return [
    `### Stale reads: ${lag.delayedReplica} ${holdTitle(lag.hold)}, the other replica current`,
    "",
    holdText(lag.hold),
    "",
    "Writers UPDATE their own row and read it back at once, on the same session and on another connection; more clients read random rows. Stale: the read returned a value older than one already acknowledged to the writer when the read was sent. Every read selects @@server_id, so reads are counted per backend: the delayed replica's share is the lag policy at work; the current replica is stale too when a read arrives before its SQL thread applied the write (semi-sync waits for the replica to receive a transaction, not to apply it). Mean weight and exclusions: the delayed replica as the proxy saw it (/backends every 250 ms, rwsplit_balancer_transitions_total).",
    "",
    ...table(
      [
        "policy",
        "reads/s",
        "stale (all)",
        "stale: same session",
        "stale: other connection",
        "reads on delayed replica",
        "stale on other backends",
        "delayed: mean weight",
        "exclusions",
        "read p99 ms",
        "errors",
        "vs direct",
      ],
      "lrrrrrrrrrrr",
      lag.runs.map((x) => {
        const sp = split(x);
        return [
          x.policy,
          fmt(x.result.all.readsPerSec),
          pct(x.result.all.staleRate),
          pct(x.result.readBackSameSession?.staleRate),
          pct(x.result.readBackOtherConnection.staleRate),
          pct(sp.delayedShare),
          pct(sp.otherStale),
          fmt(meanWeight(x), 2),
          x.replicaView === null ? "–" : String(x.replicaView.exclusions),
          fmt(x.result.background.latency.p99Ms, 2),
          fmt(x.result.errors),
          fmt(x.result.all.readsPerSec / (direct ?? Number.NaN), 2),
        ];
      }),
    ),
    ...lag.runs.map((x) => `- ${x.policy}: ${x.setup}`),
    "",
  ];
}

function stressSection(runs: StressRun[]): string[] {
  const mb = (n: number) => fmt(n / 2 ** 20, 0);
  return [
    "### Relay stress (issue #19): random statements, sizes and readers, each response compared byte for byte with the primary's",
    "",
    "Each client runs seeded random sessions (pooled or pinned; a third reach rwsplit through an in-process stream that is congested on every write, the rest over TCP) of text and binary statements, multi-statements and a procedure's result sets, BLOB parameters inline and by COM_STMT_SEND_LONG_DATA, cursors, writes and transactions, with results from 0 bytes to tens of MB, read fast, slowly, in bursts or late; each statement also runs on a direct connection to the primary and the two responses must be identical (only the prepared-statement id, also in error messages, `last_gtid`, and the status flags a COM_PING's OK inherits from the connection's previous statement may differ: bench/stress/normalise.ts). rwsplit runs in the bench's own process here (the relay probe and the congested-stream clients need that), sharing the CPU with the clients, which generate, send, keep and compare every byte: slowdowns are an upper bound, not the proxy's speed. Stall: the proxy's response goes silent for 5 s while the client reads. Late: complete, but over 5 s later than the direct one. Pauses: times rwsplit stopped reading a backend for a full client socket; at response end: such a pause still in force when its response ended (the state that stalled in #19). Watchdog stalls: relays rwsplit's own stall watchdog (limits.relay_stall_warn) found paused and resumed, which a client sees only as a delay; like stalls, they must be 0.",
    "",
    ...table(
      [
        "seed",
        "minutes",
        "clients",
        "sessions (pooled/pinned/stream)",
        "statements",
        "MB relayed",
        "largest MB",
        "max slowdown ms",
        "late",
        "pauses",
        "at response end",
        "stalls",
        "watchdog stalls",
        "mismatches",
        "errors",
      ],
      "rrrlrrrrrrrrrrr",
      runs.map((x) => [
        String(x.settings.seed),
        fmt(x.stats.seconds / 60, 1),
        String(x.settings.clients),
        `${x.stats.epochs} (${x.stats.pooledEpochs}/${x.stats.pinnedEpochs}/${x.stats.streamEpochs})`,
        fmt(x.stats.responses),
        mb(x.stats.bytesProxy),
        fmt(x.stats.largestResponse / 2 ** 20, 1),
        fmt(x.stats.maxOverMs),
        fmt(x.stats.late),
        fmt(x.counters.pauses),
        fmt(x.counters.pausedAtResponseEnd),
        fmt(x.stats.stalls),
        x.watchdogStalls === null || x.watchdogStalls === undefined ? "–" : fmt(x.watchdogStalls),
        fmt(x.stats.mismatches),
        fmt(x.stats.errors),
      ]),
    ),
    ...runs.flatMap((x) => [
      `- seed ${x.settings.seed}: worst slowdown: ${x.stats.maxOverWhat || "–"}; replay: \`${x.replay}\``,
      ...x.stats.failures.slice(0, 5).map((f) => `  - ${f.kind}: ${f.message}`),
    ]),
    "",
  ];
}

function connectorjSection(runs: ConnectorjRun[]): string[] {
  return [
    "### Connector/J (issue #19's report): fresh connection per run, a few dozen statements, a 4 MiB BLOB inserted and read back (prepared), then `SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000`",
    "",
    ...table(
      [
        "target",
        "runs",
        "ok",
        "stalls (socket timeouts)",
        "errors",
        "median run ms",
        "max run ms",
        "seconds",
      ],
      "lrrrrrrr",
      runs.map((x) => [
        x.target,
        fmt(x.result.runs),
        fmt(x.result.ok),
        fmt(x.result.stalls),
        fmt(x.result.errors),
        fmt(x.result.medianMs),
        fmt(x.result.maxMs),
        fmt(x.seconds),
      ]),
    ),
    ...runs.flatMap((x) => x.result.failures.slice(0, 5).map((f) => `- ${f}`)),
    "",
  ];
}

export function renderMarkdown(r: Report): string {
  const lines = [
    `## Benchmark: ${r.date.slice(0, 10)}`,
    "",
    `Command: \`${r.command}\`${r.durationSeconds ? ` (${r.durationSeconds} s)` : ""}.`,
    `Machine: ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ${r.machine.mariadb}; ${r.machine.haproxy}; ${r.machine.sysbench}.`,
    "Targets: direct = the primary itself; haproxy = HAProxy in TCP mode in front of the primary; node-relay = a bare Node TCP relay in front of the primary (bench/node-relay.ts: accept, connect, copy bytes both ways, no parsing), the floor of what a Node proxy costs, on the primary in every scenario since it cannot split; rwsplit = reads split over 2 replicas, writes to the primary, TLS off; rwsplit-primary = the same with every statement on the primary (`routing.consistency: primary`), the proxy's cost without the split. Scenarios marked → replicas are reads outside transactions, which rwsplit sends to the replicas: there direct is one replica and haproxy balances round robin over both replicas, so every target reaches the same servers.",
    "",
  ];
  if (r.writeGuard !== undefined) {
    const figures = Object.entries(r.writeGuard).map(([t, n]) => `${t} ${n ?? "unknown"}`);
    lines.push(
      `Statements the send-time guard kept from a replica (rwsplit_replica_writes_blocked_total, must be 0): ${figures.join(", ")}.`,
      "",
    );
  }
  // Sections of phases that did not run (`--only`) are left out.
  if (r.results.length > 0) lines.push(...sysbenchSection(r));
  if (r.proxyBound !== undefined) lines.push(...proxyBoundSection(r.proxyBound));
  const l = r.loadgen;
  if (l !== undefined) {
    if (l.storm.runs.length > 0) lines.push(...stormSection(l));
    if (l.idle.start !== undefined) lines.push(...startMemorySection(l.idle.start));
    if (l.idle.runs.length > 0) lines.push(...idleSection(l));
    if (l.churn && l.churn.length > 0) lines.push(...churnSection(l.churn));
    if (l.largeResult.runs.length > 0) lines.push(...largeSection(l));
    for (const lag of l.lag) if (lag.runs.length > 0) lines.push(...lagSection(lag));
    if (l.stress && l.stress.length > 0) lines.push(...stressSection(l.stress));
    if (l.connectorj && l.connectorj.length > 0) lines.push(...connectorjSection(l.connectorj));
  }
  return `${lines.join("\n")}\n`;
}
