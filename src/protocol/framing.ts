import { PacketTooLargeError } from "../errors.js";
import { MAX_PAYLOAD } from "./buffer-writer.js";

/** A logical packet: continuation packets (payload 0xFFFFFF) already joined. */
export interface Packet {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Sequence id of the last physical packet (the next one sent continues from here + 1). */
  lastSeq: number;
  payload: Buffer;
  /**
   * The packet exactly as received, header included, when it arrived whole inside one chunk
   * (so it can be forwarded without re-framing); null when it had to be assembled.
   */
  frame: Buffer | null;
}

/**
 * Cuts a byte stream into logical packets. Each physical packet is `int<3> length, int<1> seq,
 * payload`; a payload of exactly 0xFFFFFF bytes is continued by the next packet.
 *
 * Zero-copy where it can be: a packet lying whole inside one received chunk is returned as a
 * subarray of that chunk. Bytes are copied only when a packet spans chunks, and then once per
 * packet (chunks are queued until the packet is complete, never concatenated per arrival).
 */
export class PacketFramer {
  private queue: Buffer[] = [];
  private queued = 0;
  /** Offset of the first unread byte in queue[0]. */
  private headOffset = 0;
  /** Payload parts of a logical packet whose continuation has not arrived yet. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private partsSeq = 0;

  constructor(private readonly maxPayload = 1 << 30) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Bytes received and not yet returned as part of a packet. */
  get bufferedBytes(): number {
    return this.queued - this.headOffset + this.partsLength;
  }

  /** Takes whatever bytes are buffered (used when a connection switches to raw relaying). */
  drain(): Buffer {
    const rest = this.take(this.queued - this.headOffset);
    return rest;
  }

  next(): Packet | null {
    // Fast path: a whole packet (< 16 MiB) inside the head chunk: no copy at all.
    const headChunk = this.queue[0];
    if (headChunk !== undefined && this.parts.length === 0) {
      const at = this.headOffset;
      if (headChunk.length - at >= 4) {
        const len = headChunk[at]! | (headChunk[at + 1]! << 8) | (headChunk[at + 2]! << 16);
        if (len < MAX_PAYLOAD && headChunk.length - at >= 4 + len) {
          if (len > this.maxPayload) this.tooLarge(headChunk[at + 3]!);
          // A chunk holding exactly one packet (a client's command, as a rule) is the frame
          // itself: one Buffer view less per command (~50 ns).
          const whole = at === 0 && headChunk.length === 4 + len;
          const frame = whole ? headChunk : headChunk.subarray(at, at + 4 + len);
          this.headOffset += 4 + len;
          if (this.headOffset === headChunk.length) {
            this.queue.shift();
            this.queued -= headChunk.length;
            this.headOffset = 0;
          }
          const seq = headChunk[at + 3]!;
          return { seq, lastSeq: seq, payload: frame.subarray(4), frame };
        }
      }
    }
    for (;;) {
      const available = this.queued - this.headOffset;
      if (available < 4) return null;
      const header = this.peek(4);
      const len = header[0]! | (header[1]! << 8) | (header[2]! << 16);
      const seq = header[3]!;
      if (this.partsLength + len > this.maxPayload) this.tooLarge(seq);
      if (available < 4 + len) return null;
      this.skipBytes(4);
      const body = this.take(len);
      if (len === MAX_PAYLOAD) {
        if (this.parts.length === 0) this.partsSeq = seq;
        this.parts.push(body);
        this.partsLength += len;
        continue;
      }
      if (this.parts.length === 0) return { seq, lastSeq: seq, payload: body, frame: null };
      this.parts.push(body);
      const payload = Buffer.concat(this.parts, this.partsLength + len);
      const first = this.partsSeq;
      this.parts = [];
      this.partsLength = 0;
      return { seq: first, lastSeq: seq, payload, frame: null };
    }
  }

  /** `seq`: the header that took the packet over the limit (the server answers it + 1). */
  private tooLarge(seq: number): never {
    throw new PacketTooLargeError(this.maxPayload, seq);
  }

  /** The next n bytes without consuming them (n <= 4 here, so a copy is cheap when split). */
  private peek(n: number): Buffer {
    const head = this.queue[0]!;
    if (head.length - this.headOffset >= n) return head.subarray(this.headOffset, this.headOffset + n);
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let off = this.headOffset;
    for (const chunk of this.queue) {
      const k = Math.min(n - filled, chunk.length - off);
      chunk.copy(out, filled, off, off + k);
      filled += k;
      off = 0;
      if (filled === n) break;
    }
    return out;
  }

  private skipBytes(n: number): void {
    this.take(n);
  }

  /** Consumes n bytes: a subarray when they lie in the head chunk, else one copy. */
  private take(n: number): Buffer {
    const head = this.queue[0];
    if (n === 0 || head === undefined) return Buffer.alloc(0);
    if (head.length - this.headOffset >= n) {
      const out = head.subarray(this.headOffset, this.headOffset + n);
      this.headOffset += n;
      if (this.headOffset === head.length) {
        this.queue.shift();
        this.queued -= head.length;
        this.headOffset = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.queue[0]!;
      const k = Math.min(n - filled, chunk.length - this.headOffset);
      chunk.copy(out, filled, this.headOffset, this.headOffset + k);
      filled += k;
      this.headOffset += k;
      if (this.headOffset === chunk.length) {
        this.queue.shift();
        this.queued -= chunk.length;
        this.headOffset = 0;
      }
    }
    return out;
  }
}

/** Frames one payload of at most 0xFFFFFE bytes as a packet (hot path: one allocation). */
export function packet(seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 4);
  out.writeUIntLE(payload.length, 0, 3);
  out[3] = seq & 0xff;
  out.set(payload, 4);
  return out;
}
