import { RwsplitError } from "../errors.js";

/**
 * Reads the protocol's basic types ("Basic Data Types" in the MySQL internals manual) from one
 * payload. Little-endian fixed-width integers, length-encoded integers and strings, NUL-terminated
 * strings, and "rest of packet" strings. Out-of-range reads throw PROTOCOL_VIOLATION.
 */
export class BufferReader {
  offset: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.offset = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.end) {
      throw new RwsplitError(
        "PROTOCOL_VIOLATION",
        `packet too short: needed ${n} bytes at offset ${this.offset}, ${this.end - this.offset} left`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntLE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.offset);
    this.offset += 4;
    return v;
  }

  /** int<lenenc>: 0xFB is NULL (returned as null), 0xFC/0xFD/0xFE prefix 2/3/8 bytes. */
  lenencOrNull(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      this.need(8);
      const lo = this.buf.readUInt32LE(this.offset);
      const hi = this.buf.readUInt32LE(this.offset + 4);
      this.offset += 8;
      // Beyond 2^53 precision is lost; no length or id in practice gets there.
      return hi * 0x1_0000_0000 + lo;
    }
    throw new RwsplitError("PROTOCOL_VIOLATION", "0xFF is not a valid length-encoded integer prefix");
  }

  lenenc(): number {
    const v = this.lenencOrNull();
    if (v === null) throw new RwsplitError("PROTOCOL_VIOLATION", "unexpected NULL length-encoded integer");
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  lenencBytes(): Buffer {
    return this.bytes(this.lenenc());
  }

  lenencString(): string {
    const n = this.lenenc();
    this.need(n);
    const at = this.offset;
    this.offset += n;
    // Decoded in place: a view first costs more than the decoding of a short string.
    return n === 0 ? "" : this.buf.toString("utf8", at, at + n);
  }

  /** string<NUL>; a missing terminator at the end of the packet is tolerated (old clients). */
  nulBytes(): Buffer {
    const zero = this.buf.indexOf(0, this.offset);
    const stop = zero === -1 || zero >= this.end ? this.end : zero;
    const v = this.buf.subarray(this.offset, stop);
    this.offset = stop < this.end ? stop + 1 : stop;
    return v;
  }

  nulString(): string {
    return this.nulBytes().toString("utf8");
  }

  restBytes(): Buffer {
    const v = this.buf.subarray(this.offset, this.end);
    this.offset = this.end;
    return v;
  }

  restString(): string {
    return this.restBytes().toString("utf8");
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
}
