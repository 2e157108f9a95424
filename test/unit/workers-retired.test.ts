import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { describe, expect, test } from "vitest";
import { sumTotals } from "../../src/workers/aggregate.js";
import { NO_STATS, type WorkerStats } from "../../src/workers/messages.js";
import { type MetricsJson, RetiredWorkers } from "../../src/workers/retired.js";

// A worker that exits takes its counts with it; the supervisor's sums must still only grow.

function stats(over: Partial<WorkerStats>): WorkerStats {
  return { ...NO_STATS, ...over };
}

/** One worker's /metrics answer: a counter, a histogram and a gauge as a worker registers them. */
async function workerMetrics(
  queries: number,
  durations: number[],
  connections: number,
): Promise<MetricsJson> {
  const registry = new Registry();
  const q = new Counter({
    name: "rwsplit_queries_total",
    help: "q",
    labelNames: ["route"],
    registers: [registry],
  });
  q.inc({ route: "replica" }, queries);
  const h = new Histogram({
    name: "rwsplit_query_duration_seconds",
    help: "d",
    buckets: [0.001, 0.01],
    registers: [registry],
  });
  for (const d of durations) h.observe(d);
  new Gauge({ name: "rwsplit_client_connections", help: "c", registers: [registry] }).set(connections);
  return registry.getMetricsAsJSON();
}

/** A sample of family `name` (`sample`: a histogram's _bucket, _count or _sum line). */
const value = (m: MetricsJson, name: string, labels: Record<string, string | number> = {}, sample?: string) =>
  m
    .find((f) => f.name === name)
    ?.values.find(
      (v) =>
        (sample === undefined || (v as { metricName?: string }).metricName === `${name}_${sample}`) &&
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
    )?.value;

describe("the counts of workers that exited", () => {
  test("status totals: a dead worker's queries, errors and statement kinds stay; its clients do not", () => {
    const retired = new RetiredWorkers();
    const dead = stats({
      clients: 3,
      kinds: { read: 10, write: 2, session: 1 },
      queries: [{ route: "replica", backend: "r1", reason: "read", value: 10 }],
      errors: [{ code: "1317", value: 1 }],
    });
    retired.retire(dead, null);
    retired.retire(
      stats({
        kinds: { read: 5, write: 0, session: 0 },
        queries: [{ route: "replica", backend: "r1", reason: "read", value: 5 }],
      }),
      null,
    );
    const alive = stats({
      clients: 2,
      queries: [{ route: "replica", backend: "r1", reason: "read", value: 7 }],
    });
    const totals = sumTotals([alive, retired.stats]);
    expect(totals.queries).toEqual([{ route: "replica", backend: "r1", reason: "read", value: 22 }]);
    expect(totals.errors).toEqual([{ code: "1317", value: 1 }]);
    expect(totals.clients).toBe(2);
    expect(retired.stats.kinds).toEqual({ read: 15, write: 2, session: 1 });
    // A worker that died before its first report leaves nothing.
    retired.retire(null, null);
    expect(retired.stats.kinds).toEqual({ read: 15, write: 2, session: 1 });
  });

  test("/metrics: counters and histograms of every dead worker are summed, gauges dropped", async () => {
    const retired = new RetiredWorkers();
    expect(await retired.metrics()).toEqual([]);
    retired.retire(null, await workerMetrics(40, [0.0005, 0.005], 3));
    retired.retire(null, await workerMetrics(2, [0.5], 1));
    const m = await retired.metrics();
    expect(value(m, "rwsplit_queries_total", { route: "replica" })).toBe(42);
    expect(value(m, "rwsplit_query_duration_seconds", {}, "count")).toBe(3);
    expect(value(m, "rwsplit_query_duration_seconds", { le: 0.001 }, "bucket")).toBe(1);
    expect(value(m, "rwsplit_query_duration_seconds", { le: 0.01 }, "bucket")).toBe(2);
    expect(value(m, "rwsplit_query_duration_seconds", { le: "+Inf" }, "bucket")).toBe(3);
    expect(m.some((f) => f.name === "rwsplit_client_connections")).toBe(false);
  });
});
