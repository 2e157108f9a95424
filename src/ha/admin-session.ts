import mysql from "mysql2/promise";
import { DeadlineError, isServerError, RwsplitError } from "../errors.js";
import { MYSQL2_OPTIONS } from "../mysql-client.js";

/**
 * One short-lived admin connection for a replication operation (failover user, mysql2). Every
 * step has a deadline: the TCP connect and handshake, and each statement. A node that is down
 * refuses at once; one that is hung (SIGSTOP, a full disk, a lock) costs at most the deadline,
 * after which the socket is destroyed and the session is unusable. Nothing waits forever.
 */

export interface Endpoint {
  name: string;
  host: string;
  port: number;
}

export interface Credentials {
  user: string;
  password: string;
}

export type Row = Record<string, unknown>;

export class AdminSession {
  readonly #conn: mysql.Connection;
  readonly #timeoutMs: number;
  #dead = false;

  private constructor(conn: mysql.Connection, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    // An error between statements (the server went away) must not be an unhandled 'error' event.
    conn.on("error", () => {
      this.#dead = true;
    });
  }

  /**
   * Connects within `timeoutMs`. `lock_wait_timeout` (default 86400 s) is lowered to the same
   * deadline, so a `SET GLOBAL read_only=1` stuck behind a long lock fails on the server too
   * instead of waiting there after we gave up.
   */
  static async open(node: Endpoint, cred: Credentials, timeoutMs: number): Promise<AdminSession> {
    const connecting = mysql.createConnection({
      host: node.host,
      port: node.port,
      user: cred.user,
      password: cred.password,
      connectTimeout: timeoutMs,
      supportBigNumbers: true,
      bigNumberStrings: true,
      ...MYSQL2_OPTIONS,
    });
    const conn = await withDeadline(connecting, timeoutMs, `connect to ${node.host}:${node.port}`, () => {
      // mysql2 still owns the half-open socket: close it once (if ever) it settles.
      connecting.then((c) => destroy(c)).catch(() => {});
    });
    const s = new AdminSession(conn, timeoutMs);
    await s.query(`SET SESSION lock_wait_timeout = ${Math.max(1, Math.ceil(timeoutMs / 1000))}`);
    return s;
  }

  /** Rows of one statement; `timeoutMs` overrides the session deadline (MASTER_GTID_WAIT). */
  async query<T extends Row = Row>(
    sql: string,
    params: unknown[] = [],
    timeoutMs = this.#timeoutMs,
  ): Promise<T[]> {
    if (this.#dead)
      throw new RwsplitError("BACKEND_LOST", "connection already closed after an earlier failure");
    const run = this.#conn.query(sql, params).then(([rows]) => (Array.isArray(rows) ? (rows as T[]) : []));
    try {
      return await withDeadline(run, timeoutMs, firstWords(sql), () => this.#kill());
    } catch (e) {
      if (!isServerError(e)) this.#kill();
      throw e;
    }
  }

  /** The first column of the first row, or undefined. */
  async scalar(sql: string, params: unknown[] = [], timeoutMs?: number): Promise<unknown> {
    const row = (await this.query(sql, params, timeoutMs))[0];
    return row ? Object.values(row)[0] : undefined;
  }

  /** COM_QUIT when the connection is healthy (bounded by the deadline), else the socket is destroyed. */
  async close(): Promise<void> {
    if (this.#dead) return;
    this.#dead = true;
    await withDeadline(this.#conn.end(), this.#timeoutMs, "quit", () => {}).catch(() => {});
    destroy(this.#conn);
  }

  #kill(): void {
    this.#dead = true;
    destroy(this.#conn);
  }
}

/** Opens a session, runs `fn`, always closes it. */
export async function withSession<T>(
  node: Endpoint,
  cred: Credentials,
  timeoutMs: number,
  fn: (s: AdminSession) => Promise<T>,
): Promise<T> {
  const s = await AdminSession.open(node, cred, timeoutMs);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new DeadlineError(what, ms));
    }, ms);
  });
  // The loser's late rejection is observed by race(), so it is never "unhandled".
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** mysql2's destroy() only half-closes (stream.end()): destroy the socket itself too. */
function destroy(conn: mysql.Connection): void {
  conn.destroy();
  (conn as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}

/** What a deadline message names: the statement's first words, never its parameters. */
function firstWords(sql: string): string {
  return sql.trim().split(/\s+/).slice(0, 4).join(" ");
}
