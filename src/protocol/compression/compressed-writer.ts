import { encodeFrame, MAX_FRAME_PAYLOAD, MIN_COMPRESS_LENGTH } from "./frame.js";
import { type PayloadCodec, zlibCodec } from "./payload-codec.js";

export interface CompressedWriterOptions {
  codec?: PayloadCodec;
  /** Payloads shorter than this go uncompressed; default MIN_COMPRESS_LENGTH (50). */
  minCompressLength?: number;
}

/**
 * Outgoing bytes (whole packets, or any run of the packet stream) in, compressed frames out,
 * each with the next compressed sequence id. Frame layout and sequence-id rules: frame.ts.
 *
 *   writer.resetSequence(reader.lastSeq + 1);       // the answer to a command
 *   for (const frame of writer.encode(bytes)) socket.write(frame);
 *
 * One `encode` call is cut into frames of at most 0xFFFFFF bytes; each is compressed unless it
 * is under `minCompressLength` or would not shrink. Call it with everything ready to send (a
 * whole result set's bytes, say) rather than packet by packet: small frames compress badly and
 * each costs 7 header bytes, which is why servers flush a response as one frame.
 */
export class CompressedWriter {
  /** The compressed sequence id the next frame gets. */
  seq = 0;
  private readonly codec: PayloadCodec;
  private readonly minCompressLength: number;

  constructor(opts: CompressedWriterOptions = {}) {
    this.codec = opts.codec ?? zlibCodec();
    this.minCompressLength = opts.minCompressLength ?? MIN_COMPRESS_LENGTH;
  }

  /**
   * Where the next frame's id starts: 0 for a client's new command; the last id received + 1
   * for an answer.
   */
  resetSequence(next = 0): void {
    this.seq = next & 0xff;
  }

  encode(data: Uint8Array | readonly Uint8Array[]): Buffer[] {
    const bytes = data instanceof Uint8Array ? data : Buffer.concat(data);
    const frames: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += MAX_FRAME_PAYLOAD) {
      frames.push(this.frame(bytes.subarray(at, Math.min(at + MAX_FRAME_PAYLOAD, bytes.length))));
    }
    return frames;
  }

  private frame(chunk: Uint8Array): Buffer {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xff;
    if (chunk.length >= this.minCompressLength) {
      const packed = this.codec.compress(chunk);
      if (packed.length < chunk.length) return encodeFrame(seq, packed, chunk.length);
    }
    return encodeFrame(seq, chunk, 0);
  }
}
