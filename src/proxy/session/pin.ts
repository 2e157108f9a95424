import { Pin } from "../../routing/pins.js";
import type { BackendConnection } from "../backend-connection.js";
import type { BackendPool } from "../backend-pool.js";

/** Pin bits that mean nothing lives on the connection itself (it may go back to a pool). */
const NO_CONNECTION_STATE = Pin.LOCAL_INFILE;
/** Pin bits a READ ONLY transaction on a replica may hold there. */
export const REPLICA_PINS = Pin.TRANSACTION | Pin.CURSOR | NO_CONNECTION_STATE;

/**
 * Why a session is tied to one backend connection, and to which (STYLE.md principle 4: the pin
 * is one explicit value, not flags spread over the session):
 *
 *   free      bits = 0, conn = null: every statement is routed afresh
 *   held      bits != 0, conn set: every statement runs on `conn` (on the primary, or on a replica
 *             only for a READ ONLY transaction)
 *   pending   bits != 0, conn = null: the next statement takes a primary connection and holds it
 *             (a pin that arose where it could not stay, or a connection lost to a failover)
 */
export class SessionPin {
  bits = 0;
  conn: BackendConnection | null = null;
  pool: BackendPool | null = null;
  /** The held connection is a replica's (a READ ONLY transaction runs there). */
  onReplica = false;
  /** `pool` was the primary when the pin was taken (a topology change ends such a pin). */
  tookPrimary = false;

  get free(): boolean {
    return this.bits === 0 && this.conn === null;
  }

  /** Where the router sees the session tied: held on a replica, else (held or pending) the primary. */
  get where(): "primary" | "replica" | null {
    if (this.bits === 0 && this.conn === null) return null;
    return this.conn !== null && this.onReplica ? "replica" : "primary";
  }

  hold(conn: BackendConnection, pool: BackendPool, primary: BackendPool): void {
    this.conn = conn;
    this.pool = pool;
    this.tookPrimary = pool === primary;
    this.onReplica = !this.tookPrimary;
  }

  /** Whether `bits` tie state to the connection itself (it may not go back to a pool). */
  static holdsState(bits: number): boolean {
    return (bits & ~NO_CONNECTION_STATE) !== 0;
  }

  /** Lets go of the connection; returns it so the caller releases or destroys it. */
  letGo(): BackendConnection | null {
    const conn = this.conn;
    this.conn = null;
    this.pool = null;
    this.onReplica = false;
    this.tookPrimary = false;
    return conn;
  }

  /**
   * Drops the pin: the connection goes back to its pool when nothing lives on it, else it is
   * closed (`discard`: close it whatever it holds).
   */
  release(discard: boolean, keyString: string): void {
    const pool = this.pool;
    const conn = this.letGo();
    this.bits = 0;
    if (conn === null || conn.state === "closed") return;
    if (discard) conn.destroy();
    else pool!.release(conn, keyString);
  }

  /** Work a switchover must let finish: an open transaction (or autocommit=0), locks, held on `pool`. */
  holdsWorkOn(pool: BackendPool): boolean {
    return this.pool === pool && (this.bits & (Pin.TRANSACTION | Pin.AUTOCOMMIT_OFF | Pin.LOCKS)) !== 0;
  }

  describe(): { backend: string | null; onReplica: boolean; pending: boolean } {
    return {
      backend: this.pool?.endpoint.name ?? null,
      onReplica: this.onReplica,
      pending: this.bits !== 0 && this.conn === null,
    };
  }
}
