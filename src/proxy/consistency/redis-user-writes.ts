import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { bounded, failFastOptions } from "../../ha/redis-client.js";
import type { UserWriteRecord } from "../../routing/user-writes.js";
import { type SharingStatus, UserWriteLog } from "./user-write-log.js";

/**
 * Each user's last write shared by every rwsplit instance on one Redis (`redis.url`), so that a
 * user's next connection reads its writes whichever instance it lands on.
 *
 * In Redis, per user, a hash `<prefix>writes:<user>` of domain -> "server-seq" (the user's
 * position, merged by the WRITE script: per domain the higher sequence number, whatever order
 * the instances' reports arrive in) that expires `window` after the user's last write anywhere.
 *
 * When Redis is asked, and why never on a read:
 * - a write: the instance that relayed its OK runs WRITE (merge, PEXPIRE, PUBLISH) without
 *   waiting for it. The client's next connection needs at least a TCP handshake and a login
 *   (several round trips) before it can read, so the single Redis command is normally stored
 *   first; the write's own answer never waits on Redis.
 * - a login: the new session's OK waits for one READ of its user (bounded by the op timeout, and
 *   skipped while Redis is failing). This is what makes "the next request on another instance"
 *   consistent: Redis runs commands in order, so a READ sent after the client's login arrived is
 *   answered after a WRITE sent when the previous connection's OK was relayed.
 * - long-lived sessions (a pooled connection on another instance): every WRITE also publishes
 *   the position on `<prefix>user-writes`, and each instance merges what it hears into its own
 *   records; a read then consults only local memory. Pub/sub messages lost while a connection is
 *   down are not replayed: the next login's READ covers new sessions.
 * Reads themselves (the hot path) only ever look at this process's Map.
 *
 * Redis going away stops nothing: commands fail fast (redis-client.ts), logins stop waiting for
 * READ until Redis answers again, every instance goes on with what it knows itself, and
 * `status()` says "local" with the error, once per outage in the log.
 */

/** KEYS[1] the user's hash; ARGV ttl ms, channel, message, then domain, server, seq per GTID. */
const WRITE = `
for i = 4, #ARGV, 3 do
  local domain, seq = ARGV[i], ARGV[i + 2]
  local have = redis.call('HGET', KEYS[1], domain)
  local hseq = have and string.match(have, '%-(%d+)$')
  if not hseq or #hseq < #seq or (#hseq == #seq and hseq < seq) then
    redis.call('HSET', KEYS[1], domain, ARGV[i + 1] .. '-' .. seq)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`;

/** KEYS[1] the user's hash: { PTTL, HGETALL } in one round trip. */
const READ = `return { redis.call('PTTL', KEYS[1]), redis.call('HGETALL', KEYS[1]) }`;

interface Commands {
  rywWrite(key: string, ttlMs: number, channel: string, message: string, ...gtids: string[]): Promise<number>;
  rywRead(key: string): Promise<[number, string[]]>;
}
type Client = Redis & Commands;

export interface RedisUserWriteLogOptions {
  url: string;
  windowMs: number;
  /** Prefix of the keys and the channel; default "rwsplit:" (the fleet coordinator's). */
  keyPrefix?: string;
  /** Upper bound on every Redis call (and on a login's wait), in ms; default 200. */
  opTimeoutMs?: number;
  logger?: Logger;
  maxUsers?: number;
}

/** A published write: which instance, user, position, and how long it counts from now. */
interface Message {
  i: string;
  u: string;
  p: string;
  t: number;
}

export class RedisUserWriteLog extends UserWriteLog {
  readonly #url: string;
  readonly #windowMs: number;
  readonly #opTimeoutMs: number;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #logger: Logger;
  readonly #instance = randomUUID();
  #client: Client | null = null;
  #sub: Redis | null = null;
  #failing = false;
  #lastError: string | null = null;

  constructor(opts: RedisUserWriteLogOptions) {
    super(opts.windowMs, opts.maxUsers);
    this.#url = opts.url;
    this.#windowMs = opts.windowMs;
    this.#opTimeoutMs = opts.opTimeoutMs ?? 200;
    this.#prefix = opts.keyPrefix ?? "rwsplit:";
    this.#channel = `${this.#prefix}user-writes`;
    this.#logger = (opts.logger ?? pino({ level: "silent" })).child({ component: "consistency" });
  }

