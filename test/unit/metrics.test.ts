import { describe, expect, it } from "vitest";
import type { BackendStatus } from "../../src/admin/status.js";
import { Metrics, QUERY_DURATION_BUCKETS } from "../../src/metrics/registry.js";
import { type Family, parsePrometheusText, sampleValue } from "../helpers/prom-parse.js";

function backend(over: Partial<BackendStatus> & { name: string }): BackendStatus {
  return {
    role: "replica",
    host: "127.0.0.1",
    port: 3307,
    up: true,
    readOnly: true,
    lagMs: 120,
    lagSource: "heartbeat",
    weight: 1,
    effectiveWeight: 1,
    eligible: true,
    reason: null,
    inFlight: 0,
    pool: { open: 3, idle: 2, busy: 1, waiting: 0, max: 200 },
    lastError: null,
    lastCheckAt: "2025-01-01T00:00:00.000Z",
    gtidPosition: null,
    lagPolicy: null,
    ...over,
  };
}

async function scrape(m: Metrics): Promise<Map<string, Family>> {
  return parsePrometheusText(await m.render());
}

describe("Metrics cells", () => {
  it("memoises one cell per label set", () => {
    const m = new Metrics({ defaultMetrics: false });
    expect(m.queryCounter("replica", "r1", "read")).toBe(m.queryCounter("replica", "r1", "read"));
    expect(m.queryCounter("replica", "r1", "read")).not.toBe(m.queryCounter("replica", "r2", "read"));
    expect(m.queryDuration("primary")).toBe(m.queryDuration("primary"));
    expect(m.errorCounter(1040)).toBe(m.errorCounter("1040"));
  });

  it("finds the same cell for a label set however many others were counted since", async () => {
    const m = new Metrics({ defaultMetrics: false });
    const reasons = Array.from({ length: 20 }, (_, i) => `reason${i}`);
    const first = reasons.map((why) => m.queryCounter("primary", "p", why));
    for (let round = 0; round < 3; round++) {
      reasons.forEach((why, i) => {
        const cell = m.queryCounter("primary", "p", why);
        expect(cell).toBe(first[i]);
        cell.inc();
      });
    }
    const families = await scrape(m);
    for (const why of reasons) {
      expect(
        sampleValue(families, "rwsplit_queries_total", { route: "primary", backend: "p", reason: why }),
      ).toBe(3);
    }
    expect(m.queryDuration("replica")).not.toBe(m.queryDuration("primary"));
  });

  it("folds counter cells at each scrape without counting twice", async () => {
    const m = new Metrics({ defaultMetrics: false });
    const reads = m.queryCounter("replica", "r1", "read");
    const labels = { route: "replica", backend: "r1", reason: "read" };
    expect(sampleValue(await scrape(m), "rwsplit_queries_total", labels)).toBe(0);
    reads.inc();
    reads.inc();
    reads.inc();
    expect(sampleValue(await scrape(m), "rwsplit_queries_total", labels)).toBe(3);
    reads.inc(2);
    const families = await scrape(m);
    expect(sampleValue(families, "rwsplit_queries_total", labels)).toBe(5);
    expect(families.get("rwsplit_queries_total")?.type).toBe("counter");
  });

  it("renders histogram cells as cumulative buckets with an inclusive le", async () => {
    const m = new Metrics({ defaultMetrics: false });
    const h = m.queryDuration("replica");
    h.observe(0.0001); // exactly on the first bound: counts in le="0.0001"
    h.observe(0.0003);
    h.observe(20); // above the last bound: only +Inf
    h.observe(Number.NaN);
    h.observe(-1);
    const families = await scrape(m);
    const family = families.get("rwsplit_query_duration_seconds");
    expect(family?.type).toBe("histogram");
    const bucket = (le: string) =>
      sampleValue(families, "rwsplit_query_duration_seconds_bucket", { route: "replica", le });
    expect(bucket("0.0001")).toBe(1);
    expect(bucket("0.00025")).toBe(1);
    expect(bucket("0.0005")).toBe(2);
    expect(bucket("10")).toBe(2);
    expect(bucket("+Inf")).toBe(3);
    expect(sampleValue(families, "rwsplit_query_duration_seconds_count", { route: "replica" })).toBe(3);
    expect(sampleValue(families, "rwsplit_query_duration_seconds_sum", { route: "replica" })).toBeCloseTo(
      20.0004,
      9,
    );
    // 16 bounds from 100 µs to 10 s, plus +Inf, _sum and _count.
    expect(QUERY_DURATION_BUCKETS[0]).toBe(0.0001);
    expect(QUERY_DURATION_BUCKETS.at(-1)).toBe(10);
    expect(family?.samples).toHaveLength(QUERY_DURATION_BUCKETS.length + 3);
  });

  it("counts the other families", async () => {
    const m = new Metrics({ defaultMetrics: false });
    const db1 = { in: 100, out: 4096 };
    m.countBytes("db1", db1);
    m.countBytes("db2", { in: 7, out: 0 });
    m.errorCounter(2013).inc();
    m.errorCounter("POOL_EXHAUSTED").inc();
    m.readFallbackCounter("no_replica").inc();
    m.balancerTransition("r1", "ineligible");
    m.balancerTransition("r1", "ineligible");
    m.topologyChange("failover", true, 3.5);
    m.topologyChange("switchover", false, 1);
    m.topologyGeneration(2);
    m.clientConnected();
    m.clientConnected();
    m.clientDisconnected();
    const f = await scrape(m);
    expect(sampleValue(f, "rwsplit_bytes_total", { backend: "db1", direction: "in" })).toBe(100);
    expect(sampleValue(f, "rwsplit_bytes_total", { backend: "db1", direction: "out" })).toBe(4096);
    expect(sampleValue(f, "rwsplit_bytes_total", { backend: "db2", direction: "in" })).toBe(7);
    // Read live at each scrape: the data path's integers are the truth.
    db1.out += 10;
    expect(sampleValue(await scrape(m), "rwsplit_bytes_total", { backend: "db1", direction: "out" })).toBe(
      4106,
    );
    expect(sampleValue(f, "rwsplit_errors_total", { code: "2013" })).toBe(1);
    expect(sampleValue(f, "rwsplit_errors_total", { code: "POOL_EXHAUSTED" })).toBe(1);
    expect(sampleValue(f, "rwsplit_read_fallbacks_total", { reason: "no_replica" })).toBe(1);
    expect(sampleValue(f, "rwsplit_balancer_transitions_total", { backend: "r1", to: "ineligible" })).toBe(2);
    expect(sampleValue(f, "rwsplit_failovers_total", { kind: "failover", result: "ok" })).toBe(1);
    expect(sampleValue(f, "rwsplit_failovers_total", { kind: "switchover", result: "failed" })).toBe(1);
    expect(sampleValue(f, "rwsplit_failover_duration_seconds_bucket", { kind: "failover", le: "5" })).toBe(1);
    expect(sampleValue(f, "rwsplit_topology_generation")).toBe(2);
    expect(sampleValue(f, "rwsplit_client_connections")).toBe(1);
    expect(sampleValue(f, "rwsplit_client_connections_total")).toBe(2);
  });

  it("read-your-writes: waits by backend and result, and whether users' writes are shared", async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.consistencyWaits.get(["r1", "caught_up"]).inc();
    m.consistencyWaits.get(["r1", "caught_up"]).inc();
    m.consistencyWaits.get(["r2", "timeout"]).inc();
    let shared = false;
    m.watchConsistencySharing(() => shared);
    let f = await scrape(m);
    expect(sampleValue(f, "rwsplit_consistency_waits_total", { backend: "r1", result: "caught_up" })).toBe(2);
    expect(sampleValue(f, "rwsplit_consistency_waits_total", { backend: "r2", result: "timeout" })).toBe(1);
    expect(sampleValue(f, "rwsplit_consistency_shared")).toBe(0);
    shared = true;
    f = await scrape(m);
    expect(sampleValue(f, "rwsplit_consistency_shared")).toBe(1);
  });
});

