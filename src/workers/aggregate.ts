import type { BackendStatus } from "../admin/status.js";
import type { RemoteTotals } from "../metrics/registry.js";
import type { SharingStatus } from "../proxy/consistency/user-write-log.js";
import type { PoolCounts, WorkerStats } from "./messages.js";

/** The workers' last reports (messages.ts, `stats`) as one process's figures: pure, summed. */

export function sumTotals(all: readonly WorkerStats[]): RemoteTotals {
  const queries = new Map<string, { route: string; backend: string; reason: string; value: number }>();
  const errors = new Map<string, number>();
  let clients = 0;
  for (const s of all) {
    clients += s.clients;
    for (const q of s.queries) {
      const key = `${q.route}\u0000${q.backend}\u0000${q.reason}`;
      const m = queries.get(key);
      if (m === undefined) queries.set(key, { ...q });
      else m.value += q.value;
    }
    for (const e of s.errors) errors.set(e.code, (errors.get(e.code) ?? 0) + e.value);
  }
  return {
    queries: [...queries.values()],
    errors: [...errors].map(([code, value]) => ({ code, value })),
    clients,
  };
}

/** Each backend's pool counts summed over the workers (null before any worker reported). */
export function sumPools(all: readonly WorkerStats[]): Map<string, PoolCounts> | null {
  if (all.length === 0) return null;
  const out = new Map<string, PoolCounts>();
  for (const s of all) {
    for (const [name, c] of Object.entries(s.pools)) {
      const m = out.get(name) ?? { open: 0, idle: 0, busy: 0, waiting: 0, inFlight: 0 };
      m.open += c.open;
      m.idle += c.idle;
      m.busy += c.busy;
      m.waiting += c.waiting;
      m.inFlight += c.inFlight;
      out.set(name, m);
    }
  }
  return out;
}

/** /backends with the workers' pool counts and in-flight statements in place of the supervisor's. */
export function withPoolCounts(
  backends: BackendStatus[],
  counts: ReadonlyMap<string, PoolCounts> | null,
): BackendStatus[] {
  if (counts === null) return backends;
  return backends.map((b) => {
    const c = counts.get(b.name);
    if (c === undefined) return b;
    return {
      ...b,
      inFlight: c.inFlight,
      pool: { ...b.pool, open: c.open, idle: c.idle, busy: c.busy, waiting: c.waiting },
    };
  });
}

/** How users' last writes are kept, over the workers: shared only if every worker shares them. */
export function mergeSharing(all: readonly WorkerStats[]): SharingStatus | null {
  const u = all.flatMap((s) => (s.userWrites === null ? [] : [s.userWrites]));
  if (u.length === 0) return null;
  return {
    shared: u.every((x) => x.shared === "redis") ? "redis" : "local",
    lastError: u.find((x) => x.lastError !== null)?.lastError ?? null,
    // Each worker learns the others' writes: the largest is the count of users.
    users: Math.max(...u.map((x) => x.users)),
    evicted: u.reduce((n, x) => n + x.evicted, 0),
  };
}
