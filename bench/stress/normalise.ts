import { MAX_PACKET, readLenenc } from "./wire.js";

/**
 * The only fields in which a response through the proxy may differ from the same statement's
 * response on a direct connection, and why. Everything else must be byte-identical.
 *
 * - COM_STMT_PREPARE_OK's statement id (int<4> at payload offset 1): the proxy gives each client
 *   session its own numbering, whatever the backend connection's ids are. Each side executes with
 *   the id it was given.
 * - The value of the `last_gtid` session variable in an OK packet's session-state information,
 *   for a client that tracks it (SESSION_TRACK_SYSTEM_VARIABLES): each side's write is its own
 *   transaction on the primary, with its own GTID. Its name and presence must still match.
 * - The statement id in the message of an ERR packet, e.g. 1421 "The statement (4) has no open
 *   cursor": each side names the id it gave its client (the proxy answers some of these itself).
 *   Only the side's own id for the step's statement, in parentheses, is replaced.
 * - In the OK answering COM_PING, COM_INIT_DB or COM_STMT_RESET, the per-statement status flags
 *   (SERVER_QUERY_NO_GOOD_INDEX_USED, SERVER_QUERY_NO_INDEX_USED, SERVER_STATUS_CURSOR_EXISTS,
 *   SERVER_STATUS_LAST_ROW_SENT, SERVER_STATUS_DB_DROPPED, SERVER_STATUS_METADATA_CHANGED,
 *   SERVER_QUERY_WAS_SLOW): the server clears them when a statement starts, not for these
 *   commands, so their OK shows the flags the connection's previous statement left; on a
 *   multiplexed session that statement may have been another session's. The session's own
 *   flags (autocommit, transaction, session state changed) must still match.
 */

const SERVER_SESSION_STATE_CHANGED = 0x4000;
/** Flags a statement's start clears (MariaDB's SERVER_STATUS_CLEAR_SET, less MORE_RESULTS). */
const LEFTOVER_FLAGS = 0x0010 | 0x0020 | 0x0040 | 0x0080 | 0x0100 | 0x0400 | 0x0800;
const SESSION_TRACK_SYSTEM_VARIABLES = 0x00;
const LAST_GTID = Buffer.from("\x09last_gtid", "latin1");
/** What a `last_gtid` value becomes. */
const GTID_PLACEHOLDER = Buffer.from("<gtid>");

function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([0xfc, n & 0xff, n >> 8]);
  return Buffer.from([0xfd, n & 0xff, (n >> 8) & 0xff, n >> 16]);
}

const lenencStr = (b: Buffer) => Buffer.concat([lenenc(b.length), b]);

/** string<lenenc> at `at`: its bytes and where the next field starts. */
function lenencBytes(b: Buffer, at: number): { bytes: Buffer; next: number } {
  const l = readLenenc(b, at);
  if (l === null || at + l.width + l.value > b.length) throw new Error("truncated string<lenenc>");
  return { bytes: b.subarray(at + l.width, at + l.width + l.value), next: at + l.width + l.value };
}

/**
 * An OK packet's payload (header 0x00, or 0xFE ending a result set under CLIENT_DEPRECATE_EOF)
 * with each `last_gtid` value in its session-state information replaced; null when it has none.
 * Layout (CLIENT_SESSION_TRACK): header, int<lenenc> affected rows, int<lenenc> last insert id,
 * int<2> status, int<2> warnings, string<lenenc> info, and with SERVER_SESSION_STATE_CHANGED
 * string<lenenc> session state: entries of int<1> type, string<lenenc> data; a system variable's
 * data is string<lenenc> name, string<lenenc> value.
 */
