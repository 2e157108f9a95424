import type { RoutedStatement } from "../../routing/statement.js";
import type { BackendConnection } from "../backend-connection.js";

/** A statement as the client sees it: the proxy's id, its SQL, and what EXECUTE needs. */
export interface ClientStatement {
  id: number;
  sql: string;
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
}

/** Per backend connection, at most this many cached statements; the oldest is closed beyond it. */
export const MAX_STATEMENTS_PER_CONNECTION = 256;

/**
 * The session's prepared statements. Client ids are the proxy's own; each backend connection
 * keeps its statements by SQL text (BackendConnection.statements), so a statement prepared once
 * by a client executes on any pooled connection, preparing there on first use, and two clients
 * preparing the same SQL share the backend statement (ProxySQL re-prepares per connection).
 */
export class StatementRegistry {
  private readonly byId = new Map<number, ClientStatement>();
  private nextId = 1;

  add(
    sql: string,
    preparePayload: Buffer,
    numParams: number,
    numColumns: number,
    routed: RoutedStatement,
  ): ClientStatement {
    const stmt: ClientStatement = {
      id: this.nextId++,
      sql,
      preparePayload: Buffer.from(preparePayload),
      numParams,
      numColumns,
      paramTypes: null,
      longData: [],
      routed,
    };
    this.byId.set(stmt.id, stmt);
    return stmt;
  }

  get(id: number): ClientStatement | undefined {
    return this.byId.get(id);
  }

  delete(id: number): void {
    this.byId.delete(id);
  }

  clear(): void {
    this.byId.clear();
  }

  get size(): number {
    return this.byId.size;
  }
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

/** Records a statement prepared on a connection, closing the oldest beyond the cap. */
export function rememberOnConnection(
  conn: BackendConnection,
  sql: string,
  id: number,
  numParams: number,
): void {
  const old = conn.statements.get(sql);
  if (old !== undefined && old.id !== id) conn.closeStatement(sql, old.id);
  conn.statements.delete(sql);
  conn.statements.set(sql, { id, numParams, typesSent: false });
  if (conn.statements.size > MAX_STATEMENTS_PER_CONNECTION) {
    const [oldestSql, oldest] = conn.statements.entries().next().value as [string, { id: number }];
    conn.closeStatement(oldestSql, oldest.id);
  }
}
