import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";

/**
 * ERR_Packet: int<1> 0xFF, int<2> error_code, then (CLIENT_PROTOCOL_41) string[1] '#' and
 * string[5] sql_state, then string<EOF> error_message.
 */
export interface ErrPacket {
  errno: number;
  sqlState: string;
  message: string;
}

export function isErrPacket(payload: Buffer): boolean {
  return payload.length >= 3 && payload[0] === 0xff;
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new BufferReader(payload);
  r.u8();
  const errno = r.u16();
  let sqlState = "HY000";
  if (r.remaining > 0 && payload[r.offset] === 0x23 /* '#' */) {
    r.u8();
    sqlState = r.bytes(Math.min(5, r.remaining)).toString("latin1");
  }
  return { errno, sqlState, message: r.restString() };
}

export function encodeErr(seq: number, err: ErrPacket): Buffer {
  const state = `${err.sqlState}HY000`.slice(0, 5);
  return new BufferWriter(16 + err.message.length)
    .u8(0xff)
    .u16(err.errno)
    .u8(0x23)
    .string(state)
    .string(err.message)
    .toPacket(seq);
}
