/**
 * Every `rwsplit_` metric, in one place, on a private prom-client `Registry` (not the global one, so
 * tests and embedders can create as many as they like).
 *
 * Hot path: the proxy counts every statement. prom-client's `inc({labels})` hashes and validates the
 * labels on every call, and so does a child from `counter.labels(...)` (it only binds the labels
 * object). Measured on the 2-core dev machine (Node 20.20, loops of 5-20M calls, one label set):
 *
 *   counter.inc({route, backend, reason})      ~217 ns/op
 *   counter.labels(...).inc() (cached child)   ~214 ns/op
 *   histogram.observe({route}, v)              ~327 ns/op
 *   histogram.labels(...).observe(v)           ~324 ns/op
 *   CounterCell.inc() (held by the caller)       ~1 ns/op
 *   metrics.queryCounter(r, b, why).inc()       ~24 ns/op  (looked up on every call)
 *   HistogramCell.observe(v)                     ~7 ns/op
 *   render(), rwsplit_ families only            ~2 ms (first scrape)
 *
 * So the hot path gets cells: plain objects the proxy fetches once (`queryCounter(...)`, memoised per
 * label set), holds, and bumps. Their numbers are folded into the registry only when Prometheus
 * scrapes: counters through prom-client's `collect` callback, histograms by a small metric object
 * that renders the cells itself (prom-client has no API to load bucket counts into a Histogram).
 * The cells are the source of truth: `registry.resetMetrics()` does not zero them.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { BackupMetrics } from "./backup-metrics.js";
import { CellHistogram, type CounterCell, cellCounter, type HistogramCell } from "./cells.js";
import { RuntimeMetrics } from "./runtime-metrics.js";

/** `rwsplit_query_duration_seconds` upper bounds: 100 µs (a point read on a LAN) to 10 s. */
export const QUERY_DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Failovers take seconds when they go well and a minute or two when they do not. */
export const FAILOVER_DURATION_BUCKETS: readonly number[] = [0.5, 1, 2, 5, 10, 20, 30, 60, 120];

export type Route = "primary" | "replica";

/**
 * How many label sets of rwsplit_queries_total `queryCounter` finds without the Map tree: a
 * workload's busy ones (each replica's reads, the primary's writes and transactions) fit.
 */
const RECENT_QUERY_LABELS = 8;

/**
 * Bytes between rwsplit and one backend, as the data path counts them (BackendPool.bytes): `in`
 * sent to the backend (the clients' statements and rwsplit's own), `out` received from it
 * (answers relayed to clients, and to rwsplit's own statements). Plain integers the connections
 * bump per chunk; read only when Prometheus scrapes.
 */
export interface ByteCounts {
  readonly in: number;
  readonly out: number;
}

export interface MetricsOptions {
  /** Node's process_* and nodejs_* metrics (prom-client's collectDefaultMetrics); default true. */
  defaultMetrics?: boolean;
}

/** What the per-backend gauges show of a backend (the admin app's /backends status has it all). */
export interface BackendGauges {
  name: string;
  role: string;
  up: boolean;
  lagMs: number | null;
  lagSource: string | null;
  effectiveWeight: number;
  eligible: boolean;
  pool: { idle: number; busy: number };
}

/** The data path's totals, summed over worker processes (Metrics.useRemoteTotals). */
export interface RemoteTotals {
  queries: { route: string; backend: string; reason: string; value: number }[];
  errors: { code: string; value: number }[];
  clients: number;
}

/**
 * The families only a process serving clients counts (a worker's, with `serve --workers`): the
 * supervisor sums these over its workers and takes every other family from itself.
 */
export const DATA_PATH_FAMILIES: ReadonlySet<string> = new Set([
  "rwsplit_queries_total",
  "rwsplit_query_duration_seconds",
  "rwsplit_errors_total",
  "rwsplit_read_fallbacks_total",
  "rwsplit_replica_writes_blocked_total",
  "rwsplit_relay_stalls_total",
  "rwsplit_consistency_waits_total",
  "rwsplit_client_connections_total",
  "rwsplit_client_connections",
  "rwsplit_bytes_total",
]);

