import { MAX_PAYLOAD } from "./buffer-writer.js";
import { ServerStatus } from "./constants/server-status.js";

/**
 * What a backend sends back for one command, as far as the relay needs to know it: where the
 * response ends, the final status flags, and the few packets the proxy must read (OK, ERR,
 * PREPARE_OK, LOCAL INFILE request). Rows and column definitions are skipped by length, never
 * decoded (STYLE.md principle 3).
 *
 * Response shapes (MySQL internals manual, "COM_QUERY Response", "Binary Protocol Resultset",
 * "COM_STMT_PREPARE Response"):
 *   resultset := column_count, column_def * n, [EOF], row *, (EOF | OK-as-EOF 0xFE | ERR)
 *   query     := (OK | ERR | LOCAL_INFILE_REQUEST 0xFB | resultset), repeated while the
 *                terminator carries SERVER_MORE_RESULTS_EXISTS
 *   prepare   := PREPARE_OK, param_def * p, [EOF], column_def * c, [EOF]  |  ERR
 *   cursor    := COM_STMT_EXECUTE with a cursor flag: column_count, column_def * n, then one
 *                EOF (or OK-as-EOF 0xFE under CLIENT_DEPRECATE_EOF) whose status has
 *                SERVER_STATUS_CURSOR_EXISTS, and no rows
 *   fetch     := COM_STMT_FETCH: binary row * (up to num_rows), (EOF | OK-as-EOF 0xFE | ERR); the
 *                terminator has SERVER_STATUS_LAST_ROW_SENT once the cursor is exhausted
 *
 * Under MariaDB's MARIADB_CLIENT_CACHE_METADATA (`cacheMetadata`) every column_count packet ends
 * with int<1> metadata_follows; when it is 0 the column definitions are skipped (the [EOF] after
 * them is still sent without CLIENT_DEPRECATE_EOF): `column_count(n, 0), [EOF], row *, ...`.
 */
export const ResponseKind = {
  /** COM_QUERY and COM_STMT_EXECUTE: OK, ERR, LOCAL INFILE or result sets. */
  RESULTSET: 1,
  /** COM_STMT_PREPARE */
  PREPARE: 2,
  /** COM_FIELD_LIST: column definitions closed by EOF (or ERR). */
  FIELD_LIST: 3,
  /** One OK / ERR / EOF packet: COM_PING, COM_INIT_DB, COM_SET_OPTION, COM_STMT_RESET, ... */
  SIMPLE: 4,
  /** COM_STATISTICS: one string packet (or ERR). */
  STRING: 5,
  /** COM_STMT_FETCH: rows of an open cursor, then EOF / OK-as-EOF (or ERR). No column count. */
  FETCH: 6,
} as const;
export type ResponseKind = (typeof ResponseKind)[keyof typeof ResponseKind];

enum Phase {
  Idle,
  First,
  Columns,
  ColumnsEof,
  Rows,
  PrepParams,
  PrepParamsEof,
  PrepColumns,
  PrepColumnsEof,
  Simple,
  StringPacket,
  FieldList,
  /** The server asked for a LOCAL INFILE: the client's file follows, then one OK/ERR. */
  Infile,
  Done,
}

/** Packets the scanner hands over whole (all small). */
export const Captured = {
  OK: 1,
  ERR: 2,
  EOF: 3,
  PREPARE_OK: 4,
  INFILE_REQUEST: 5,
  COLUMN_COUNT: 6,
  /** A result set row, handed over only when `captureRows` is set (the proxy's own queries). */
  ROW: 7,
  /**
   * A column definition (of a result set, or of a PREPARE's columns), handed over only while
   * `captureColumns` is set.
   */
  COLUMN_DEF: 8,
} as const;
export type Captured = (typeof Captured)[keyof typeof Captured];

export interface ScannerListener {
  /**
   * A packet the proxy reads: its payload is `buf[start, end)`, valid only during the call. `at`
   * is the offset of its header in the chunk being scanned when the packet lies whole in that
   * chunk (`buf` is the chunk then), or -1 when it began in an earlier chunk (then `buf` is a copy
   * of the payload alone). Either way `scanner.packetEnd` is the offset just past it in the
   * current chunk. Offsets, not a view: a Buffer view costs ~50 ns, and most captured packets
   * (the column count, the EOFs, a result set's closing OK) are read a few bytes of, or not at all.
   */
  onPacket(type: Captured, buf: Buffer, start: number, end: number, at: number): void;
}

/** Result of `scan`: the response is not over yet. */
export const NOT_DONE = -1;

/**
 * A byte-level state machine over one backend connection's stream. `begin(kind)` before sending
 * a command; `scan(chunk)` for every chunk received; it returns the offset just past the end of
 * the response (NOT_DONE while more is to come). Input may be split at any byte.
 */
