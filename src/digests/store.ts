import { digestHex, digestText } from "../routing/digest.js";
import type { StatementSample } from "./sample.js";

/**
 * Statistics per statement digest, user and schema (ProxySQL's `stats_mysql_query_digest`):
 * count, total/min/max time, p99 from a small fixed histogram, rows sent, errors, and where the
 * statements went (primary/replica, backend, routing reason).
 *
 * Bounded: at most `max` rows (digest × user × schema); a new one beyond that evicts the least
 * recently seen row, and evictions are counted. Recording is the data path's cost per statement:
 * one Map lookup on the digest's low bits, a short chain walk, a move to the front of an intrusive
 * LRU list, a few additions. The normalised text is built once per digest, when first seen.
 */

/**
 * Histogram bucket upper bounds, µs: 10 µs × √2^i up to about 10 s (41 bounds, then +Inf), so
 * a p99 read from it is within a factor √2 before interpolation.
 */
export const LATENCY_BOUNDS_US: Float64Array = Float64Array.from(
  { length: 41 },
  (_, i) => 10 * Math.SQRT2 ** i,
);
export const BUCKETS = LATENCY_BOUNDS_US.length + 1;

export type DigestSort =
  | "total_time"
  | "count"
  | "avg_time"
  | "max_time"
  | "p99"
  | "errors"
  | "rows"
  | "last_seen";
export const DIGEST_SORTS: readonly DigestSort[] = [
  "total_time",
  "count",
  "avg_time",
  "max_time",
  "p99",
  "errors",
  "rows",
  "last_seen",
];

/** One row of `GET /digests`. Never holds a literal: `text` is the normalised statement. */
export interface DigestRowView {
  digest: string;
  text: string;
  kind: string | null;
  user: string;
  schema: string | null;
  count: number;
  totalMs: number;
  avgMs: number;
  minMs: number;
  maxMs: number;
  p99Ms: number;
  rows: number;
  errors: number;
  routes: { primary: number; replica: number };
  reasons: Record<string, number>;
  backends: Record<string, number>;
  firstSeen: string;
  lastSeen: string;
  /**
   * The latency histogram, sparse ([bucket, count, bucket, count, ...]): only in a worker's
   * listing for the supervisor (`serve --workers N`), which merges the rows' histograms and reads
   * the p99 from the sum (merge.ts); never in `GET /digests`.
   */
  hist?: number[];
}

export interface DigestListing {
  /** Rows held now, out of `max`. */
  size: number;
  max: number;
  /** Rows evicted to make room since the start or the last reset. */
  evicted: number;
  /** Statements recorded since then (evicted rows' included). */
  statements: number;
  since: string;
  sort: DigestSort;
  digests: DigestRowView[];
}

class DigestRow {
  count = 0;
  errors = 0;
  rows = 0;
  totalNs = 0;
  minNs = Number.POSITIVE_INFINITY;
  maxNs = 0;
  readonly hist = new Uint32Array(BUCKETS);
  primary = 0;
  replica = 0;
  /** Small parallel lists: a digest goes to one or two reasons and a few backends. */
  readonly reasons: string[] = [];
  readonly reasonCounts: number[] = [];
  readonly backends: string[] = [];
  readonly backendCounts: number[] = [];
  lastSeen = 0;
  newer: DigestRow | null = null;
  older: DigestRow | null = null;
  /** Next row whose digest has the same map key. */
  chain: DigestRow | null = null;

  constructor(
    readonly key: number,
    readonly hi: number,
    readonly lo: number,
    readonly user: string,
    readonly schema: string | null,
    readonly text: string,
    readonly kind: string | null,
    readonly firstSeen: number,
  ) {}
}

function bump(names: string[], counts: number[], name: string): void {
  for (let i = 0; i < names.length; i++) {
    if (names[i] === name) {
      counts[i]! += 1;
      return;
    }
  }
  names.push(name);
  counts.push(1);
}

/** Bucket of a duration: 0 for <= 10 µs, i for (bound[i-1], bound[i]], the last for > ~10 s. */
export function latencyBucket(ns: number): number {
  const us = ns / 1000;
  if (!(us > 10)) return 0;
  const i = Math.ceil(2 * Math.log2(us / 10));
  return Math.min(i, BUCKETS - 1);
}

/** The q-quantile (0..1) of a histogram, interpolated inside its bucket and kept within [min, max]. */
export function quantileNs(
  hist: Uint32Array,
  count: number,
  minNs: number,
  maxNs: number,
  q: number,
): number {
  if (count === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * count));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const n = hist[i]!;
    if (seen + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_US[i - 1]! * 1000;
      const upper = i < LATENCY_BOUNDS_US.length ? LATENCY_BOUNDS_US[i]! * 1000 : maxNs;
      const v = lower + ((upper - lower) * (rank - seen)) / n;
      return Math.min(maxNs, Math.max(minNs, v));
    }
    seen += n;
  }
  return maxNs;
}

const ms = (ns: number) => Math.round(ns / 1000) / 1000;

export class DigestStore {
  private readonly map = new Map<number, DigestRow>();
  /** Most and least recently seen rows. */
  private newest: DigestRow | null = null;
  private oldest: DigestRow | null = null;
  private rowCount = 0;
  private evictedCount = 0;
  private statements = 0;
  private sinceMs: number;

  constructor(
    readonly max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.sinceMs = now();
  }

  get size(): number {
    return this.rowCount;
  }

  get evicted(): number {
    return this.evictedCount;
  }