export class Metrics {
  readonly registry = new Registry();
  /** `rwsplit_backup_*` (src/metrics/backup-metrics.ts). */
  readonly backup = new BackupMetrics(this.registry);
  /** `rwsplit_config_*` and `rwsplit_backend_drain` (src/metrics/runtime-metrics.ts). */
  readonly runtime = new RuntimeMetrics(this.registry);

  private readonly queries = cellCounter(
    this.registry,
    "rwsplit_queries_total",
    "Statements routed, by route (primary|replica), backend and reason (write, read, in_transaction, pinned:<why>, consistency_fallback, hint, no_replica, ...).",
    ["route", "backend", "reason"] as const,
  );
  /** queryCounter's last label sets (at most RECENT_QUERY_LABELS), replaced in turn. */
  private readonly recentQueries: { route: Route; backend: string; reason: string; cell: CounterCell }[] = [];
  private recentNext = 0;
  /** queryDuration's cells, made when a statement first ends on each route (a series shows from then). */
  private primaryDuration: HistogramCell | null = null;
  private replicaDuration: HistogramCell | null = null;
  private readonly queryDurations = new CellHistogram(
    this.registry,
    "rwsplit_query_duration_seconds",
    "Time from a statement's first byte from the client to the last byte of its answer, by route.",
    ["route"] as const,
    QUERY_DURATION_BUCKETS,
  );
  private readonly errors = cellCounter(
    this.registry,
    "rwsplit_errors_total",
    "Errors, by MySQL error number (ERR packets sent to clients) or internal error code.",
    ["code"] as const,
  );
  private readonly readFallbacks = cellCounter(
    this.registry,
    "rwsplit_read_fallbacks_total",
    "Reads that could not go to a replica, by reason (served by the primary or failed per routing.read_fallback).",
    ["reason"] as const,
  );
  private readonly transitions = cellCounter(
    this.registry,
    "rwsplit_balancer_transitions_total",
    "Times a backend changed state in the balancer, by the state it went to.",
    ["backend", "to"] as const,
  );
  /** The send-time guard stopped a statement unsafe on a replica (should stay 0: the router decides). */
  readonly replicaWritesBlocked = cellCounter(
    this.registry,
    "rwsplit_replica_writes_blocked_total",
    "Statements not safe on a replica that were about to be sent to one and went to the primary instead (or were refused in a READ ONLY transaction there), by backend. Should stay 0.",
    ["backend"] as const,
  );
  /** The stall watchdog found a relay paused while its client could take more (limits.relay_stall_warn). */
  readonly relayStalls = cellCounter(
    this.registry,
    "rwsplit_relay_stalls_total",
    "Relays whose backend reads stayed paused longer than limits.relay_stall_warn while the client could take more; each was logged and resumed.",
    [] as const,
  ).get([]);
  /**
   * Reads that waited on a replica for a write they must see (routing.consistency_wait), by
   * backend and result: caught_up (served there), timeout or error (served by the primary).
   */
  readonly consistencyWaits = cellCounter(
    this.registry,
    "rwsplit_consistency_waits_total",
    "Reads that waited on a replica (MASTER_GTID_WAIT, routing.consistency_wait) for a write they must see, by backend and result: caught_up (read there), timeout or error (read on the primary instead).",
    ["backend", "result"] as const,
  );
  private readonly clientsTotal = cellCounter(
    this.registry,
    "rwsplit_client_connections_total",
    "Client connections accepted since start.",
    [] as const,
  ).get([]);
  private readonly failovers = cellCounter(
    this.registry,
    "rwsplit_failovers_total",
    "Topology changes this instance performed, by kind (failover|switchover|rejoin) and result (ok|failed).",
    ["kind", "result"] as const,
  );
  private readonly failoverDuration = new Histogram({
    name: "rwsplit_failover_duration_seconds",
    help: "Failover: from the primary's first failed check to the new primary taking writes; switchover/rejoin: from the request to done.",
    labelNames: ["kind"],
    buckets: [...FAILOVER_DURATION_BUCKETS],
    registers: [this.registry],
  });
  private readonly generation = new Gauge({
    name: "rwsplit_topology_generation",
    help: "Topology generation: increases by one per failover, switchover or rejoin (shared by a fleet through Redis).",
    registers: [this.registry],
  });

