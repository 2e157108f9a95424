import { describe, expect, test } from "vitest";
import { StatementSample } from "../../src/digests/sample.js";
import { DigestStore, LATENCY_BOUNDS_US, latencyBucket, quantileNs } from "../../src/digests/store.js";
import { digestOfString } from "../../src/routing/digest.js";

function sample(sql: string, user = "app", schema: string | null = "shop", rows = 0): StatementSample {
  const s = new StatementSample();
  const payload = Buffer.from(`\x03${sql}`, "utf8");
  s.query(payload, 1, sql.startsWith("SELECT") ? "read" : "write");
  s.ran(user, schema, rows);
  return s;
}

function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, tick: (ms = 1) => (t += ms) };
}

describe("DigestStore", () => {
  test("one row per digest, user and schema, with counts, times, rows, errors and routes", () => {
    const c = clock();
    const store = new DigestStore(100, c.now);
    store.record(
      sample("SELECT c FROM t WHERE id = 1", "app", "shop", 1),
      "replica",
      "replica1",
      "read",
      2_000_000,
      0,
    );
    store.record(
      sample("SELECT c FROM t WHERE id=2", "app", "shop", 1),
      "replica",
      "replica2",
      "read",
      4_000_000,
      0,
    );
    store.record(
      sample("SELECT c FROM t WHERE id = 3", "app", "shop", 0),
      "primary",
      "primary",
      "consistency_fallback",
      6_000_000,
      1146,
    );
    store.record(
      sample("SELECT c FROM t WHERE id = 4", "other", "shop", 1),
      "replica",
      "replica1",
      "read",
      1_000_000,
      0,
    );
    store.record(
      sample("SELECT c FROM t WHERE id = 5", "app", null, 1),
      "replica",
      "replica1",
      "read",
      1_000_000,
      0,
    );
    store.record(sample("UPDATE t SET c = 'x' WHERE id = 9"), "primary", "primary", "write", 3_000_000, 0);
    const list = store.list("total_time", 50);
    expect(list.size).toBe(4);
    expect(list.statements).toBe(6);
    const [top] = list.digests;
    expect(top).toMatchObject({
      digest: digestOfString("SELECT c FROM t WHERE id = 1").digest,
      text: "SELECT c FROM t WHERE id = ?",
      kind: "read",
      user: "app",
      schema: "shop",
      count: 3,
      totalMs: 12,
      avgMs: 4,
      minMs: 2,
      maxMs: 6,
      rows: 2,
      errors: 1,
      routes: { primary: 1, replica: 2 },
      reasons: { read: 2, consistency_fallback: 1 },
      backends: { replica1: 1, replica2: 1, primary: 1 },
    });
    expect(top!.p99Ms).toBeGreaterThan(4);
    expect(top!.p99Ms).toBeLessThanOrEqual(6);
    // Ties (1 ms each): the most recently seen first.
    expect(list.digests.map((d) => [d.user, d.schema, d.count])).toEqual([
      ["app", "shop", 3],
      ["app", "shop", 1],
      ["app", null, 1],
      ["other", "shop", 1],
    ]);
    // Other users' rows of the same digest share its text.
    expect(new Set(list.digests.filter((d) => d.kind === "read").map((d) => d.text)).size).toBe(1);
  });

  test("sorts by each key, descending, and limits", () => {
    const store = new DigestStore(100);
    store.record(sample("SELECT a FROM t"), "replica", "r1", "read", 10_000_000, 0);
    for (let i = 0; i < 5; i++)
      store.record(sample("SELECT b FROM t", "app", "shop", 10), "replica", "r1", "read", 1_000_000, 0);
    store.record(sample("SELECT c FROM t"), "replica", "r1", "read", 500_000, 1064);
    const texts = (sort: Parameters<DigestStore["list"]>[0]) =>
      store.list(sort, 50).digests.map((d) => d.text);
    expect(texts("total_time")).toEqual(["SELECT a FROM t", "SELECT b FROM t", "SELECT c FROM t"]);
    expect(texts("count")[0]).toBe("SELECT b FROM t");
    expect(texts("max_time")[0]).toBe("SELECT a FROM t");
    expect(texts("rows")[0]).toBe("SELECT b FROM t");
    expect(texts("errors")[0]).toBe("SELECT c FROM t");
    expect(texts("last_seen")).toHaveLength(3);
    expect(store.list("count", 1).digests).toHaveLength(1);
  });

  test("bounded: the least recently seen row is evicted and counted", () => {
    const c = clock();
    const store = new DigestStore(3, c.now);
    const rec = (sql: string) => {
      c.tick();
      store.record(sample(sql), "primary", "primary", "write", 1000, 0);
    };
    rec("SELECT 1 FROM a");
    rec("SELECT 1 FROM b");
    rec("SELECT 1 FROM c");
    rec("SELECT 2 FROM a"); // seen again: a is the most recent now, b the least
    rec("SELECT 1 FROM d"); // evicts b
    let list = store.list("last_seen", 10);
    expect(list.size).toBe(3);
    expect(list.evicted).toBe(1);
    expect(list.digests.map((d) => d.text)).toEqual([
      "SELECT ? FROM d",
      "SELECT ? FROM a",
      "SELECT ? FROM c",
    ]);
    expect(list.digests.find((d) => d.text === "SELECT ? FROM a")!.count).toBe(2);
    rec("SELECT 1 FROM b"); // back, as a new row: evicts c
    rec("SELECT 1 FROM e"); // evicts a
    list = store.list("last_seen", 10);
    expect(list.evicted).toBe(3);
    expect(list.digests.map((d) => d.text)).toEqual([
      "SELECT ? FROM e",
      "SELECT ? FROM b",
      "SELECT ? FROM d",
    ]);
    expect(list.digests.find((d) => d.text === "SELECT ? FROM b")!.count).toBe(1);
    expect(list.statements).toBe(7);
  });

  test("eviction keeps chains of rows sharing a map key intact (many users of one digest)", () => {
    const store = new DigestStore(4);
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 6; u++)
        store.record(sample("SELECT x FROM t WHERE id = 1", `user${u}`), "replica", "r1", "read", 1000, 0);
    }
    const list = store.list("count", 10);
    expect(list.size).toBe(4);
    expect(list.evicted).toBe(14);
    // The last four users seen, each counted once since it came back.
    expect(list.digests.map((d) => d.user).sort()).toEqual(["user2", "user3", "user4", "user5"]);
    expect(list.digests.every((d) => d.count === 1)).toBe(true);
  });

  test("reset forgets everything; max 0 records nothing; samples without a digest are skipped", () => {
    const store = new DigestStore(10);
    store.record(sample("SELECT 1"), "replica", "r1", "read", 1000, 0);
    const none = sample("SELECT 1");
    none.none();
    store.record(none, "primary", "primary", "write", 1000, 0);
    expect(store.list().statements).toBe(1);
    store.reset();
    expect(store.list()).toMatchObject({ size: 0, evicted: 0, statements: 0, digests: [] });
    const off = new DigestStore(0);
    off.record(sample("SELECT 1"), "replica", "r1", "read", 1000, 0);
    expect(off.list().size).toBe(0);
    const disabled = new StatementSample(false);
    disabled.query(Buffer.from("\x03SELECT 1"), 1, "read");
    expect(disabled.has).toBe(false);
    expect(disabled.kind).toBe("read");
  });

  test("prepared statements are hashed once, by their SQL", () => {
    const s = new StatementSample();
    const stmt = {};
    const payload = Buffer.from("\x16SELECT c FROM t WHERE id IN (?, ?)", "utf8");
    s.prepared(stmt, payload, 1, "read");
    expect(s.has).toBe(true);
    const { hi, lo } = s;
    payload.write("X", 1); // the cached digest does not read the bytes again
    s.none();
    s.prepared(stmt, payload, 1, "read");
    expect([s.hi, s.lo]).toEqual([hi, lo]);
    const store = new DigestStore(10);
    s.ran("app", null, 3);
    payload.write("S", 1);
    store.record(s, "replica", "r1", "read", 1000, 0);
    expect(store.list().digests[0]).toMatchObject({ text: "SELECT c FROM t WHERE id IN (?)", rows: 3 });
  });
});

