import { CLIENT_ERRORS } from "../../errors.js";
import { toPackets } from "../../protocol/buffer-writer.js";
import type { Packet } from "../../protocol/framing.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { routeCommand } from "../../routing/router.js";
import type { BackendConnection } from "../backend-connection.js";
import { type CommandSteps, dispatch, type StatementOutcome } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";
import { closeCursor } from "./fetch.js";

/**
 * The small commands: answered by the proxy (COM_PING, COM_QUIT, COM_STMT_CLOSE, COM_STMT_RESET)
 * or relayed to the primary or the pinned connection (COM_INIT_DB, COM_SET_OPTION,
 * COM_FIELD_LIST, COM_STATISTICS).
 */

export function ping(s: SessionPort, pkt: Packet): void {
  s.replyOk(pkt.seq + 1);
}

export function quit(s: SessionPort): void {
  s.close();
}

/** Relays a command whose response has `kind`, reported as `label`. */
function forward(s: SessionPort, pkt: Packet, kind: ResponseKind, label: string, steps?: CommandSteps): void {
  const bytes = pkt.frame ?? toPackets(pkt.payload, pkt.seq);
  s.run(dispatch(pkt.payload[0]!, kind, bytes, routeCommand(s.routeSession()), { label, steps }));
}

/** COM_INIT_DB: int<1> 0x02, string<EOF> schema. The OK's session tracking reports the change. */
export function initDb(s: SessionPort, pkt: Packet): void {
  forward(s, pkt, ResponseKind.SIMPLE, "session");
}

export function fieldList(s: SessionPort, pkt: Packet): void {
  forward(s, pkt, ResponseKind.FIELD_LIST, "read");
}

export function statistics(s: SessionPort, pkt: Packet): void {
  forward(s, pkt, ResponseKind.STRING, "read");
}

/** COM_SET_OPTION: int<1> 0x1b, int<2> option: 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = OFF. */
export function setOption(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  const on = p.length >= 3 ? p.readUInt16LE(1) === 0 : null;
  forward(s, pkt, ResponseKind.SIMPLE, "session", on === null ? undefined : new SetOptionSteps(s, on));
}

class SetOptionSteps implements CommandSteps {
  constructor(
    private readonly s: SessionPort,
    private readonly on: boolean,
  ) {}

  afterResponse(conn: BackendConnection, outcome: StatementOutcome, pins: number): number {
    if (outcome.errno !== 0) return pins;
    // It ran on this connection: the session and the connection agree.
    const state = this.s.state;
    state.setMultiStatements(this.on);
    conn.multiStatements = this.on;
    if (conn.syncedOwner === state) conn.syncedVersion = state.version;
    return pins;
  }
}

/** COM_STMT_CLOSE: int<1> 0x19, int<4> stmt_id (LAST_STATEMENT_ID: the last prepared). No response. */
export function stmtClose(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  const stmt = p.length >= 5 ? s.stmts.get(p.readUInt32LE(1)) : undefined;
  if (stmt === undefined) return;
  if (s.cursors.has(stmt.id)) closeCursor(s, stmt.id);
  s.stmts.delete(stmt.id);
}

/** COM_STMT_RESET: int<1> 0x1a, int<4> stmt_id. Drops collected long data and closes the cursor. */
export function stmtReset(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  const given = p.length >= 5 ? p.readUInt32LE(1) : 0;
  const stmt = s.stmts.get(given);
  if (stmt === undefined) {
    s.sendError(CLIENT_ERRORS.unknownStatement(given, "mysqld_stmt_reset"), pkt.seq + 1);
    return;
  }
  stmt.longData = [];
  if (s.cursors.has(stmt.id)) closeCursor(s, stmt.id);
  s.replyOk(pkt.seq + 1);
}
