import type { DigestListing, DigestRowView } from "../../digests/store.js";
import type { RwsplitEvent } from "../../events/feed.js";
import type { BackendStatus } from "../status.js";

/**
 * The status page's data: a snapshot of now plus the last five minutes, sampled once a second
 * server-side (a small ring per series), so a page opened now shows the past five minutes at once
 * and every open page shows the same numbers. Rates come from the deltas of cumulative counters
 * (the metrics' cells, read once per second, never per statement).
 */

/** Cumulative counts the sampler turns into rates. */
export interface TrafficCounters {
  /** Statements by route, backend and routing reason (rwsplit_queries_total). */
  queries: readonly { route: string; backend: string; reason: string; value: number }[];
  /** Errors by MySQL errno or internal code (rwsplit_errors_total). */
  errors: readonly { code: string; value: number }[];
  /** Statements by kind, as the classifier saw them. */
  kinds: { read: number; write: number; session: number };
  clients: number;
}

export interface LiveInputs {
  backends(): BackendStatus[];
  /** The HA manager's status (generation, primary, history of changes), if any. */
  topology(): TopologyView | null;
  counters(): TrafficCounters;
  digests(): DigestListing | null;
  events(limit: number): RwsplitEvent[];
}

/** The parts of the HA status the page shows. */
export interface TopologyView {
  generation: number;
  primary: string;
  fenced: string[];
  state: string;
  automaticFailover: boolean;
  primaryVerdict: string;
  changedAt: string;
  reason: string;
  history: {
    kind: string;
    ok: boolean;
    from: string;
    to: string | null;
    startedAt: string;
    durationMs: number;
    steps: string[];
    error: string | null;
  }[];
}

export interface Rate {
  name: string;
  perSec: number;
  total: number;
}

export interface BackendLive extends BackendStatus {
  /** Statements per second finished on it over the last sample. */
  qps: number;
  /** Lag over the last five minutes (for the sparkline): min and max seen, null when never known. */
  lagMinMs: number | null;
  lagMaxMs: number | null;
}

export interface ConsoleSnapshot {
  at: string;
  periodMs: number;
  topology: TopologyView | null;
  backends: BackendLive[];
  traffic: {
    readsPerSec: number;
    writesPerSec: number;
    sessionPerSec: number;
    primaryPerSec: number;
    replicaPerSec: number;
    reasons: Rate[];
    errors: Rate[];
    clients: number;
    backendConnections: number;
    /** Client connections per open backend connection (the multiplexing ratio); null without backend connections. */
    multiplexing: number | null;
  };
  top: DigestRowView[];
  digests: Omit<DigestListing, "digests"> | null;
  events: RwsplitEvent[];
  series: Series;
}

/** Aligned columns, oldest first: `t` in Unix seconds; null where unknown (a lag while down). */
export interface Series {
  t: number[];
  lag: Record<string, (number | null)[]>;
  qps: Record<string, number[]>;
  reads: number[];
  writes: number[];
  errors: number[];
  clients: number[];
  backendConnections: number[];
}

export interface LiveOptions {
  periodMs?: number;
  /** Samples kept: 300 at 1 s is five minutes. */
  points?: number;
  now?: () => number;
}

function push<T>(a: T[], v: T, max: number): void {
  a.push(v);
  if (a.length > max) a.splice(0, a.length - max);
}

export class LiveHistory {
  readonly periodMs: number;
  private readonly points: number;
  private readonly now: () => number;
  private readonly series: Series = {
    t: [],
    lag: {},
    qps: {},
    reads: [],
    writes: [],
    errors: [],
    clients: [],
    backendConnections: [],
  };
  private prev: { at: number; c: TrafficCounters } | null = null;
  private rates = {
    reads: 0,
    writes: 0,
    session: 0,
    primary: 0,
    replica: 0,
    reasons: [] as Rate[],
    errors: [] as Rate[],
    byBackend: new Map<string, number>(),
  };
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(s: ConsoleSnapshot) => void>();

