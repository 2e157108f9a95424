import type { ColumnDefs } from "../../protocol/result-metadata.js";
import type { RoutedStatement } from "../../routing/statement.js";
import type { BackendConnection } from "../backend-connection.js";
import type { ConnectionStatement, StatementCache } from "../statement-cache.js";
import type { CommandSteps } from "./dispatch.js";

/** A statement as the client sees it: the proxy's id, its SQL, and what EXECUTE needs. */
export interface ClientStatement {
  id: number;
  sql: string;
  /**
   * What backend connections know it by: the schema it was prepared in, and its SQL. The same
   * text names other tables in another schema, so sessions share a backend statement only
   * within one schema.
   */
  key: string;
  /** The COM_STMT_PREPARE payload, replayed on a connection that lacks the statement. */
  preparePayload: Buffer;
  numParams: number;
  numColumns: number;
  /** Parameter types (2 bytes each) from the last EXECUTE that sent them (new_params_bound_flag=1). */
  paramTypes: Buffer | null;
  /** COM_STMT_SEND_LONG_DATA packets waiting for the next EXECUTE (sent to whichever connection runs it). */
  longData: Buffer[];
  /** How EXECUTE routes: classified once, at PREPARE. */
  routed: RoutedStatement;
  /**
   * Under MARIADB_CLIENT_CACHE_METADATA: the column definitions the client last got for it (its
   * PREPARE's answer, or an EXECUTE's that carried them), which it uses when a result skips
   * them; null when not tracked (result-metadata.ts).
   */
  columns: ColumnDefs | null;
  /**
   * The backend statements it holds, by connection (the connection's cache, never the connection
   * itself: a closed connection's cache is empty, holds nothing of it, and is dropped here when
   * the next one is added). Each holds one reference there, given back at close.
   */
  readonly on: Map<StatementCache, ConnectionStatement>;
  /** What its EXECUTEs reuse (commands/execute.ts), made at the first one; null before. */
  execution: CommandSteps | null;
}

/**
 * The statement id MariaDB reads as "the statement this session prepared last" (LAST_STMT_ID in
 * the server's sql_prepare.cc): MariaDB Connector/Node.js sends COM_STMT_PREPARE and, without
 * waiting for its answer, COM_STMT_EXECUTE with this id. COM_STMT_SEND_LONG_DATA, _RESET,
 * _CLOSE, _FETCH and COM_STMT_BULK_EXECUTE take it too. A PREPARE that fails leaves no last
 * statement (the next EXECUTE(-1) gets 1243, as from the server), and so does closing it.
 */
export const LAST_STATEMENT_ID = 0xffffffff;

/** The cache key of `sql` prepared with `schema` as the default database. */
export function statementKey(schema: string | null, sql: string): string {
  return `${schema ?? ""}\u0000${sql}`;
}

/**
 * The session's prepared statements. Client ids are the proxy's own; each backend connection
 * keeps its statements by key (BackendConnection.statements), so a statement prepared once by a
 * client executes on any pooled connection, preparing there on first use, and two clients
 * preparing the same statement share the backend statement (ProxySQL re-prepares per
 * connection). A client statement holds a reference on each connection it ran on; closing it (or
 * ending the session) gives them back, and the connection's cache closes what nobody holds
 * beyond its bound (statement-cache.ts, statement-budget.ts).
 */
/** Shared by every session that prepared nothing (yet): the map is made on the first PREPARE. */
const NONE: ReadonlyMap<number, ClientStatement> = new Map();

export class StatementRegistry {
  private byId: ReadonlyMap<number, ClientStatement> = NONE;
  private nextId = 1;
  /** What LAST_STATEMENT_ID names: the statement prepared last, until a PREPARE fails or it closes. */
  private last: ClientStatement | null = null;