export function withoutGtid(payload: Buffer): Buffer | null {
  const affected = readLenenc(payload, 1);
  const insertId = affected && readLenenc(payload, 1 + affected.width);
  if (!affected || !insertId) return null;
  const statusAt = 1 + affected.width + insertId.width;
  if (statusAt + 4 > payload.length) return null;
  const status = payload.readUInt16LE(statusAt);
  if (!(status & SERVER_SESSION_STATE_CHANGED)) return null;
  const info = lenencBytes(payload, statusAt + 4);
  const state = lenencBytes(payload, info.next);
  const entries: Buffer[] = [];
  let changed = false;
  for (let at = 0; at < state.bytes.length; ) {
    const type = state.bytes[at]!;
    const data = lenencBytes(state.bytes, at + 1);
    let out = data.bytes;
    if (
      type === SESSION_TRACK_SYSTEM_VARIABLES &&
      data.bytes.subarray(0, LAST_GTID.length).equals(LAST_GTID)
    ) {
      out = Buffer.concat([LAST_GTID, lenencStr(GTID_PLACEHOLDER)]);
      changed = true;
    }
    entries.push(Buffer.from([type]), lenencStr(out));
    at = data.next;
  }
  if (!changed) return null;
  return Buffer.concat([
    payload.subarray(0, info.next),
    lenencStr(Buffer.concat(entries)),
    payload.subarray(state.next),
  ]);
}

/** ERR_Packet: 0xFF, int<2> errno, '#', string[5] SQLSTATE, message. The message from offset 9. */
function errWithoutStmtId(payload: Buffer, stmtId: number): Buffer | null {
  if (payload[0] !== 0xff || payload.length < 9) return null;
  const message = payload.toString("utf8", 9);
  const id = `(${stmtId})`;
  if (!message.includes(id)) return null;
  return Buffer.concat([payload.subarray(0, 9), Buffer.from(message.replace(id, "(<stmt>)"), "utf8")]);
}

/** An OK packet's payload with the leftover per-statement flags cleared; null if none was set. */
export function withoutLeftoverFlags(payload: Buffer): Buffer | null {
  const affected = readLenenc(payload, 1);
  const insertId = affected && readLenenc(payload, 1 + affected.width);
  if (payload[0] !== 0x00 || !affected || !insertId) return null;
  const at = 1 + affected.width + insertId.width;
  if (at + 2 > payload.length) return null;
  const status = payload.readUInt16LE(at);
  if (!(status & LEFTOVER_FLAGS)) return null;
  const out = Buffer.from(payload);
  out.writeUInt16LE(status & ~LEFTOVER_FLAGS, at);
  return out;
}

/**
 * A whole response with the fields above normalised. `prepared`: the response is a
 * COM_STMT_PREPARE's; `stmtId`: the id this side used for the step's statement, if any;
 * `notStatement`: the command is COM_PING, COM_INIT_DB or COM_STMT_RESET. Returns `bytes` itself
 * when nothing had to change.
 */
export function normaliseResponse(
  bytes: Buffer,
  prepared: boolean,
  stmtId: number | null = null,
  notStatement = false,
): Buffer {
  let b = bytes;
  if (notStatement && b.length > 4) {
    const cleared = withoutLeftoverFlags(b.subarray(4, 4 + b.readUIntLE(0, 3)));
    if (cleared !== null) b = reframe(b[3]!, cleared);
  }
  if (prepared) {
    b = Buffer.from(b);
    b.fill(0, 5, 9);
  }
  if (stmtId !== null && b[4] === 0xff) {
    // A lone ERR packet (an error ends a response).
    const rewritten = errWithoutStmtId(b.subarray(4), stmtId);
    if (rewritten !== null) b = reframe(b[3]!, rewritten);
  }
  if (!b.includes(LAST_GTID)) return b;
  const out: Buffer[] = [];
  let at = 0;
  let changed = false;
  while (at + 4 <= b.length) {
    const len = b.readUIntLE(at, 3);
    const payload = b.subarray(at + 4, at + 4 + len);
    const isOk = (payload[0] === 0x00 || payload[0] === 0xfe) && len < MAX_PACKET && len >= 7;
    const rewritten = isOk && payload.includes(LAST_GTID) ? withoutGtid(payload) : null;
    if (rewritten !== null) {
      out.push(reframe(b[at + 3]!, rewritten));
      changed = true;
    } else {
      out.push(b.subarray(at, at + 4 + len));
    }
    at += 4 + len;
  }
  return changed ? Buffer.concat(out) : b;
}

/** One physical packet (payloads here are small). */
function reframe(seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUIntLE(payload.length, 0, 3);
  h[3] = seq;
  return Buffer.concat([h, payload]);
}