  private openClients = 0;
  /** routing.consistency: user — 1 while users' last writes are shared through Redis (set by app.ts). */
  private consistencyShared: () => number = () => 0;
  /** Live byte counters per backend, read at scrape time (`countBytes`). */
  private readonly byteSources: { backend: string; counts: ByteCounts }[] = [];

  private readonly gauges = {
    up: this.gauge("rwsplit_backend_up", "1 when the last health check succeeded.", ["backend", "role"]),
    lag: this.gauge(
      "rwsplit_replica_lag_seconds",
      "Replication lag and where it was measured (heartbeat or seconds_behind_master); absent while unknown.",
      ["backend", "source"],
    ),
    weight: this.gauge(
      "rwsplit_backend_weight",
      "Effective balancer weight after the lag policy (0 = receives no reads).",
      ["backend"],
    ),
    eligible: this.gauge(
      "rwsplit_backend_eligible",
      "1 when the balancer may send reads to the backend now.",
      ["backend"],
    ),
    connections: this.gauge(
      "rwsplit_backend_connections",
      "Pooled backend connections by state (idle|busy).",
      ["backend", "state"],
    ),
  };

  constructor(options: MetricsOptions = {}) {
    const openClients = () => this.openClients;
    const shared = () => this.consistencyShared();
    new Gauge({
      name: "rwsplit_consistency_shared",
      help: "1 while users' last writes are shared with the other instances through Redis (routing.consistency: user with redis.url); 0 while each instance keeps its own.",
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(shared());
      },
    });
    new Gauge({
      name: "rwsplit_client_connections",
      help: "Client connections open now.",
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(openClients());
      },
    });
    const byteSources = this.byteSources;
    new Counter({
      name: "rwsplit_bytes_total",
      help: "Bytes between rwsplit and each backend: in = sent to it (statements), out = received from it (answers relayed to clients).",
      labelNames: ["backend", "direction"],
      registers: [this.registry],
      collect(this: Counter) {
        this.reset();
        for (const { backend, counts } of byteSources) {
          this.inc({ backend, direction: "in" }, counts.in);
          this.inc({ backend, direction: "out" }, counts.out);
        }
      },
    });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The Content-Type of `render()`: Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text for `GET /metrics`. */
  render(): Promise<string> {
    return this.#renderer?.() ?? this.registry.metrics();
  }

  #renderer: (() => Promise<string>) | null = null;
  #remote: (() => RemoteTotals) | null = null;

  /** `/metrics` renders with `f` (the supervisor of worker processes: every process's metrics). */
  renderWith(f: () => Promise<string>): void {
    this.#renderer = f;
  }

  /** The data path's totals come from `f` (worker processes' reports) instead of this process. */
  useRemoteTotals(f: () => RemoteTotals): void {
    this.#remote = f;
  }

  /**
   * Call `.inc()` on the returned cell per statement; the same label values return the same cell.
   * Looked up per statement: the last label sets asked for are compared first (a few string
   * compares), before the label array and three Map hits of the cells' tree (~100 ns).
   */
  queryCounter(route: Route, backend: string, reason: string): CounterCell {
    const recent = this.recentQueries;
    for (let i = 0; i < recent.length; i++) {
      const q = recent[i]!;
      if (q.reason === reason && q.backend === backend && q.route === route) return q.cell;
    }
    const cell = this.queries.get([route, backend, reason]);
    const q = { route, backend, reason, cell };
    if (recent.length < RECENT_QUERY_LABELS) recent.push(q);
    else recent[this.recentNext++ % RECENT_QUERY_LABELS] = q;
    return cell;
  }

  /** Call `.observe(seconds)` on the returned cell per statement (one cell per route). */
  queryDuration(route: Route): HistogramCell {
    if (route === "primary") {
      if (this.primaryDuration === null) this.primaryDuration = this.queryDurations.cells.get([route]);
      return this.primaryDuration;
    }
    if (this.replicaDuration === null) this.replicaDuration = this.queryDurations.cells.get([route]);
    return this.replicaDuration;
  }

  /** Reports `counts` (kept live by the data path, e.g. BackendPool.bytes) as `backend`'s bytes. */
  countBytes(backend: string, counts: ByteCounts): void {
    this.forgetBackend(backend);
    this.byteSources.push({ backend, counts });
  }

  /** A backend removed by a reload: its byte series go (the per-backend gauges follow /backends). */
  forgetBackend(backend: string): void {
    const i = this.byteSources.findIndex((s) => s.backend === backend);
    if (i >= 0) this.byteSources.splice(i, 1);
  }

  /** `code`: a MySQL error number (1040, 2013, ...) or an internal code from src/errors.ts. */
  errorCounter(code: string | number): CounterCell {
    return this.errors.get([String(code)]);
  }

  readFallbackCounter(reason: string): CounterCell {
    return this.readFallbacks.get([reason]);
  }

  /** Where `rwsplit_consistency_shared` is read from at each scrape. */
  watchConsistencySharing(shared: () => boolean): void {
    this.consistencyShared = () => (shared() ? 1 : 0);
  }

  /** Cumulative statement counts per label set (the status page reads them each second, not per statement). */
  queryTotals(): { route: string; backend: string; reason: string; value: number }[] {
    if (this.#remote !== null) return this.#remote().queries;
    return this.queries.entries.map(({ labels, cell }) => ({ ...labels, value: cell.value }));
  }

  /** Cumulative error counts per code. */
  errorTotals(): { code: string; value: number }[] {
    if (this.#remote !== null) return this.#remote().errors;
    return this.errors.entries.map(({ labels, cell }) => ({ code: labels.code, value: cell.value }));
  }

  /** Client connections open now. */
  get clientConnections(): number {
    if (this.#remote !== null) return this.#remote().clients;
    return this.openClients;
  }

  clientConnected(): void {
    this.openClients += 1;
    this.clientsTotal.inc();
  }

  clientDisconnected(): void {
    this.openClients -= 1;
  }

  balancerTransition(backend: string, to: string): void {
    this.transitions.get([backend, to]).inc();
  }

  /** A failover, switchover or rejoin this instance ran; the duration only when it succeeded. */
  topologyChange(kind: "failover" | "switchover" | "rejoin", ok: boolean, durationSeconds: number): void {
    this.failovers.get([kind, ok ? "ok" : "failed"]).inc();
    if (ok) this.failoverDuration.observe({ kind }, durationSeconds);
  }

  topologyGeneration(generation: number): void {
    this.generation.set(generation);
  }

  /**
   * Sets the per-backend gauges from a status snapshot (the admin app calls it on each scrape).
   * Series of backends no longer listed, or whose lag became unknown, disappear rather than go stale.
   */
  observeBackends(backends: readonly BackendGauges[]): void {
    const g = this.gauges;
    for (const gauge of Object.values(g)) gauge.reset();
    for (const b of backends) {
      g.up.set({ backend: b.name, role: b.role }, b.up ? 1 : 0);
      if (b.lagMs !== null) g.lag.set({ backend: b.name, source: b.lagSource ?? "unknown" }, b.lagMs / 1000);
      g.weight.set({ backend: b.name }, b.effectiveWeight);
      g.eligible.set({ backend: b.name }, b.eligible ? 1 : 0);
      g.connections.set({ backend: b.name, state: "idle" }, b.pool.idle);
      g.connections.set({ backend: b.name, state: "busy" }, b.pool.busy);
    }
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
