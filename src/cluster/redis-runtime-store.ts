import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import { RwsplitError } from "../errors.js";
import { bounded, failFastOptions } from "../ha/redis-client.js";
import { Periodic } from "../monitor/periodic.js";
import {
  applyChange,
  EMPTY_RECORD,
  type InstanceReport,
  parseInstanceReport,
  parseRuntimeRecord,
  type RuntimeOp,
  type RuntimeRecord,
} from "./runtime-record.js";
import { type RuntimeStore, runtimeInstanceId } from "./runtime-store.js";

/**
 * The fleet's runtime record in Redis (`redis.url`), next to the HA coordinator's topology:
 *
 *   <prefix>runtime             the record (JSON), changed only by `change`
 *   <prefix>runtime-changed     channel: each new record, as it is written
 *   <prefix>runtime-instances   hash: instance id -> its report (InstanceReport JSON)
 *
 * A change is read-modify-write under WATCH (`applyChange` computes it, so the rule lives in one
 * place), retried when another instance changed the record meanwhile; the new record is then
 * published. Others learn it from the channel (milliseconds) or, when a message was lost (a
 * reconnect), from polling the record every `pollMs`: every instance has applied a change within
 * a second. Redis going away changes nothing that runs: calls fail fast (redis-client.ts), the
 * instance keeps its record, and a change made meanwhile holds for that instance only (the
 * answer says so).
 */

export interface RedisRuntimeStoreOptions {
  url: string;
  /** Default "rwsplit:" (the HA coordinator's). */
  keyPrefix?: string;
  instanceId?: string;
  logger?: Logger;
  /** Upper bound on every call into Redis; default 500. */
  opTimeoutMs?: number;
  /** How often the record is read back (lost messages); default 250. */
  pollMs?: number;
}

/** Reports older than this are not shown, and are removed by whoever reads them. */
const REPORT_TTL_MS = 15_000;
/** How often an instance refreshes its own report and reads the others'. */
const REPORT_EVERY_MS = 1000;
const MAX_ATTEMPTS = 5;

