import type { OnReadOpts } from "node:net";

/** First size of a connection's read buffer: a point select's answer is a few hundred bytes. */
export const READ_BUFFER_INITIAL = 16 * 1024;
/** Largest size, reached when reads keep filling it (large result sets): Node's own read size. */
export const READ_BUFFER_MAX = 64 * 1024;

/**
 * A socket's reads land in a buffer the connection owns (net.connect `onread`), instead of Node
 * allocating a fresh 64 KiB Buffer per read and passing it through the Readable stream machinery
 * ('data' event, `maybeReadMore` on the next tick). On a relay that reads once per statement
 * from each side, that per-read work is a large part of the proxy's own CPU time per statement.
 *
 * The price is the contract: a chunk handed to `onChunk` is a view of the buffer, valid only
 * during the call, since the next read overwrites it. A consumer that keeps it past the call
 * (a socket write that did not complete at once still points at it) calls `lend()`, and the next
 * read goes to a new buffer; the lent one is left to whoever holds it. A read that fills the
 * buffer makes the next one bigger, up to READ_BUFFER_MAX.
 */
export class ReadBuffer {
  private buf: Buffer;
  private size: number;
  /** The next read needs a new buffer (the current one is lent, or too small). */
  private replace = false;
  /** The buffer last lent, and one lent before that its holder gave back (`release`). */
  private lent: Buffer | null = null;
  private spare: Buffer | null = null;
  /** The options for `net.connect`. */
  readonly onread: OnReadOpts;

  constructor(
    /** Receives each chunk read: valid only during the call unless `lend()` is called. */
    public onChunk: (chunk: Buffer) => void,
    initialSize = READ_BUFFER_INITIAL,
    private readonly maxSize = READ_BUFFER_MAX,
  ) {
    this.size = initialSize;
    this.buf = Buffer.allocUnsafeSlow(initialSize);
    this.onread = {
      // Called when the socket is set up and after every read: where the next read goes.
      buffer: () => this.next(),
      callback: (n, buf) => {
        this.received(n, buf as Buffer);
        return true;
      },
    };
  }

  /** The chunk just handed over stays in use after `onChunk` returns: do not read into it again. */
  lend(): void {
    this.replace = true;
    this.lent = this.buf;
  }

  /**
   * Nothing read so far is referenced any more (the client connection's session is idle with no
   * partial packet): the buffer last lent may serve again. Two buffers then take turns for a
   * client that sends one command at a time.
   */
  release(): void {
    if (this.lent !== null && this.lent !== this.buf) this.spare = this.lent;
    this.lent = null;
  }

  private next(): Buffer {
    if (this.replace) {
      this.replace = false;
      const spare = this.spare;
      this.spare = null;
      this.buf = spare !== null && spare.length >= this.size ? spare : Buffer.allocUnsafeSlow(this.size);
    }
    return this.buf;
  }

  private received(n: number, buf: Buffer): void {
    if (n === buf.length && this.size < this.maxSize) {
      this.size = Math.min(this.maxSize, this.size * 4);
      this.replace = true;
    }
    this.onChunk(buf.subarray(0, n));
  }
}