export class ResponseScanner {
  private phase: Phase = Phase.Idle;
  private kind: ResponseKind = ResponseKind.SIMPLE;
  /** Bytes of the current packet's payload still to skip. */
  private skipLeft = 0;
  /** Partial header: 4 header bytes + the payload's first byte. */
  private readonly head = Buffer.alloc(5);
  private headHave = 0;
  /** The current physical packet had length 0xFFFFFF: the next one continues it. */
  private continued = false;
  /** A captured packet being assembled across chunks. */
  private capture: Buffer | null = null;
  private captureHave = 0;
  private captureType: Captured = Captured.OK;
  private columnsLeft = 0;
  private paramsLeft = 0;
  /** Status flags of the last OK/EOF seen. */
  status = 0;
  /** Warning count of the last OK/EOF seen in this response (0 before one). */
  warnings = 0;
  /** This response has held a result set (a column count was seen). */
  resultSet = false;
  /** During `onPacket`: the offset just past the packet in the current chunk. */
  packetEnd = 0;
  /**
   * After `scan`: where, in the chunk just scanned, a packet begins that is not complete and may
   * be one the proxy reads (a captured packet, or a header not yet whole), or -1 when the chunk
   * ended on a packet boundary or inside a packet that is only skipped. A relay that may rewrite
   * captured packets holds those bytes back until the packet is complete.
   */
  pendingFrom = -1;
  /** Header offset of the packet being captured, or -1 when it began in an earlier chunk. */
  private captureAt = -1;
  /** The ERR packet's error number when the response ended with one, else 0. */
  errno = 0;
  /** Hand rows over too (ROW), for the proxy's own small queries; never while relaying. */
  captureRows = false;
  /** Result set rows in this response so far (every result set of it): the digests' rows sent. */
  rows = 0;
  /**
   * Hand column definitions over (COLUMN_DEF): result sets' and a PREPARE's columns (not its
   * parameters). May be switched on by the listener when it gets a COLUMN_COUNT.
   */
  captureColumns = false;
  /** The last column count said its column definitions follow (always, without `cacheMetadata`). */
  metadataFollows = true;

  constructor(
    private deprecateEof: boolean,
    private readonly listener: ScannerListener,
    /** MARIADB_CLIENT_CACHE_METADATA is in force: column counts carry metadata_follows. */
    private readonly cacheMetadata = false,
  ) {}

  setDeprecateEof(on: boolean): void {
    this.deprecateEof = on;
  }

  begin(kind: ResponseKind, captureColumns = false): void {
    this.kind = kind;
    this.captureColumns = captureColumns;
    this.errno = 0;
    this.warnings = 0;
    this.resultSet = false;
    this.rows = 0;
    this.skipLeft = 0;
    this.headHave = 0;
    this.continued = false;
    this.capture = null;
    this.pendingFrom = -1;
    this.phase = firstPhase(kind);
  }

  /** The server asked for a LOCAL INFILE and waits for the client's data. */
  get awaitingInfile(): boolean {
    return this.phase === Phase.Infile;
  }

  /** The client finished sending its file: the server's OK/ERR comes next. */
  infileSent(): void {
    this.phase = Phase.First;
  }

  get idle(): boolean {
    return this.phase === Phase.Idle || this.phase === Phase.Done;
  }