  /**
   * One finished statement (the data path's `onStatement`); samples without a digest are skipped.
   * `now`: the store's clock unless the caller read the time already.
   */
  record(
    s: StatementSample,
    route: "primary" | "replica",
    backend: string,
    reason: string,
    durationNs: number,
    errno: number,
    now = this.now(),
  ): void {
    if (!s.has || this.max <= 0) return;
    // The low 30 bits: a small integer key, never a boxed number.
    const key = s.lo & 0x3fffffff;
    const first = this.map.get(key);
    let row: DigestRow | null | undefined = first;
    let text: string | null = null;
    while (row !== undefined && row !== null) {
      if (row.hi === s.hi && row.lo === s.lo) {
        if (row.user === s.user && row.schema === s.schema) break;
        text = row.text;
      }
      row = row.chain;
    }
    if (row === undefined || row === null) {
      row = this.insert(key, s, text ?? digestText(s.sql, s.start, s.end), now);
    } else if (row !== this.newest) {
      this.unlink(row);
      this.pushNewest(row);
    }
    this.statements++;
    row.count++;
    row.lastSeen = now;
    // `|| 0`: NaN would poison the totals for good.
    const ns = Math.max(durationNs || 0, 0);
    row.totalNs += ns;
    if (ns < row.minNs) row.minNs = ns;
    if (ns > row.maxNs) row.maxNs = ns;
    row.hist[latencyBucket(ns)]! += 1;
    row.rows += s.rows;
    if (errno !== 0) row.errors++;
    if (route === "primary") row.primary++;
    else row.replica++;
    bump(row.reasons, row.reasonCounts, reason);
    bump(row.backends, row.backendCounts, backend);
  }

  /** The rows, sorted (descending) by `sort`, ties most recently seen first; at most `limit`. */
  list(sort: DigestSort = "total_time", limit = 50, histograms = false): DigestListing {
    const rows: DigestRow[] = [];
    for (let r = this.newest; r !== null; r = r.older) rows.push(r);
    const views = rows.map((r) => view(r, histograms));
    const by = SORT_KEYS[sort];
    views.sort((a, b) => by(b) - by(a));
    return {
      size: this.rowCount,
      max: this.max,
      evicted: this.evictedCount,
      statements: this.statements,
      since: new Date(this.sinceMs).toISOString(),
      sort,
      digests: views.slice(0, Math.max(0, limit)),
    };
  }

  /** Forgets every row and count (`POST /digests/reset`). */
  reset(): void {
    this.map.clear();
    this.newest = this.oldest = null;
    this.rowCount = this.evictedCount = this.statements = 0;
    this.sinceMs = this.now();
  }

  private insert(key: number, s: StatementSample, text: string, now: number): DigestRow {
    if (this.rowCount >= this.max) this.evictOldest();
    // Read after the eviction, which may have changed this chain's head.
    const head = this.map.get(key) ?? null;
    const row = new DigestRow(key, s.hi, s.lo, s.user, s.schema, text, s.kind, now);
    row.chain = head;
    this.map.set(key, row);
    this.pushNewest(row);
    this.rowCount++;
    return row;
  }

  private evictOldest(): void {
    const row = this.oldest;
    if (row === null) return;
    this.unlink(row);
    let r = this.map.get(row.key) ?? null;
    if (r === row) {
      if (row.chain === null) this.map.delete(row.key);
      else this.map.set(row.key, row.chain);
    } else {
      while (r !== null && r.chain !== row) r = r.chain;
      if (r !== null) r.chain = row.chain;
    }
    this.rowCount--;
    this.evictedCount++;
  }

  private unlink(row: DigestRow): void {
    if (row.newer !== null) row.newer.older = row.older;
    else this.newest = row.older;
    if (row.older !== null) row.older.newer = row.newer;
    else this.oldest = row.newer;
    row.newer = row.older = null;
  }

  private pushNewest(row: DigestRow): void {
    row.older = this.newest;
    row.newer = null;
    if (this.newest !== null) this.newest.newer = row;
    this.newest = row;
    if (this.oldest === null) this.oldest = row;
  }
}

export const SORT_KEYS: Record<DigestSort, (v: DigestRowView) => number> = {
  total_time: (v) => v.totalMs,
  count: (v) => v.count,
  avg_time: (v) => v.avgMs,
  max_time: (v) => v.maxMs,
  p99: (v) => v.p99Ms,
  errors: (v) => v.errors,
  rows: (v) => v.rows,
  last_seen: (v) => Date.parse(v.lastSeen),
};

function pairs(names: readonly string[], counts: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  names.forEach((n, i) => {
    out[n] = counts[i]!;
  });
  return out;
}

function view(r: DigestRow, histogram: boolean): DigestRowView {
  const v: DigestRowView = {
    digest: digestHex(r.hi, r.lo),
    text: r.text,
    kind: r.kind,
    user: r.user,
    schema: r.schema,
    count: r.count,
    totalMs: ms(r.totalNs),
    avgMs: ms(r.count > 0 ? r.totalNs / r.count : 0),
    minMs: ms(r.count > 0 ? r.minNs : 0),
    maxMs: ms(r.maxNs),
    p99Ms: ms(quantileNs(r.hist, r.count, r.minNs, r.maxNs, 0.99)),
    rows: r.rows,
    errors: r.errors,
    routes: { primary: r.primary, replica: r.replica },
    reasons: pairs(r.reasons, r.reasonCounts),
    backends: pairs(r.backends, r.backendCounts),
    firstSeen: new Date(r.firstSeen).toISOString(),
    lastSeen: new Date(r.lastSeen).toISOString(),
  };
  if (histogram) {
    const sparse: number[] = [];
    r.hist.forEach((n, i) => {
      if (n > 0) sparse.push(i, n);
    });
    v.hist = sparse;
  }
  return v;
}
