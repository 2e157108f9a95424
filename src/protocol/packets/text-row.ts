import { BufferReader } from "../buffer-reader.js";

/**
 * A text protocol row (ProtocolText::ResultsetRow): each column string<lenenc>, or 0xFB for NULL.
 * Only for the proxy's own small queries; relayed rows are never decoded.
 */
export function decodeTextRow(payload: Buffer): (string | null)[] {
  const r = new BufferReader(payload);
  const out: (string | null)[] = [];
  while (r.remaining > 0) {
    if (payload[r.offset] === 0xfb) {
      r.u8();
      out.push(null);
    } else {
      out.push(r.lenencString());
    }
  }
  return out;
}
