import { ServerStatus } from "../../protocol/constants/server-status.js";
import type { Packet } from "../../protocol/framing.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * COM_RESET_CONNECTION: the session starts over (no transaction, variables, temporary tables,
 * prepared statements; sql_mode the global one, without what CLIENT_IGNORE_SPACE added at login)
 * in the database it was in, as MariaDB does, but with the global @@character_set_database and
 * @@collation_database until the next USE (SessionState.reset). rwsplit drops the connection that held any of it and
 * forgets the rest; the next statement gets a clean pooled connection.
 */
export function resetConnection(s: SessionPort, pkt: Packet): void {
  s.unpin(true);
  s.stmts.clear();
  s.cursors.clear();
  s.state.reset(s.state.schema, s.state.multiStatements);
  s.restarted();
  s.lastStatus = ServerStatus.AUTOCOMMIT;
  // The client's own session tracking goes back to the server's defaults too.
  s.state.tracking = { ...s.ctx.serverDefaults().tracking, sessionTrack: s.state.tracking.sessionTrack };
  s.replyOk(pkt.seq + 1);
}
