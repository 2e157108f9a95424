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
 * Stale reads with one replica held behind. `writers` clients each own one row of the probe
 * table and loop: UPDATE it to the next value, read it back at once on the same session (when
 * `sameSession`) and on another connection; `readers` more clients read random rows all along.
 *
 * A read is stale when it returns a value older than one whose UPDATE had already been
 * acknowledged when the read was sent: exactly what an application that writes, then reads (a
 * redirect after a POST, another service told "it is saved"), gets wrong. Each read also selects
 * @@server_id, so the result says which backend served how many reads and how many of those were
 * stale: the lagging replica's share is the lag policy at work.
 *
 * `holdReplicaBehind` delays one replica by CHANGE MASTER TO MASTER_DELAY (its IO thread keeps
 * receiving, so semi-sync still gets its ACK; only applying waits).
 */

export const LAG_TABLE = "rwsplit_lag_probe";

export interface LagOptions {
  /** Setup (probe rows, their current values): always the primary itself. */
  primary: Endpoint;
  /** Where the UPDATEs go: the proxy, or the primary for a target that cannot write. */
  write: Endpoint;
  /** Where reads go. */
  read: Endpoint;
  /** Also read back on the writing connection (read-your-writes within a session). */
  sameSession: boolean;
  writers: number;
  readers: number;
  durationMs: number;
  onProgress?: OnProgress;
}

export interface ReadStats {
  reads: number;
  stale: number;
  staleRate: number;
  /** Reads and stale reads by the @@server_id that served them. */
  byServer: Record<string, { reads: number; stale: number }>;
  latency: LatencySummary;
}

export interface LagResult {
  seconds: number;
  writes: number;
  writeLatency: LatencySummary;
  /** Read back on the session that wrote; null when not measured. */
  readBackSameSession: ReadStats | null;
  /** Read back on another connection right after the write was acknowledged. */
  readBackOtherConnection: ReadStats;
  /** Random rows, continuously, from `readers` more connections. */
  background: ReadStats;
  /** Every read above. */
  all: { reads: number; stale: number; staleRate: number; readsPerSec: number };
  errors: number;
  errorsByMessage: Record<string, number>;
}

class ReadCounter {
  reads = 0;
  stale = 0;
  readonly byServer: Record<string, { reads: number; stale: number }> = {};
  readonly latency = latencyHistogram();

  add(serverId: string, stale: boolean): void {
    this.reads++;
    let s = this.byServer[serverId];
    if (s === undefined) {
      s = { reads: 0, stale: 0 };
      this.byServer[serverId] = s;
    }
    s.reads++;
    if (stale) {
      this.stale++;
      s.stale++;
    }
  }

  stats(): ReadStats {
    return {
      reads: this.reads,
      stale: this.stale,
      staleRate: this.reads === 0 ? Number.NaN : this.stale / this.reads,
      byServer: this.byServer,
      latency: summarize(this.latency),
    };
  }
}

const READ_SQL = `SELECT @@server_id AS sid, v FROM ${LAG_TABLE} WHERE id = ?`;

/** Creates the probe table with one row per writer (on the primary; replication carries it). */
export async function prepareLagTable(primary: Endpoint, rows: number): Promise<void> {
  const c = await mysql.createConnection(connectionOptions(primary));
  try {
    await c.query(`CREATE TABLE IF NOT EXISTS ${LAG_TABLE} (id INT PRIMARY KEY, v BIGINT NOT NULL)`);
    const values = Array.from({ length: rows }, (_, i) => `(${i}, 0)`).join(", ");
    await c.query(`INSERT IGNORE INTO ${LAG_TABLE} (id, v) VALUES ${values}`);
  } finally {
    await c.end();
  }
}

/**
 * Delays `replica` (root credentials, connected directly) by `seconds`; returns the undo.
 * STOP SLAVE / START SLAVE around CHANGE MASTER, as MariaDB requires.
 */
