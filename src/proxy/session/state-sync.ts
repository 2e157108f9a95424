import { type ClientErrorSpec, RwsplitError } from "../../errors.js";
import { Command } from "../../protocol/constants/commands.js";
import { ServerStatus } from "../../protocol/constants/server-status.js";
import type { ErrPacket } from "../../protocol/packets/err.js";
import { decodeOk } from "../../protocol/packets/ok.js";
import { eofForClient, okForClient } from "../../protocol/packets/ok-for-client.js";
import { Pin } from "../../routing/pins.js";
import type { RoutedStatement } from "../../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../../routing/statement-flags.js";
import type { BackendConnection } from "../backend-connection.js";
import type { SessionPort } from "./session-port.js";
import { type DatabaseCharsetSync, type SessionState, varsSyncSql } from "./session-state.js";

/**
 * Bringing a backend connection's session state in step with a client session's, before the
 * connection serves it: schema (COM_INIT_DB), session variables (one SET), the multi-statements
 * option (COM_SET_OPTION), and LAST_INSERT_ID when the statement reads it. `syncedOwner` and
 * `syncedVersion` on the connection make the common case (same session, nothing changed) free.
 */

/** A backend's ERR for one of the proxy's own statements, passed to the client as it is. */
export class BackendStatementError extends RwsplitError {
  readonly clientError: ClientErrorSpec;
  constructor(err: ErrPacket) {
    super("BACKEND_REFUSED", err.message);
    this.clientError = err;
  }
}

/** Whether `conn` already holds `s`'s schema, variables and options (no round trip needed). */
export function inSync(conn: BackendConnection, s: SessionState): boolean {
  if (conn.syncedOwner === s && conn.syncedVersion === s.version) return true;
  if (conn.schema !== s.schema) return false;
  if (databaseCharsetSync(conn, s) !== null) return false;
  if (conn.multiStatements !== s.multiStatements) return false;
  if (conn.vars.size !== s.vars.size) return false;
  for (const [k, v] of s.vars) if (conn.vars.get(k) !== v) return false;
  conn.syncedOwner = s;
  conn.syncedVersion = s.version;
  return true;
}

/** Makes `conn` hold `s`'s state; `lastInsertId` when the statement reads LAST_INSERT_ID(). */
export async function syncConnection(
  conn: BackendConnection,
  s: SessionState,
  lastInsertId: boolean,
): Promise<void> {
  if (lastInsertId && conn.lastInsertId !== s.lastInsertId) {
    // LAST_INSERT_ID(expr) sets the connection's value: this session's id, on any connection.
    const r = await conn.query(`DO LAST_INSERT_ID(${s.lastInsertId})`);
    if (r.err) throw new BackendStatementError(r.err);
    conn.lastInsertId = s.lastInsertId;
  }
  if (conn.syncedOwner === s && conn.syncedVersion === s.version) return;
  if (s.schema === null && conn.schema !== null) {
    // No command takes a connection's default database away: the pool gives such sessions
    // connections without one (backend-pool.ts takeIdle), so this is a bug if it ever shows.
    throw new RwsplitError(
      "NO_BACKEND",
      `a connection in schema ${conn.schema} was leased to a session with none`,
    );
  }
  if (s.schema !== null && conn.schema !== s.schema) {
    const payload = Buffer.concat([Buffer.from([Command.INIT_DB]), Buffer.from(s.schema, "utf8")]);
    const r = await conn.command(payload);
    if (r.err) throw new BackendStatementError(r.err);
    conn.schema = s.schema;
    conn.globalDatabaseCharset = false;
  }
  const sql = varsSyncSql(s.vars, conn.vars, conn, databaseCharsetSync(conn, s));
  if (sql !== null) {
    const r = await conn.query(sql);
    if (r.err) throw new BackendStatementError(r.err);
    conn.vars.clear();
    for (const [k, v] of s.vars) conn.vars.set(k, v);
    conn.globalDatabaseCharset = s.globalDatabaseCharset;
  }
  if (conn.multiStatements !== s.multiStatements) {
    // COM_SET_OPTION: int<2> 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = OFF.
    const r = await conn.command(Buffer.from([Command.SET_OPTION, s.multiStatements ? 0 : 1, 0]));
    if (r.err) throw new BackendStatementError(r.err);
    conn.multiStatements = s.multiStatements;
  }
  conn.syncedOwner = s;
  conn.syncedVersion = s.version;
}

