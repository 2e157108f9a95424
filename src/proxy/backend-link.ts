import type net from "node:net";
import type { ReadBuffer } from "./read-buffer.js";

/**
 * The byte stream under a logged-in backend connection: a TCP socket in production
 * (`SocketLink`), a script in unit tests. The connection is told of bytes and of the close by
 * the callbacks it installs with `attach`.
 */
export interface BackendLink {
  attach(onChunk: (chunk: Buffer) => void, onClose: () => void): void;
  write(bytes: Buffer): void;
  /** Stop reading (backpressure toward a slow client) until `resume`. */
  pause(): void;
  resume(): void;
  /**
   * The chunk last handed to `onChunk` is still in use after the call (a client write kept a
   * view of it): the next read must go elsewhere.
   */
  lend(): void;
  /** Writes `last` (if any), then closes politely. */
  end(last?: Buffer): void;
  destroy(): void;
}

/** A TCP socket whose reads land in a ReadBuffer (net.connect `onread`). */
export class SocketLink implements BackendLink {
  constructor(
    private readonly socket: net.Socket,
    private readonly reader: ReadBuffer,
  ) {}

  attach(onChunk: (chunk: Buffer) => void, onClose: () => void): void {
    this.reader.onChunk = onChunk;
    this.socket.removeAllListeners("error");
    this.socket.removeAllListeners("close");
    this.socket.on("error", () => {});
    this.socket.on("close", onClose);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  lend(): void {
    this.reader.lend();
  }

  end(last?: Buffer): void {
    if (last === undefined) this.socket.end();
    else this.socket.end(last);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
