import { RwsplitError } from "../errors.js";
import type { BackendConnection } from "./backend-connection.js";
import type { CacheBound } from "./statement-cache.js";

/**
 * The prepared statements one backend server lets rwsplit keep. The server's
 * max_prepared_stmt_count is global: every statement of every connection counts, rwsplit's and
 * its other clients', and past it COM_STMT_PREPARE fails for everyone with
 * ER_MAX_PREPARED_STMT_COUNT_REACHED. Statements that client statements hold are the sessions'
 * own (as on direct connections); what rwsplit adds is the cache of statements nobody holds
 * (statement-cache.ts), and that is bounded here.
 */

/** ER_MAX_PREPARED_STMT_COUNT_REACHED, SQLSTATE 42000. */
export const ER_MAX_PREPARED_STMT_COUNT_REACHED = 1461;
/** The server's default for max_prepared_stmt_count (MariaDB and MySQL), assumed until learned. */
export const DEFAULT_MAX_PREPARED_STMT_COUNT = 16382;
/** The cache of one pool takes at most 1/CACHE_SHARE of the server's limit. */
export const CACHE_SHARE = 4;
/** Whatever the server allows, a connection caches at most this many unreferenced statements. */
export const MAX_CACHED_PER_CONNECTION = 256;

/**
 * How many unreferenced statements each of a pool's `connections` may keep when the server
 * allows `serverLimit` (null: not known yet, the default assumed): together at most a quarter of
 * the limit, so that three quarters stay for the statements sessions hold and for the server's
 * other clients. Pure.
 *
 *   serverLimit  connections  per connection
 *   16382        1            256   (MAX_CACHED_PER_CONNECTION)
 *   16382        200          20
 *   20           1            5
 *   20           10           0     (no cache: the last release closes on the server)
 *   0            any          0     (prepared statements disabled)
 */
export function cacheBound(serverLimit: number | null, connections: number): number {
  const limit = serverLimit ?? DEFAULT_MAX_PREPARED_STMT_COUNT;
  const share = Math.floor(limit / CACHE_SHARE / Math.max(1, connections));
  return Math.max(0, Math.min(MAX_CACHED_PER_CONNECTION, share));
}

/**
 * The limit an ER 1461 names: "Can't create more than max_prepared_stmt_count statements (current
 * value: 16382)" (MariaDB and MySQL). Null when the message says no number. Pure.
 */
export function limitFromError(message: string): number | null {
  const m = /current value: (\d+)/.exec(message);
  return m === null ? null : Number(m[1]);
}

/** What the budget needs of its pool. */
export interface BudgetHost {
  /**
   * The idle connections that cache statements, taken out of the pool for the proxy's own
   * commands; each goes back with `giveBack`.
   */
  takeIdle(): BackendConnection[];
  giveBack(conn: BackendConnection): void;
  /** The bound shrank: idle connections close what they hold beyond it. */
  trimIdle(): void;
}

/**
 * One pool's bound on cached statements, kept in step with the server's max_prepared_stmt_count
 * (from the monitor's checks, or from a 1461's message) and with the pool's open connections.
 */
export class StatementBudget implements CacheBound {
  /** max_prepared_stmt_count as last learned; null until then. */
  serverLimit: number | null = null;
  perConnection = cacheBound(null, 1);
  private connections = 1;

  constructor(private readonly host: BudgetHost) {}

  setServerLimit(limit: number): void {
    if (limit === this.serverLimit || !Number.isFinite(limit)) return;
    this.serverLimit = limit;
    this.recompute();
  }

  setConnections(n: number): void {
    if (n === this.connections) return;
    this.connections = n;
    this.recompute();
  }

  private recompute(): void {
    const before = this.perConnection;
    this.perConnection = cacheBound(this.serverLimit, this.connections);
    if (this.perConnection < before) this.host.trimIdle();
  }

  /**
   * A COM_STMT_PREPARE on `conn` failed with 1461 (`message`): close the statements nobody holds,
   * on `conn` first, else on the pool's idle connections, and say whether the PREPARE should be
   * tried once more. Closes on `conn` reach the server before the retry does (one connection, in
   * order); closes on other connections are confirmed with a COM_PING there first, so the retry
   * does not race them.
   */
  async makeRoom(conn: BackendConnection, message: string): Promise<boolean> {
    let freed = conn.statements.evictUnused();
    if (freed === 0) freed = await this.evictIdle();
    // Learned last: a smaller bound trims the other idle connections too, but the retry does not
    // wait for those.
    const limit = limitFromError(message);
    if (limit !== null) this.setServerLimit(limit);
    return freed > 0;
  }

  private async evictIdle(): Promise<number> {
    let freed = 0;
    await Promise.all(
      this.host.takeIdle().map(async (other) => {
        const n = other.statements.evictUnused();
        if (n > 0) {
          try {
            const r = await other.ping();
            if (r.err !== null) throw new RwsplitError("BACKEND_REFUSED", r.err.message);
          } catch {
            other.destroy();
          }
          freed += n;
        }
        this.host.giveBack(other);
      }),
    );
    return freed;
  }
}
