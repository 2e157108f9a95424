import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";
import { Capability } from "../constants/capabilities.js";
import { ServerStatus, SessionTrack } from "../constants/server-status.js";

/**
 * OK_Packet: header 0x00 (or 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF),
 * int<lenenc> affected_rows, int<lenenc> last_insert_id, int<2> status_flags, int<2> warnings,
 * then with CLIENT_SESSION_TRACK: string<lenenc> info and, if SERVER_SESSION_STATE_CHANGED,
 * string<lenenc> session_state_info; without it: string<EOF> info.
 */
export interface OkPacket {
  header: number;
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info: string;
  sessionState: SessionStateChange[];
}

export type SessionStateChange =
  | { type: "variable"; name: string; value: string }
  | { type: "schema"; schema: string }
  | { type: "state-change"; changed: boolean }
  | { type: "gtids"; value: string }
  | { type: "transaction-characteristics"; value: string }
  | { type: "transaction-state"; value: string }
  | { type: "unknown"; code: number };

export function isOkPacket(payload: Buffer): boolean {
  return payload.length >= 7 && payload[0] === 0x00;
}

export function decodeOk(payload: Buffer, capabilities: number): OkPacket {
  const r = new BufferReader(payload);
  const header = r.u8();
  const affectedRows = r.lenenc();
  const lastInsertId = r.lenenc();
  const status = r.u16();
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  let info = "";
  const sessionState: SessionStateChange[] = [];
  if (capabilities & Capability.SESSION_TRACK) {
    if (r.remaining > 0) info = r.lenencString();
    if (status & ServerStatus.SESSION_STATE_CHANGED && r.remaining > 0) {
      const block = r.lenencBytes();
      decodeSessionState(block, sessionState);
    }
  } else if (r.remaining > 0) {
    info = r.restString();
  }
  return { header, affectedRows, lastInsertId, status, warnings, info, sessionState };
}

/** session_state_info: a list of (int<1> type, string<lenenc> data) entries. */
function decodeSessionState(block: Buffer, out: SessionStateChange[]): void {
  const r = new BufferReader(block);
  while (r.remaining > 0) {
    const type = r.u8();
    // A reader over the entry's range of the block (no view of it).
    const n = r.lenenc();
    const at = r.offset;
    r.skip(n);
    const data = new BufferReader(block, at, at + n);
    switch (type) {
      case SessionTrack.SYSTEM_VARIABLES: {
        const name = data.lenencString();
        const value = data.lenencString();
        out.push({ type: "variable", name, value });
        break;
      }
      case SessionTrack.SCHEMA:
        out.push({ type: "schema", schema: data.lenencString() });
        break;
      case SessionTrack.STATE_CHANGE: {
        // MySQL documents string<lenenc> "1"; MariaDB sends the bare "1". Both end in '1'.
        const raw = data.restBytes();
        out.push({ type: "state-change", changed: raw.length > 0 && raw[raw.length - 1] === 0x31 });
        break;
      }
      case SessionTrack.GTIDS:
        // int<1> encoding specification, then string<lenenc> gtid set.
        data.u8();
        out.push({ type: "gtids", value: data.lenencString() });
        break;
      case SessionTrack.TRANSACTION_CHARACTERISTICS:
        out.push({ type: "transaction-characteristics", value: data.lenencString() });
        break;
      case SessionTrack.TRANSACTION_STATE:
        out.push({ type: "transaction-state", value: data.lenencString() });
        break;
      default:
        out.push({ type: "unknown", code: type });
    }
  }
}

/** Status flags of an OK packet without decoding the rest (hot path). */
export function okStatus(payload: Buffer): number {
  let off = 1;
  off = skipLenenc(payload, off);
  off = skipLenenc(payload, off);
  return payload[off]! | (payload[off + 1]! << 8);
}

function skipLenenc(buf: Buffer, off: number): number {
  const first = buf[off]!;
  if (first < 0xfb) return off + 1;
  if (first === 0xfc) return off + 3;
  if (first === 0xfd) return off + 4;
  return off + 9;
}

export interface OkOptions {
  affectedRows?: number;
  lastInsertId?: number;
  status: number;
  warnings?: number;
  info?: string;
  header?: number;
}

export function encodeOk(seq: number, ok: OkOptions, capabilities: number): Buffer {
  const w = new BufferWriter(32)
    .u8(ok.header ?? 0x00)
    .lenenc(ok.affectedRows ?? 0)
    .lenenc(ok.lastInsertId ?? 0)
    .u16(ok.status & ~ServerStatus.SESSION_STATE_CHANGED)
    .u16(ok.warnings ?? 0);
  const info = ok.info ?? "";
  if (capabilities & Capability.SESSION_TRACK) {
    if (info.length > 0) w.lenencString(info);
  } else {
    w.string(info);
  }
  return w.toPacket(seq);
}
