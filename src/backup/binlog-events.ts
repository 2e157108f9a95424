import { formatGtid, type Gtid } from "../monitor/gtid.js";

/**
 * Just enough of the binary log format to index an archived file. Pure.
 *
 * A binlog file is the magic `\xfe bin`, then events. Every event starts with the v4 common
 * header (MariaDB KB "Binlog Event Header"), 19 bytes, little-endian:
 *
 *   timestamp u32 | type u8 | server_id u32 | event_length u32 | next_position u32 | flags u16
 *
 * `event_length` covers the header, the body and the CRC32 checksum, so events can be skipped
 * without knowing their bodies. Two bodies are read (MariaDB KB "GTID_EVENT", "GTID_LIST_EVENT"):
 *
 *   GTID_EVENT (0xa2):       seq_no u64 | domain_id u32 | flags u8 | ...
 *   GTID_LIST_EVENT (0xa3):  count u32 (low 28 bits) | count × (domain u32 | server_id u32 | seq_no u64)
 *
 * The Gtid_list event near the start of each file is the binlog state before its first event:
 * what a reader must already have applied to continue with this file.
 */

export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
export const HEADER_BYTES = 19;
export const GTID_EVENT = 0xa2;
export const GTID_LIST_EVENT = 0xa3;

export interface EventHeader {
  timestamp: number;
  type: number;
  serverId: number;
  length: number;
}

export function parseHeader(buf: Buffer, at = 0): EventHeader | null {
  if (buf.length - at < HEADER_BYTES) return null;
  return {
    timestamp: buf.readUInt32LE(at),
    type: buf.readUInt8(at + 4),
    serverId: buf.readUInt32LE(at + 5),
    length: buf.readUInt32LE(at + 9),
  };
}

export function parseGtidEvent(body: Buffer, serverId: number): Gtid | null {
  if (body.length < 12) return null;
  return { seq: body.readBigUInt64LE(0), domain: body.readUInt32LE(8), server: serverId };
}

export function parseGtidList(body: Buffer): Gtid[] | null {
  if (body.length < 4) return null;
  const count = body.readUInt32LE(0) & 0x0fff_ffff;
  if (body.length < 4 + count * 16) return null;
  const out: Gtid[] = [];
  for (let i = 0; i < count; i++) {
    const at = 4 + i * 16;
    out.push({
      domain: body.readUInt32LE(at),
      server: body.readUInt32LE(at + 4),
      seq: body.readBigUInt64LE(at + 8),
    });
  }
  return out;
}

/** What an archived file holds, built event by event. */
export class BinlogSummary {
  /** The Gtid_list at the file's start ("" for the first file of a server); null if none was seen. */
  startGtidList: string | null = null;
  /** Per domain, the last GTID in the file. */
  readonly last = new Map<number, Gtid>();
  firstTime: number | null = null;
  lastTime: number | null = null;
  transactions = 0;

  add(h: EventHeader, body: Buffer): void {
    if (h.type === GTID_LIST_EVENT && this.startGtidList === null) {
      const list = parseGtidList(body);
      if (list) this.startGtidList = list.map(formatGtid).join(",");
    } else if (h.type === GTID_EVENT) {
      const g = parseGtidEvent(body, h.serverId);
      if (g === null) return;
      this.last.set(g.domain, g);
      this.transactions++;
      this.firstTime ??= h.timestamp;
      this.lastTime = h.timestamp;
    }
  }

  /** The state after the file: its start list advanced by every GTID in it. */
  endPosition(): string {
    const pos = new Map<number, Gtid>();
    for (const part of (this.startGtidList ?? "").split(",").filter(Boolean)) {
      const [d, s, q] = part.split("-");
      pos.set(Number(d), { domain: Number(d), server: Number(s), seq: BigInt(q!) });
    }
    for (const [d, g] of this.last) pos.set(d, g);
    return [...pos.values()]
      .sort((a, b) => a.domain - b.domain)
      .map(formatGtid)
      .join(",");
  }
}

/** Whether an event body is worth reading (the rest are skipped by length). */
export function wantsBody(type: number): boolean {
  return type === GTID_EVENT || type === GTID_LIST_EVENT;
}

/** The number in "mariadb-bin.000012". */
export function fileNumber(name: string): number {
  const m = /\.(\d+)$/.exec(name);
  return m ? Number(m[1]) : -1;
}
