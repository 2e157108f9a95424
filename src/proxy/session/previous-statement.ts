import { Command } from "../../protocol/constants/commands.js";
import type { Asks } from "../../routing/router.js";
import { Keeps } from "../../routing/statement.js";
import type { BackendConnection } from "../backend-connection.js";
import type { BackendPool } from "../backend-pool.js";
import { Keep } from "../idle-connections.js";
import type { Dispatch, StatementOutcome } from "./dispatch.js";

/** A backend connection as the session left it: valid while nobody else has leased it since. */
class Left {
  conn: BackendConnection | null = null;
  pool: BackendPool | null = null;
  /** `conn.releases` once the session let it go: unchanged while no other lease has used it. */
  releases = 0;

  set(conn: BackendConnection, pool: BackendPool, releases: number): void {
    this.conn = conn;
    this.pool = pool;
    this.releases = releases;
  }

  clear(): void {
    this.conn = null;
    this.pool = null;
  }

  /** `conn` ran another statement of the session that leaves this answer as it was. */
  follow(conn: BackendConnection, releases: number): void {
    if (this.conn === conn) this.releases = releases;
  }

  /** The connection is no longer kept for this session (unless someone else's since). */
  letGo(): void {
    const conn = this.conn;
    if (conn !== null && conn.releases === this.releases) conn.keptUntil = 0;
    this.clear();
  }
}

/**
 * Where the server keeps what a session may ask about its previous statement, once that
 * statement's connection went back to its pool:
 *
 *   ROW_COUNT()                       about the previous statement, whatever it was
 *   FOUND_ROWS()                      about the last result set (SELECT, SHOW; not SHOW WARNINGS,
 *                                     a failed statement, DO, SET, DML)
 *   SHOW WARNINGS / ERRORS,           about the last statement that used a table or left warnings
 *   @@warning_count, @@error_count,   or an error: a statement without a table (SELECT 1, SET, USE,
 *   GET DIAGNOSTICS                   BEGIN, ...) leaves the list as it was
 *
 * (measured on MariaDB 10.11).
 *
 * A statement that asks (the router's "previous" plan) runs on that connection when no other
 * session has leased it since; meanwhile a connection whose statement wrote waits at the far end
 * of the pool's idle list, and one that holds warnings or an error is reserved: other sessions
 * open another rather than take it, until the pool's limit (backend-pool.ts `release(keep)`).
 * Else the statement runs on the primary and answers for whatever that connection ran last.
 */
export class PreviousStatement {
  /** The previous statement's connection: forgotten as the next statement starts. */
  private readonly statement = new Left();
  /** The connection of the last statement that answered with a result set. */
  private readonly rows = new Left();
  /** The connection whose warnings list is the session's. */
  private readonly warnings = new Left();
  /** That list holds warnings or an error. */
  private conditions = false;

  /**
   * Statement `d` ended (`outcome`) on `conn` from `pool`; `released`: the connection goes back to
   * the pool now (else the session keeps it pinned). Returns how the pool keeps it for the
   * session: reserved when the session's warnings or error are there, at the end after a write.
   */
  ran(
    conn: BackendConnection,
    pool: BackendPool,
    d: Dispatch,
    outcome: StatementOutcome,
    released: boolean,
  ): Keep {
    const releases = conn.releases + (released ? 1 : 0);
    const prepares = d.steps?.prepares;
    if (prepares !== undefined && outcome.errno === 0) {
      // SHOW WARNINGS and SHOW ERRORS prepared keep the list too.
      const keeps = prepares.route.asks === "warnings" ? Keeps.WARNINGS : prepares.keeps;
      return this.prepared(conn, pool, keeps, outcome, releases);
    }
    const st = d.statement;
    const keeps = st === null ? commandKeeps(d.command) : st.keeps;
    this.statement.set(conn, pool, releases);
    const rows = outcome.resultSet ? (keeps & Keeps.FOUND_ROWS) === 0 : (keeps & Keeps.COUNTS_ROWS) !== 0;
    if (outcome.errno === 0 && rows) this.rows.set(conn, pool, releases);
    else this.rows.follow(conn, releases);
    this.listed(conn, pool, releases, outcome.errno !== 0 || outcome.warnings > 0, keeps);
    return this.keep(conn, st?.route.kind === "write");
  }

  /**
   * The warnings list after a statement on `conn` that left `conditions` (warnings, an error): the
   * statement's own when it left some or uses a table, else the one before, where it was.
   */
  private listed(
    conn: BackendConnection,
    pool: BackendPool,
    releases: number,
    conditions: boolean,
    keeps: number,
  ): void {
    if (conditions || (keeps & Keeps.WARNINGS) === 0) {
      if (this.warnings.conn !== conn) this.warnings.letGo();
      this.warnings.set(conn, pool, releases);
      this.conditions = conditions;
    } else {
      this.warnings.follow(conn, releases);
    }
  }

  /** How the pool keeps `conn` for the session: reserved for its warnings, behind the others after a write. */
  private keep(conn: BackendConnection, wrote: boolean): Keep {
    if (this.conditions && this.warnings.conn === conn) return Keep.RESERVED;
    return wrote ? Keep.AT_END : Keep.NO;
  }

  /**
   * A COM_STMT_PREPARE that succeeded on `conn` (a failed one counts as a statement): ROW_COUNT()
   * and FOUND_ROWS() still answer about the statement before it, where that ran; the warnings list
   * is the prepare's own (emptied) when the statement uses a table or the prepare warned, else it
   * stays where it was, a prepared SHOW WARNINGS's included (measured on MariaDB 10.11).
   */
  private prepared(
    conn: BackendConnection,
    pool: BackendPool,
    keeps: number,
    outcome: StatementOutcome,
    releases: number,
  ): Keep {
    this.statement.follow(conn, releases);
    this.rows.follow(conn, releases);
    this.listed(conn, pool, releases, outcome.warnings > 0, keeps);
    return this.keep(conn, this.statement.conn === conn);
  }

  /** A new statement starts: what the previous one left is the next one's to ask about only. */
  forget(): void {
    // Still kept only as the connection that holds the session's warnings or error.
    if (this.conditions && this.statement.conn === this.warnings.conn) this.statement.clear();
    else this.statement.letGo();
  }

  /** The session ends: nothing is kept for it any more. */
  close(): void {
    this.forget();
    this.warnings.letGo();
  }

  /**
   * The connection that holds the answer to what a statement `asks`, leased again if it is
   * untouched and on `onlyOn` when that is set, else null.
   */
  take(
    asks: Asks,
    keyString: string,
    onlyOn: BackendPool | null,
    now: number,
  ): { conn: BackendConnection; pool: BackendPool } | null {
    const left = asks === "warnings" ? this.warnings : asks === "rows" ? this.rows : this.statement;
    const conn = left.conn;
    const pool = left.pool;
    const releases = left.releases;
    this.forget();
    if (conn === null || pool === null || (onlyOn !== null && pool !== onlyOn)) return null;
    const taken = pool.takeBack(conn, keyString, releases, now);
    return taken === null ? null : { conn: taken, pool };
  }
}

/** COM_PING, COM_INIT_DB, COM_SET_OPTION, COM_STATISTICS use no table; other commands do. */
function commandKeeps(command: number): number {
  return command === Command.PING ||
    command === Command.INIT_DB ||
    command === Command.SET_OPTION ||
    command === Command.STATISTICS
    ? Keeps.WARNINGS | Keeps.FOUND_ROWS
    : 0;
}
