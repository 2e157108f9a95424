import { CLIENT_ERRORS } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import { type ChangeUserRequest, decodeChangeUser } from "../../protocol/packets/change-user.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * COM_CHANGE_USER: the client logs in again, maybe as another user (src/protocol/packets/
 * change-user.ts for the layout). On success the session starts over as that user: no pinned
 * connection, no prepared statements or cursors. Refused, it starts over all the same but as the
 * user it was, in its database, and the ERR comes a second later; after three refusals the command
 * itself is refused (1047), as MariaDB does.
 */
export function changeUser(s: SessionPort, pkt: Packet): void {
  // MariaDB refuses the command itself after three refused ones on a connection.
  if (s.changeUserRefusals >= MAX_CHANGE_USER_REFUSALS) {
    s.sendError(CLIENT_ERRORS.changeUserRefused(MAX_CHANGE_USER_REFUSALS), pkt.seq + 1);
    return;
  }
  let req: ChangeUserRequest;
  try {
    req = decodeChangeUser(pkt.payload, s.capabilities);
  } catch (e) {
    s.sendError(CLIENT_ERRORS.malformedPacket(`COM_CHANGE_USER: ${(e as Error).message}`), pkt.seq + 1);
    return;
  }
  const collation = req.collation ?? s.login!.key.collation;
  const step = s.auth.changeUser(req.user, req.authResponse, req.plugin, pkt.seq + 1);
  // What a COM_CHANGE_USER takes away, accepted or refused (the server resets the session before
  // it checks the password): the pinned connection, prepared statements and cursors.
  const reset = () => {
    s.unpin(true);
    s.stmts.clear();
    s.cursors.clear();
  };
  s.reauthenticate(
    step,
    (r) => {
      reset();
      s.loggedIn({
        ...r,
        capabilities: s.capabilities,
        collation,
        schema: req.schema ?? r.user.defaultSchema,
      });
      s.restarted();
    },
    // Refused (a wrong password, an unknown user): the connection stays, as the user it was.
    (error, seq) => {
      reset();
      s.changeUserRefused(error, seq);
      s.restarted();
    },
  );
}

/** Refused COM_CHANGE_USERs after which MariaDB answers the command with 1047 (sql_parse.cc). */
export const MAX_CHANGE_USER_REFUSALS = 3;
