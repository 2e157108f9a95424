import { rssKb } from "../proc.js";
import { sleep } from "./common.js";
import { type NodeMemory, nodeMemory } from "./idle.js";

/**
 * An idle rwsplit's memory at start (issue #15): a fresh `rwsplit serve`, ready (every replica
 * checked) and without a client, read at fixed times after it became ready. The early reading is
 * what `ps` shows right after a start; the later one comes after V8's memory reducer has had its
 * chance (it runs about 8 s after the last full GC of startup when the process is idle, and gives
 * back the young generation that startup grew). The monitor and the status page's sampler are
 * running meanwhile, as in production.
 */

export interface StartMemoryReading {
  /** Milliseconds after the proxy was ready. */
  afterMs: number;
  /** VmRSS, read before /metrics is asked (which allocates in the proxy). */
  rssKb: number;
  /** Node's own figures from /metrics. */
  node: NodeMemory | null;
}

export interface StartMemoryResult {
  readings: StartMemoryReading[];
}

export async function startMemory(opts: {
  pid: number;
  /** The proxy's Prometheus endpoint. */
  metrics: string;
  /** When the proxy became ready (Date.now()). */
  readyAt: number;
  /** Reading times after readyAt, ms, ascending. */
  atMs: readonly number[];
}): Promise<StartMemoryResult> {
  const readings: StartMemoryReading[] = [];
  for (const afterMs of opts.atMs) {
    await sleep(Math.max(0, opts.readyAt + afterMs - Date.now()));
    const rss = rssKb(opts.pid);
    readings.push({ afterMs, rssKb: rss, node: await nodeMemory(opts.metrics) });
  }
  return { readings };
}
