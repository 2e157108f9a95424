import type { Connection as PromiseConnection } from "mysql2/promise";
import type { Logger } from "pino";
import { ERRNO, RwsplitError, serverErrno } from "../errors.js";
import { heartbeatSql, parseDateTimeUs, parseHeartbeatRow, SET_UTC_SQL } from "./checks.js";
import { isServerError, MonitorConnection, type MonitorTarget } from "./connection.js";
import { Periodic } from "./periodic.js";
import type { HeartbeatReading, HeartbeatWriterState } from "./types.js";

/**
 * Heartbeat: the writer on the primary stamps `<schema>.heartbeat` row 1 with the primary's NOW(6)
 * every period; each replica check reads the replicated row (`readHeartbeat`). lag.ts says what
 * the difference means.
 */

/** The table must be (re)created before the next write. */
const MISSING_TABLE: readonly number[] = [ERRNO.ER_BAD_DB_ERROR, ERRNO.ER_NO_SUCH_TABLE];

interface WriterSession {
  tableReady: boolean;
}

export interface HeartbeatWriterOptions {
  schema: string;
  periodMs: number;
  timeoutMs: number;
  logger: Logger;
}

export class HeartbeatWriter {
  readonly #opts: HeartbeatWriterOptions;
  readonly #sql: ReturnType<typeof heartbeatSql>;
  readonly #conn: MonitorConnection<WriterSession>;
  readonly #loop: Periodic;
  #newestTsUs: number | null = null;
  #lastSuccessAt: number | null = null;
  #lastError: string | null = null;

  constructor(primary: MonitorTarget, opts: HeartbeatWriterOptions) {
    this.#opts = opts;
    this.#sql = heartbeatSql(opts.schema);
    this.#conn = new MonitorConnection(primary, opts.timeoutMs, async (c) => {
      await c.query(SET_UTC_SQL);
      return { tableReady: false };
    });
    this.#loop = new Periodic(opts.periodMs, () => this.#beat());
  }

  start(): void {
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    await this.#conn.close();
  }

  /**
   * `working` while the last successful write is recent: a healthy primary commits one every
   * period, and a write may take up to the timeout (semi-sync waits) before it counts as failed.
   */
  state(now = Date.now()): HeartbeatWriterState {
    const { periodMs, timeoutMs } = this.#opts;
    const working = this.#lastSuccessAt !== null && now - this.#lastSuccessAt <= timeoutMs + 2 * periodMs;
    return { working, newestTsUs: this.#newestTsUs, periodMs, lastError: this.#lastError };
  }

  async #beat(): Promise<void> {
    try {
      const ts = await this.#conn.use((c, session) => this.#write(c, session));
      this.#newestTsUs = ts;
      this.#lastSuccessAt = Date.now();
      if (this.#lastError)
        this.#opts.logger.info({ schema: this.#opts.schema }, "heartbeat writer recovered");
      this.#lastError = null;
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.#lastError) {
        this.#opts.logger.warn(
          { err: msg, schema: this.#opts.schema },
          "heartbeat write failed: replica lag falls back to Seconds_Behind_Master",
        );
      }
      this.#lastError = msg;
    }
  }

  async #write(c: PromiseConnection, session: WriterSession): Promise<number> {
    if (!session.tableReady) {
      // CREATE DATABASE IF NOT EXISTS still needs the CREATE privilege when the schema exists:
      // ignore its failure, the table statement or the write will say what is missing.
      await c.query(this.#sql.createSchema).catch(() => {});
      await c.query(this.#sql.createTable);
      session.tableReady = true;
    }
    try {
      await c.query(this.#sql.write);
    } catch (e) {
      if (MISSING_TABLE.includes(serverErrno(e))) session.tableReady = false;
      throw e;
    }
    const [rows] = await c.query(this.#sql.readBack);
    const ts = parseDateTimeUs((rows as Record<string, unknown>[])[0]?.ts);
    if (ts === null)
      throw new RwsplitError("MONITOR_CHECK_FAILED", "heartbeat row unreadable right after writing it");
    return ts;
  }
}

/**
 * Reads a replica's heartbeat row. A missing table or row (nothing replicated yet, or no SELECT
 * privilege) is "no reading", not a failed check: the caller falls back to Seconds_Behind_Master.
 */
export async function readHeartbeat(
  c: PromiseConnection,
  schema: string,
): Promise<{ reading: HeartbeatReading | null; error: string | null }> {
  try {
    const [rows] = await c.query(heartbeatSql(schema).read);
    const reading = parseHeartbeatRow((rows as Record<string, unknown>[])[0]);
    return { reading, error: reading ? null : "heartbeat row missing" };
  } catch (e) {
    if (!isServerError(e)) throw e;
    return { reading: null, error: (e as Error).message };
  }
}
