import { Command } from "../protocol/constants/commands.js";
import { packet } from "../protocol/framing.js";
import type { ColumnDefs } from "../protocol/result-metadata.js";

/** A statement prepared on one backend connection. */
export interface ConnectionStatement {
  /** The cache key: the schema it was prepared in and its SQL (prepared-statements.ts). */
  readonly key: string;
  /** The server's statement id on this connection. */
  readonly id: number;
  readonly numParams: number;
  /**
   * The parameter types the server statement last received (new_params_bound_flag=1): the
   * ClientStatement.paramTypes buffer that went with it, compared by identity. Another client
   * statement sharing it, or new types sent elsewhere, make its next EXECUTE without types
   * carry them again; null before any.
   */
  types: Buffer | null;
  /**
   * Under MARIADB_CLIENT_CACHE_METADATA: the column definitions the server last sent for this
   * statement on this connection (its PREPARE's, or an EXECUTE's that carried them), which it
   * compares with the current ones to skip them; null when not tracked (result-metadata.ts).
   */
  columns: ColumnDefs | null;
  /**
   * Live client statements (of any session) holding it: prepared or executed through it on this
   * connection. 0: only cached, and closed on the server when the cache is over its bound.
   */
  refs: number;
  /** Closed on the server (a cursor closed with it, or the connection closed): holders prepare again. */
  closed: boolean;
}

/** What the cache needs of its connection. */
export interface StatementLink {
  /** A command's response is in flight (LOCAL INFILE data included): nothing may be written in between. */
  readonly busy: boolean;
  /** Writes a command that has no response. */
  sendNoReply(bytes: Buffer): void;
}

/** How many unreferenced statements a connection may keep (statement-budget.ts). */
export interface CacheBound {
  readonly perConnection: number;
}

/** Outside a pool (and until a pool adopts the connection): no cache, the last release closes. */
const NO_CACHE: CacheBound = { perConnection: 0 };

/**
 * The prepared statements of one backend connection, by key. Each counts the client statements
 * that hold it (`refs`); one that nobody holds is kept for the next client that prepares or runs
 * the same statement here (a round trip saved on every replica), up to `budget.perConnection`,
 * the least recently released closed first (COM_STMT_CLOSE: int<1> 0x19, int<4> statement_id; no
 * response). Statements that someone holds are never closed here: the server's
 * max_prepared_stmt_count is then the sessions' own limit, as on a direct connection.
 */
export class StatementCache {
  budget: CacheBound = NO_CACHE;
  private link: StatementLink | null;
  private readonly byKey = new Map<string, ConnectionStatement>();
  /** The unreferenced ones, in the order they were last released: the first is evicted first. */
  private readonly unused = new Map<string, ConnectionStatement>();

  constructor(link: StatementLink) {
    this.link = link;
  }

  /** The connection is still open (a closed one's cache is empty and stays so). */
  get open(): boolean {
    return this.link !== null;
  }

  /** Statements prepared on the server through this connection. */
  get size(): number {
    return this.byKey.size;
  }

  /** Of those, the ones no client statement holds. */
  get cached(): number {
    return this.unused.size;
  }

  get(key: string): ConnectionStatement | undefined {
    return this.byKey.get(key);
  }

  /**
   * The server just prepared `key` here as statement `id`, for a client statement: the entry,
   * held once more. If `key` was already prepared here, the existing statement stays (others
   * may hold it, a cursor may be open on it) and the new id, a duplicate, is closed.
   */
  prepared(key: string, id: number, numParams: number): ConnectionStatement {
    const have = this.byKey.get(key);
    if (have !== undefined) {
      if (have.id !== id) this.sendClose(id);
      this.hold(have);
      return have;
    }
    const entry: ConnectionStatement = {
      key,
      id,
      numParams,
      types: null,
      columns: null,
      refs: 1,
      closed: false,
    };
    if (this.link !== null) this.byKey.set(key, entry);
    else entry.closed = true;
    return entry;
  }

  /** One more client statement holds `e`. */
  hold(e: ConnectionStatement): void {
    if (e.refs++ === 0) this.unused.delete(e.key);
  }

  /** A client statement let go of `e` (closed, or its session ended). */
  release(e: ConnectionStatement): void {
    if (e.closed || --e.refs > 0) return;
    this.unused.set(e.key, e);
    this.trim();
  }

  /**
   * Closes unreferenced statements beyond the budget, least recently released first. Not while a
   * response is in flight on the connection (COM_STMT_CLOSE in the middle of LOCAL INFILE data
   * would be read as data): the pool trims again when the connection comes back. Returns how many.
   */
  trim(): number {
    if (this.unused.size <= this.budget.perConnection) return 0;
    const link = this.link;
    if (link === null || link.busy) return 0;
    let n = 0;
    for (const e of this.unused.values()) {
      if (this.unused.size <= this.budget.perConnection) break;
      this.close(e);
      n++;
    }
    return n;
  }

  /** Closes every unreferenced statement (the server is at max_prepared_stmt_count). Returns how many. */
  evictUnused(): number {
    const link = this.link;
    if (link === null || link.busy) return 0;
    const n = this.unused.size;
    for (const e of this.unused.values()) this.close(e);
    return n;
  }

  /**
   * Closes the statement with server id `id`, held or not: a cursor open on it closes with it,
   * without a round trip. Its holders prepare it again when they next run here.
   */
  closeId(id: number): void {
    for (const e of this.byKey.values()) {
      if (e.id !== id) continue;
      this.close(e);
      return;
    }
  }

  /** The connection closed: the server dropped every statement with it. */
  detach(): void {
    this.link = null;
    for (const e of this.byKey.values()) e.closed = true;
    this.byKey.clear();
    this.unused.clear();
  }

  private close(e: ConnectionStatement): void {
    e.closed = true;
    this.byKey.delete(e.key);
    this.unused.delete(e.key);
    this.sendClose(e.id);
  }

  private sendClose(id: number): void {
    const link = this.link;
    if (link === null) return;
    const payload = Buffer.allocUnsafe(5);
    payload[0] = Command.STMT_CLOSE;
    payload.writeUInt32LE(id, 1);
    link.sendNoReply(packet(0, payload));
  }
}