export async function holdReplicaBehind(replica: Endpoint, seconds: number): Promise<() => Promise<void>> {
  const set = async (delay: number) => {
    const c = await mysql.createConnection(connectionOptions(replica));
    try {
      await c.query("STOP SLAVE");
      await c.query(`CHANGE MASTER TO MASTER_DELAY = ${delay}`);
      await c.query("START SLAVE");
    } finally {
      await c.end();
    }
  };
  await set(seconds);
  return () => set(0);
}

export async function staleReads(opts: LagOptions): Promise<LagResult> {
  const errors = new ErrorTally();
  const rows = opts.writers;
  // The last acknowledged value of each row: a read sent after it must not return less.
  const committed: number[] = [];
  {
    const c = await mysql.createConnection(connectionOptions(opts.primary));
    try {
      const [r] = await c.query(`SELECT id, v FROM ${LAG_TABLE} WHERE id < ? ORDER BY id`, [rows]);
      for (const row of r as { id: number; v: number | string }[]) committed[row.id] = Number(row.v);
    } finally {
      await c.end();
    }
    if (committed.length < rows) throw new Error(`${LAG_TABLE} holds fewer than ${rows} rows`);
  }
  const same = new ReadCounter();
  const other = new ReadCounter();
  const background = new ReadCounter();
  const writeLatency = latencyHistogram();
  let writes = 0;
  const open = () => mysql.createConnection(connectionOptions(opts.read));
  const openWrite = () => mysql.createConnection(connectionOptions(opts.write));
  const conns: mysql.Connection[] = [];
  const track = async (p: Promise<mysql.Connection>) => {
    const c = await p;
    conns.push(c);
    return c;
  };

  /** One read of row `id`; stale when it returns less than `expected`. */
  const read = async (c: mysql.Connection, id: number, expected: number, into: ReadCounter) => {
    const start = process.hrtime.bigint();
    const [r] = await c.query(READ_SQL, [id]);
    recordSince(into.latency, start);
    const row = (r as { sid: number; v: number | string }[])[0];
    into.add(String(row?.sid ?? "?"), row === undefined || Number(row.v) < expected);
  };

  let t0 = 0;
  let end = 0;
  const progress = setInterval(
    () => opts.onProgress?.(t0 === 0 ? 0 : Math.min(1, (Date.now() - t0) / opts.durationMs)),
    250,
  );
  try {
    const writerConns = await Promise.all(
      Array.from({ length: opts.writers }, async () => ({
        w: await track(openWrite()),
        r: await track(open()),
      })),
    );
    const readerConns = await Promise.all(Array.from({ length: opts.readers }, () => track(open())));
    t0 = Date.now();
    end = t0 + opts.durationMs;
    await Promise.all([
      inParallel(opts.writers, async (id) => {
        const { w, r } = writerConns[id]!;
        while (Date.now() < end) {
          try {
            const value = committed[id]! + 1;
            const start = process.hrtime.bigint();
            await w.query(`UPDATE ${LAG_TABLE} SET v = ? WHERE id = ?`, [value, id]);
            recordSince(writeLatency, start);
            committed[id] = value;
            writes++;
            if (opts.sameSession) await read(w, id, value, same);
            await read(r, id, value, other);
          } catch (e) {
            errors.add(e);
          }
        }
      }),
      inParallel(opts.readers, async (i) => {
        const c = readerConns[i]!;
        while (Date.now() < end) {
          const id = Math.floor(Math.random() * rows);
          try {
            await read(c, id, committed[id]!, background);
          } catch (e) {
            errors.add(e);
          }
        }
      }),
    ]);
  } finally {
    clearInterval(progress);
    await Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  }
  const seconds = (Date.now() - t0) / 1000;
  const counters = [same, other, background];
  const reads = counters.reduce((n, c) => n + c.reads, 0);
  const stale = counters.reduce((n, c) => n + c.stale, 0);
  return {
    seconds,
    writes,
    writeLatency: summarize(writeLatency),
    readBackSameSession: opts.sameSession ? same.stats() : null,
    readBackOtherConnection: other.stats(),
    background: background.stats(),
    all: { reads, stale, staleRate: reads === 0 ? Number.NaN : stale / reads, readsPerSec: reads / seconds },
    errors: errors.total,
    errorsByMessage: errors.byMessage,
  };
}
