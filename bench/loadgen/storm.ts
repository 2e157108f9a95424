import mysql from "mysql2/promise";
import {
  connectionOptions,
  type Endpoint,
  ErrorTally,
  inParallel,
  type LatencySummary,
  latencyHistogram,
  type OnProgress,
  recordSince,
  summarize,
} from "./common.js";

/**
 * Connection storm: `concurrency` clients each loop connect (handshake + authentication), one
 * query, COM_QUIT, for `durationMs`. What it shows: the cost of a connection's whole life, which
 * is what PHP-style applications (a connection per request) pay, and whether the proxy keeps up
 * without errors. The proxy answers the handshake itself, so its pool should keep backend
 * connections warm and the storm should not reach the database as a storm.
 */

export interface StormOptions {
  endpoint: Endpoint;
  concurrency: number;
  durationMs: number;
  /** The one statement each connection runs. */
  query?: string;
  onProgress?: OnProgress;
}

export interface StormResult {
  concurrency: number;
  seconds: number;
  /** Completed cycles (connect, query, quit). */
  connections: number;
  connectionsPerSec: number;
  errors: number;
  errorsByMessage: Record<string, number>;
  /** One whole cycle: connect + query + quit. */
  cycle: LatencySummary;
  /** TCP connect to the OK after authentication. */
  connect: LatencySummary;
}

export async function connectionStorm(opts: StormOptions): Promise<StormResult> {
  const query = opts.query ?? "SELECT 1";
  const cycle = latencyHistogram();
  const connect = latencyHistogram();
  const errors = new ErrorTally();
  const options = connectionOptions(opts.endpoint);
  const t0 = Date.now();
  const end = t0 + opts.durationMs;
  let done = 0;
  const progress = setInterval(
    () => opts.onProgress?.(Math.min(1, (Date.now() - t0) / opts.durationMs)),
    250,
  );
  try {
    await inParallel(opts.concurrency, async () => {
      while (Date.now() < end) {
        const start = process.hrtime.bigint();
        let conn: mysql.Connection | null = null;
        try {
          conn = await mysql.createConnection(options);
          recordSince(connect, start);
          await conn.query(query);
          await conn.end();
          conn = null;
          recordSince(cycle, start);
          done++;
        } catch (e) {
          errors.add(e);
          conn?.destroy();
        }
      }
    });
  } finally {
    clearInterval(progress);
  }
  const seconds = (Date.now() - t0) / 1000;
  return {
    concurrency: opts.concurrency,
    seconds,
    connections: done,
    connectionsPerSec: done / seconds,
    errors: errors.total,
    errorsByMessage: errors.byMessage,
    cycle: summarize(cycle),
    connect: summarize(connect),
  };
}
