/**
 * Just enough of the MySQL wire protocol to tell where a response ends, written apart from
 * `src/protocol` (whose ResponseScanner is what the relay under test uses): the stress client
 * must not find response boundaries with the code it checks. Layouts from the MySQL internals
 * manual ("OK_Packet", "EOF_Packet", "Text Resultset", "Binary Protocol Resultset",
 * "COM_STMT_PREPARE Response", "COM_STMT_FETCH").
 */

/** Largest payload of one physical packet; a payload of exactly this size is continued. */
export const MAX_PACKET = 0xffffff;

/** Bytes of a logical packet's payload kept for decisions (header byte, lenencs, status). */
const HEAD = 32;

const SERVER_MORE_RESULTS_EXISTS = 0x0008;
const SERVER_STATUS_CURSOR_EXISTS = 0x0040;

/** One logical packet: continuation packets counted in, only its first bytes kept. */
export interface PacketHead {
  /** Sequence id of its first physical packet. */
  seq: number;
  /** Length of the whole logical payload. */
  length: number;
  /** The payload's first min(length, 32) bytes. */
  head: Buffer;
}

/**
 * Walks physical packet headers (`int<3> length, int<1> seq`) across arbitrary chunks without
 * copying payloads: each logical packet is handed over as its length and first bytes.
 */
export class PacketHeads {
  private readonly header = Buffer.alloc(4);
  private headerHave = 0;
  /** Payload bytes of the current physical packet still to come. */
  private remaining = 0;
  private inPayload = false;
  /** The current physical packet is 0xFFFFFF long: the logical packet continues after it. */
  private continued = false;
  private logicalLength = 0;
  private logicalSeq = 0;
  private head = Buffer.alloc(HEAD);
  private headHave = 0;
  private started = false;

  /**
   * Feeds a chunk from `start`; `onPacket` gets each completed logical packet and returns true to
   * stop there. Returns the offset just past the last byte consumed.
   */
  push(chunk: Buffer, start: number, onPacket: (p: PacketHead) => boolean): number {
    let at = start;
    while (at < chunk.length) {
      if (!this.inPayload) {
        const take = Math.min(4 - this.headerHave, chunk.length - at);
        chunk.copy(this.header, this.headerHave, at, at + take);
        this.headerHave += take;
        at += take;
        if (this.headerHave < 4) return at;
        this.headerHave = 0;
        const len = this.header.readUIntLE(0, 3);
        if (!this.started) {
          this.started = true;
          this.logicalSeq = this.header[3]!;
          this.logicalLength = 0;
          this.headHave = 0;
        }
        this.logicalLength += len;
        this.remaining = len;
        this.continued = len === MAX_PACKET;
        this.inPayload = true;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      if (this.headHave < HEAD) {
        const keep = Math.min(HEAD - this.headHave, take);
        chunk.copy(this.head, this.headHave, at, at + keep);
        this.headHave += keep;
      }
      at += take;
      this.remaining -= take;
      if (this.remaining > 0) return at;
      this.inPayload = false;
      if (this.continued) continue;
      this.started = false;
      const p = {
        seq: this.logicalSeq,
        length: this.logicalLength,
        head: Buffer.from(this.head.subarray(0, this.headHave)),
      };
      if (onPacket(p)) return at;
    }
    return at;
  }

  /** True between packets (no partial header or payload pending). */
  get idle(): boolean {
    return !this.inPayload && this.headerHave === 0 && !this.started;
  }
}

/** int<lenenc> at `at`: its value and width; null when `b` is too short. */
export function readLenenc(b: Buffer, at: number): { value: number; width: number } | null {
  const first = b[at];
  if (first === undefined) return null;
  if (first < 0xfb) return { value: first, width: 1 };
  const width = first === 0xfc ? 3 : first === 0xfd ? 4 : first === 0xfe ? 9 : 0;
  if (width === 0 || at + width > b.length) return null;
  const value = width === 9 ? Number(b.readBigUInt64LE(at + 1)) : b.readUIntLE(at + 1, width - 1);
  return { value, width };
}

/** Status flags of an OK packet (header, lenenc affected rows, lenenc last insert id, int<2> status). */
function okStatus(head: Buffer): number {
  const affected = readLenenc(head, 1);
  const insertId = affected && readLenenc(head, 1 + affected.width);
  if (!affected || !insertId) throw new Error(`short OK packet: ${head.toString("hex")}`);
  return head.readUInt16LE(1 + affected.width + insertId.width);
}

/** EOF_Packet: 0xFE, int<2> warnings, int<2> status. */
const eofStatus = (head: Buffer) => head.readUInt16LE(3);

/** What a command's response looks like. */
export type ResponseKind =
  /** OK or ERR (COM_PING, COM_INIT_DB, COM_STMT_RESET). */
  | "ok"
  /** Results of COM_QUERY or COM_STMT_EXECUTE: OK, ERR or result sets, chained by MORE_RESULTS. */
  | "results"
  /** COM_STMT_PREPARE: PREPARE_OK, parameter and column definitions. */
  | "prepare"
  /** COM_STMT_FETCH: rows, then EOF (or OK with 0xFE header) or ERR. */
  | "fetch";

type State = "first" | "columns" | "columnsEof" | "rows" | "definitions" | "definitionsEof" | "done";

/**
 * Where a response ends, packet by packet. Rows are never decoded: a row is anything that is
 * not a terminator, and a terminator is 0xFE with a payload under 9 bytes (EOF_Packet) or, under
 * CLIENT_DEPRECATE_EOF, under 0xFFFFFF bytes (an OK_Packet; a text row starting with 0xFE holds
 * a value of at least 2^24 bytes, so it is longer).
 */
export class ResponseEnd {
  private state: State = "done";
  private kind: ResponseKind = "ok";
  private left = 0;
  /** Definition blocks of a PREPARE response still to come (their lengths). */
  private blocks: number[] = [];
  /** Status flags of the last OK/EOF seen. */
  status = 0;
  /** Error number when the response ended with ERR, else 0. */
  errno = 0;
  /** From PREPARE_OK: statement id, columns, parameters. */
  prepared: { id: number; columns: number; params: number } | null = null;
  /** Result sets seen (a multi-statement or CALL has several). */
  resultSets = 0;

