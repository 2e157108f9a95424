import { describe, expect, test, vi } from "vitest";
import type { BackendStatus } from "../../src/admin/status.js";
import {
  applyChange,
  EMPTY_RECORD,
  type InstanceReport,
  type RuntimeOp,
  type RuntimeRecord,
} from "../../src/cluster/runtime-record.js";
import { LocalRuntimeStore, type RuntimeStore } from "../../src/cluster/runtime-store.js";
import { loadConfig } from "../../src/config/load.js";
import { mergeDigestListings } from "../../src/digests/merge.js";
import { StatementSample } from "../../src/digests/sample.js";
import { type DigestListing, type DigestRowView, DigestStore } from "../../src/digests/store.js";
import { mergeSharing, sumPools, sumTotals, withPoolCounts } from "../../src/workers/aggregate.js";
import { FollowerRuntimeStore } from "../../src/workers/follower-store.js";
import { IpcUserWriteLog } from "../../src/workers/ipc-user-writes.js";
import { NO_STATS, type WorkerStats } from "../../src/workers/messages.js";
import { RelayingRuntimeStore } from "../../src/workers/relaying-store.js";
import { PendingRequests } from "../../src/workers/rpc.js";

// The pure parts of `serve --workers N` (src/workers/); the processes themselves: test/e2e/workers.test.ts.

function row(over: Partial<DigestRowView>): DigestRowView {
  return {
    digest: "00000000000000aa",
    text: "SELECT c FROM t WHERE id = ?",
    kind: "read",
    user: "app",
    schema: "app",
    count: 1,
    totalMs: 1,
    avgMs: 1,
    minMs: 1,
    maxMs: 1,
    p99Ms: 1,
    rows: 1,
    errors: 0,
    routes: { primary: 0, replica: 1 },
    reasons: { read: 1 },
    backends: { r1: 1 },
    firstSeen: "2026-12-07T00:00:01.000Z",
    lastSeen: "2026-12-07T00:00:02.000Z",
    ...over,
  };
}

function listing(rows: DigestRowView[], over: Partial<DigestListing> = {}): DigestListing {
  return {
    size: rows.length,
    max: 100,
    evicted: 0,
    statements: rows.reduce((n, r) => n + r.count, 0),
    since: "2026-12-07T00:00:00.000Z",
    sort: "total_time",
    digests: rows,
    ...over,
  };
}

describe("digests of several workers", () => {
  test("rows of one digest, user and schema add up; extremes stay extremes; p99 is the largest", () => {
    const a = row({ count: 3, totalMs: 6, minMs: 1, maxMs: 3, p99Ms: 3, rows: 3, reasons: { read: 3 } });
    const b = row({
      count: 1,
      totalMs: 10,
      minMs: 10,
      maxMs: 10,
      p99Ms: 10,
      rows: 1,
      errors: 1,
      routes: { primary: 1, replica: 0 },
      reasons: { no_replica: 1 },
      backends: { primary: 1 },
      firstSeen: "2026-12-07T00:00:00.500Z",
      lastSeen: "2026-12-07T00:00:09.000Z",
    });
    const m = mergeDigestListings(
      [listing([a], { evicted: 2 }), listing([b], { since: "2026-12-06T23:59:00.000Z" })],
      "total_time",
      10,
      100,
    );
    expect(m.digests).toHaveLength(1);
    expect(m.digests[0]).toMatchObject({
      count: 4,
      totalMs: 16,
      avgMs: 4,
      minMs: 1,
      maxMs: 10,
      p99Ms: 10,
      rows: 4,
      errors: 1,
      routes: { primary: 1, replica: 1 },
      reasons: { read: 3, no_replica: 1 },
      backends: { r1: 1, primary: 1 },
      firstSeen: "2026-12-07T00:00:00.500Z",
      lastSeen: "2026-12-07T00:00:09.000Z",
    });
    expect(m).toMatchObject({ evicted: 2, statements: 4, since: "2026-12-06T23:59:00.000Z", size: 1 });
    // The inputs are left as they were.
    expect(a.count).toBe(3);
  });

  test("with the workers' histograms, the merged p99 is the one a single process would read", () => {
    const sample = () => {
      const s = new StatementSample();
      s.query(Buffer.from("\x03SELECT c FROM t WHERE id = 1"), 1, "read");
      s.ran("app", "app", 1);
      return s;
    };
    const one = new DigestStore(10);
    const workers = [new DigestStore(10), new DigestStore(10)];
    // Worker 0: 98 fast and 2 slow statements (its own p99 is slow); worker 1: 100 fast.
    const runs: [number, number, number][] = [
      [0, 98, 100_000],
      [0, 2, 50_000_000],
      [1, 100, 100_000],
    ];
    for (const [w, n, ns] of runs)
      for (let i = 0; i < n; i++) {
        workers[w]!.record(sample(), "replica", "r1", "read", ns, 0);
        one.record(sample(), "replica", "r1", "read", ns, 0);
      }
    const lists = workers.map((w) => w.list("total_time", 10, true));
    expect(lists[0]!.digests[0]!.p99Ms).toBeGreaterThan(40);
    const merged = mergeDigestListings(lists, "total_time", 10, 10).digests[0]!;
    const single = one.list("total_time", 10).digests[0]!;
    expect(merged.count).toBe(200);
    expect(merged.p99Ms).toBeCloseTo(single.p99Ms, 2);
    expect(merged.p99Ms).toBeLessThan(1);
    expect(merged.hist).toBeUndefined();
    expect(single.hist).toBeUndefined();
  });

  test("other users, schemas and digests stay apart; sorted and cut to the limit", () => {
    const rows = [
      row({ totalMs: 5 }),
      row({ user: "other", totalMs: 50 }),
      row({ schema: null, totalMs: 7 }),
      row({ digest: "00000000000000bb", totalMs: 1 }),
    ];
    const m = mergeDigestListings([listing(rows.slice(0, 2)), listing(rows.slice(2))], "total_time", 3, 100);
    expect(m.size).toBe(4);
    expect(m.digests.map((d) => d.totalMs)).toEqual([50, 7, 5]);
  });
});

