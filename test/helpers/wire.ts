import { expect } from "vitest";
import {
  Captured,
  NOT_DONE,
  type ResponseKind,
  ResponseScanner,
} from "../../src/protocol/response-scanner.js";

/**
 * Builders for MySQL wire bytes, written independently of `src/protocol` so codec tests do not
 * check the code against itself. Layouts follow the MySQL internals manual ("Basic Data Types",
 * "OK_Packet", "EOF_Packet", "ERR_Packet", "Column Definition", "Text Resultset", "Binary
 * Protocol Resultset", "COM_STMT_PREPARE Response").
 */

/** Largest payload of one physical packet; a payload of exactly this size is continued. */
export const MAX_PACKET = 0xffffff;

/** Bytes from a hex string; whitespace is ignored so fixtures can be laid out by packet. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

/** Concatenates byte parts; strings are UTF-8, number arrays are raw bytes. */
export function bytes(...parts: (Uint8Array | string | readonly number[])[]): Buffer {
  return Buffer.concat(
    parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p as Uint8Array))),
  );
}

export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

export function u24(v: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntLE(v, 0, 3);
  return b;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** int<lenenc>: < 0xFB in one byte, else 0xFC + int<2>, 0xFD + int<3>, 0xFE + int<8>. */
export function lenenc(v: number | bigint): Buffer {
  const n = BigInt(v);
  if (n < 0xfbn) return Buffer.from([Number(n)]);
  if (n <= 0xffffn) return bytes([0xfc], u16(Number(n)));
  if (n <= 0xffffffn) return bytes([0xfd], u24(Number(n)));
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(n, 1);
  return b;
}

/** string<lenenc> */
export function lenencStr(s: Uint8Array | string): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  return bytes(lenenc(b.length), b);
}

/** Physical packets for one logical payload: 0xFFFFFF-byte pieces, then a shorter (maybe empty) one. */
export function frames(seq: number, payload: Uint8Array): Buffer {
  return Buffer.concat(framePieces(seq, payload));
}

/** `frames` as headers and views of the payload, so big payloads are not copied. */
function framePieces(seq: number, payload: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  let s = seq;
  for (;;) {
    const len = Math.min(MAX_PACKET, payload.length - at);
    out.push(bytes(u24(len), [s & 0xff]), payload.subarray(at, at + len));
    at += len;
    s++;
    if (len < MAX_PACKET) break;
  }
  return out;
}

/** Number of physical packets `frames` makes for a payload of this length. */
export function frameCount(length: number): number {
  return Math.floor(length / MAX_PACKET) + 1;
}

export interface OkFields {
  /** 0x00, or 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF. */
  header?: number;
  affectedRows?: number | bigint;
  lastInsertId?: number | bigint;
  status?: number;
  warnings?: number;
  info?: string;
  /** CLIENT_SESSION_TRACK layout: info as string<lenenc>, then session state when given. */
  sessionTrack?: boolean;
  /** session_state_info entries (see `stateEntry`), written when sessionTrack is on. */
  sessionState?: Buffer;
}

export function okPayload(o: OkFields = {}): Buffer {
  const parts: Buffer[] = [
    Buffer.from([o.header ?? 0x00]),
    lenenc(o.affectedRows ?? 0),
    lenenc(o.lastInsertId ?? 0),
    u16(o.status ?? 0),
    u16(o.warnings ?? 0),
  ];
  if (o.sessionTrack) {
    parts.push(lenencStr(o.info ?? ""));
    if (o.sessionState !== undefined) parts.push(lenencStr(o.sessionState));
  } else if (o.info !== undefined) {
    parts.push(Buffer.from(o.info, "utf8"));
  }
  return Buffer.concat(parts);
}

/** One session_state_info entry: int<1> type, string<lenenc> data. */
export function stateEntry(type: number, data: Uint8Array): Buffer {
  return bytes([type], lenencStr(data));
}

/** EOF_Packet: 0xFE, int<2> warnings, int<2> status_flags. */
export function eofPayload(status: number, warnings = 0): Buffer {
  return bytes([0xfe], u16(warnings), u16(status));
}

/** ERR_Packet (CLIENT_PROTOCOL_41): 0xFF, int<2> code, '#', string[5] SQLSTATE, message. */
export function errPayload(errno: number, sqlState: string, message: string): Buffer {
  return bytes([0xff], u16(errno), "#", sqlState, message);
}

