import { BufferWriter } from "../buffer-writer.js";
import { ServerStatus, SessionTrack } from "../constants/server-status.js";

/**
 * A client's own session tracking: what its OK packets would carry had it talked to the server
 * directly. rwsplit's backend connections always negotiate CLIENT_SESSION_TRACK and track every
 * system variable, the schema and state changes (that is how rwsplit follows sessions); a client
 * gets OK packets as its own capabilities and its own `session_track_*` settings make them.
 */
export interface TrackingFilter {
  /** The client negotiated CLIENT_SESSION_TRACK. */
  sessionTrack: boolean;
  /** session_track_system_variables: "*", or the (lowercase) names it lists. */
  variables: "*" | ReadonlySet<string>;
  /** session_track_schema */
  schema: boolean;
  /** session_track_state_change */
  stateChange: boolean;
  /** session_track_transaction_info: 0 OFF, 1 STATE, 2 CHARACTERISTICS. */
  transactionInfo: 0 | 1 | 2;
}

const STATE_CHANGED = ServerStatus.SESSION_STATE_CHANGED;

/**
 * OK_Packet as the backend sent it under CLIENT_SESSION_TRACK: header (0x00, or 0xFE ending a
 * result set), int<lenenc> affected_rows, int<lenenc> last_insert_id, int<2> status, int<2>
 * warnings, then (only when there is a message or the state changed) string<lenenc> info and,
 * with SERVER_SESSION_STATE_CHANGED, string<lenenc> session_state_info: entries of int<1> type +
 * string<lenenc> data. Returns the payload the client would get, or null when it is the same.
 *
 * Without CLIENT_SESSION_TRACK a client gets no state and no flag. With it, only the entries its
 * own trackers produce; when none is left the flag goes. Either way the info stays
 * string<lenenc> (whatever the protocol documentation says of string<EOF>, MariaDB's net_send_ok
 * writes it with net_store_data for every client, seen on the wire from 10.11), and goes when
 * there is neither a message nor state left.
 */
export function okForClient(payload: Buffer, f: TrackingFilter): Buffer | null {
  let off = skipLenenc(payload, skipLenenc(payload, 1));
  const statusAt = off;
  if (statusAt + 4 > payload.length) return null;
  const status = payload.readUInt16LE(statusAt);
  off = statusAt + 4;
  const changed = (status & STATE_CHANGED) !== 0;
  if (off >= payload.length && !changed) return null;
  let info: Buffer = EMPTY;
  let state: Buffer | null = null;
  if (off < payload.length) {
    [info, off] = lenencBytesAt(payload, off);
    if (changed && off < payload.length) [state] = lenencBytesAt(payload, off);
  }
  const kept = state === null ? null : f.sessionTrack ? keptEntries(state, f) : EMPTY;
  if (kept === state) return null;
  const anyKept = kept !== null && kept.length > 0;
  return build(payload, statusAt, anyKept ? status : status & ~STATE_CHANGED, info, anyKept ? kept : null);
}

/**
 * EOF_Packet: 0xFE, int<2> warnings, int<2> status. Its status repeats the statement's, including
 * SERVER_SESSION_STATE_CHANGED set by rwsplit's own trackers; a client that tracks less is
 * given the flag only when it tracks everything (an EOF carries no state to tell which tracker
 * fired). Null when unchanged.
 */
export function eofForClient(payload: Buffer, f: TrackingFilter): Buffer | null {
  if (payload.length < 5) return null;
  const status = payload.readUInt16LE(3);
  if (!(status & STATE_CHANGED)) return null;
  if (f.sessionTrack && f.variables === "*" && f.stateChange) return null;
  const out = Buffer.from(payload);
  out.writeUInt16LE(status & ~STATE_CHANGED, 3);
  return out;
}

/** The entries of session_state_info the client's trackers produce; `state` itself when all. */
function keptEntries(state: Buffer, f: TrackingFilter): Buffer {
  const parts: Buffer[] = [];
  let all = true;
  let off = 0;
  while (off < state.length) {
    const start = off;
    const type = state[off]!;
    const [data, next] = lenencBytesAt(state, off + 1);
    off = next;
    if (keeps(type, data, f)) parts.push(state.subarray(start, off));
    else all = false;
  }
  return all ? state : Buffer.concat(parts);
}

function keeps(type: number, data: Buffer, f: TrackingFilter): boolean {
  switch (type) {
    case SessionTrack.SYSTEM_VARIABLES: {
      if (f.variables === "*") return true;
      const [name] = lenencBytesAt(data, 0);
      return f.variables.has(name.toString("utf8").toLowerCase());
    }
    case SessionTrack.SCHEMA:
      return f.schema;
    case SessionTrack.STATE_CHANGE:
      return f.stateChange;
    case SessionTrack.TRANSACTION_CHARACTERISTICS:
      return f.transactionInfo === 2;
    case SessionTrack.TRANSACTION_STATE:
      return f.transactionInfo >= 1;
    case SessionTrack.GTIDS:
      return false;
    default:
      return true;
  }
}

function build(
  payload: Buffer,
  statusAt: number,
  status: number,
  info: Buffer,
  state: Buffer | null,
): Buffer {
  const w = new BufferWriter(statusAt + 8 + info.length + (state?.length ?? 0));
  w.bytes(payload.subarray(0, statusAt))
    .u16(status)
    .bytes(payload.subarray(statusAt + 2, statusAt + 4));
  if (state !== null || info.length > 0) {
    w.lenenc(info.length).bytes(info);
    if (state !== null) w.lenenc(state.length).bytes(state);
  }
  return w.payload();
}

const EMPTY = Buffer.alloc(0);

function skipLenenc(buf: Buffer, off: number): number {
  const first = buf[off]!;
  if (first < 0xfb) return off + 1;
  if (first === 0xfc) return off + 3;
  if (first === 0xfd) return off + 4;
  return off + 9;
}

/** string<lenenc> at `off`: its bytes (a view) and the offset after it. */
function lenencBytesAt(buf: Buffer, off: number): [Buffer, number] {
  const first = buf[off]!;
  let len: number;
  let at: number;
  if (first < 0xfb) {
    len = first;
    at = off + 1;
  } else if (first === 0xfc) {
    len = buf.readUInt16LE(off + 1);
    at = off + 3;
  } else if (first === 0xfd) {
    len = buf.readUIntLE(off + 1, 3);
    at = off + 4;
  } else {
    len = Number(buf.readBigUInt64LE(off + 1));
    at = off + 9;
  }
  return [buf.subarray(at, at + len), at + len];
}