  constructor(
    private readonly inputs: LiveInputs,
    o: LiveOptions = {},
  ) {
    this.periodMs = o.periodMs ?? 1000;
    this.points = o.points ?? 300;
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.tick(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  /** Called with a fresh snapshot after each sample while subscribed (the page's stream). */
  subscribe(listener: (s: ConsoleSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  tick(): void {
    const backends = this.sample();
    if (this.listeners.size === 0) return;
    const snap = this.snapshot(backends);
    for (const l of this.listeners) {
      try {
        l(snap);
      } catch {
        // One page's failure (a closed stream) is not the others'.
      }
    }
  }

  /** Takes one sample: the rates since the previous one, and every series' next point. */
  sample(): BackendStatus[] {
    const at = this.now();
    const c = this.inputs.counters();
    const backends = this.inputs.backends();
    const p = this.prev;
    const dt = p === null ? 0 : (at - p.at) / 1000;
    const rate = (now: number, before: number) => (dt > 0 ? Math.max(0, now - before) / dt : 0);
    const r = this.rates;
    if (p !== null) {
      r.reads = rate(c.kinds.read, p.c.kinds.read);
      r.writes = rate(c.kinds.write, p.c.kinds.write);
      r.session = rate(c.kinds.session, p.c.kinds.session);
    }
    const sumBy = (
      list: TrafficCounters["queries"],
      key: (q: TrafficCounters["queries"][number]) => string,
    ) => {
      const m = new Map<string, number>();
      for (const q of list) m.set(key(q), (m.get(key(q)) ?? 0) + q.value);
      return m;
    };
    const rates = (now: Map<string, number>, before: Map<string, number> | null): Rate[] =>
      [...now]
        .map(([name, total]) => ({
          name,
          total,
          perSec: before === null ? 0 : rate(total, before.get(name) ?? 0),
        }))
        .sort((a, b) => b.perSec - a.perSec || b.total - a.total);
    const byRoute = sumBy(c.queries, (q) => q.route);
    const byBackend = sumBy(c.queries, (q) => q.backend);
    const byReason = sumBy(c.queries, (q) => q.reason);
    const errors = new Map(c.errors.map((e) => [e.code, e.value]));
    const prevRoute = p === null ? null : sumBy(p.c.queries, (q) => q.route);
    const prevBackend = p === null ? null : sumBy(p.c.queries, (q) => q.backend);
    r.primary = prevRoute === null ? 0 : rate(byRoute.get("primary") ?? 0, prevRoute.get("primary") ?? 0);
    r.replica = prevRoute === null ? 0 : rate(byRoute.get("replica") ?? 0, prevRoute.get("replica") ?? 0);
    r.reasons = rates(byReason, p === null ? null : sumBy(p.c.queries, (q) => q.reason));
    r.errors = rates(errors, p === null ? null : new Map(p.c.errors.map((e) => [e.code, e.value])));
    r.byBackend = new Map(
      backends.map((b) => [
        b.name,
        prevBackend === null ? 0 : rate(byBackend.get(b.name) ?? 0, prevBackend.get(b.name) ?? 0),
      ]),
    );
    const errorTotal = [...errors.values()].reduce((x, y) => x + y, 0);
    const prevErrorTotal = p === null ? errorTotal : p.c.errors.reduce((x, e) => x + e.value, 0);
    // Copies: the counters' objects may be updated in place after this.
    this.prev = {
      at,
      c: {
        ...c,
        queries: c.queries.map((q) => ({ ...q })),
        errors: c.errors.map((e) => ({ ...e })),
        kinds: { ...c.kinds },
      },
    };

    const s = this.series;
    const max = this.points;
    const len = s.t.length;
    push(s.t, Math.round(at / 100) / 10, max);
    for (const b of backends) {
      // A backend new to the series starts with gaps, so every column stays aligned with `t`.
      if (s.lag[b.name] === undefined) s.lag[b.name] = new Array<number | null>(len).fill(null);
      if (s.qps[b.name] === undefined) s.qps[b.name] = new Array<number>(len).fill(0);
    }
    for (const [name, col] of Object.entries(s.lag)) {
      const b = backends.find((x) => x.name === name);
      push(col, b?.role === "replica" && b.up ? b.lagMs : null, max);
    }
    for (const [name, col] of Object.entries(s.qps)) push(col, r.byBackend.get(name) ?? 0, max);
    push(s.reads, r.reads, max);
    push(s.writes, r.writes, max);
    push(s.errors, p === null ? 0 : rate(errorTotal, prevErrorTotal), max);
    push(s.clients, c.clients, max);
    push(s.backendConnections, openConnections(backends), max);
    return backends;
  }

  /** What the page shows now (`backends` from a sample just taken, or read now). */
  snapshot(backends: BackendStatus[] = this.inputs.backends()): ConsoleSnapshot {
    const r = this.rates;
    const c = this.prev?.c ?? this.inputs.counters();
    const open = openConnections(backends);
    const listing = this.inputs.digests();
    const s = this.series;
    return {
      at: new Date(this.now()).toISOString(),
      periodMs: this.periodMs,
      topology: this.inputs.topology(),
      backends: backends.map((b) => {
        const lags = (s.lag[b.name] ?? []).filter((x): x is number => x !== null);
        return {
          ...b,
          qps: r.byBackend.get(b.name) ?? 0,
          lagMinMs: lags.length > 0 ? Math.min(...lags) : null,
          lagMaxMs: lags.length > 0 ? Math.max(...lags) : null,
        };
      }),
      traffic: {
        readsPerSec: r.reads,
        writesPerSec: r.writes,
        sessionPerSec: r.session,
        primaryPerSec: r.primary,
        replicaPerSec: r.replica,
        reasons: r.reasons,
        errors: r.errors,
        clients: c.clients,
        backendConnections: open,
        multiplexing: open > 0 ? c.clients / open : null,
      },
      top: listing?.digests.slice(0, 10) ?? [],
      digests:
        listing === null
          ? null
          : {
              size: listing.size,
              max: listing.max,
              evicted: listing.evicted,
              statements: listing.statements,
              since: listing.since,
              sort: listing.sort,
            },
      events: this.inputs.events(20),
      series: {
        t: [...s.t],
        lag: Object.fromEntries(Object.entries(s.lag).map(([k, v]) => [k, [...v]])),
        qps: Object.fromEntries(Object.entries(s.qps).map(([k, v]) => [k, [...v]])),
        reads: [...s.reads],
        writes: [...s.writes],
        errors: [...s.errors],
        clients: [...s.clients],
        backendConnections: [...s.backendConnections],
      },
    };
  }
}

function openConnections(backends: readonly BackendStatus[]): number {
  return backends.reduce((n, b) => n + b.pool.open, 0);
}