/** ColumnDefinition41 for `def`.`db`.`t`.`name`, VAR_STRING utf8mb4 unless told. */
export function columnDefPayload(name: string, type = 0xfd, charset = 45): Buffer {
  return bytes(
    lenencStr("def"),
    lenencStr("db"),
    lenencStr("t"),
    lenencStr("t"),
    lenencStr(name),
    lenencStr(name),
    [0x0c],
    u16(charset),
    u32(1020),
    [type],
    u16(0),
    [0],
    u16(0),
  );
}

/** Text row: each value string<lenenc>, NULL as 0xFB. */
export function textRow(values: readonly (Uint8Array | string | null)[]): Buffer {
  return Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : lenencStr(v))));
}

/**
 * Binary row: 0x00 header, NULL bitmap of (columns + 7 + 2) / 8 bytes with a 2-bit offset, then
 * the non-NULL values (string-typed here: string<lenenc>).
 */
export function binaryRow(values: readonly (Uint8Array | string | null)[]): Buffer {
  const bitmap = Buffer.alloc(Math.floor((values.length + 7 + 2) / 8));
  const rest: Buffer[] = [];
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
    else rest.push(lenencStr(v));
  });
  return Buffer.concat([Buffer.from([0x00]), bitmap, ...rest]);
}

/** COM_STMT_PREPARE_OK: 0x00, int<4> id, int<2> columns, int<2> params, 0x00, int<2> warnings. */
export function prepareOkPayload(id: number, columns: number, params: number, warnings = 0): Buffer {
  return bytes([0x00], u32(id), u16(columns), u16(params), [0], u16(warnings));
}

/** LOCAL INFILE request: 0xFB, string<EOF> filename. */
export function infilePayload(filename: string): Buffer {
  return bytes([0xfb], filename);
}

/** A logical packet the scanner is expected to hand over, and where its payload lies. */
export interface ExpectedCapture {
  type: Captured;
  payload: Buffer;
  /** Offsets of the payload in the stream (one physical packet: captures never span two). */
  start: number;
  end: number;
}

/**
 * A server's byte stream under construction: logical packets with running sequence ids, plus
 * the packets a ResponseScanner should capture, in order.
 */
export class Wire {
  private readonly parts: Uint8Array[] = [];
  private joined: Buffer | null = null;
  length = 0;
  readonly captures: ExpectedCapture[] = [];
  /** Offset of every physical packet's header, in order. */
  readonly starts: number[] = [];

  constructor(public seq = 1) {}

  /** Appends one logical packet; `captured` names it when the scanner must hand it over. */
  packet(payload: Buffer, captured?: Captured): this {
    const framed = framePieces(this.seq, payload);
    const framedLength = payload.length + 4 * frameCount(payload.length);
    if (captured !== undefined) {
      this.captures.push({
        type: captured,
        payload,
        start: this.length + 4,
        end: this.length + 4 + payload.length,
      });
    }
    for (let k = 0, at = this.length; k < frameCount(payload.length); k++, at += 4 + MAX_PACKET) {
      this.starts.push(at);
    }
    this.parts.push(...framed);
    this.length += framedLength;
    this.joined = null;
    this.seq = (this.seq + frameCount(payload.length)) & 0xff;
    return this;
  }

  /**
   * A stream of real captured packets, re-framed packet by packet with `types[i]` naming the
   * i-th logical packet's capture (null: skipped by length). Checks the re-framing is exact.
   */
  static parse(stream: Buffer, types: readonly (Captured | null)[]): Wire {
    const w = new Wire(stream[3] ?? 0);
    let at = 0;
    let i = 0;
    while (at < stream.length) {
      const len = stream.readUIntLE(at, 3);
      w.packet(stream.subarray(at + 4, at + 4 + len), types[i++] ?? undefined);
      at += 4 + len;
    }
    if (i !== types.length || !w.bytes().equals(stream)) throw new Error("fixture does not match its types");
    return w;
  }

  /** Appends bytes that are not packets of this response (trailing data). */
  raw(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    this.joined = null;
    return this;
  }

  ok(fields: OkFields = {}): this {
    return this.packet(okPayload(fields), Captured.OK);
  }

  err(errno: number, sqlState = "HY000", message = "error"): this {
    return this.packet(errPayload(errno, sqlState, message), Captured.ERR);
  }

