import type { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { RwsplitError } from "../errors.js";
import { Periodic } from "../monitor/periodic.js";
import { type Coordinator, type CoordinatorHealth, defaultInstanceId } from "./coordinator.js";
import { bounded, createFleetClient, type FleetClient, whenReady } from "./redis-client.js";
import {
  type Lease,
  parseTopologyJson,
  parseTopologyProposal,
  parseTopologyRecord,
  type TopologyProposal,
  type TopologyRecord,
} from "./topology-record.js";
import { TopologyState } from "./topology-state.js";

export interface RedisCoordinatorOptions {
  /** redis://[:password@]host:port[/db] or rediss://; never logged (it may hold a password). */
  url: string;
  /** Prefix of every key and of the channel; default "rwsplit:". */
  keyPrefix?: string;
  instanceId?: string;
  logger?: Logger;
  /** Upper bound on every call into Redis, in ms; default 500. */
  opTimeoutMs?: number;
  /** How often followers re-read the record, the backstop for lost pub/sub messages; default 250. */
  pollMs?: number;
}

const FAILED: unique symbol = Symbol("failed");
type Outcome<T> = T | typeof FAILED;

const lockValue = (lease: Lease): string => `${lease.token}:${lease.instance}`;

/**
 * The fleet coordinator over one Redis: the record at `<prefix>topology`, the failover lease at
 * `<prefix>failover-lock` with fencing tokens from `<prefix>fencing-token` (see lua-scripts.ts).
 *
 * Followers learn a change two ways: the `<prefix>topology-changed` channel (milliseconds) and a
 * read of the record every `pollMs` (pub/sub messages are lost while a connection is down), so two
 * instances agree within `pollMs` plus one round trip.
 *
 * Redis going away must never stop query traffic: the clients fail fast instead of queueing
 * (redis-client.ts) and each method also races its own deadline of `opTimeoutMs`. What failed is
 * logged once per outage and kept in `health().lastError`; `current()` keeps the last record.
 *
 * A command that timed out may still have run (a frozen Redis that wakes up): the lease bounds
 * what that can do. An acquire nobody heard of expires after its TTL; a publish that landed is a
 * valid record under a lease that was held, and every instance adopts it from the store.
 */
export class RedisCoordinator implements Coordinator {
  readonly instanceId: string;
  readonly #url: string;
  readonly #opTimeoutMs: number;
  readonly #logger: Logger;
  readonly #state: TopologyState;
  readonly #keys: { record: string; lock: string; counter: string; channel: string };
  readonly #poll: Periodic;
  #client: FleetClient | null = null;
  #sub: Redis | null = null;
  #running = false;
  #syncing: Promise<void> | null = null;
  #lastError: string | null = null;
  /** True while Redis is failing: further failures of the background loops are not logged again. */
  #failing = false;
  /** The last malformed record text logged, so a bad record sitting in the store is logged once. */
  #lastMalformed: string | null = null;
  /** The stored record last logged as disagreeing with ours at the same generation. */
  #lastDisagreement: string | null = null;
  /** Whether the record was read from the store once since `start()`. */
  #hasRead = false;

  constructor(opts: RedisCoordinatorOptions) {
    this.instanceId = opts.instanceId ?? defaultInstanceId();
    this.#url = opts.url;
    this.#opTimeoutMs = opts.opTimeoutMs ?? 500;
    this.#logger = (opts.logger ?? pino({ level: "silent" })).child({
      component: "fleet",
      backend: "redis",
      instance: this.instanceId,
    });
    this.#state = new TopologyState(this.#logger);
    const prefix = opts.keyPrefix ?? "rwsplit:";
    this.#keys = {
      record: `${prefix}topology`,
      lock: `${prefix}failover-lock`,
      counter: `${prefix}fencing-token`,
      channel: `${prefix}topology-changed`,
    };
    this.#poll = new Periodic(opts.pollMs ?? 250, () => this.#sync());
  }

  async start(initial: TopologyRecord): Promise<void> {
    const parsed = parseTopologyRecord(initial);
    if (!parsed.ok) throw new RwsplitError("INTERNAL", `invalid initial topology record: ${parsed.error}`);
    if (this.#running) return;
    if (!this.#state.started) this.#state.init(parsed.value);
    else this.#state.adopt(parsed.value);
    this.#running = true;
    this.#hasRead = false;

    const client = this.#connect("main");
    const sub = this.#connect("subscriber");
    this.#client = client;
    this.#sub = sub;
    sub.on("message", (channel: string, message: string) => {
      if (channel === this.#keys.channel) this.#onMessage(message);
    });
    // SUBSCRIBE on every (re)connect: the first attempt may come before Redis is up, and a
    // duplicate SUBSCRIBE is harmless.
    const subscribe = () => {
      sub.subscribe(this.#keys.channel).catch((err: Error) => this.#fail("subscribe", err, true));
    };
    sub.on("ready", subscribe);
    client.on("ready", () => {
      if (!this.#running) return;
      this.#logger.info("connected to redis");
      // Whatever was published while we were away: read it now rather than at the next poll.
      void this.#sync();
    });

    const ready = await Promise.all([
      whenReady(client, this.#opTimeoutMs),
      whenReady(sub, this.#opTimeoutMs),
    ]);
    if (!ready.every(Boolean)) {
      this.#fail(
        "connect",
        new RwsplitError("COORDINATOR_UNAVAILABLE", this.#lastError ?? "redis did not become ready"),
        false,
      );
      this.#logger.warn(
        { generation: this.#state.generation() },
        "redis unreachable at start: running on the initial record, resyncing when it answers",
      );
    }
    await this.#sync();
    // stop() may have been called while we waited.
    if (this.#running) this.#poll.start();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await this.#poll.stop();
    await this.#syncing;
    // disconnect(), not quit(): it does not wait for a Redis that may not answer. The error
    // listeners stay attached, so a late socket error cannot become an uncaught 'error' event.
    this.#client?.disconnect();
    this.#sub?.disconnect();
    this.#client = null;
    this.#sub = null;
  }

  current(): TopologyRecord {
    return this.#state.current();
  }

  onChange(cb: (t: TopologyRecord) => void): () => void {
    return this.#state.onChange(cb);
  }

  async tryAcquire(ttlMs: number): Promise<Lease | null> {
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) return null;
    const { lock, counter, record } = this.#keys;
    const sentAt = Date.now();
    const token = await this.#op("acquire", (c) =>
      c.fleetAcquire(lock, counter, record, this.instanceId, ttl),
    );
    if (token === FAILED || token === 0) return null;
    // Measured from before the request: Redis started its TTL later, so ours ends first.
    return { token: Number(token), instance: this.instanceId, expiresAt: sentAt + ttl };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const ttl = Math.ceil(ttlMs);
    if (!(ttl > 0)) return false;
    const sentAt = Date.now();
    const ok = await this.#op("renew", (c) => c.fleetRenew(this.#keys.lock, lockValue(lease), ttl));
    if (ok !== 1) return false;
    lease.expiresAt = sentAt + ttl;
    return true;
  }

  async publish(lease: Lease, next: TopologyProposal): Promise<boolean> {
    if (lease.instance !== this.instanceId) {
      this.#logger.error(
        { leaseInstance: lease.instance },
        "refusing to publish under another instance's lease",
      );
      return false;
    }
    // The store checks the lock; this only spares a round trip for a lease we know has lapsed.
    if (Date.now() >= lease.expiresAt) return false;
    const proposal = parseTopologyProposal(next);
    if (!proposal.ok) {
      this.#logger.error({ error: proposal.error }, "refusing to publish an invalid topology record");
      return false;
    }
    const record: TopologyRecord = {
      ...proposal.value,
      fencingToken: lease.token,
      by: this.instanceId,
      at: Date.now(),
    };
    const { lock, record: recordKey, channel } = this.#keys;
    const reply = await this.#op("publish", (c) =>
      c.fleetPublish(lock, recordKey, lockValue(lease), JSON.stringify(record), record.generation, channel),
    );
    if (reply === FAILED) return false;
    const [ok, why, stored] = reply;
    if (ok === 1) {
      this.#logger.info(
        { generation: record.generation, primary: record.primary, reason: record.reason, token: lease.token },
        "published topology",
      );
      this.#state.adopt(record);
      return true;
    }
    this.#logger.warn({ why, generation: record.generation, token: lease.token }, "topology publish refused");
    if (why === "generation" && typeof stored === "string") this.#offer(stored, "store");
    else if (why === "missing" || why === "malformed") void this.#sync();
    return false;
  }

  async release(lease: Lease): Promise<void> {
    await this.#op("release", (c) => c.fleetRelease(this.#keys.lock, lockValue(lease)));
  }

  health(): CoordinatorHealth {
    return { backend: "redis", connected: this.#client?.status === "ready", lastError: this.#lastError };
  }

  #connect(role: "main" | "subscriber"): FleetClient {
    const client = createFleetClient(this.#url, this.#opTimeoutMs, role);
    // Without a listener an 'error' event would be thrown; reconnecting is ioredis's job.
    client.on("error", (err: Error) => this.#fail(`${role} connection`, err, true));
    return client;
  }

  /** One bounded call into Redis: its result, or FAILED (logged, kept in lastError). */
  async #op<T>(what: string, fn: (c: FleetClient) => Promise<T>, quiet = false): Promise<Outcome<T>> {
    const c = this.#client;
    if (!this.#running || c === null) {
      this.#fail(what, new RwsplitError("COORDINATOR_UNAVAILABLE", "coordinator is not running"), quiet);
      return FAILED;
    }
    if (c.status !== "ready") {
      this.#fail(
        what,
        new RwsplitError("COORDINATOR_UNAVAILABLE", `redis not connected (${c.status})`),
        quiet,
      );
      return FAILED;
    }
    try {
      const value = await bounded(fn(c), this.#opTimeoutMs, `redis ${what}`);
      this.#recovered();
      return value;
    } catch (err) {
      this.#fail(what, err as Error, quiet);
      return FAILED;
    }
  }

  /**
   * Records a failure. Calls a caller made (acquire, publish...) are logged every time; failures
   * of the background loops (poll, connection errors) only when Redis was healthy before, so an
   * outage is one warning, not four a second.
   */
  #fail(what: string, err: Error, quiet: boolean): void {
    this.#lastError = `${what}: ${err.message}`;
    if (!quiet || !this.#failing) this.#logger.warn({ err: err.message, op: what }, "redis call failed");
    this.#failing = true;
  }

  #recovered(): void {
    if (this.#failing) this.#logger.info("redis answers again");
    this.#failing = false;
    this.#lastError = null;
  }

  /**
   * Reads the stored record: adopts a newer one, restores ours over a missing, malformed or older
   * one. Until the first read succeeds the store's record is also taken at the same generation:
   * it is the fleet's truth, `initial` only this instance's guess from its config.
   */
  #sync(): Promise<void> {
    this.#syncing ??= this.#syncOnce().finally(() => {
      this.#syncing = null;
    });
    return this.#syncing;
  }

  async #syncOnce(): Promise<void> {
    if (!this.#running) return;
    const raw = await this.#op("poll", (c) => c.get(this.#keys.record), true);
    if (raw === FAILED) return;
    const firstRead = !this.#hasRead;
    this.#hasRead = true;
    const local = this.#state.generation();
    if (raw !== null) {
      const parsed = this.#parse(raw, "store");
      if (parsed !== null) {
        if (parsed.generation > local) {
          this.#adopt(parsed, "store");
          return;
        }
        if (parsed.generation === local && firstRead) {
          this.#adopt(parsed, "store", true);
          return;
        }
        if (parsed.generation === local) {
          const mine = this.#state.current();
          // Only after the store lost its data and was rebuilt from two stale views; the next
          // publish (generation + 1) settles it. Logged once per stored record, not every poll.
          if (parsed.primary !== mine.primary && raw !== this.#lastDisagreement) {
            this.#lastDisagreement = raw;
            this.#logger.error(
              { generation: local, stored: parsed.primary, local: mine.primary },
              "store and this instance disagree on the primary at the same generation; keeping ours",
            );
          }
          return;
        }
      }
    }
    await this.#restore(raw === null ? "missing" : "older or malformed");
  }

  /** Offers our record to the store (see RESTORE); adopts what the store holds if it is newer. */
  async #restore(why: string): Promise<void> {
    const mine = this.#state.current();
    const { record, counter, channel } = this.#keys;
    const reply = await this.#op(
      "restore",
      (c) =>
        c.fleetRestore(record, counter, JSON.stringify(mine), mine.generation, mine.fencingToken, channel),
      true,
    );
    if (reply === FAILED) return;
    const [written, stored] = reply;
    if (written === 1) {
      this.#logger.info(
        { generation: mine.generation, primary: mine.primary, why },
        "stored topology record",
      );
    } else if (typeof stored === "string") {
      this.#offer(stored, "store");
    }
  }

  #onMessage(message: string): void {
    if (!this.#running) return;
    this.#offer(message, "pubsub");
  }

  /** Adopts `text` if it is a valid record of a newer generation. */
  #offer(text: string, source: "store" | "pubsub"): void {
    const parsed = this.#parse(text, source);
    if (parsed !== null && parsed.generation > this.#state.generation()) this.#adopt(parsed, source);
  }

  #adopt(record: TopologyRecord, source: "store" | "pubsub", sameGeneration = false): void {
    const before = this.#state.generation();
    if (this.#state.adopt(record, { sameGeneration })) {
      this.#logger.info(
        { from: before, generation: record.generation, primary: record.primary, by: record.by, source },
        "adopted topology",
      );
    }
  }

  #parse(text: string, source: "store" | "pubsub"): TopologyRecord | null {
    const parsed = parseTopologyJson(text);
    if (parsed.ok) return parsed.value;
    if (text !== this.#lastMalformed) {
      this.#lastMalformed = text;
      this.#logger.warn({ source, error: parsed.error }, "ignoring malformed topology record");
    }
    return null;
  }
}