describe("requests between processes", () => {
  test("an answer resolves its own request; an error rejects it", async () => {
    const p = new PendingRequests();
    const sent: number[] = [];
    const one = p.request<string>((id) => sent.push(id) > 0, 1000, "one");
    const two = p.request<string>((id) => sent.push(id) > 0, 1000, "two");
    p.answer(sent[1]!, true, "b", undefined);
    p.answer(sent[0]!, false, undefined, "no such thing");
    await expect(two).resolves.toBe("b");
    await expect(one).rejects.toThrow("no such thing");
  });

  test("no answer in time, a send that fails, or the other side gone: rejected, never left waiting", async () => {
    vi.useFakeTimers();
    try {
      const p = new PendingRequests();
      const late = p.request(() => true, 100, "metrics");
      vi.advanceTimersByTime(101);
      await expect(late).rejects.toMatchObject({ code: "WORKER_UNAVAILABLE" });
      await expect(p.request(() => false, 100, "sessions")).rejects.toThrow("sessions: the process is gone");
      const open = p.request(() => true, 100, "kill");
      p.failAll("the workers stopped");
      await expect(open).rejects.toThrow("the workers stopped");
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("runtime records to the workers", () => {
  test("the supervisor's own changes and the fleet's are relayed; a follower takes only newer ones", async () => {
    const relayed: number[] = [];
    const store = new RelayingRuntimeStore(new LocalRuntimeStore("sup"), (r) => relayed.push(r.version));
    await store.start();
    await store.change({ kind: "drain", backend: "r1" }, "test");
    await store.change({ kind: "reload", removed: [] }, "test");
    expect(relayed).toEqual([1, 2]);

    const follower = new FollowerRuntimeStore("worker-0", EMPTY_RECORD);
    const seen: number[] = [];
    follower.onChange((r) => seen.push(r.version));
    const r1 = applyChange(
      EMPTY_RECORD,
      { kind: "drain", backend: "r1" },
      { instance: "sup", who: "t", at: 1 },
    );
    const r2 = applyChange(r1, { kind: "reload", removed: [] }, { instance: "sup", who: "t", at: 2 });
    follower.receive(r2);
    follower.receive(r1);
    expect(seen).toEqual([2]);
    expect(follower.current()).toMatchObject({ version: 2, reloads: 1, drained: ["r1"] });
  });
});

/** A fleet's store that can be down (its changes refused) and can hear other instances' records. */
class FleetStub implements RuntimeStore {
  readonly instanceId = "sup";
  down = false;
  #fleet: RuntimeRecord = EMPTY_RECORD;
  readonly #cbs: ((r: RuntimeRecord) => void)[] = [];
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  current(): RuntimeRecord {
    return this.#fleet;
  }
  onChange(cb: (r: RuntimeRecord) => void): () => void {
    this.#cbs.push(cb);
    return () => {};
  }
  async change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    if (this.down) return null;
    this.hear(applyChange(this.#fleet, op, { instance: this.instanceId, who, at: 1 }));
    return this.#fleet;
  }
  report(): void {}
  instances(): InstanceReport[] {
    return [];
  }
  health() {
    return { shared: "redis" as const, connected: !this.down, lastError: null };
  }
  /** A record published in the fleet (by another instance, or this one's echoed back). */
  hear(r: RuntimeRecord): void {
    this.#fleet = r;
    for (const cb of this.#cbs) cb(r);
  }
}

describe("runtime records to the workers while the fleet's store is down", () => {
  test("an unshared drain and reload reach the workers; the fleet's next record replaces the drains and its reloads still count", async () => {
    const fleet = new FleetStub();
    const relayed: RuntimeRecord[] = [];
    const store = new RelayingRuntimeStore(fleet, (r) => relayed.push(r));
    await store.start();
    await store.change({ kind: "drain", backend: "r1" }, "ops");
    expect(relayed.map((r) => r.version)).toEqual([1]);

    fleet.down = true;
    await store.change({ kind: "drain", backend: "r2" }, "ops");
    await store.change({ kind: "reload", removed: [] }, "ops");
    expect(store.current().version).toBe(1);
    expect(relayed.at(-1)).toMatchObject({ version: 3, reloads: 1, drained: ["r1", "r2"] });

    // A worker that starts now starts with them.
    const worker = new FollowerRuntimeStore("worker-0", store.forWorkers());
    expect(worker.current()).toMatchObject({ version: 3, drained: ["r1", "r2"] });

    // Redis back: another instance reloads (the fleet's first reload): the workers reload again,
    // and hold the fleet's drains (r2's was this instance's alone, as on the supervisor).
    fleet.down = false;
    fleet.hear(
      applyChange(fleet.current(), { kind: "reload", removed: [] }, { instance: "b", who: "t", at: 2 }),
    );
    expect(relayed.at(-1)).toMatchObject({ version: 4, reloads: 2, drained: ["r1"], by: "b" });
    // This instance's own change, answered and echoed: passed on once.
    const before = relayed.length;
    const r = await store.change({ kind: "undrain", backend: "r1" }, "ops");
    fleet.hear(r!);
    expect(relayed.length).toBe(before + 1);
    expect(relayed.at(-1)).toMatchObject({ version: 5, reloads: 2, drained: [] });
  });
});

describe("users' writes across workers", () => {
  test("the writes of one turn leave in one message; what another worker wrote is learnt", async () => {
    const sent: [string, string][][] = [];
    const log = new IpcUserWriteLog(5000, (writes) => sent.push(writes));
    log.wrote("app", "0-1-10");
    log.wrote("app", "0-1-11");
    log.wrote("other", "0-1-12");
    expect(sent).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([
      [
        ["app", "0-1-11"],
        ["other", "0-1-12"],
      ],
    ]);
    const peer = new IpcUserWriteLog(5000, () => {});
    for (const [user, position] of sent[0]!) peer.learn(user, position, 5000);
    expect(peer.record("app")?.text).toBe("0-1-11");
    expect(peer.record("nobody")).toBeNull();
  });
});

describe("config", () => {
  test("workers: a whole number, or auto for the cores; 1 by default", () => {
    const base = { flags: { primary: "127.0.0.1:3306", user: ["app:pw"] }, env: {} };
    expect(loadConfig(base).workers).toBe(1);
    expect(loadConfig({ ...base, flags: { ...base.flags, workers: "3" } }).workers).toBe(3);
    expect(loadConfig({ ...base, flags: { ...base.flags, workers: "auto" } }).workers).toBeGreaterThanOrEqual(
      1,
    );
    expect(() => loadConfig({ ...base, flags: { ...base.flags, workers: "0" } })).toThrow(/workers/);
  });
});

describe("the workers' reports as one process", () => {
  const stats = (over: Partial<WorkerStats>): WorkerStats => ({ ...NO_STATS, ...over });

  test("counters, clients and pools add up; /backends takes the sums", () => {
    const a = stats({
      clients: 3,
      queries: [{ route: "replica", backend: "r1", reason: "read", value: 10 }],
      errors: [{ code: "1064", value: 1 }],
      pools: { r1: { open: 2, idle: 1, busy: 1, waiting: 0, inFlight: 1 } },
    });
    const b = stats({
      clients: 4,
      queries: [
        { route: "replica", backend: "r1", reason: "read", value: 5 },
        { route: "primary", backend: "p", reason: "write", value: 2 },
      ],
      errors: [{ code: "1064", value: 2 }],
      pools: { r1: { open: 3, idle: 3, busy: 0, waiting: 1, inFlight: 0 } },
    });
    expect(sumTotals([a, b])).toEqual({
      queries: [
        { route: "replica", backend: "r1", reason: "read", value: 15 },
        { route: "primary", backend: "p", reason: "write", value: 2 },
      ],
      errors: [{ code: "1064", value: 3 }],
      clients: 7,
    });
    expect(sumPools([])).toBeNull();
    const pools = sumPools([a, b]);
    expect(pools?.get("r1")).toEqual({ open: 5, idle: 4, busy: 1, waiting: 1, inFlight: 1 });
    const backend = {
      name: "r1",
      inFlight: 0,
      pool: { open: 0, idle: 0, busy: 0, waiting: 0, max: 10 },
    } as unknown as BackendStatus;
    expect(withPoolCounts([backend], pools)[0]).toMatchObject({
      inFlight: 1,
      pool: { open: 5, idle: 4, busy: 1, waiting: 1, max: 10 },
    });
  });

  test("users' writes are shared only when every worker shares them", () => {
    const local = { shared: "local" as const, lastError: null, users: 2, evicted: 1 };
    const redis = { shared: "redis" as const, lastError: null, users: 3, evicted: 0 };
    expect(mergeSharing([stats({})])).toBeNull();
    expect(mergeSharing([stats({ userWrites: redis }), stats({ userWrites: local })])).toEqual({
      shared: "local",
      lastError: null,
      users: 3,
      evicted: 1,
    });
  });
});