  /** Connects in the background: until Redis answers, the records are this instance's alone. */
  override start(): void {
    if (this.#client !== null) return;
    const client = new Redis(this.#url, {
      ...failFastOptions(this.#opTimeoutMs, "rwsplit-user-writes"),
      scripts: { rywWrite: { lua: WRITE, numberOfKeys: 1 }, rywRead: { lua: READ, numberOfKeys: 1 } },
    }) as Client;
    const sub = new Redis(this.#url, failFastOptions(this.#opTimeoutMs, "rwsplit-user-writes-sub"));
    // Without listeners an 'error' event would be thrown; reconnecting is ioredis's job.
    client.on("error", (err: Error) => this.#fail("connection", err));
    sub.on("error", (err: Error) => this.#fail("subscriber connection", err));
    client.on("ready", () => this.#recovered());
    sub.on("message", (channel: string, message: string) => {
      if (channel === this.#channel) this.#onMessage(message);
    });
    // On every (re)connect: a subscription does not survive a reconnect by itself here.
    sub.on("ready", () => {
      sub.subscribe(this.#channel).catch((err: Error) => this.#fail("subscribe", err));
    });
    this.#client = client;
    this.#sub = sub;
  }

  override async stop(): Promise<void> {
    // disconnect(), not quit(): it does not wait for a Redis that may not answer.
    this.#client?.disconnect();
    this.#sub?.disconnect();
    this.#client = null;
    this.#sub = null;
  }

  override wrote(user: string, gtid: string): void {
    const record = this.writes.wrote(user, gtid, Date.now());
    const c = this.#client;
    if (record === null || c === null || c.status !== "ready") return;
    const message: Message = { i: this.#instance, u: user, p: record.text, t: this.#windowMs };
    c.rywWrite(
      this.#key(user),
      this.#windowMs,
      this.#channel,
      JSON.stringify(message),
      ...triples(record),
    ).then(
      () => this.#recovered(),
      (err: Error) => this.#fail("write", err),
    );
  }

  override loggingIn(user: string): Promise<void> | null {
    const c = this.#client;
    // As status() says: not shared while either connection is down (the subscriber often notices
    // a dead Redis first), and then a login does not wait for a read that cannot answer.
    if (c === null || c.status !== "ready" || this.#sub?.status !== "ready" || this.#failing) return null;
    return bounded(c.rywRead(this.#key(user)), this.#opTimeoutMs, "redis read").then(
      ([pttl, fields]) => {
        this.#recovered();
        if (pttl <= 0 || fields.length === 0) return;
        const position: string[] = [];
        for (let i = 0; i + 1 < fields.length; i += 2) position.push(`${fields[i]}-${fields[i + 1]}`);
        const now = Date.now();
        this.writes.learn(user, position.join(","), now + pttl, now);
      },
      (err: Error) => this.#fail("read", err),
    );
  }

  override status(): SharingStatus {
    const local = super.status();
    const main = this.#client?.status ?? "stopped";
    const sub = this.#sub?.status ?? "stopped";
    const up = main === "ready" && sub === "ready" && !this.#failing;
    const down = main !== "ready" ? main : sub !== "ready" ? `subscriber ${sub}` : null;
    const lastError = this.#lastError ?? (down === null ? null : `redis not connected (${down})`);
    return { ...local, shared: up ? "redis" : "local", lastError: up ? null : lastError };
  }

  #key(user: string): string {
    return `${this.#prefix}writes:${user}`;
  }

  #onMessage(text: string): void {
    let m: Partial<Message>;
    try {
      m = JSON.parse(text) as Partial<Message>;
    } catch {
      return;
    }
    if (m.i === this.#instance || typeof m.u !== "string" || typeof m.p !== "string") return;
    if (typeof m.t !== "number" || !(m.t > 0)) return;
    const now = Date.now();
    this.writes.learn(m.u, m.p, now + Math.min(m.t, this.#windowMs), now);
  }

  /** Logged once per outage; `status()` shows "local" with the error until Redis answers again. */
  #fail(what: string, err: Error): void {
    this.#lastError = `${what}: ${err.message}`;
    if (!this.#failing) {
      this.#logger.warn(
        { err: err.message, op: what },
        "redis failed: users' last writes are shared no more; each instance goes on with its own until redis answers",
      );
    }
    this.#failing = true;
  }

  #recovered(): void {
    if (!this.#failing) return;
    this.#failing = false;
    this.#lastError = null;
    this.#logger.info("redis answers again: users' last writes are shared again");
  }
}

/** The record's GTIDs as WRITE's arguments: domain, server, seq for each. */
function triples(record: UserWriteRecord): string[] {
  const out: string[] = [];
  for (const g of record.position.values()) out.push(String(g.domain), String(g.server), String(g.seq));
  return out;
}
