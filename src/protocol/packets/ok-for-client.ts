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
  const statusAt = skipLenenc(payload, skipLenenc(payload, 1));
  if (statusAt + 4 > payload.length) return null;
  const status = payload.readUInt16LE(statusAt);
  // No session_state_info: the packet is the client's as it is (most OKs, every write's).
  if (!(status & STATE_CHANGED)) return null;
  let off = statusAt + 4;
  if (off >= payload.length) return null;
  // Offsets, not views: this runs for every COMMIT (last_gtid), and a Buffer view costs more
  // than the rest of it.
  const infoLen = lenencAt(payload, off);
  const infoAt = lenAt;
  off = Math.min(infoAt + infoLen, payload.length);
  if (off >= payload.length) return null;
  const stateLen = lenencAt(payload, off);
  const state = payload.subarray(lenAt, lenAt + stateLen);
  const kept = f.sessionTrack ? keptLength(state, f) : 0;
  if (f.sessionTrack && kept === state.length) return null;
  const info = Math.min(infoLen, payload.length - infoAt);
  const withText = kept > 0 || info > 0;
  const size =
    statusAt + 4 + (withText ? lenencSize(info) + info : 0) + (kept > 0 ? lenencSize(kept) + kept : 0);
  const out = Buffer.allocUnsafe(size);
  payload.copy(out, 0, 0, statusAt + 4);
  out.writeUInt16LE(kept > 0 ? status : status & ~STATE_CHANGED, statusAt);
  let at = statusAt + 4;
  if (withText) {
    at = writeLenenc(out, at, info);
    at += payload.copy(out, at, infoAt, infoAt + info);
  }
  if (kept > 0) copyKept(state, f, out, writeLenenc(out, at, kept));
  return out;
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

/**
 * session_state_info: entries of int<1> type + string<lenenc> data. The bytes of those the
 * client's trackers produce (state.length when all of them).
 */
function keptLength(state: Buffer, f: TrackingFilter): number {
  let kept = 0;
  for (let off = 0; off < state.length; ) {
    const end = entryEnd(state, off);
    if (keeps(state[off]!, state, lenAt, end, f)) kept += end - off;
    off = end;
  }
  return kept;
}

/** Copies the entries keptLength counted into `out` at `at`. */
function copyKept(state: Buffer, f: TrackingFilter, out: Buffer, at: number): void {
  for (let off = 0; off < state.length; ) {
    const end = entryEnd(state, off);
    if (keeps(state[off]!, state, lenAt, end, f)) at += state.copy(out, at, off, end);
    off = end;
  }
}

/** Where the entry at `off` ends (at most the state's end); its data starts at `lenAt`. */
function entryEnd(state: Buffer, off: number): number {
  const len = lenencAt(state, off + 1);
  return Math.min(lenAt + len, state.length);
}

/** Whether the client tracks an entry of `type` whose data is buf[at, end). */
function keeps(type: number, buf: Buffer, at: number, end: number, f: TrackingFilter): boolean {
  switch (type) {
    case SessionTrack.SYSTEM_VARIABLES: {
      if (f.variables === "*") return true;
      // The name: string<lenenc> at the start of the data (a one-byte length: always, in practice).
      const len = buf[at]!;
      const name =
        at < end && len < 0xfb
          ? buf.toString("utf8", at + 1, Math.min(at + 1 + len, end))
          : lenencBytesAt(buf.subarray(at, end), 0)[0].toString("utf8");
      return f.variables.has(name.toLowerCase());
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

function skipLenenc(buf: Buffer, off: number): number {
  const first = buf[off]!;
  if (first < 0xfb) return off + 1;
  if (first === 0xfc) return off + 3;
  if (first === 0xfd) return off + 4;
  return off + 9;
}

/** string<lenenc> at `off`: its bytes (a view) and the offset after it. */
function lenencBytesAt(buf: Buffer, off: number): [Buffer, number] {
  const len = lenencAt(buf, off);
  return [buf.subarray(lenAt, lenAt + len), lenAt + len];
}

/** Where the data of the last lenencAt's string<lenenc> starts. */
let lenAt = 0;

/** The length of the string<lenenc> at `off`; its data starts at `lenAt`. */
function lenencAt(buf: Buffer, off: number): number {
  const first = buf[off]!;
  if (first < 0xfb) {
    lenAt = off + 1;
    return first;
  }
  if (first === 0xfc) {
    lenAt = off + 3;
    return buf.readUInt16LE(off + 1);
  }
  if (first === 0xfd) {
    lenAt = off + 4;
    return buf.readUIntLE(off + 1, 3);
  }
  lenAt = off + 9;
  return Number(buf.readBigUInt64LE(off + 1));
}

function lenencSize(n: number): number {
  return n < 0xfb ? 1 : n <= 0xffff ? 3 : n <= 0xffffff ? 4 : 9;
}

/** int<lenenc> `n` written at `at`; returns the offset after it. */
function writeLenenc(out: Buffer, at: number, n: number): number {
  if (n < 0xfb) {
    out[at] = n;
    return at + 1;
  }
  if (n <= 0xffff) {
    out[at] = 0xfc;
    out.writeUInt16LE(n, at + 1);
    return at + 3;
  }
  if (n <= 0xffffff) {
    out[at] = 0xfd;
    out.writeUIntLE(n, at + 1, 3);
    return at + 4;
  }
  out[at] = 0xfe;
  out.writeBigUInt64LE(BigInt(n), at + 1);
  return at + 9;
}
