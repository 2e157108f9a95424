import type { Packet } from "../../protocol/framing.js";
import type { SessionPort } from "../session/session-port.js";

/**
 * LOAD DATA LOCAL INFILE: after the server's LOCAL INFILE request (0xFB + file name), the client
 * sends the file as packets and an empty packet to end it; each goes to the backend that asked.
 */
export function infilePacket(s: SessionPort, pkt: Packet): void {
  s.forwardInfile(pkt);
}