  constructor(private readonly deprecateEof: boolean) {}

  begin(kind: ResponseKind): void {
    this.kind = kind;
    this.state = kind === "fetch" ? "rows" : "first";
    this.status = 0;
    this.errno = 0;
    this.prepared = null;
    this.resultSets = 0;
  }

  get done(): boolean {
    return this.state === "done";
  }

  private isTerminator(p: PacketHead): boolean {
    return p.head[0] === 0xfe && p.length < (this.deprecateEof ? MAX_PACKET : 9);
  }

  /** Feeds the next packet of the response; true when it was the last one. */
  push(p: PacketHead): boolean {
    const h = p.head;
    switch (this.state) {
      case "done":
        throw new Error(`packet after the response ended: ${h.subarray(0, 8).toString("hex")}`);
      case "first":
        if (h[0] === 0xff) return this.error(h);
        if (this.kind === "prepare") return this.prepareOk(p);
        if (h[0] === 0x00) {
          this.status = okStatus(h);
          return this.next(this.kind === "results" && (this.status & SERVER_MORE_RESULTS_EXISTS) !== 0);
        }
        if (this.kind === "ok") throw new Error(`expected OK or ERR, got ${h.toString("hex")}`);
        if (h[0] === 0xfb) throw new Error("LOCAL INFILE request: not part of the stress test");
        this.left = readLenenc(h, 0)!.value;
        this.resultSets++;
        this.state = "columns";
        return false;
      case "columns":
        if (--this.left > 0) return false;
        this.state = this.deprecateEof ? "rows" : "columnsEof";
        return false;
      case "columnsEof":
        this.status = eofStatus(h);
        // A cursor was opened (COM_STMT_EXECUTE with a cursor flag): rows come with COM_STMT_FETCH.
        if (this.status & SERVER_STATUS_CURSOR_EXISTS) return this.next(false);
        this.state = "rows";
        return false;
      case "rows":
        if (h[0] === 0xff) return this.error(h);
        if (!this.isTerminator(p)) return false;
        this.status = this.deprecateEof ? okStatus(h) : eofStatus(h);
        return this.next(this.kind === "results" && (this.status & SERVER_MORE_RESULTS_EXISTS) !== 0);
      case "definitions":
        if (--this.left > 0) return false;
        if (!this.deprecateEof) {
          this.state = "definitionsEof";
          return false;
        }
        return this.startDefinitions();
      case "definitionsEof":
        return this.startDefinitions();
    }
  }

  private next(more: boolean): boolean {
    this.state = more ? "first" : "done";
    return !more;
  }

  private error(h: Buffer): boolean {
    this.errno = h.length >= 3 ? h.readUInt16LE(1) : 0;
    this.state = "done";
    return true;
  }

  /** COM_STMT_PREPARE_OK: 0x00, int<4> id, int<2> columns, int<2> params, 0x00, int<2> warnings. */
  private prepareOk(p: PacketHead): boolean {
    const h = p.head;
    this.prepared = { id: h.readUInt32LE(1), columns: h.readUInt16LE(5), params: h.readUInt16LE(7) };
    // Parameter definitions, then column definitions: each block (when not empty) ends with an
    // EOF_Packet unless CLIENT_DEPRECATE_EOF.
    this.blocks = [this.prepared.params, this.prepared.columns].filter((n) => n > 0);
    return this.startDefinitions();
  }

  private startDefinitions(): boolean {
    const n = this.blocks.shift();
    if (n === undefined) return this.next(false);
    this.left = n;
    this.state = "definitions";
    return false;
  }
}
