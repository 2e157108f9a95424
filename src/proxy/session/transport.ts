import type { SecureContext } from "node:tls";

/**
 * Where a congested writer says it can take more: a backend connection paused for a slow
 * client waits on this (backend-connection.ts `pauseUntilDrained`).
 */
export interface DrainSource {
  onceDrained(fn: () => void): void;
  offDrained(fn: () => void): void;
}

/** What the transport tells its session. */
export interface TransportHandlers {
  /** Bytes from the client: the session's to keep (the transport never reuses them). */
  data(chunk: Buffer): void;
  /** The peer closed or the connection failed: called once. */
  closed(): void;
}

/**
 * A client connection as the session core sees it: bytes in, bytes out, backpressure, close.
 * The Node socket adapter (node-transport.ts) implements it over `net.Socket` and a TLS upgrade;
 * tests implement it in memory (pg-gateway's platform split: the core knows no socket).
 */
export interface ClientTransport extends DrainSource {
  readonly remoteHost: string;
  /** True once the connection runs over TLS. */
  readonly secure: boolean;
  /** Bytes accepted by `write` and not yet handed to the OS (or the peer, in memory). */
  readonly pendingBytes: number;
  /**
   * Where received bytes go. Called again by a transport layered over this one (compression):
   * the new handlers replace the old.
   */
  attach(handlers: TransportHandlers): void;
  /**
   * The session took a packet from what this transport handed it, `unread` bytes still buffered
   * (the compressed protocol numbers its answer after the frame the packet came in). Optional:
   * plain transports do not care.
   */
  packetRead?(unread: number): void;
  /**
   * Writes bytes. False when they could not all be written at once: the caller should stop
   * producing until `onceDrained`. `bytes` may be a view the caller reuses only after a drain.
   */
  write(bytes: Buffer): boolean;
  /**
   * Switches to TLS after an SSLRequest. `early` holds bytes already received after the
   * SSLRequest (the ClientHello often arrives in the same segment); they reach TLS first.
   */
  startTls(context: SecureContext, early: Buffer): void;
  /**
   * Reads land in a buffer the transport owns from now on, instead of a new Buffer and a stream
   * event per read (false when it cannot: TLS, bytes pending). Called once the client is in.
   */
  ownReads?(): boolean;
  /** Polite close once written. */
  end(): void;
  destroy(): void;
}