/**
 * How `conn`'s database character set must move to be `s`'s (session-state.ts varsSyncSql). Only
 * with a database: a connection without one serves only sessions without one (backend-pool.ts),
 * whose character_set_database is the global value anyway (or, after a DROP DATABASE of the
 * session's, the server's character set: not followed).
 */
function databaseCharsetSync(conn: BackendConnection, s: SessionState): DatabaseCharsetSync {
  if (s.schema === null || conn.globalDatabaseCharset === s.globalDatabaseCharset) return null;
  return s.globalDatabaseCharset ? "global" : "schema";
}

/** The connection made a change itself (the statement that changed the session ran on it). */
export function markSynced(conn: BackendConnection, s: SessionState): void {
  conn.schema = s.schema;
  conn.globalDatabaseCharset = s.globalDatabaseCharset;
  conn.vars.clear();
  for (const [k, v] of s.vars) conn.vars.set(k, v);
  conn.syncedOwner = s;
  conn.syncedVersion = s.version;
}

/**
 * What an OK packet says about the session, learnt as it is relayed: the last insert id, and the
 * state changes the server's tracker reports (variables, schema, the GTID of a write, state it
 * cannot name, which pins the session). `statement` is the SQL that ran (SET STATEMENT ... FOR
 * reports values that last for that statement only).
 */
export function learnFromOk(
  host: SessionPort,
  conn: BackendConnection,
  payload: Buffer,
  statement: RoutedStatement | null,
): void {
  const state = host.state;
  // Fast check: affected_rows and last_insert_id are single bytes < 0xFB almost always.
  if (!(host.lastStatus & ServerStatus.SESSION_STATE_CHANGED) && payload[1]! < 0xfb && payload[2] === 0)
    return;
  const ok = decodeOk(payload, conn.capabilities);
  if (ok.lastInsertId !== 0) {
    state.lastInsertId = ok.lastInsertId;
    conn.lastInsertId = ok.lastInsertId;
  }
  if (ok.sessionState.length === 0) return;
  const before = state.version;
  const variables = statement === null || !hasFlag(statement.flags, F.SET_STATEMENT);
  const gtid = state.lastWriteGtid; // ryw:
  const lastInsertId = state.lastInsertId;
  if (state.apply(ok.sessionState, variables)) host.pin.bits |= Pin.UNTRACKED_STATE;
  // SET @@last_insert_id = n ran here: this connection holds the session's value.
  if (state.lastInsertId !== lastInsertId) conn.lastInsertId = state.lastInsertId;
  // ryw: the write's GTID (last_gtid) counts for every connection of its user (consistency: user).
  if (state.lastWriteGtid !== gtid && host.userName !== null) {
    host.ctx.userWrites?.wrote(host.userName, state.lastWriteGtid!);
  }
  // The connection made the change itself: it is in sync with the new state.
  if (state.version !== before) markSynced(conn, state);
}

/**
 * A relayed OK (`isOk`) or EOF, `buf[start, end)`, whose status the scanner read into
 * `host.lastStatus`: what it teaches the session (learnFromOk), and the payload the client gets
 * instead (null: as it is). A view of it is made only when it is read: a write's OK (0x00 header),
 * or an OK/EOF with SESSION_STATE_CHANGED (ok-for-client.ts rewrites no other). A Buffer view costs
 * ~50 ns; a result set's EOFs and closing OK need none.
 */
export function relayedOkEof(
  host: SessionPort,
  conn: BackendConnection,
  isOk: boolean,
  buf: Buffer,
  start: number,
  end: number,
  statement: RoutedStatement | null,
): Buffer | null {
  const write = isOk && end > start && buf[start] === 0x00;
  if (!write && !(host.lastStatus & ServerStatus.SESSION_STATE_CHANGED)) return null;
  const payload = buf.subarray(start, end);
  if (!isOk) return eofForClient(payload, host.state.tracking);
  learnFromOk(host, conn, payload, statement);
  return okForClient(payload, host.state.tracking);
}