describe("latency histogram", () => {
  test("buckets: 10 µs × √2^i, inclusive upper bounds", () => {
    expect(latencyBucket(0)).toBe(0);
    expect(latencyBucket(10_000)).toBe(0);
    expect(latencyBucket(10_001)).toBe(1);
    expect(latencyBucket(14_142)).toBe(1);
    expect(latencyBucket(20_000)).toBe(2);
    expect(latencyBucket(1e9)).toBe(Math.ceil(2 * Math.log2(1e5)));
    expect(latencyBucket(1e12)).toBe(LATENCY_BOUNDS_US.length);
    expect(latencyBucket(Number.NaN)).toBe(0);
  });

  test("p99 within the bucket of the 99th value, inside [min, max]", () => {
    const hist = new Uint32Array(LATENCY_BOUNDS_US.length + 1);
    // 990 statements at 1 ms, 10 at 100 ms.
    hist[latencyBucket(1e6)] = 990;
    hist[latencyBucket(1e8)] = 10;
    const p99 = quantileNs(hist, 1000, 1e6, 1e8, 0.99);
    expect(p99).toBeGreaterThan(0.7e6);
    expect(p99).toBeLessThanOrEqual(1.5e6);
    const p999 = quantileNs(hist, 1000, 1e6, 1e8, 0.999);
    expect(p999).toBeGreaterThan(0.7e8);
    expect(p999).toBeLessThanOrEqual(1e8);
    expect(quantileNs(hist, 0, 0, 0, 0.99)).toBe(0);
  });
});