  /**
   * A text or binary result set: column count, definitions, [EOF], rows, then the terminator
   * (EOF, or OK with 0xFE header under CLIENT_DEPRECATE_EOF) carrying `status`.
   */
  resultSet(o: {
    columns: number;
    rows: readonly Buffer[];
    deprecateEof: boolean;
    status: number;
    /** Status of the EOF after the column definitions (classic mode only). */
    columnsEofStatus?: number;
    /**
     * MARIADB_CLIENT_CACHE_METADATA: the column count's metadata_follows byte (false: no
     * definitions). Without it, no such byte.
     */
    metadataFollows?: boolean;
    /** Column names (default c0, c1, ...). */
    names?: readonly string[];
  }): this {
    const count = lenenc(o.columns);
    const follows = o.metadataFollows;
    this.packet(follows === undefined ? count : bytes(count, [follows ? 1 : 0]), Captured.COLUMN_COUNT);
    if (follows !== false)
      for (let c = 0; c < o.columns; c++) this.packet(columnDefPayload(o.names?.[c] ?? `c${c}`));
    // Servers repeat the statement's status here, SERVER_MORE_RESULTS_EXISTS included.
    if (!o.deprecateEof) this.packet(eofPayload(o.columnsEofStatus ?? o.status), Captured.EOF);
    for (const row of o.rows) this.packet(row);
    return this.terminator(o.deprecateEof, o.status);
  }

  /** End of rows: EOF_Packet, or under CLIENT_DEPRECATE_EOF an OK_Packet with 0xFE header. */
  terminator(deprecateEof: boolean, status: number): this {
    if (deprecateEof) return this.ok({ header: 0xfe, status });
    return this.packet(eofPayload(status), Captured.EOF);
  }

  /** The whole stream (built once, then shared: callers must not write to it). */
  bytes(): Buffer {
    this.joined ??= Buffer.concat(this.parts, this.length);
    return this.joined;
  }
}

/**
 * Cuts `b` at the given offsets. Pieces are copies by default, so a read past a chunk's end finds
 * nothing; big streams pass `copy = false` to get views instead.
 */
export function splitAt(b: Buffer, cuts: readonly number[], copy = true): Buffer[] {
  const sorted = [...new Set(cuts)].filter((c) => c > 0 && c < b.length).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of [...sorted, b.length]) {
    out.push(copy ? Buffer.from(b.subarray(at, c)) : b.subarray(at, c));
    at = c;
  }
  return out;
}

export interface Chunking {
  name: string;
  chunks: Buffer[];
}

/**
 * The chunkings node-postgres's inbound parser tests use: the bytes whole, split in two at every
 * offset, and one byte at a time. Only for small streams (quadratic in the length).
 */
export function* everyChunking(b: Buffer): Generator<Chunking> {
  yield { name: "whole", chunks: [Buffer.from(b)] };
  for (let k = 1; k < b.length; k++) yield { name: `split at ${k}`, chunks: splitAt(b, [k]) };
  yield {
    name: "byte by byte",
    chunks: splitAt(
      b,
      Array.from({ length: b.length }, (_, i) => i),
    ),
  };
}

/** Offsets within `radius` bytes of each point: cutting at all of them goes byte by byte there. */
export function around(points: readonly number[], radius: number): number[] {
  return points.flatMap((p) => Array.from({ length: 2 * radius + 1 }, (_, i) => p - radius + i));
}

/**
 * For streams too long to split at every offset: whole, 64 KiB pieces, byte by byte around every
 * packet boundary, and split in two at each offset within `radius` of a boundary. Views, no copies.
 */
export function* boundaryChunkings(wire: Wire, radius = 5): Generator<Chunking> {
  const b = wire.bytes();
  const near = around([...wire.starts, wire.length], radius).filter((k) => k > 0 && k < b.length);
  yield { name: "whole", chunks: [b] };
  yield { name: "64 KiB pieces", chunks: inPieces(b, 65536) };
  yield { name: "byte by byte near boundaries", chunks: splitAt(b, near, false) };
  for (const k of new Set(near)) yield { name: `split at ${k}`, chunks: splitAt(b, [k], false) };
}

/** Fixed-size pieces (the way a socket hands over a big response). */
export function inPieces(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += size) out.push(b.subarray(at, Math.min(b.length, at + size)));
  return out;
}

