import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from "prom-client";
import { sumTotals } from "./aggregate.js";
import { NO_STATS, type WorkerStats } from "./messages.js";

export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Families whose values only grow: a dead worker's last values stay in the process's totals. */
const MONOTONIC: ReadonlySet<string> = new Set(["counter", "histogram"]);

/**
 * What the workers that exited had counted (`serve --workers N`). A worker started again counts
 * from 0; without this, the supervisor's sums (`/metrics`, the status page's totals) would drop by
 * everything the dead worker had counted, and Prometheus would read the drop as a counter reset:
 * `rate()` and `increase()` would then count the survivors' whole totals again as one spike.
 * Counters and histograms of the dead worker's last report (for `/metrics`, its answer to the last
 * scrape; for the status page, its last 500 ms report) are kept and added to every sum, so each sum
 * only grows; gauges (connections, pool sizes) are the living workers' alone. What the worker
 * counted after its last report is lost, as for any process that dies.
 */
export class RetiredWorkers {
  #stats: WorkerStats = NO_STATS;
  #metrics: MetricsJson = [];
  /** Folding a report in is asynchronous (prom-client's aggregation); one at a time, in order. */
  #folding: Promise<void> = Promise.resolve();

  retire(stats: WorkerStats | null, lastMetrics: MetricsJson | null): void {
    if (stats !== null) {
      const totals = sumTotals([this.#stats, stats]);
      const k = this.#stats.kinds;
      this.#stats = {
        ...NO_STATS,
        kinds: {
          read: k.read + stats.kinds.read,
          write: k.write + stats.kinds.write,
          session: k.session + stats.kinds.session,
        },
        queries: totals.queries,
        errors: totals.errors,
      };
    }
    if (lastMetrics === null) return;
    const kept = lastMetrics.filter((m) => MONOTONIC.has(String(m.type)));
    this.#folding = this.#folding.then(async () => {
      this.#metrics =
        this.#metrics.length === 0
          ? kept
          : await AggregatorRegistry.aggregate([this.#metrics, kept] as Parameters<
              typeof AggregatorRegistry.aggregate
            >[0]).getMetricsAsJSON();
    });
  }

  /** The dead workers' counts as one more worker's report (no clients, no pools). */
  get stats(): WorkerStats {
    return this.#stats;
  }

  /** The dead workers' counters and histograms, summed; [] while none has died. */
  async metrics(): Promise<MetricsJson> {
    await this.#folding;
    return this.#metrics;
  }
}