export class RedisRuntimeStore implements RuntimeStore {
  readonly instanceId: string;
  readonly #url: string;
  readonly #keys: { record: string; channel: string; instances: string };
  readonly #opTimeoutMs: number;
  readonly #logger: Logger;
  readonly #poll: Periodic;
  readonly #reports: Periodic;
  readonly #listeners = new Set<(r: RuntimeRecord) => void>();
  #record: RuntimeRecord = EMPTY_RECORD;
  #mine: InstanceReport | null = null;
  #fleet: InstanceReport[] = [];
  #client: Redis | null = null;
  #sub: Redis | null = null;
  #lastError: string | null = null;
  #failing = false;
  /** Changes from this process, one at a time (WATCH is per connection). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(o: RedisRuntimeStoreOptions) {
    this.instanceId = o.instanceId ?? runtimeInstanceId();
    this.#url = o.url;
    const prefix = o.keyPrefix ?? "rwsplit:";
    this.#keys = {
      record: `${prefix}runtime`,
      channel: `${prefix}runtime-changed`,
      instances: `${prefix}runtime-instances`,
    };
    this.#opTimeoutMs = o.opTimeoutMs ?? 500;
    this.#logger = (o.logger ?? pino({ level: "silent" })).child({ component: "runtime-fleet" });
    this.#poll = new Periodic(o.pollMs ?? 250, () => this.#read());
    this.#reports = new Periodic(REPORT_EVERY_MS, () => this.#exchangeReports());
  }

  async start(): Promise<void> {
    if (this.#client !== null) return;
    const client = new Redis(this.#url, failFastOptions(this.#opTimeoutMs, "rwsplit-runtime"));
    const sub = new Redis(this.#url, failFastOptions(this.#opTimeoutMs, "rwsplit-runtime-sub"));
    client.on("error", (err: Error) => this.#fail("connection", err));
    sub.on("error", (err: Error) => this.#fail("subscriber connection", err));
    sub.on("message", (channel: string, message: string) => {
      if (channel === this.#keys.channel) this.#offer(message);
    });
    // On every (re)connect: a subscription does not survive a reconnect by itself.
    sub.on("ready", () => {
      sub.subscribe(this.#keys.channel).catch((err: Error) => this.#fail("subscribe", err));
    });
    client.on("ready", () => void this.#read());
    this.#client = client;
    this.#sub = sub;
    await this.#ready(client);
    await this.#read();
    this.#poll.start();
    this.#reports.start();
  }

  async stop(): Promise<void> {
    await this.#poll.stop();
    await this.#reports.stop();
    await this.#queue.catch(() => {});
    // disconnect(), not quit(): it does not wait for a Redis that may not answer.
    this.#client?.disconnect();
    this.#sub?.disconnect();
    this.#client = null;
    this.#sub = null;
  }

  current(): RuntimeRecord {
    return this.#record;
  }

  onChange(cb: (r: RuntimeRecord) => void): () => void {
    this.#listeners.add(cb);
    return () => {
      this.#listeners.delete(cb);
    };
  }

  change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    const run = this.#queue.then(() => this.#change(op, who));
    this.#queue = run.catch(() => {});
    return run;
  }

  report(r: Omit<InstanceReport, "instance" | "at">): void {
    this.#mine = { ...r, instance: this.instanceId, at: Date.now() };
    void this.#exchangeReports();
  }

  instances(): InstanceReport[] {
    return this.#fleet;
  }

  health() {
    return {
      shared: "redis" as const,
      connected: this.#client?.status === "ready",
      lastError: this.#lastError,
    };
  }

  // ---- internals -----------------------------------------------------------------------------

  async #change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    const c = this.#client;
    if (c === null || c.status !== "ready") {
      this.#fail(
        "change",
        new RwsplitError("COORDINATOR_UNAVAILABLE", `redis not connected (${c?.status ?? "stopped"})`),
      );
      return null;
    }
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const next = await bounded(this.#tryChange(c, op, who), this.#opTimeoutMs, "redis runtime change");
        if (next !== null) {
          this.#recovered();
          this.#adopt(next);
          return next;
        }
      }
      this.#fail(
        "change",
        new RwsplitError(
          "COORDINATOR_UNAVAILABLE",
          `the record kept changing under ${MAX_ATTEMPTS} attempts`,
        ),
      );
    } catch (e) {
      // A WATCH left behind by a timed-out attempt would spoil the next one.
      await c.unwatch().catch(() => {});
      this.#fail("change", e as Error);
    }
    return null;
  }

  /** One WATCH / GET / MULTI SET PUBLISH EXEC round; null when another instance wrote meanwhile. */
  async #tryChange(c: Redis, op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    const { record, channel } = this.#keys;
    await c.watch(record);
    const raw = await c.get(record);
    const stored = raw === null ? EMPTY_RECORD : (parseRuntimeRecord(raw) ?? EMPTY_RECORD);
    const base = stored.version >= this.#record.version ? stored : this.#record;
    const next = applyChange(base, op, { instance: this.instanceId, who, at: Date.now() });
    const json = JSON.stringify(next);
    const done = await c.multi().set(record, json).publish(channel, json).exec();
    return done === null ? null : next;
  }

  async #read(): Promise<void> {
    const c = this.#client;
    if (c === null || c.status !== "ready") return;
    try {
      const raw = await bounded(c.get(this.#keys.record), this.#opTimeoutMs, "redis runtime read");
      this.#recovered();
      if (raw !== null) this.#offer(raw);
    } catch (e) {
      this.#fail("read", e as Error);
    }
  }

  /** Writes this instance's report, reads the fleet's, drops reports of instances long gone. */
  async #exchangeReports(): Promise<void> {
    const c = this.#client;
    if (c === null || c.status !== "ready") return;
    const key = this.#keys.instances;
    try {
      if (this.#mine !== null) {
        this.#mine = { ...this.#mine, at: Date.now() };
        await bounded(c.hset(key, this.instanceId, JSON.stringify(this.#mine)), this.#opTimeoutMs, "report");
      }
      const all = await bounded(c.hgetall(key), this.#opTimeoutMs, "reports");
      const now = Date.now();
      const fresh: InstanceReport[] = [];
      const stale: string[] = [];
      for (const [id, text] of Object.entries(all)) {
        const r = parseInstanceReport(text);
        if (r !== null && now - r.at < REPORT_TTL_MS) fresh.push(r);
        else stale.push(id);
      }
      if (stale.length > 0) await bounded(c.hdel(key, ...stale), this.#opTimeoutMs, "report cleanup");
      this.#fleet = fresh.sort((a, b) => b.at - a.at);
    } catch (e) {
      this.#fail("reports", e as Error);
    }
  }

  #offer(text: string): void {
    const r = parseRuntimeRecord(text);
    if (r === null) {
      this.#logger.warn("ignoring a malformed runtime record");
      return;
    }
    this.#adopt(r);
  }

  #adopt(r: RuntimeRecord): void {
    if (r.version <= this.#record.version) return;
    this.#record = r;
    for (const cb of [...this.#listeners]) {
      try {
        cb(r);
      } catch (err) {
        this.#logger.error({ err }, "runtime change listener threw");
      }
    }
  }

  async #ready(client: Redis): Promise<void> {
    if (client.status === "ready") return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#opTimeoutMs);
      function done() {
        clearTimeout(timer);
        client.off("ready", done);
        resolve();
      }
      client.on("ready", done);
    });
  }

  /** Logged once per outage; kept for health(). */
  #fail(what: string, err: Error): void {
    this.#lastError = `${what}: ${err.message}`;
    if (!this.#failing) this.#logger.warn({ err: err.message, op: what }, "redis call failed");
    this.#failing = true;
  }

  #recovered(): void {
    if (this.#failing) this.#logger.info("redis answers again");
    this.#failing = false;
    this.#lastError = null;
  }
}
