import {
  BUCKETS,
  type DigestListing,
  type DigestRowView,
  type DigestSort,
  quantileNs,
  SORT_KEYS,
} from "./store.js";

/**
 * The listings of several worker processes as one (`serve --workers N`): rows of the same digest,
 * user and schema add up (counts, times, rows, errors, routes, reasons, backends); min, max,
 * first and last seen take the extremes, and the latency histograms add up: the merged row's p99
 * is read from the sum, as one process would read it. Rows without a histogram (none sent) keep
 * the largest of their p99s, an upper bound.
 */
export function mergeDigestListings(
  listings: readonly DigestListing[],
  sort: DigestSort,
  limit: number,
  max: number,
): DigestListing {
  const rows = new Map<string, DigestRowView>();
  let evicted = 0;
  let statements = 0;
  let since = "";
  for (const l of listings) {
    evicted += l.evicted;
    statements += l.statements;
    if (since === "" || l.since < since) since = l.since;
    for (const r of l.digests) {
      const key = `${r.digest}\u0000${r.user}\u0000${r.schema ?? ""}`;
      const m = rows.get(key);
      rows.set(key, m === undefined ? copy(r) : add(m, r));
    }
  }
  const digests = [...rows.values()].map(withP99);
  const by = SORT_KEYS[sort];
  digests.sort((a, b) => by(b) - by(a));
  return {
    size: digests.length,
    max,
    evicted,
    statements,
    since: since === "" ? new Date().toISOString() : since,
    sort,
    digests: digests.slice(0, Math.max(0, limit)),
  };
}

function copy(r: DigestRowView): DigestRowView {
  const c = { ...r, routes: { ...r.routes }, reasons: { ...r.reasons }, backends: { ...r.backends } };
  if (r.hist !== undefined) c.hist = [...r.hist];
  return c;
}

/** The row as listed: its p99 from its (merged) histogram, which is not listed. */
function withP99(r: DigestRowView): DigestRowView {
  const { hist, ...row } = r;
  if (hist === undefined) return row;
  const dense = new Uint32Array(BUCKETS);
  for (let i = 0; i + 1 < hist.length; i += 2) dense[hist[i]!]! += hist[i + 1]!;
  const ns = quantileNs(dense, row.count, row.minMs * 1e6, row.maxMs * 1e6, 0.99);
  return { ...row, p99Ms: Math.round(ns / 1000) / 1000 };
}

function add(m: DigestRowView, r: DigestRowView): DigestRowView {
  const count = m.count + r.count;
  const totalMs = m.totalMs + r.totalMs;
  const counts = (a: Record<string, number>, b: Record<string, number>) => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    ...m,
    count,
    totalMs,
    avgMs: count > 0 ? totalMs / count : 0,
    minMs: Math.min(m.minMs, r.minMs),
    maxMs: Math.max(m.maxMs, r.maxMs),
    p99Ms: Math.max(m.p99Ms, r.p99Ms),
    rows: m.rows + r.rows,
    errors: m.errors + r.errors,
    routes: { primary: m.routes.primary + r.routes.primary, replica: m.routes.replica + r.routes.replica },
    reasons: counts(m.reasons, r.reasons),
    backends: counts(m.backends, r.backends),
    // ISO 8601 times: in order as strings.
    firstSeen: [m.firstSeen, r.firstSeen].sort()[0]!,
    lastSeen: [m.lastSeen, r.lastSeen].sort()[1]!,
    ...(m.hist === undefined || r.hist === undefined
      ? { hist: undefined }
      : { hist: [...m.hist, ...r.hist] }),
  };
}
