import { CLIENT_ERRORS } from "../../errors.js";
import { toPackets } from "../../protocol/buffer-writer.js";
import { Command } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { Pin } from "../../routing/pins.js";
import { routeCommand } from "../../routing/router.js";
import type { BackendConnection } from "../backend-connection.js";
import { type CommandSteps, dispatch, type StatementOutcome } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * COM_STMT_FETCH: int<1> 0x1c, int<4> stmt_id, int<4> num_rows. Sent, with the statement id
 * rewritten, to the pinned connection that holds the cursor. Without an open cursor the proxy
 * answers as the server would, without a backend.
 */
export function fetch(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  if (p.length < 9) {
    s.sendError(
      CLIENT_ERRORS.malformedPacket("COM_STMT_FETCH needs int<4> stmt_id, int<4> num_rows"),
      pkt.seq + 1,
    );
    return;
  }
  const given = p.readUInt32LE(1);
  const stmt = s.stmts.get(given);
  if (stmt === undefined) {
    s.sendError(CLIENT_ERRORS.unknownStatement(given, "mysqld_stmt_fetch"), pkt.seq + 1);
    return;
  }
  const clientId = stmt.id;
  const backendId = s.cursors.backendId(clientId);
  if (backendId === undefined) {
    s.sendError(CLIENT_ERRORS.noOpenCursor(clientId), pkt.seq + 1);
    return;
  }
  p.writeUInt32LE(backendId, 1);
  const bytes = pkt.frame ?? toPackets(p, pkt.seq);
  const steps = new FetchSteps(s, clientId);
  s.run(
    dispatch(Command.STMT_FETCH, ResponseKind.FETCH, bytes, routeCommand(s.routeSession()), {
      label: "cursor",
      steps,
    }),
  );
}

class FetchSteps implements CommandSteps {
  constructor(
    private readonly s: SessionPort,
    private readonly clientId: number,
  ) {}

  afterResponse(conn: BackendConnection, outcome: StatementOutcome, pins: number): number {
    return cursorResponse(this.s, conn, this.clientId, "fetch", outcome, pins);
  }
}

/** Applies an EXECUTE or FETCH response to the open cursors; returns `pins` with Pin.CURSOR set or not. */
export function cursorResponse(
  s: SessionPort,
  conn: BackendConnection,
  clientId: number,
  kind: "execute" | "fetch",
  outcome: StatementOutcome,
  pins: number,
): number {
  const stmt = s.stmts.get(clientId);
  const have = stmt?.on.get(conn.statements);
  const backendId = have === undefined || have.closed ? -1 : have.id;
  s.cursors.apply(clientId, backendId, { kind, status: outcome.status, errno: outcome.errno });
  return s.cursors.size > 0 ? pins | Pin.CURSOR : pins & ~Pin.CURSOR;
}

/**
 * COM_STMT_CLOSE / COM_STMT_RESET of a statement with an open cursor: the cursor closes on the
 * server too. Closing the backend statement does that without a round trip (COM_STMT_CLOSE has
 * no response, and the session is idle, so the pinned connection is too); the connection
 * prepares the statement again when it next runs it.
 */
export function closeCursor(s: SessionPort, clientId: number): void {
  const backendId = s.cursors.backendId(clientId)!;
  s.cursors.apply(clientId, backendId, { kind: "close" });
  s.pin.conn?.statements.closeId(backendId);
  if (s.cursors.size > 0) return;
  s.pin.bits &= ~Pin.CURSOR;
  if (s.pin.bits === 0) s.unpin(false);
}
