import { MAX_PAYLOAD } from "./buffer-writer.js";

/**
 * MariaDB's MARIADB_CLIENT_CACHE_METADATA, as rwsplit keeps it true for each client while its
 * statements run on other connections than the one that answered its PREPARE.
 *
 * The server (10.6+, MDEV-19237 `should_send_column_info`) keeps, per prepared statement and
 * connection, the column definitions it last sent: a PREPARE's answer sets them; an EXECUTE
 * (or COM_STMT_BULK_EXECUTE) whose columns are the same sends `column_count, 00` and no
 * definitions, else `column_count, 01, definitions` and remembers those (statements run by a
 * stored procedure always send them). The client uses the definitions it last got for that
 * statement. A proxy breaks the pairing: a statement prepared on the primary runs on a replica
 * connection prepared there separately, and one backend statement serves several clients. So
 * rwsplit tracks both sides (ClientStatement.columns, ConnectionStatement.columns) and, when
 * they differ before an EXECUTE, holds the answer back; a skip is then rewritten with the
 * connection's definitions put in (`withColumnsInserted`).
 */

/** Column definition payloads of a statement's (first) result set, in order. */
export type ColumnDefs = readonly Buffer[];

export function sameColumns(a: ColumnDefs | null, b: ColumnDefs | null): boolean {
  if (a === b) return true;
  if (a === null || b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!a[i]!.equals(b[i]!)) return false;
  return true;
}

/**
 * The column definitions of a whole COM_STMT_PREPARE answer (header included):
 *   PREPARE_OK (0x00, int<4> id, int<2> columns, int<2> params, ...), param_def * params,
 *   [EOF if params and no CLIENT_DEPRECATE_EOF], column_def * columns, [EOF]
 * Copies. An ERR answer has none.
 */
export function prepareResponseColumns(response: Buffer, deprecateEof: boolean): Buffer[] {
  const packets = payloads(response);
  const ok = packets[0];
  if (ok === undefined || ok[0] !== 0x00 || ok.length < 9) return [];
  const columns = ok.readUInt16LE(5);
  const params = ok.readUInt16LE(7);
  const from = 1 + params + (params > 0 && !deprecateEof ? 1 : 0);
  return packets.slice(from, from + columns).map((p) => Buffer.from(p));
}

/** A packet of a held response the client gets another payload for (an OK rewritten for its tracking). */
export interface PacketEdit {
  /** Offset just past the packet in the response. */
  end: number;
  payload: Buffer;
}

/**
 * A held response with `edits` applied (each replaces one physical packet's payload, same
 * sequence id) and, when `insert` is given and the first packet is a column count whose
 * metadata_follows is 0: that byte set to 1, `insert` put in as column definition packets after
 * it, and every later packet's sequence id moved up by their number. Returns `response` itself
 * when there is nothing to change.
 */
export function rewriteResponse(
  response: Buffer,
  edits: readonly PacketEdit[],
  insert: ColumnDefs | null = null,
): Buffer {
  const skipped = insert !== null && metadataSkipped(response);
  if (edits.length === 0 && !skipped) return response;
  const out: Buffer[] = [];
  let shift = 0;
  let e = 0;
  let at = 0;
  let first = true;
  while (at + 4 <= response.length) {
    const len = response.readUIntLE(at, 3);
    const seq = response[at + 3]!;
    let payload = response.subarray(at + 4, at + 4 + len);
    const end = at + 4 + len;
    while (e < edits.length && edits[e]!.end < end) e++;
    if (e < edits.length && edits[e]!.end === end) payload = edits[e++]!.payload;
    if (first && skipped) {
      payload = Buffer.from(payload);
      payload[payload.length - 1] = 1;
    }
    out.push(header(payload.length, seq + shift), payload);
    if (first && skipped) {
      for (const def of insert!) {
        shift++;
        out.push(header(def.length, seq + shift), def);
      }
    }
    first = false;
    at = end;
  }
  if (at < response.length) out.push(response.subarray(at));
  return Buffer.concat(out);
}

/** The number in a column count packet's payload (int<lenenc>). */
export function columnCountOf(payload: Buffer): number {
  const first = payload[0]!;
  if (first < 0xfb) return first;
  if (first === 0xfc) return payload.readUInt16LE(1);
  if (first === 0xfd) return payload.readUIntLE(1, 3);
  return Number(payload.readBigUInt64LE(1));
}

/** The (held) response starts with a column count whose metadata_follows byte is 0. */
export function metadataSkipped(response: Buffer): boolean {
  if (response.length < 6) return false;
  const len = response.readUIntLE(0, 3);
  const first = response[4]!;
  // A column count: int<lenenc> (not 0x00 OK, 0xFF ERR, 0xFB LOCAL INFILE) plus the flag byte.
  if (first === 0x00 || first === 0xff || first === 0xfb || first === 0xfe) return false;
  const size = first < 0xfb ? 1 : first === 0xfc ? 3 : first === 0xfd ? 4 : 9;
  return len === size + 1 && response[4 + size] === 0;
}

function header(length: number, seq: number): Buffer {
  const h = Buffer.allocUnsafe(4);
  h.writeUIntLE(length, 0, 3);
  h[3] = seq & 0xff;
  return h;
}

/** The logical packets' payloads (views; continuation packets joined). */
function payloads(response: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  let parts: Buffer[] = [];
  while (at + 4 <= response.length) {
    const len = response.readUIntLE(at, 3);
    parts.push(response.subarray(at + 4, at + 4 + len));
    at += 4 + len;
    if (len === MAX_PAYLOAD) continue;
    out.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    parts = [];
  }
  return out;
}