describe("Metrics.observeBackends", () => {
  it("sets the per-backend gauges and drops series that went away", async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeBackends([
      backend({ name: "primary", role: "primary", lagMs: null, lagSource: null }),
      backend({ name: "r1", lagMs: 1500, effectiveWeight: 0.4 }),
      backend({ name: "r2", up: false, eligible: false, lagMs: null, lagSource: null, effectiveWeight: 0 }),
    ]);
    let f = await scrape(m);
    expect(sampleValue(f, "rwsplit_backend_up", { backend: "primary", role: "primary" })).toBe(1);
    expect(sampleValue(f, "rwsplit_backend_up", { backend: "r2", role: "replica" })).toBe(0);
    expect(sampleValue(f, "rwsplit_replica_lag_seconds", { backend: "r1", source: "heartbeat" })).toBe(1.5);
    // Unknown lag is absent, never 0 (0 would read as "fresh").
    expect(sampleValue(f, "rwsplit_replica_lag_seconds", { backend: "r2" })).toBeUndefined();
    expect(sampleValue(f, "rwsplit_backend_weight", { backend: "r1" })).toBe(0.4);
    expect(sampleValue(f, "rwsplit_backend_eligible", { backend: "r2" })).toBe(0);
    expect(sampleValue(f, "rwsplit_backend_connections", { backend: "r1", state: "idle" })).toBe(2);
    expect(sampleValue(f, "rwsplit_backend_connections", { backend: "r1", state: "busy" })).toBe(1);

    m.observeBackends([backend({ name: "r1" })]);
    f = await scrape(m);
    expect(sampleValue(f, "rwsplit_backend_up", { backend: "r2" })).toBeUndefined();
    expect(sampleValue(f, "rwsplit_replica_lag_seconds", { backend: "r1" })).toBe(0.12);
  });
});