  scan(chunk: Buffer, start = 0): number {
    const n = chunk.length;
    let i = start;
    this.pendingFrom = -1;
    // A capture carried over began in an earlier chunk.
    if (this.capture !== null) this.captureAt = -1;
    for (;;) {
      if (this.capture !== null) {
        if (i >= n) {
          this.pendingFrom = this.captureAt >= 0 ? this.captureAt : start;
          return NOT_DONE;
        }
        const k = Math.min(this.capture.length - this.captureHave, n - i);
        chunk.copy(this.capture, this.captureHave, i, i + k);
        this.captureHave += k;
        i += k;
        if (this.captureHave < this.capture.length) {
          this.pendingFrom = this.captureAt >= 0 ? this.captureAt : start;
          return NOT_DONE;
        }
        const payload = this.capture;
        this.capture = null;
        this.packetEnd = i;
        this.handle(this.captureType, payload, 0, payload.length, -1);
        continue;
      }
      if (this.skipLeft > 0) {
        if (i >= n) return NOT_DONE;
        const k = Math.min(this.skipLeft, n - i);
        i += k;
        this.skipLeft -= k;
        continue;
      }
      if (this.phase === Phase.Done || this.phase === Phase.Idle || this.phase === Phase.Infile) {
        return i;
      }
      if (i >= n) return NOT_DONE;
      // A packet header (plus the payload's first byte, which says what the packet is).
      let len: number;
      let first: number;
      let payloadStart: number;
      let at: number;
      if (this.headHave === 0 && n - i >= 5) {
        len = chunk[i]! | (chunk[i + 1]! << 8) | (chunk[i + 2]! << 16);
        first = len > 0 ? chunk[i + 4]! : 0;
        at = i;
        payloadStart = i + 4;
        i += 4;
      } else {
        // The header began here, or (headHave > 0) in an earlier chunk.
        at = this.headHave === 0 ? i : -1;
        const headFrom = at >= 0 ? at : start;
        while (this.headHave < 4 && i < n) this.head[this.headHave++] = chunk[i++]!;
        if (this.headHave < 4) {
          this.pendingFrom = headFrom;
          return NOT_DONE;
        }
        len = this.head[0]! | (this.head[1]! << 8) | (this.head[2]! << 16);
        if (len > 0 && this.headHave < 5) {
          if (i >= n) {
            this.pendingFrom = headFrom;
            return NOT_DONE;
          }
          this.head[4] = chunk[i]!;
          this.headHave = 5;
        }
        first = len > 0 ? this.head[4]! : 0;
        // The payload starts at i (its first byte, when it was saved above, is still at chunk[i]).
        payloadStart = i;
        this.headHave = 0;
      }
      const wasContinued = this.continued;
      this.continued = len === MAX_PAYLOAD;
      const type = wasContinued ? 0 : this.classify(first, len);
      if (type === 0) {
        this.skipLeft = len;
        i = payloadStart;
        continue;
      }
      if (at >= 0 && payloadStart + len <= n) {
        i = payloadStart + len;
        this.packetEnd = i;
        this.handle(type, chunk, payloadStart, i, at);
      } else {
        this.capture = Buffer.allocUnsafe(len);
        this.captureType = type;
        this.captureHave = 0;
        this.captureAt = at;
        i = payloadStart;
      }
    }
  }

  /** Which packets must be read whole (0 = skip by length). Advances counting phases. */
  private classify(first: number, len: number): Captured | 0 {
    switch (this.phase) {
      case Phase.First:
        if (first === 0x00) return this.kind === ResponseKind.PREPARE ? Captured.PREPARE_OK : Captured.OK;
        if (first === 0xff) return Captured.ERR;
        if (first === 0xfb && this.kind === ResponseKind.RESULTSET) return Captured.INFILE_REQUEST;
        return Captured.COLUMN_COUNT;
      case Phase.Columns:
        if (--this.columnsLeft === 0) this.phase = this.deprecateEof ? Phase.Rows : Phase.ColumnsEof;
        return this.captureColumns ? Captured.COLUMN_DEF : 0;
      case Phase.ColumnsEof:
        return Captured.EOF;
      case Phase.Rows:
        if (first === 0xfe && (this.deprecateEof ? len < MAX_PAYLOAD : len < 9)) {
          return this.deprecateEof ? Captured.OK : Captured.EOF;
        }
        if (first === 0xff) return Captured.ERR;
        this.rows++;
        return this.captureRows ? Captured.ROW : 0;
      case Phase.PrepParams:
        if (--this.paramsLeft === 0) this.afterParams();
        return 0;
      case Phase.PrepParamsEof:
        this.afterParamsEof();
        return 0;
      case Phase.PrepColumns:
        if (--this.columnsLeft === 0) this.phase = this.deprecateEof ? Phase.Done : Phase.PrepColumnsEof;
        return this.captureColumns ? Captured.COLUMN_DEF : 0;
      case Phase.PrepColumnsEof:
        this.phase = Phase.Done;
        return 0;
      case Phase.FieldList:
        // Under CLIENT_DEPRECATE_EOF the terminator is an OK_Packet with a 0xFE header; at 7 bytes
        // it is as short as an EOF_Packet, so the capability decides, not the length.
        if (first === 0xfe && this.deprecateEof && len < MAX_PAYLOAD) return Captured.OK;
        if (first === 0xfe && len < 9) return Captured.EOF;
        if (first === 0xff) return Captured.ERR;
        return 0;
      case Phase.Simple:
        if (first === 0xff) return Captured.ERR;
        // COM_SET_OPTION answers with an EOF_Packet, or an OK with 0xFE header under DEPRECATE_EOF.
        if (first === 0xfe && len < 9 && !this.deprecateEof) return Captured.EOF;
        return Captured.OK;
      case Phase.StringPacket:
        if (first === 0xff) return Captured.ERR;
        this.phase = Phase.Done;
        return 0;
      default:
        return 0;
    }
  }

