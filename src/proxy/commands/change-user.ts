import { CLIENT_ERRORS } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import { type ChangeUserRequest, decodeChangeUser } from "../../protocol/packets/change-user.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * COM_CHANGE_USER: the client logs in again, maybe as another user (src/protocol/packets/
 * change-user.ts for the layout). On success the session starts over as that user: no pinned
 * connection, no prepared statements or cursors.
 */
export function changeUser(s: SessionPort, pkt: Packet): void {
  let req: ChangeUserRequest;
  try {
    req = decodeChangeUser(pkt.payload, s.capabilities);
  } catch (e) {
    s.sendError(CLIENT_ERRORS.malformedPacket(`COM_CHANGE_USER: ${(e as Error).message}`), pkt.seq + 1);
    return;
  }
  const collation = req.collation ?? s.login!.key.collation;
  const step = s.auth.changeUser(req.user, req.authResponse, req.plugin, pkt.seq + 1);
  s.reauthenticate(step, (r) => {
    s.unpin(true);
    s.stmts.clear();
    s.cursors.clear();
    s.loggedIn({ ...r, capabilities: s.capabilities, collation, schema: req.schema ?? r.user.defaultSchema });
  });
}
