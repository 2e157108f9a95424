import { type ClientErrorSpec, clientErrorFor } from "../../errors.js";
import type { SessionPort } from "./session-port.js";

/**
 * A statement that commits implicitly (DDL, BEGIN, LOCK TABLES, ...) arrived inside a READ ONLY
 * transaction pinned to a replica (router.ts: `end_read_only`). The server would commit the
 * transaction and run the statement; so does rwsplit: COMMIT on the replica connection (the
 * client never sees it), the pin ends as after the client's own COMMIT, and the statement is
 * routed as outside a transaction. Null when it ended; the error to answer otherwise (the
 * connection, whose transaction state is then unknown, is closed).
 */
export async function endReadOnlyTransaction(s: SessionPort): Promise<ClientErrorSpec | null> {
  const conn = s.pin.conn;
  if (conn === null || !s.pin.onReplica) return null;
  try {
    const r = await conn.query("COMMIT");
    if (r.err !== null) {
      s.unpin(true);
      return r.err;
    }
  } catch (e) {
    s.unpin(true);
    return clientErrorFor(e);
  }
  s.unpin(false);
  return null;
}
