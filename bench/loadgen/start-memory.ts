import { rssKb } from "../proc.js";
import { sleep } from "./common.js";
import { type NodeMemory, nodeMemory } from "./idle.js";

/**
 * An idle rwsplit's memory at start (issue #15): a fresh `rwsplit serve`, ready (every replica
 * checked) and without a client, read at fixed times after it became ready. The early reading is
 * what `ps` shows right after a start; the later one comes after V8's memory reducer has had its
 * chance (it runs about 8 s after the last full GC of startup when the process is idle, and gives
 * back the young generation that startup grew). The monitor and the status page's sampler are
 * running meanwhile, as in production. Read at the same moments: the floors under it, Node alone
 * and Node with the libraries `serve` loads, each idle (bench/memory-floor.ts).
 */

export interface StartMemoryReading {
  /** Milliseconds after the proxy was ready. */
  afterMs: number;
  /** VmRSS, read before /metrics is asked (which allocates in the proxy). */
  rssKb: number;
  /** Node's own figures from /metrics. */
  node: NodeMemory | null;
  /** The floors' VmRSS (kB) at the same moment, by name (bench/memory-floor.ts). */
  floors?: Record<string, number>;
}

export interface StartMemoryResult {
  readings: StartMemoryReading[];
}

/** A process read beside rwsplit: Node alone, Node with the libraries (bench/memory-floor.ts). */
export interface MemoryFloor {
  name: string;
  pid: number;
}

export async function startMemory(opts: {
  pid: number;
  /** The proxy's Prometheus endpoint. */
  metrics: string;
  /** When the proxy became ready (Date.now()). */
  readyAt: number;
  /** Reading times after readyAt, ms, ascending. */
  atMs: readonly number[];
  /** Started before rwsplit, so each has been idle at least as long when read. */
  floors?: readonly MemoryFloor[];
}): Promise<StartMemoryResult> {
  const readings: StartMemoryReading[] = [];
  for (const afterMs of opts.atMs) {
    await sleep(Math.max(0, opts.readyAt + afterMs - Date.now()));
    const rss = rssKb(opts.pid);
    const floors: Record<string, number> = {};
    for (const f of opts.floors ?? []) floors[f.name] = rssKb(f.pid);
    readings.push({ afterMs, rssKb: rss, node: await nodeMemory(opts.metrics), floors });
  }
  return { readings };
}
