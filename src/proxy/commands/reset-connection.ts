import { toPackets } from "../../protocol/buffer-writer.js";
import { Command } from "../../protocol/constants/commands.js";
import { ServerStatus } from "../../protocol/constants/server-status.js";
import type { Packet } from "../../protocol/framing.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { Pin } from "../../routing/pins.js";
import { routeCommand } from "../../routing/router.js";
import { dispatch } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * COM_RESET_CONNECTION: the session starts over (no transaction, variables, temporary tables,
 * prepared statements). rwsplit drops the connection that held any of it and forgets the rest;
 * the next statement gets a clean pooled connection.
 */
export function resetConnection(s: SessionPort, pkt: Packet): void {
  s.unpin(true);
  s.stmts.clear();
  s.cursors.clear();
  s.state.reset(s.login?.schema ?? null, s.state.multiStatements);
  s.lastStatus = ServerStatus.AUTOCOMMIT;
  if (s.pin.bits & Pin.NO_SESSION_TRACK) {
    // The session's state is not tracked: the connection it is tied to must reset too.
    const bytes = toPackets(Buffer.from([Command.RESET_CONNECTION]), 0);
    s.run(
      dispatch(Command.RESET_CONNECTION, ResponseKind.SIMPLE, bytes, routeCommand(s.routeSession()), {
        label: "session",
      }),
    );
    return;
  }
  s.replyOk(pkt.seq + 1);
}