  add(
    key: string,
    sql: string,
    preparePayload: Buffer,
    numParams: number,
    numColumns: number,
    routed: RoutedStatement,
  ): ClientStatement {
    const stmt: ClientStatement = {
      id: this.nextId++,
      sql,
      key,
      preparePayload: Buffer.from(preparePayload),
      numParams,
      numColumns,
      paramTypes: null,
      longData: [],
      routed,
      columns: null,
      on: new Map(),
      execution: null,
    };
    if (this.byId === NONE) this.byId = new Map();
    (this.byId as Map<number, ClientStatement>).set(stmt.id, stmt);
    this.last = stmt;
    return stmt;
  }

  /** The statement a client's statement id names (LAST_STATEMENT_ID: the last one prepared). */
  get(id: number): ClientStatement | undefined {
    if (id === LAST_STATEMENT_ID) return this.last ?? undefined;
    return this.byId.get(id);
  }

  /**
   * A COM_STMT_PREPARE begins: until it succeeds there is no last statement. The session reads
   * one command at a time, so a pipelined EXECUTE(-1) is read only after the PREPARE's answer
   * was relayed and its statement added (or not, when it failed).
   */
  preparing(): void {
    this.last = null;
  }

  /** COM_STMT_CLOSE: forgets it and lets go of its backend statements. */
  delete(id: number): void {
    const stmt = this.get(id);
    if (stmt === undefined) return;
    (this.byId as Map<number, ClientStatement>).delete(stmt.id);
    if (this.last === stmt) this.last = null;
    releaseAll(stmt);
  }

  /** The session ends or starts over (COM_RESET_CONNECTION, COM_CHANGE_USER): every statement goes. */
  clear(): void {
    for (const stmt of this.byId.values()) releaseAll(stmt);
    this.byId = NONE;
    this.last = null;
  }

  get size(): number {
    return this.byId.size;
  }
}

/**
 * The backend statement `stmt` runs as on `conn`, or undefined when `conn` must prepare it first.
 * The hot path (it ran there before) is one Map lookup; the first time on a connection that
 * already has it (another client prepared it, or it is cached), it is held from now on.
 */
export function statementOn(stmt: ClientStatement, conn: BackendConnection): ConnectionStatement | undefined {
  const cache = conn.statements;
  const have = stmt.on.get(cache);
  if (have !== undefined && !have.closed) return have;
  const found = cache.get(stmt.key);
  if (found === undefined) return undefined;
  cache.hold(found);
  holdOn(stmt, cache, found);
  return found;
}

/** `stmt` holds `entry` (already counted in its `refs`) on the connection of `cache`. */
export function holdOn(stmt: ClientStatement, cache: StatementCache, entry: ConnectionStatement): void {
  // Connections that closed since: their caches are empty; nothing to give back there.
  for (const c of stmt.on.keys()) if (!c.open) stmt.on.delete(c);
  stmt.on.set(cache, entry);
}

function releaseAll(stmt: ClientStatement): void {
  for (const [cache, entry] of stmt.on) cache.release(entry);
  stmt.on.clear();
}

/**
 * COM_STMT_EXECUTE: int<1> 0x17, int<4> stmt_id, int<1> flags, int<4> iteration_count, then if
 * num_params > 0: null_bitmap[(n+7)/8], int<1> new_params_bound_flag, [int<2> type × n if bound],
 * values. Returns the offset of new_params_bound_flag, or -1 without parameters.
 */
export function boundFlagOffset(numParams: number): number {
  return numParams > 0 ? 10 + ((numParams + 7) >> 3) : -1;
}

/**
 * An EXECUTE payload with the parameter types inserted (new_params_bound_flag set to 1), for a
 * connection that never received them for this statement.
 */
export function withParamTypes(payload: Buffer, numParams: number, types: Buffer): Buffer {
  const at = boundFlagOffset(numParams);
  const out = Buffer.allocUnsafe(payload.length + types.length);
  payload.copy(out, 0, 0, at);
  out[at] = 1;
  types.copy(out, at + 1);
  payload.copy(out, at + 1 + types.length, at + 1);
  return out;
}
