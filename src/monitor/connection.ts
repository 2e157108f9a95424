import mysql from "mysql2";
import type { Connection as PromiseConnection } from "mysql2/promise";
import { DeadlineError, isServerError } from "../errors.js";
import { MYSQL2_OPTIONS } from "../mysql-client.js";

/**
 * The monitor's own connection to one backend (monitor user, mysql2; never the data path's pool).
 * Opened lazily, kept between checks, and thrown away on any failure: the next check reconnects.
 * Every use has one deadline covering connect + queries, so a dead or hung backend costs at most
 * `timeoutMs` per check and never more than one connection attempt at a time.
 */

export interface MonitorTarget {
  host: string;
  port: number;
  user: string;
  password: string;
}

interface Open<S> {
  conn: mysql.Connection;
  /** The promise face of `conn`. */
  p: PromiseConnection;
  /** Resolves once the session is initialised. */
  ready: Promise<S>;
  dead: boolean;
}

export class MonitorConnection<S> {
  readonly #target: MonitorTarget;
  readonly #timeoutMs: number;
  readonly #init: (c: PromiseConnection) => Promise<S>;
  #open: Open<S> | null = null;

  /** `init` runs once per new connection (session settings, flavour detection); its result is passed to every use. */
  constructor(target: MonitorTarget, timeoutMs: number, init: (c: PromiseConnection) => Promise<S>) {
    this.#target = target;
    this.#timeoutMs = timeoutMs;
    this.#init = init;
  }

  /** Runs `fn` on the connection (opening it if needed) within the deadline; a failure other than an ERR reply drops the connection. */
  async use<T>(fn: (c: PromiseConnection, session: S) => Promise<T>): Promise<T> {
    const open = this.#open && !this.#open.dead ? this.#open : this.#connect();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DeadlineError("monitor check (monitor.timeout)", this.#timeoutMs)),
        this.#timeoutMs,
      );
    });
    try {
      // Promise.race subscribes to the loser too, so its late rejection is not "unhandled".
      const run = async () => {
        const session = await open.ready.catch((e) => {
          // A connection whose session setup failed is never reused, whatever the error.
          this.#drop(open);
          throw e;
        });
        return fn(open.p, session);
      };
      return await Promise.race([run(), deadline]);
    } catch (e) {
      // An ERR reply leaves the connection usable; anything else (timeout, lost socket) does not.
      if (!isServerError(e)) this.#drop(open);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection: COM_QUIT if it answers within the deadline, else the socket is destroyed. */
  async close(): Promise<void> {
    const open = this.#open;
    this.#open = null;
    if (!open || open.dead) return;
    open.dead = true;
    let timer: NodeJS.Timeout | undefined;
    const quit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#timeoutMs);
      open.conn.end(() => resolve());
    });
    await quit;
    clearTimeout(timer);
    destroySocket(open.conn);
  }

  #connect(): Open<S> {
    const conn = mysql.createConnection({
      host: this.#target.host,
      port: this.#target.port,
      user: this.#target.user,
      password: this.#target.password,
      connectTimeout: this.#timeoutMs,
      // DATETIME(6) as text: a JS Date would drop the microseconds.
      dateStrings: true,
      supportBigNumbers: true,
      enableKeepAlive: true,
      ...MYSQL2_OPTIONS,
    });
    const p = conn.promise();
    const open: Open<S> = { conn, p, ready: Promise.resolve(undefined as S), dead: false };
    // Errors between checks (the server went away) arrive here; the next use reconnects.
    conn.on("error", () => this.#drop(open));
    conn.on("end", () => this.#drop(open));
    // mysql2 queues commands until the handshake is done, so init can be sent at once.
    open.ready = this.#init(p);
    // Observed by use(); this only keeps a failed init from being an unhandled rejection meanwhile.
    open.ready.catch(() => {});
    this.#open = open;
    return open;
  }

  #drop(open: Open<S>): void {
    if (this.#open === open) this.#open = null;
    if (open.dead) return;
    open.dead = true;
    open.conn.destroy();
    destroySocket(open.conn);
  }
}

/**
 * mysql2's destroy() only half-closes (stream.end()), which a hung server never answers: destroy
 * the socket itself so no handle outlives the check.
 */
function destroySocket(conn: mysql.Connection): void {
  (conn as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
}

export { isServerError } from "../errors.js";
