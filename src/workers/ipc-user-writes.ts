import { UserWriteLog } from "../proxy/consistency/user-write-log.js";

/**
 * `routing.consistency: user` across worker processes without Redis: each write a worker's
 * session reports is sent to the supervisor, which passes it to every other worker (messages.ts,
 * `user-writes`); what the others send is learnt here. The writes of one turn of the event loop
 * leave in one message right after it, microseconds after the OK was relayed, while a connection
 * the user opens after the OK takes a TCP handshake and a login's round trips before its first
 * read: the write is known in whichever worker takes it.
 * With redis.url, the workers share users' writes through Redis instead, like instances do.
 */
export class IpcUserWriteLog extends UserWriteLog {
  readonly #windowMs: number;
  readonly #send: (writes: [user: string, position: string][], ttlMs: number) => void;
  /** Users' positions written since the last message (one message per turn of the event loop). */
  #batch = new Map<string, string>();
  #flushing = false;

  constructor(windowMs: number, send: (writes: [user: string, position: string][], ttlMs: number) => void) {
    super(windowMs);
    this.#windowMs = windowMs;
    this.#send = send;
  }

  override wrote(user: string, gtid: string): void {
    const record = this.writes.wrote(user, gtid, Date.now());
    if (record === null) return;
    this.#batch.set(user, record.text);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      const writes = [...this.#batch];
      this.#batch = new Map();
      this.#send(writes, this.#windowMs);
    });
  }

  /** Another worker's session of `user` wrote up to `position`. */
  learn(user: string, position: string, ttlMs: number): void {
    const now = Date.now();
    this.writes.learn(user, position, now + Math.min(ttlMs, this.#windowMs), now);
  }
}
