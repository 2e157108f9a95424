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
 * Idle connections: open `connections` client connections, each through the handshake and
 * authentication, and leave them idle. The proxy's resident memory before and after, divided by
 * the connections, is what each idle client costs it (goal for rwsplit: < 20 KB). Every
 * connection must still answer a COM_PING at the end, so a proxy that dropped some does not
 * look cheap.
 *
 * `proxyMetrics`, when given, is the proxy's Prometheus endpoint: Node's heap and external
 * memory before and after say where the memory went (V8 objects or buffers outside the heap).
 */

export interface IdleOptions {
  endpoint: Endpoint;
  connections: number;
  /** Connections being opened at once. */
  concurrency: number;
  /** The proxy whose memory is measured; null for none (direct). */
  proxyPid: number | null;
  proxyMetrics?: string;
  /** Wait after the last connection opened before reading memory (lazy frees, GC). */
  settleMs?: number;
  onProgress?: OnProgress;
}

/** Node's memory figures from the proxy's /metrics (bytes). */
export interface NodeMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

export interface IdleResult {
  requested: number;
  opened: number;
  /** Connections that answered COM_PING after the settle time. */
  alive: number;
  errors: number;
  errorsByMessage: Record<string, number>;
  /** Time spent opening connections (settle times left out). */
  openSeconds: number;
  /** The proxy's VmRSS (kB): before opening, with every connection idle, and after closing them. */
  rssBeforeKb: number | null;
  rssIdleKb: number | null;
  rssAfterCloseKb: number | null;
  /** With the first half of the connections open. */
  rssHalfKb: number | null;
  /** (rssIdle - rssBefore) / opened, in bytes. */
  rssPerConnectionBytes: number | null;
  /** (rssIdle - rssHalf) / (connections in the second half), in bytes: without one-off costs. */
  rssMarginalPerConnectionBytes: number | null;
  metricsBefore: NodeMemory | null;
  metricsIdle: NodeMemory | null;
}

export async function nodeMemory(url: string | undefined): Promise<NodeMemory | null> {
  if (url === undefined) return null;
  try {
    const text = await (await fetch(url)).text();
    const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    return {
      rss: get("process_resident_memory_bytes"),
      heapUsed: get("nodejs_heap_size_used_bytes"),
      heapTotal: get("nodejs_heap_size_total_bytes"),
      external: get("nodejs_external_memory_bytes"),
    };
  } catch {
    return null;
  }
}

export async function idleConnections(opts: IdleOptions): Promise<IdleResult> {
  const settleMs = opts.settleMs ?? 2000;
  const rss = () => (opts.proxyPid === null ? null : rssKb(opts.proxyPid));
  const errors = new ErrorTally();
  const conns: mysql.Connection[] = [];
  const metricsBefore = await nodeMemory(opts.proxyMetrics);
  const rssBeforeKb = rss();
  let openMs = 0;
  /** Opens connections until `target` are open (or failed), `concurrency` at a time. */
  const openUpTo = async (target: number) => {
    const start = Date.now();
    let next = conns.length + errors.total;
    await inParallel(opts.concurrency, async () => {
      while (next < target) {
        next++;
        try {
          conns.push(await mysql.createConnection(connectionOptions(opts.endpoint)));
        } catch (e) {
          errors.add(e);
        }
        if (conns.length % 200 === 0) opts.onProgress?.((0.8 * conns.length) / opts.connections);
      }
    });
    openMs += Date.now() - start;
  };
  try {
    // In two halves, so the second half's growth can be told apart from one-off costs (V8 growing
    // its young generation under the handshake garbage, pools, code): the marginal figure.
    const half = Math.floor(opts.connections / 2);
    await openUpTo(half);
    const openedHalf = conns.length;
    await sleep(settleMs);
    const rssHalfKb = rss();
    await openUpTo(opts.connections);
    const openSeconds = openMs / 1000;
    const opened = conns.length;
    await sleep(settleMs);
    const rssIdleKb = rss();
    const metricsIdle = await nodeMemory(opts.proxyMetrics);
    let alive = 0;
    let pinged = 0;
    await inParallel(opts.concurrency, async () => {
      while (pinged < conns.length) {
        const c = conns[pinged++]!;
        try {
          await c.ping();
          alive++;
        } catch (e) {
          errors.add(e);
        }
      }
    });
    opts.onProgress?.(0.9);
    for (const c of conns.splice(0)) c.destroy();
    await sleep(Math.min(settleMs, 1000));
    opts.onProgress?.(1);
    const rssAfterCloseKb = rss();
    return {
      requested: opts.connections,
      opened,
      alive,
      errors: errors.total,
      errorsByMessage: errors.byMessage,
      openSeconds,
      rssBeforeKb,
      rssIdleKb,
      rssAfterCloseKb,
      rssHalfKb,
      rssPerConnectionBytes:
        rssBeforeKb === null || rssIdleKb === null || opened === 0
          ? null
          : ((rssIdleKb - rssBeforeKb) * 1024) / opened,
      rssMarginalPerConnectionBytes:
        rssHalfKb === null || rssIdleKb === null || opened <= openedHalf
          ? null
          : ((rssIdleKb - rssHalfKb) * 1024) / (opened - openedHalf),
      metricsBefore,
      metricsIdle,
    };
  } finally {
    for (const c of conns) c.destroy();
  }
}
