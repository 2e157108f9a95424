import type { SecureContext } from "node:tls";
import { type Packet, PacketFramer, packet } from "../../src/protocol/framing.js";
import type { ClientTransport, TransportHandlers } from "../../src/proxy/session/transport.js";

/**
 * A client connection in memory (pg-gateway tests its server the same way): what the session
 * writes is parsed into packets the test reads; what the test sends reaches the session as if it
 * came off a socket. `congested` makes every write report a full socket until `drain()`.
 */
export class MemoryTransport implements ClientTransport {
  readonly remoteHost = "127.0.0.1";
  readonly secure = false;
  /** Packets the session wrote (the client's side of the conversation). */
  readonly received: Packet[] = [];
  /** Every write as it was made (compressed frames are not packets: tests read them here). */
  readonly written: Buffer[] = [];
  congested = false;
  ended = false;
  destroyed = false;
  private handlers: TransportHandlers | null = null;
  private readonly framer = new PacketFramer();
  private held: Buffer[] = [];
  private heldBytes = 0;
  private readonly drainers = new Set<() => void>();

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  get pendingBytes(): number {
    return this.heldBytes;
  }

  write(bytes: Buffer): boolean {
    this.written.push(Buffer.from(bytes));
    if (this.congested) {
      this.held.push(Buffer.from(bytes));
      this.heldBytes += bytes.length;
      return false;
    }
    this.deliver(bytes);
    return true;
  }

  private deliver(bytes: Buffer): void {
    this.framer.push(Buffer.from(bytes));
    for (let p = this.framer.next(); p !== null; p = this.framer.next()) this.received.push(p);
  }

  /** The client read everything: held bytes arrive, and whoever waited for a drain hears of it. */
  drain(): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.congested = false;
    for (const b of held) this.deliver(b);
    const waiting = [...this.drainers];
    this.drainers.clear();
    for (const fn of waiting) fn();
  }

  /**
   * The client read everything, but the drain is never announced (a lost 'drain' event): what
   * the stall watchdog is for.
   */
  loseDrain(): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.congested = false;
    for (const b of held) this.deliver(b);
  }

  onceDrained(fn: () => void): void {
    this.drainers.add(fn);
  }

  offDrained(fn: () => void): void {
    this.drainers.delete(fn);
  }

  get drainWaiters(): number {
    return this.drainers.size;
  }

  startTls(_context: SecureContext, _early: Buffer): void {
    throw new Error("MemoryTransport does not do TLS");
  }

  end(): void {
    this.ended = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  // ---- the client's side -------------------------------------------------------------------

  send(seq: number, payload: Buffer): void {
    this.handlers!.data(packet(seq, payload));
  }

  /** Bytes as they would arrive off the socket (several packets at once: a pipelining client). */
  sendRaw(bytes: Buffer): void {
    this.handlers!.data(bytes);
  }

  /** A command packet (seq 0): the command byte, then `body`. */
  command(command: number, body: Buffer | string = Buffer.alloc(0)): void {
    const b = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    this.send(0, Buffer.concat([Buffer.from([command]), b]));
  }

  /** The client hangs up. */
  hangUp(): void {
    this.handlers!.closed();
  }

  /** Takes every packet received so far. */
  take(): Packet[] {
    return this.received.splice(0);
  }
}
