import mysql from "mysql2";
import { type ProcessUsage, ProcessWatch } from "../proc.js";
import { connectionOptions, type Endpoint, type OnProgress } from "./common.js";

/**
 * A large result set, streamed: one SELECT of `rows` rows of `rowBytes` bytes each, read row by
 * row with mysql2's `query().stream()` (so the client never holds the result). The rows come from
 * MariaDB's SEQUENCE engine (`seq_1_to_N`), so nothing has to be stored or replicated first and
 * every backend can produce them. What it shows: relay throughput (MB/s) and whether the proxy
 * holds the result in memory (peak RSS) or relays it under backpressure as it arrives.
 */

export interface LargeResultOptions {
  endpoint: Endpoint;
  rows: number;
  rowBytes: number;
  /** The proxy to watch (CPU, peak RSS); null for none. */
  proxyPid: number | null;
  clkTck: number;
  onProgress?: OnProgress;
}

export interface LargeResultResult {
  sql: string;
  rows: number;
  /** Bytes of the `pad` column received: the payload the application asked for. */
  payloadBytes: number;
  seconds: number;
  mbPerSec: number;
  /** From sending the query to the first row. */
  firstRowMs: number;
  proxy: ProcessUsage | null;
  error: string | null;
}

export async function largeResult(opts: LargeResultOptions): Promise<LargeResultResult> {
  const sql = `SELECT seq, REPEAT('x', ${opts.rowBytes}) AS pad FROM seq_1_to_${opts.rows}`;
  const conn = mysql.createConnection({ ...connectionOptions(opts.endpoint), rowsAsArray: true });
  let rows = 0;
  let payloadBytes = 0;
  let firstRowMs = Number.NaN;
  let error: string | null = null;
  await new Promise<void>((resolve, reject) => conn.connect((e) => (e ? reject(e) : resolve())));
  const watch = opts.proxyPid === null ? null : new ProcessWatch(opts.proxyPid, opts.clkTck, 20);
  const start = process.hrtime.bigint();
  try {
    const stream = conn.query(sql).stream({ highWaterMark: 256 });
    for await (const row of stream as AsyncIterable<[number, string]>) {
      if (rows === 0) firstRowMs = Number(process.hrtime.bigint() - start) / 1e6;
      rows++;
      payloadBytes += row[1].length;
      if ((rows & 0x3fff) === 0) opts.onProgress?.(rows / opts.rows);
    }
  } catch (e) {
    error = (e as Error).message;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const proxy = watch?.stop() ?? null;
  conn.destroy();
  opts.onProgress?.(1);
  return {
    sql,
    rows,
    payloadBytes,
    seconds,
    mbPerSec: payloadBytes / 2 ** 20 / seconds,
    firstRowMs,
    proxy,
    error,
  };
}
