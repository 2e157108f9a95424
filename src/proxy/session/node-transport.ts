import net from "node:net";
import { Duplex } from "node:stream";
import tls, { type SecureContext } from "node:tls";
import { ReadBuffer } from "../read-buffer.js";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/** A client's TCP socket (and, after an SSLRequest, the TLS socket over it) as a ClientTransport. */
export class NodeTransport implements ClientTransport {
  readonly remoteHost: string;
  secure = false;
  private socket: net.Socket;
  private handlers: TransportHandlers | null = null;
  private closed = false;
  private readonly onData = (chunk: Buffer): void => this.handlers?.data(chunk);
  /** After `ownReads`: where reads land (net.Socket `onread`), lent while the session holds a view. */
  private reads: ReadBuffer | null = null;
  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.closed();
  };

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remoteHost = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "unknown";
    socket.setNoDelay(true);
  }

  attach(handlers: TransportHandlers): void {
    const first = this.handlers === null;
    this.handlers = handlers;
    if (first) this.listen(this.socket);
  }

  private listen(socket: net.Socket): void {
    socket.on("data", this.onData);
    socket.on("error", () => {});
    socket.on("close", this.onClose);
  }

  /**
   * A plain TCP client's reads move to buffers this transport owns: a net.Socket built over the
   * same handle with `onread` (Node 20's net.Server offers no `onread`; backend connections get
   * theirs from net.connect). It saves a Buffer allocation and the Readable stream's work per
   * read. Only when nothing is pending on the socket either way (right after the login OK), and
   * never for TLS, whose socket decrypts into a stream of its own.
   */
  ownReads(): boolean {
    if (this.reads !== null) return true;
    const old = this.socket as net.Socket & { _handle?: unknown };
    const handle = old._handle;
    if (this.secure || this.closed || handle == null || old.readableLength > 0 || old.writableLength > 0)
      return false;
    old.pause();
    old.off("data", this.onData);
    old.off("close", this.onClose);
    old._handle = null;
    // The socket object is done with (its handle moves on): destroyed without a handle it closes
    // nothing, and the server stops counting it, so that server.close() can complete on drain.
    old.destroy();
    const reads = new ReadBuffer((chunk) => {
      const h = this.handlers;
      if (h === null) return;
      h.data(chunk);
      if (h.retains?.() !== false) reads.lend();
    }, 4096);
    const owned = new net.Socket({
      handle,
      onread: reads.onread,
      readable: true,
      writable: true,
    } as net.SocketConstructorOpts);
    this.reads = reads;
    this.socket = owned;
    owned.on("error", () => {});
    owned.on("close", this.onClose);
    return true;
  }

  released(): void {
    this.reads?.release();
  }

  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  write(bytes: Buffer): boolean {
    return this.socket.write(bytes);
  }

  onceDrained(fn: () => void): void {
    this.socket.once("drain", fn);
  }

  offDrained(fn: () => void): void {
    this.socket.off("drain", fn);
  }

  startTls(context: SecureContext, early: Buffer): void {
    const raw = this.socket;
    raw.off("data", this.onData);
    raw.off("close", this.onClose);
    let carrier: Duplex = raw;
    if (early.length > 0) {
      // TLS reads from a stream: one that yields the early bytes first, then the socket's.
      const feed = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          raw.write(chunk, cb);
        },
        final(cb) {
          raw.end(cb);
        },
      });
      feed.push(early);
      raw.on("data", (d: Buffer) => feed.push(d));
      raw.on("end", () => feed.push(null));
      raw.on("close", () => feed.destroy());
      carrier = feed;
    }
    const secure = new tls.TLSSocket(carrier as net.Socket, { isServer: true, secureContext: context });
    this.socket = secure;
    this.secure = true;
    this.listen(secure);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