  /** The captured packet's payload is `buf[start, end)`. */
  private handle(type: Captured, buf: Buffer, start: number, end: number, at: number): void {
    const len = end - start;
    switch (type) {
      case Captured.OK: {
        const at = okStatusAt(buf, start, end);
        this.status = at + 1 < end ? buf[at]! | (buf[at + 1]! << 8) : 0;
        this.warnings = at + 3 < end ? buf[at + 2]! | (buf[at + 3]! << 8) : 0;
        this.phase = this.status & ServerStatus.MORE_RESULTS_EXISTS ? Phase.First : Phase.Done;
        break;
      }
      case Captured.EOF: {
        this.status = len >= 5 ? buf[start + 3]! | (buf[start + 4]! << 8) : this.status;
        this.warnings = len >= 3 ? buf[start + 1]! | (buf[start + 2]! << 8) : 0;
        if (this.phase === Phase.ColumnsEof) {
          // A cursor was opened (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY): rows come by COM_STMT_FETCH.
          this.phase = this.status & ServerStatus.CURSOR_EXISTS ? Phase.Done : Phase.Rows;
        } else if (this.phase === Phase.FieldList || this.phase === Phase.Simple) {
          this.phase = Phase.Done;
        } else {
          this.phase = this.status & ServerStatus.MORE_RESULTS_EXISTS ? Phase.First : Phase.Done;
        }
        break;
      }
      case Captured.ERR:
        this.errno = len >= 3 ? buf[start + 1]! | (buf[start + 2]! << 8) : 0;
        this.phase = Phase.Done;
        break;
      case Captured.COLUMN_COUNT: {
        // A column count is never empty (an empty first packet is an OK's place). Read as a view
        // when it is longer than one byte (a count of 251 columns and more, or a malformed one).
        const first = buf[start]!;
        const payload = first < 0xfb ? null : buf.subarray(start, end);
        const count = payload === null ? first : lenencAt(payload, 0);
        const flagAt = start + lenencSize(first);
        const follows = !this.cacheMetadata || flagAt >= end || buf[flagAt] !== 0;
        this.metadataFollows = follows;
        this.columnsLeft = count;
        this.resultSet = true;
        if (count === 0) this.phase = Phase.Rows;
        else if (follows) this.phase = Phase.Columns;
        else this.phase = this.deprecateEof ? Phase.Rows : Phase.ColumnsEof;
        break;
      }
      case Captured.PREPARE_OK: {
        const numColumns = len >= 7 ? buf[start + 5]! | (buf[start + 6]! << 8) : 0;
        const numParams = len >= 9 ? buf[start + 7]! | (buf[start + 8]! << 8) : 0;
        this.columnsLeft = numColumns;
        this.paramsLeft = numParams;
        if (numParams > 0) this.phase = Phase.PrepParams;
        else this.afterParamsEof();
        break;
      }
      case Captured.INFILE_REQUEST:
        this.phase = Phase.Infile;
        break;
    }
    this.listener.onPacket(type, buf, start, end, at);
  }

  private afterParams(): void {
    this.phase = this.deprecateEof ? Phase.PrepColumns : Phase.PrepParamsEof;
    if (this.deprecateEof) this.afterParamsEof();
  }

  private afterParamsEof(): void {
    this.phase = this.columnsLeft > 0 ? Phase.PrepColumns : Phase.Done;
  }
}

function firstPhase(kind: ResponseKind): Phase {
  switch (kind) {
    case ResponseKind.RESULTSET:
    case ResponseKind.PREPARE:
      return Phase.First;
    case ResponseKind.FIELD_LIST:
      return Phase.FieldList;
    case ResponseKind.STRING:
      return Phase.StringPacket;
    case ResponseKind.FETCH:
      return Phase.Rows;
    default:
      return Phase.Simple;
  }
}

function lenencAt(buf: Buffer, off: number): number {
  const first = buf[off]!;
  if (first < 0xfb) return first;
  if (first === 0xfc) return buf.readUInt16LE(off + 1);
  if (first === 0xfd) return buf.readUIntLE(off + 1, 3);
  return buf.readUInt32LE(off + 1) + buf.readUInt32LE(off + 5) * 0x1_0000_0000;
}

function lenencSize(first: number): number {
  if (first < 0xfb) return 1;
  if (first === 0xfc) return 3;
  if (first === 0xfd) return 4;
  return 9;
}

/**
 * OK packet (0x00 or 0xFE header) in `buf[start, end)`: where its status flags are, after two
 * length-encoded integers; the warning count follows them (a length byte past the end counts as
 * a 9-byte integer: both then read as 0).
 */
function okStatusAt(buf: Buffer, start: number, end: number): number {
  let off = start + 1;
  off += off < end ? lenencSize(buf[off]!) : 9;
  off += off < end ? lenencSize(buf[off]!) : 9;
  return off;
}
