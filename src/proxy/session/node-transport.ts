import type net from "node:net";
import { Duplex } from "node:stream";
import tls, { type SecureContext } from "node:tls";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/** A client's TCP socket (and, after an SSLRequest, the TLS socket over it) as a ClientTransport. */
export class NodeTransport implements ClientTransport {
  readonly remoteHost: string;
  secure = false;
  private socket: net.Socket;
  private handlers: TransportHandlers | null = null;
  private closed = false;
  private readonly onData = (chunk: Buffer): void => this.handlers?.data(chunk);
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
