import net, { type OnReadOpts } from "node:net";
import { Duplex } from "node:stream";
import tls, { type SecureContext } from "node:tls";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/**
 * Which transport a socket belongs to: the listeners below are called with the socket as `this`,
 * so that no connection needs closures of its own while it logs in. Not on the socket `ownReads`
 * makes: a property added to it would give client sockets another hidden class than backend
 * sockets, and Node's socket code, shared by both, slower property lookups (about 2 µs per point
 * select, measured).
 */
const kTransport = Symbol("rwsplit.transport");
type OwnedSocket = net.Socket & { [kTransport]: NodeTransport };

function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kTransport].handlers?.data(chunk);
}

function onSocketClose(this: OwnedSocket): void {
  this[kTransport].socketClosed();
}

/**
 * Where every plain client socket's reads land, after `ownReads`: one buffer for all of them.
 * libuv reads a socket into it and calls back at once, before any other read, so each chunk is
 * copied out during its callback (a command is a few hundred bytes; `Buffer.allocUnsafe` slices
 * Node's pool below 4 KiB) and an idle connection holds no read buffer at all. A buffer of its own
 * per connection cost 4 KiB per idle client (issue #15). 64 KiB: Node's own read size.
 */
const SHARED_READS = Buffer.allocUnsafeSlow(64 * 1024);

const ignore = (): void => {};

/** A client's TCP socket (and, after an SSLRequest, the TLS socket over it) as a ClientTransport. */
export class NodeTransport implements ClientTransport {
  readonly remoteHost: string;
  secure = false;
  private socket: net.Socket;
  handlers: TransportHandlers | null = null;
  private closed = false;
  /** Reads land in SHARED_READS (after `ownReads`). */
  private owned = false;

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

  /** The socket closed (its 'close' event): the session hears it once. */
  socketClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.closed();
  }

  private listen(socket: net.Socket): void {
    (socket as OwnedSocket)[kTransport] = this;
    socket.on("data", onSocketData);
    socket.on("error", ignore);
    socket.on("close", onSocketClose);
  }

  /**
   * A plain TCP client's reads move to the shared read buffer: a net.Socket built over the same
   * handle with `onread` (Node 20's net.Server offers no `onread`; backend connections get
   * theirs from net.connect). It saves a 64 KiB allocation and the Readable stream's work per
   * read. Only when nothing is pending on the socket either way (right after the login OK), and
   * never for TLS, whose socket decrypts into a stream of its own.
   */
  ownReads(): boolean {
    if (this.owned) return true;
    const old = this.socket as net.Socket & { _handle?: unknown };
    const handle = old._handle;
    if (this.secure || this.closed || handle == null || old.readableLength > 0 || old.writableLength > 0)
      return false;
    old.pause();
    old.off("data", onSocketData);
    old.off("close", onSocketClose);
    old._handle = null;
    // The socket object is done with (its handle moves on): destroyed without a handle it closes
    // nothing, and the server stops counting it, so that server.close() can complete on drain.
    old.destroy();
    const onread: OnReadOpts = {
      buffer: SHARED_READS,
      callback: (n) => {
        const chunk = Buffer.allocUnsafe(n);
        SHARED_READS.copy(chunk, 0, 0, n);
        this.handlers?.data(chunk);
        return true;
      },
    };
    const owned = new net.Socket({
      handle,
      onread,
      readable: true,
      writable: true,
    } as net.SocketConstructorOpts);
    this.owned = true;
    this.socket = owned;
    owned.on("error", ignore);
    owned.on("close", () => this.socketClosed());
    return true;
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
    raw.off("data", onSocketData);
    raw.off("close", onSocketClose);
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
