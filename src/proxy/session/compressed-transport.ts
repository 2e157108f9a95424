import type { SecureContext } from "node:tls";
import { RwsplitError } from "../../errors.js";
import {
  CompressedReader,
  CompressedWriter,
  loadZstd,
  type PayloadCodec,
  zlibCodec,
  zstdCodec,
} from "../../protocol/compression/index.js";
import type { CompressionRequest } from "../client-auth.js";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/** The codec for what the client asked (zstd's WebAssembly module is loaded once, on first use). */
export async function codecFor(r: CompressionRequest): Promise<PayloadCodec> {
  return r.algorithm === "zlib" ? zlibCodec() : zstdCodec(await loadZstd(), r.level);
}

/** Gathered bytes past this are framed at once (and a write this large is, without a copy). */
const FLUSH_AT = 16 * 1024;

/** Where a frame's uncompressed bytes end in the stream, and its sequence id. */
interface FrameEnd {
  end: number;
  seq: number;
}

/**
 * A client connection that negotiated the compressed protocol (CLIENT_COMPRESS with zlib, or
 * CLIENT_ZSTD_COMPRESSION_ALGORITHM), over the plain transport it started on: frames in are
 * decompressed before the session sees them, bytes out are framed and compressed
 * (src/protocol/compression: frame layout and sequence ids). The session switches to it right
 * after writing the login OK, the last plain packet; uncompressed sessions never meet it, so
 * their relay stays a zero-copy write of the backend's bytes.
 *
 * Sequence ids: each command starts a new frame sequence at 0, and the answer continues from the
 * last frame that carried the command (a command in frame 0 is answered in frames 1, 2, ...).
 * The session says when it takes a packet (`packetRead`), which tells which frame it came in.
 *
 * Small writes are gathered until the current turn of the event loop ends, then go as one frame:
 * a relayed chunk with an OK rewritten for the client is written in three pieces, and three
 * frames would cost three zlib runs (about 15 µs each) and compress worse. Anything from
 * FLUSH_AT bytes on is compressed and written at once, from the caller's buffer.
 */
export class CompressedTransport implements ClientTransport {
  private readonly reader: CompressedReader;
  private readonly writer: CompressedWriter;
  private handlers: TransportHandlers | null = null;
  /** Frames received whose packets the session may not have read yet. */
  private readonly frames: FrameEnd[] = [];
  /** Uncompressed bytes handed to the session so far. */
  private delivered = 0;
  /** Small writes (copies) waiting for the end of this turn. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private flushScheduled = false;
  /** False from a write the inner transport could not take at once until it drains. */
  private flowing = true;
  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };
  private readonly drained = (): void => {
    this.flowing = true;
  };

  constructor(
    private readonly inner: ClientTransport,
    codec: PayloadCodec,
  ) {
    this.reader = new CompressedReader(codec);
    this.writer = new CompressedWriter({ codec });
    this.reader.onFrameEnd = (seq, end) => this.frames.push({ end, seq });
  }

  get remoteHost(): string {
    return this.inner.remoteHost;
  }

  get secure(): boolean {
    return this.inner.secure;
  }

  /** The inner transport's: gathered bytes are copies, gone at the end of this turn. */
  get pendingBytes(): number {
    return this.inner.pendingBytes;
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
    this.inner.attach({ data: (chunk) => this.received(chunk), closed: () => handlers.closed() });
  }

  /**
   * Compressed bytes that arrived before the switch and were buffered as plain ones (a client
   * that sent its first command right behind its login): their uncompressed bytes.
   */
  unwrap(bytes: Buffer): Buffer[] {
    const out = this.reader.push(bytes);
    for (const b of out) this.delivered += b.length;
    return out;
  }

  private received(chunk: Buffer): void {
    let plain: Buffer[];
    try {
      plain = this.unwrap(chunk);
    } catch {
      // A frame that does not decompress to what its header says: nothing after it can be read.
      this.inner.destroy();
      this.handlers?.closed();
      return;
    }
    for (const b of plain) this.handlers?.data(b);
  }

  /**
   * The session took a packet; `unread` bytes of what it was handed are still buffered. Its
   * answer continues from the sequence id of the frame the packet ended in.
   */
  packetRead(unread: number): void {
    // What answers the previous packet goes out under the previous numbering.
    this.flush();
    const consumed = this.delivered - unread;
    const frames = this.frames;
    while (frames.length > 0 && frames[0]!.end < consumed) frames.shift();
    // Not ended yet (an uncompressed frame still arriving): the frame being read.
    const seq = frames.length > 0 ? frames[0]!.seq : this.reader.lastSeq;
    this.writer.resetSequence(seq + 1);
  }

  write(bytes: Buffer): boolean {
    if (this.queuedBytes === 0 && bytes.length >= FLUSH_AT) return this.frame(bytes);
    this.queued.push(Buffer.from(bytes));
    this.queuedBytes += bytes.length;
    if (this.queuedBytes >= FLUSH_AT) return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushLater);
    }
    return this.flowing;
  }

  /** Frames what was gathered; false when the inner transport is full (its drain comes). */
  private flush(): boolean {
    if (this.queuedBytes === 0) return this.flowing;
    const bytes = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued, this.queuedBytes);
    this.queued = [];
    this.queuedBytes = 0;
    return this.frame(bytes);
  }

  private frame(bytes: Buffer): boolean {
    let flushed = true;
    for (const frame of this.writer.encode(bytes)) flushed = this.inner.write(frame) && flushed;
    if (!flushed && this.flowing) {
      this.flowing = false;
      this.inner.onceDrained(this.drained);
    }
    return flushed;
  }

  onceDrained(fn: () => void): void {
    this.inner.onceDrained(fn);
  }

  offDrained(fn: () => void): void {
    this.inner.offDrained(fn);
  }

  startTls(_context: SecureContext, _early: Buffer): void {
    throw new RwsplitError("INTERNAL", "TLS starts before the login; compression after it");
  }

  end(): void {
    this.flush();
    this.inner.end();
  }

  destroy(): void {
    this.inner.destroy();
  }
}