describe("Metrics registry", () => {
  it("lets many instances coexist, each with Node's default metrics unless turned off", async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.queryCounter("primary", "p", "write").inc();
    const fa = await scrape(a);
    const fb = await scrape(b);
    expect(fa.has("process_cpu_user_seconds_total")).toBe(true);
    expect(fa.has("nodejs_eventloop_lag_seconds")).toBe(true);
    expect(sampleValue(fa, "rwsplit_queries_total", { route: "primary" })).toBe(1);
    expect(sampleValue(fb, "rwsplit_queries_total", { route: "primary" })).toBeUndefined();
    expect((await scrape(new Metrics({ defaultMetrics: false }))).has("process_cpu_user_seconds_total")).toBe(
      false,
    );
  });

  it("gives every rwsplit_ family a HELP and a TYPE", async () => {
    const f = await scrape(new Metrics({ defaultMetrics: false }));
    const names = [...f.keys()].filter((n) => n.startsWith("rwsplit_"));
    expect(names.length).toBeGreaterThanOrEqual(15);
    for (const name of names) {
      expect(f.get(name)?.help, name).toBeTruthy();
      expect(f.get(name)?.type, name).not.toBe("untyped");
    }
  });
});

describe("prom-parse (the test helper itself)", () => {
  const ok = '# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1",y="q\\"uote"} 2\n';

  it("parses labels with escapes", () => {
    const f = parsePrometheusText(ok);
    expect(f.get("a_total")?.samples[0]?.labels).toEqual({ x: "1", y: 'q"uote' });
  });

  it.each([
    ["no trailing newline", ok.trimEnd()],
    ["unquoted label value", "a_total{x=1} 2\n"],
    ["bad label name", 'a_total{1x="1"} 2\n'],
    ["bad value", "a_total 2x\n"],
    ["second TYPE", "# TYPE a counter\n# TYPE a gauge\na 1\n"],
    ["duplicate series", "a 1\na 2\n"],
    ["non-contiguous family", 'a 1\nb 1\na{x="1"} 1\n'],
    [
      "non-cumulative buckets",
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ["histogram without +Inf", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
  ])("rejects %s", (_name, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
