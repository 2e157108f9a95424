import { connect as tcpConnect } from "node:net";
import mysql from "mysql2/promise";
import { rssKb } from "../proc.js";
import {
  connectionOptions,
  type Endpoint,
  ErrorTally,
  inParallel,
  type OnProgress,
  sleep,
} from "./common.js";

/**
 * Session churn (issue #15): many short sessions one after another, each connect, authenticate,
 * one query, COM_QUIT; every `malformedEvery`-th instead answers the server's greeting with a
 * broken packet (random bytes where the handshake response goes, or a packet cut short and the
 * socket closed). A proxy that keeps anything per session it no longer has (a map entry, a
 * listener, a buffer, a timer) grows with the count: its resident memory after the churn, once
 * settled, is compared with before it (after a warm-up that compiles the code and fills pools).
 */

export interface ChurnOptions {
  endpoint: Endpoint;
  sessions: number;
  /** Sessions run first and not counted: JIT, pools, V8 growing its heaps. */
  warmup: number;
  concurrency: number;
  /** Every n-th session sends a malformed packet instead of logging in. */
  malformedEvery: number;
  proxyPid: number;
  /** Wait before each memory reading (GC, lazy frees). */
  settleMs: number;
  onProgress?: OnProgress;
}

export interface ChurnResult {
  sessions: number;
  /** Well-formed sessions that got their query's answer and quit. */
  completed: number;
  malformed: number;
  /** Malformed sessions the proxy closed (or answered with ERR, then closed) within 5 s. */
  malformedClosed: number;
  errors: number;
  errorsByMessage: Record<string, number>;
  seconds: number;
  sessionsPerSec: number;
  /** The proxy's VmRSS (kB) after the warm-up and after the churn, each after settleMs. */
  rssBeforeKb: number;
  rssAfterKb: number;
  /** The highest VmRSS sampled during the churn. */
  rssPeakKb: number;
}

/** A malformed session; resolves true when the proxy closed the connection. */
function malformedSession(e: Endpoint, kind: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: e.host, port: e.port });
    let greeted = false;
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, 5000);
    s.on("data", () => {
      if (greeted) return;
      greeted = true;
      if (kind % 2 === 0) {
        // Sequence id 1 as a handshake response would have, but a payload of random bytes.
        const body = Buffer.from(Array.from({ length: 40 }, () => Math.floor(Math.random() * 256)));
        const head = Buffer.from([body.length, 0, 0, 1]);
        s.write(Buffer.concat([head, body]));
      } else {
        // A header promising 200 bytes, 5 of them, and the client gone.
        s.end(Buffer.from([200, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01, 0x00]));
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve(greeted);
    });
  });
}

export async function sessionChurn(opts: ChurnOptions): Promise<ChurnResult> {
  const options = connectionOptions(opts.endpoint);
  const errors = new ErrorTally();
  let completed = 0;
  let malformed = 0;
  let malformedClosed = 0;
  const run = async (total: number, count: boolean) => {
    let next = 0;
    await inParallel(opts.concurrency, async () => {
      while (next < total) {
        const i = next++;
        if (count && i % 500 === 0) opts.onProgress?.(0.1 + (0.85 * i) / total);
        if (i % opts.malformedEvery === opts.malformedEvery - 1) {
          const closed = await malformedSession(opts.endpoint, i);
          if (count) {
            malformed++;
            if (closed) malformedClosed++;
          }
          continue;
        }
        let conn: mysql.Connection | null = null;
        try {
          conn = await mysql.createConnection(options);
          await conn.query("SELECT 1");
          await conn.end();
          conn = null;
          if (count) completed++;
        } catch (e) {
          if (count) errors.add(e);
          conn?.destroy();
        }
      }
    });
  };
  await run(opts.warmup, false);
  opts.onProgress?.(0.05);
  await sleep(opts.settleMs);
  const rssBeforeKb = rssKb(opts.proxyPid);
  let rssPeakKb = rssBeforeKb;
  const sampler = setInterval(() => {
    rssPeakKb = Math.max(rssPeakKb, rssKb(opts.proxyPid));
  }, 200);
  const t0 = Date.now();
  try {
    await run(opts.sessions, true);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (Date.now() - t0) / 1000;
  await sleep(opts.settleMs);
  opts.onProgress?.(1);
  const rssAfterKb = rssKb(opts.proxyPid);
  return {
    sessions: opts.sessions,
    completed,
    malformed,
    malformedClosed,
    errors: errors.total,
    errorsByMessage: errors.byMessage,
    seconds,
    sessionsPerSec: opts.sessions / seconds,
    rssBeforeKb,
    rssAfterKb,
    rssPeakKb: Math.max(rssPeakKb, rssAfterKb),
  };
}
