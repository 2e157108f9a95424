import { COMPRESSED_HEADER_LENGTH, decodeFrameHeader } from "./frame.js";
import { type PayloadCodec, zlibCodec } from "./payload-codec.js";

/**
 * Compressed frames in (chunks split anywhere), the uncompressed byte stream out, ready for the
 * PacketFramer. Frame layout and sequence-id rules: frame.ts.
 *
 *   const reader = new CompressedReader();          // zlib; new CompressedReader(zstdCodec(z))
 *   for (const bytes of reader.push(chunk)) framer.push(bytes);
 *
 * Uncompressed frames (length 0 in the header) are passed on as they arrive, as subarrays of
 * the received chunks: no copy, and no waiting for the rest of a large frame. A compressed
 * frame is decompressed once it is complete (its parts are joined once if it spans chunks).
 * Memory is bounded by the frame format: at most 0xFFFFFF bytes in, 0xFFFFFF out.
 */
export class CompressedReader {
  private readonly header = Buffer.alloc(COMPRESSED_HEADER_LENGTH);
  private headerFill = 0;
  /** Payload bytes of the current frame still to come; -1 while reading a header. */
  private remaining = -1;
  private uncompressedLength = 0;
  private parts: Buffer[] = [];
  private seq = -1;
  private frames = 0;
  private plain = 0;
  /**
   * Called as each frame ends, with its sequence id and the number of uncompressed bytes output
   * up to its end (`plainBytes`): which frame a packet of the uncompressed stream came in, for
   * the sequence id of the answer (frame.ts).
   */
  onFrameEnd: ((seq: number, plainEnd: number) => void) | null = null;

  constructor(private readonly codec: PayloadCodec = zlibCodec()) {}

  /** Uncompressed bytes output so far. */
  get plainBytes(): number {
    return this.plain;
  }

  /** Sequence id of the last frame whose header was read; -1 before any. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Frames whose header was read so far. */
  get frameCount(): number {
    return this.frames;
  }

  /** True between frames: no partial header or payload held. */
  get idle(): boolean {
    return this.remaining < 0 && this.headerFill === 0;
  }

  /**
   * The uncompressed bytes these compressed bytes complete, in order (often one buffer, none
   * while a compressed frame is still incomplete). Throws PROTOCOL_VIOLATION for a payload that
   * does not decompress to the length its header announced.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining < 0) {
        const n = Math.min(COMPRESSED_HEADER_LENGTH - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill < COMPRESSED_HEADER_LENGTH) break;
        this.startFrame();
        // An empty frame ends here (legal, if pointless).
        if (this.remaining === 0) this.endFrame(out);
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - at);
      const piece = chunk.subarray(at, at + n);
      at += n;
      this.remaining -= n;
      if (this.uncompressedLength === 0) {
        out.push(piece);
        this.plain += piece.length;
      } else this.parts.push(piece);
      if (this.remaining === 0) this.endFrame(out);
    }
    return out;
  }

  private startFrame(): void {
    const h = decodeFrameHeader(this.header);
    this.headerFill = 0;
    this.remaining = h.length;
    this.uncompressedLength = h.uncompressedLength;
    this.seq = h.seq;
    this.frames++;
  }

  private endFrame(out: Buffer[]): void {
    if (this.uncompressedLength > 0) {
      const payload = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      this.parts = [];
      const plain = this.codec.decompress(payload, this.uncompressedLength);
      out.push(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength));
      this.plain += plain.byteLength;
    }
    this.remaining = -1;
    this.onFrameEnd?.(this.seq, this.plain);
  }
}