export interface ScanCapture {
  type: Captured;
  payload: string;
  /** Stream offset of the packet's header when header and payload lie in one chunk, else -1. */
  at: number;
  /** Stream offset just past the packet. */
  end: number;
}

export interface ScanRun {
  /** Offset in the whole stream just past the response; NOT_DONE if it never ended. */
  end: number;
  /** Offset just past the LOCAL INFILE request, when the scanner stopped for one. */
  infileAt: number | null;
  status: number;
  errno: number;
  idle: boolean;
  captures: ScanCapture[];
}

/**
 * Feeds chunks to a fresh scanner until the response ends. On a LOCAL INFILE request it records
 * where the scanner stopped, calls `infileSent()` (the client's file went to the server) and
 * goes on from there, as the relay does.
 */
export function runScanner(
  kind: ResponseKind,
  deprecateEof: boolean,
  chunks: readonly Buffer[],
  opts: ScanOptions = {},
): ScanRun {
  const captures: ScanCapture[] = [];
  let base = 0;
  const scanner: ResponseScanner = new ResponseScanner(
    deprecateEof,
    {
      onPacket(type, buf, start, payloadEnd, at) {
        const end = base + scanner.packetEnd;
        const payload = buf.toString("hex", start, payloadEnd);
        captures.push({ type, payload, at: at < 0 ? -1 : base + at, end });
      },
    },
    opts.cacheMetadata ?? false,
  );
  scanner.begin(kind, opts.captureColumns ?? false);
  let infileAt: number | null = null;
  for (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const r = scanner.scan(chunk, start);
      if (r === NOT_DONE) break;
      if (!scanner.awaitingInfile) {
        return {
          end: base + r,
          infileAt,
          status: scanner.status,
          errno: scanner.errno,
          idle: scanner.idle,
          captures,
        };
      }
      infileAt = base + r;
      scanner.infileSent();
      start = r;
    }
    base += chunk.length;
  }
  return {
    end: NOT_DONE,
    infileAt,
    status: scanner.status,
    errno: scanner.errno,
    idle: scanner.idle,
    captures,
  };
}

/** The captures a correct scanner reports for `wire` when fed these chunks. */
export function expectedCaptures(wire: Wire, chunks: readonly Buffer[]): ScanCapture[] {
  // at: the packet (header included) lies whole in one chunk, so edits to the payload edit that chunk.
  return wire.captures.map((c) => ({
    type: c.type,
    payload: c.payload.toString("hex"),
    at: inOneChunk(chunks, c.start - 4, c.end) ? c.start - 4 : -1,
    end: c.end,
  }));
}

/** Whether stream offsets [start, end) lie within a single one of these consecutive chunks. */
export function inOneChunk(chunks: readonly Buffer[], start: number, end: number): boolean {
  let at = 0;
  for (const c of chunks) {
    if (start >= at && end <= at + c.length) return true;
    at += c.length;
    if (at > start) return false;
  }
  return false;
}

/** How the scanner is set up: MARIADB_CLIENT_CACHE_METADATA, column definitions handed over. */
export interface ScanOptions {
  cacheMetadata?: boolean;
  captureColumns?: boolean;
}

export interface ScanWant {
  status: number;
  errno?: number;
  /** Where the response ends; the whole stream when not told. */
  end?: number;
  infileAt?: number | null;
}

/**
 * Scans `wire` under every chunking (or the given ones) and checks the end offset, final status,
 * errno and the captured packets, with the chunking's name in any failure.
 */
export function checkScan(
  wire: Wire,
  kind: ResponseKind,
  deprecateEof: boolean,
  want: ScanWant,
  chunkings: Iterable<Chunking> = everyChunking(wire.bytes()),
  opts: ScanOptions = {},
): void {
  for (const { name, chunks } of chunkings) {
    const run = runScanner(kind, deprecateEof, chunks, opts);
    expect(run.end, name).toBe(want.end ?? wire.length);
    expect(run.idle, name).toBe(true);
    expect(run.status, name).toBe(want.status);
    expect(run.errno, name).toBe(want.errno ?? 0);
    expect(run.infileAt, name).toBe(want.infileAt ?? null);
    expect(run.captures, name).toEqual(expectedCaptures(wire, chunks));
  }
}
