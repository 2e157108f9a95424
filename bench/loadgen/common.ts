import { build, encodeIntoCompressedBase64, type Histogram } from "hdr-histogram-js";
import type { ConnectionOptions } from "mysql2";
import mysql from "mysql2/promise";

/** Where a load generator connects: the database itself, or a proxy in front of it. */
export interface Endpoint {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export function connectionOptions(e: Endpoint): ConnectionOptions {
  return {
    host: e.host,
    port: e.port,
    user: e.user,
    password: e.password,
    database: e.database,
    connectTimeout: 10_000,
    // mysql2 preallocates its statement cache: four arrays of this many slots, ~0.5 MB per
    // connection at the default 16 000. The load generators prepare nothing, and 10 000 idle
    // connections at the default would take 5 GB here (and slow the storm with garbage).
    maxPreparedStatements: 4,
  };
}

/** Sums one counter of SHOW GLOBAL STATUS (e.g. `Connections`) over several servers. */
export async function globalStatusSum(servers: readonly Endpoint[], name: string): Promise<number> {
  let sum = 0;
  for (const s of servers) {
    const c = await mysql.createConnection(connectionOptions(s));
    try {
      const [rows] = await c.query("SHOW GLOBAL STATUS LIKE ?", [name]);
      sum += Number((rows as { Value: string }[])[0]?.Value ?? Number.NaN);
    } finally {
      await c.end();
    }
  }
  return sum;
}

/** Latency percentiles in milliseconds, with the histogram they came from. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The HdrHistogram of the samples in µs, compressed base64 (HdrHistogram's own format, V2). */
  histogram: string;
}

/** Latencies in µs from 1 µs to 60 s at 3 significant digits. */
export function latencyHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** Records the time since `startNs` (from `process.hrtime.bigint()`) in µs. */
export function recordSince(h: Histogram, startNs: bigint): void {
  h.recordValue(Math.max(1, Number((process.hrtime.bigint() - startNs) / 1000n)));
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (us: number) => us / 1000;
  const empty = h.totalCount === 0;
  return {
    count: h.totalCount,
    meanMs: empty ? Number.NaN : ms(h.mean),
    p50Ms: empty ? Number.NaN : ms(h.getValueAtPercentile(50)),
    p95Ms: empty ? Number.NaN : ms(h.getValueAtPercentile(95)),
    p99Ms: empty ? Number.NaN : ms(h.getValueAtPercentile(99)),
    maxMs: empty ? Number.NaN : ms(h.maxValue),
    histogram: encodeIntoCompressedBase64(h),
  };
}

/** Errors by message, counted, so a run with failures says what failed without logging each one. */
export class ErrorTally {
  total = 0;
  readonly byMessage: Record<string, number> = {};

  add(e: unknown): void {
    this.total++;
    const err = e as { code?: string; errno?: number; message?: string };
    const key = `${err.code ?? err.errno ?? "error"}: ${String(err.message ?? e).slice(0, 120)}`;
    this.byMessage[key] = (this.byMessage[key] ?? 0) + 1;
  }
}

/** Runs `n` copies of `worker` concurrently (worker index as argument) and waits for all. */
export async function inParallel(n: number, worker: (i: number) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => worker(i)));
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A progress callback: the fraction of the scenario done, 0..1. */
export type OnProgress = (fraction: number) => void;
