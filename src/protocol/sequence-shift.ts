import { MAX_PAYLOAD } from "./buffer-writer.js";

/**
 * A command rwsplit sends in other bytes than the client's (an EXECUTE or a bulk EXECUTE with the
 * parameter types put back, 2 bytes per parameter) may take one physical packet more: past
 * 0xFFFFFF bytes a payload continues in a second packet (and a payload of exactly a multiple of
 * 0xFFFFFF is followed by an empty one). The server numbers its response after the last packet it
 * got; the client expects it after its own last one. The difference, and the response renumbered.
 */

/** Physical packets a payload of `length` bytes takes. */
function physicalPackets(length: number): number {
  return Math.floor(length / MAX_PAYLOAD) + 1;
}

/** Packets the client sent (a payload of `clientLength`) minus those sent for it (`sentLength`). */
export function sequenceShift(clientLength: number, sentLength: number): number {
  return physicalPackets(clientLength) - physicalPackets(sentLength);
}

/** `response` with every packet's sequence id moved by `shift` (mod 256), in place. */
export function shiftSequenceIds(response: Buffer, shift: number): Buffer {
  for (let at = 0; at + 4 <= response.length; at += 4 + response.readUIntLE(at, 3)) {
    response[at + 3] = (response[at + 3]! + shift) & 0xff;
  }
  return response;
}
