import { BufferWriter } from "../buffer-writer.js";

/**
 * EOF_Packet (not sent under CLIENT_DEPRECATE_EOF): int<1> 0xFE, int<2> warnings, int<2>
 * status_flags. Told apart from a row or an OK-as-EOF by its length: an EOF payload is under 9
 * bytes, a text row starting with 0xFE would carry an 8-byte length.
 */
export function isEofPacket(payload: Buffer): boolean {
  return payload.length < 9 && payload[0] === 0xfe;
}

export function eofStatus(payload: Buffer): number {
  return payload.length >= 5 ? payload[3]! | (payload[4]! << 8) : 0;
}

export function encodeEof(seq: number, status: number, warnings = 0): Buffer {
  return new BufferWriter(9).u8(0xfe).u16(warnings).u16(status).toPacket(seq);
}
