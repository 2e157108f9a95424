import { Counter, type Metric, type Registry } from "prom-client";

/**
 * Metrics the data path updates on every statement: plain numbers and typed arrays (cells), which
 * prom-client reads only when Prometheus scrapes (registry.ts registers them).
 */

/** A counter for the hot path: a plain number, folded into prom-client at scrape time. */
export class CounterCell {
  value = 0;

  inc(by = 1): void {
    this.value += by;
  }
}

/** A histogram for the hot path: per-bucket counts in a typed array, rendered at scrape time. */
export class HistogramCell {
  /** Per-bucket (not cumulative) counts; the last slot counts values above the largest bound (+Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  private readonly bounds: Float64Array;

  constructor(bounds: Float64Array) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(seconds: number): void {
    // NaN (or a negative duration) would poison _sum for good: Prometheus series never go back.
    if (!(seconds >= 0)) return;
    const b = this.bounds;
    let i = 0;
    // `le` is inclusive ("less than or equal"): a value equal to a bound belongs to that bucket.
    while (i < b.length && seconds > b[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }
}

interface Labelled<L extends string, C> {
  labels: Record<L, string>;
  cell: C;
}

/**
 * Memoised cells, one per label set. The lookup is a tree of Maps, one level per label, so a caller
 * that does not hold its cell pays a few Map hits, not a string join (measured: ~160 ns/op joined).
 */
export class CellMap<L extends string, C> {
  /** Every cell with its labels, in creation order, for rendering. */
  readonly entries: Labelled<L, C>[] = [];
  private readonly root = new Map<string, unknown>();
  private leaf: Labelled<L, C> | undefined;

  constructor(
    private readonly labelNames: readonly L[],
    private readonly create: () => C,
  ) {}

  get(values: readonly string[]): C {
    const depth = this.labelNames.length;
    if (depth === 0) {
      if (this.leaf === undefined) this.leaf = this.add(values);
      return this.leaf.cell;
    }
    let node = this.root;
    for (let i = 0; i < depth - 1; i++) {
      const value = values[i] ?? "";
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map<string, unknown>();
        node.set(value, next);
      }
      node = next;
    }
    const last = values[depth - 1] ?? "";
    let entry = node.get(last) as Labelled<L, C> | undefined;
    if (entry === undefined) {
      entry = this.add(values);
      node.set(last, entry);
    }
    return entry.cell;
  }

  private add(values: readonly string[]): Labelled<L, C> {
    const labels = {} as Record<L, string>;
    this.labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? "";
    });
    const entry = { labels, cell: this.create() };
    this.entries.push(entry);
    return entry;
  }
}

/** A prom-client Counter whose values come from cells, copied in on each scrape. */
export function cellCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): CellMap<L, CounterCell> {
  const cells = new CellMap<L, CounterCell>(labelNames, () => new CounterCell());
  new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect(this: Counter<L>) {
      this.reset();
      // inc(labels, 0) still creates the series: a label set shows up at 0 as soon as a cell exists.
      for (const { labels, cell } of cells.entries) this.inc(labels, cell.value);
    },
  });
  return cells;
}

/**
 * A histogram rendered from cells. prom-client's Registry renders any registered object with `name`,
 * `help`, `type` and `get()`; `get()` returns samples in the shape its own Histogram produces
 * (`_bucket` with cumulative counts and `le`, then `_sum` and `_count`).
 */
export class CellHistogram<L extends string> {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly cells: CellMap<L, HistogramCell>;
  private readonly bounds: Float64Array;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    labelNames: readonly L[],
    buckets: readonly number[],
  ) {
    const bounds = Float64Array.from(buckets);
    this.bounds = bounds;
    this.cells = new CellMap<L, HistogramCell>(labelNames, () => new HistogramCell(bounds));
    // The d.ts types `Metric` as the union of prom-client's own classes; the Registry only duck-types.
    registry.registerMetric(this as unknown as Metric);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: unknown[] }> {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const { labels, cell } of this.cells.entries) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ metricName: bucketName, labels: { ...labels, le }, value: cumulative });
      });
      values.push({ metricName: bucketName, labels: { ...labels, le: "+Inf" }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry.resetMetrics() calls this; the cells are the truth and stay as they are. */
  reset(): void {}
}
