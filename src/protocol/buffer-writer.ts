/**
 * Builds one packet: reserves the 4-byte header (int<3> payload length, int<1> sequence id) and
 * fills it in last, as node-postgres's writer does. Payloads over 16 MiB - 1 are split by
 * `toPackets` into the continuation packets the protocol requires.
 */
export class BufferWriter {
  private buf: Buffer;
  private pos = 4;

  constructor(initial = 128) {
    this.buf = Buffer.allocUnsafe(Math.max(initial, 16));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf.writeUIntLE(v & 0xffffff, this.pos, 3);
    this.pos += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** int<lenenc> */
  lenenc(v: number): this {
    if (v < 0xfb) return this.u8(v);
    if (v <= 0xffff) return this.u8(0xfc).u16(v);
    if (v <= 0xffffff) return this.u8(0xfd).u24(v);
    this.u8(0xfe);
    this.u32(v % 0x1_0000_0000);
    return this.u32(Math.floor(v / 0x1_0000_0000));
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }

  string(s: string): this {
    const len = Buffer.byteLength(s);
    this.ensure(len);
    this.buf.write(s, this.pos, "utf8");
    this.pos += len;
    return this;
  }

  nulString(s: string): this {
    return this.string(s).u8(0);
  }

  lenencString(s: string): this {
    return this.lenenc(Buffer.byteLength(s)).string(s);
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  get payloadLength(): number {
    return this.pos - 4;
  }

  /** The payload without a header (for building nested structures). */
  payload(): Buffer {
    return this.buf.subarray(4, this.pos);
  }

  /** The finished packet(s) with sequence id `seq` (split at 16 MiB - 1 as the protocol says). */
  toPacket(seq: number): Buffer {
    const len = this.pos - 4;
    if (len < MAX_PAYLOAD) {
      this.buf.writeUIntLE(len, 0, 3);
      this.buf[3] = seq & 0xff;
      return this.buf.subarray(0, this.pos);
    }
    return toPackets(this.buf.subarray(4, this.pos), seq);
  }
}

/** Largest payload of one physical packet; a payload of exactly this size is continued. */
export const MAX_PAYLOAD = 0xffffff;

/**
 * Frames an arbitrary payload into packets: chunks of 0xFFFFFF bytes, each with the next sequence
 * id, and an empty trailing packet when the payload length is a multiple of 0xFFFFFF.
 */
export function toPackets(payload: Buffer, seq: number): Buffer {
  const count = Math.floor(payload.length / MAX_PAYLOAD) + 1;
  const out = Buffer.allocUnsafe(payload.length + count * 4);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < count; i++) {
    const len = Math.min(MAX_PAYLOAD, payload.length - src);
    out.writeUIntLE(len, dst, 3);
    out[dst + 3] = (seq + i) & 0xff;
    payload.copy(out, dst + 4, src, src + len);
    src += len;
    dst += 4 + len;
  }
  return out;
}
