import { existsSync } from "node:fs";
import { Writable } from "node:stream";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Lease, TopologyRecord } from "../../src/ha/fleet.js";
import { RedisCoordinator } from "../../src/ha/redis-coordinator.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

/**
 * RedisCoordinator against a real redis-server (one per file; each test uses its own key prefix).
 * The outage tests kill, freeze and restart that server, so they run last and in order.
 */

const OP_TIMEOUT = 400;
/** Scheduling slack on top of the operation timeout, for a loaded 2-core CI machine. */
const SLACK = 150;

const initial: TopologyRecord = {
  generation: 1,
  primary: "db1",
  fenced: [],
  reason: "initial",
  by: "config",
  at: 0,
  fencingToken: 0,
};

let redis: TestRedis;
let prefixes = 0;
const coordinators: RedisCoordinator[] = [];
const raws: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  await Promise.all(coordinators.splice(0).map((c) => c.stop()));
  for (const r of raws.splice(0)) r.disconnect();
});

afterAll(async () => {
  await redis?.stop();
});

/** Log lines a coordinator wrote, parsed. */
function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

function fleet(prefix = `t${++prefixes}:`) {
  const make = (id: string, opts: { logger?: pino.Logger; pollMs?: number } = {}) => {
    const c = new RedisCoordinator({
      url: redis.url,
      keyPrefix: prefix,
      instanceId: id,
      opTimeoutMs: OP_TIMEOUT,
      ...opts,
    });
    coordinators.push(c);
    return c;
  };
  const raw = () => {
    // Plain client for poking at the store behind the coordinators' backs.
    const r = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    r.on("error", () => {});
    raws.push(r);
    return r;
  };
  return { prefix, make, raw };
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves with the ms from now until `c` reports `generation` through onChange. */
function seesGeneration(c: RedisCoordinator, generation: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const off = c.onChange((t) => {
      if (t.generation >= generation) {
        off();
        resolve(performance.now() - t0);
      }
    });
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

const failover = (generation: number, primary: string, fenced: string[] = []) => ({
  generation,
  primary,
  fenced,
  reason: "failover",
});

describe("RedisCoordinator", () => {
  it("seeds the store with the first instance's record; the next adopts it", async () => {
    const { make, raw, prefix } = fleet();
    const a = make("a");
    await a.start(initial);
    expect(a.current()).toEqual(initial);
    expect(a.health()).toEqual({ backend: "redis", connected: true, lastError: null });
    expect(JSON.parse((await raw().get(`${prefix}topology`))!)).toEqual(initial);

    const b = make("b");
    const changes: TopologyRecord[] = [];
    b.onChange((t) => changes.push(t));
    await b.start({ ...initial, primary: "db2", by: "b-config" });
    expect(b.current()).toEqual(initial);
    expect(changes).toEqual([initial]);
  });

  it("gives the lease to exactly one of two instances, with increasing tokens", async () => {
    const { make } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const [la, lb] = await Promise.all([a.tryAcquire(5000), b.tryAcquire(5000)]);
    expect([la, lb].filter((l) => l !== null)).toHaveLength(1);
    const [holder, holderLease, other] = la ? [a, la, b] : [b, lb!, a];
    expect(holderLease.instance).toBe(holder.instanceId);
    expect(await other.tryAcquire(5000)).toBeNull();
    // Renewing and releasing someone else's lease does nothing.
    expect(await other.renew({ ...holderLease, instance: other.instanceId }, 5000)).toBe(false);
    await other.release({ ...holderLease, instance: other.instanceId });
    expect(await other.tryAcquire(5000)).toBeNull();

    expect(await holder.renew(holderLease, 5000)).toBe(true);
    await holder.release(holderLease);
    const next = await other.tryAcquire(5000);
    expect(next?.token).toBeGreaterThan(holderLease.token);
  });

  it("lets the lease expire by its TTL", async () => {
    const { make } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const la = (await a.tryAcquire(200))!;
    expect(la.expiresAt).toBeLessThanOrEqual(Date.now() + 200);
    expect(await b.tryAcquire(200)).toBeNull();
    await new Promise((r) => setTimeout(r, 250));
    expect(await a.renew(la, 200)).toBe(false);
    expect(await b.tryAcquire(200)).not.toBeNull();
  });

  it("fences: an expired lease cannot publish once another instance acquired", async () => {
    const { make, raw, prefix } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const old = (await a.tryAcquire(150))!;
    await new Promise((r) => setTimeout(r, 200));
    const fresh = (await b.tryAcquire(5000))!;
    expect(fresh.token).toBeGreaterThan(old.token);

    expect(await a.publish(old, failover(2, "db2", ["db1"]))).toBe(false);
    // A holder whose clock says the lease is still good (paused process, skewed clock): the store's
    // check in the Lua script refuses it all the same.
    const stale: Lease = { ...old, expiresAt: Date.now() + 60_000 };
    expect(await a.publish(stale, failover(2, "db2", ["db1"]))).toBe(false);
    expect(JSON.parse((await raw().get(`${prefix}topology`))!).generation).toBe(1);
    expect(a.current().generation).toBe(1);

    expect(await b.publish(fresh, failover(2, "db3", ["db1"]))).toBe(true);
    expect(b.current()).toMatchObject({ generation: 2, primary: "db3", by: "b", fencingToken: fresh.token });
  });

  it("keeps the generation monotonic: only stored + 1 is accepted", async () => {
    const { make } = fleet();
    const a = make("a");
    await a.start(initial);
    const lease = (await a.tryAcquire(5000))!;
    expect(await a.publish(lease, failover(1, "db2"))).toBe(false);
    expect(await a.publish(lease, failover(3, "db2"))).toBe(false);
    expect(await a.publish(lease, failover(2, "db2", ["db1"]))).toBe(true);
    expect(await a.publish(lease, failover(2, "db3", ["db1"]))).toBe(false);
    expect(await a.publish(lease, failover(3, "db3", ["db1", "db2"]))).toBe(true);
    expect(a.current()).toMatchObject({ generation: 3, primary: "db3", fenced: ["db1", "db2"] });
  });

  it("shows a publish to a follower in well under a second (pub/sub)", async () => {
    const { make } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const lease = (await a.tryAcquire(5000))!;
    const seen = seesGeneration(b, 2);
    expect(await a.publish(lease, failover(2, "db2", ["db1"]))).toBe(true);
    const ms = await seen;
    expect(ms).toBeLessThan(1000);
    expect(b.current()).toEqual(a.current());
  });

  it("shows a change whose message was lost in under a second (poll)", async () => {
    const { make, raw, prefix } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    // SET without PUBLISH: what a follower sees when the message went out during its reconnect.
    const next: TopologyRecord = { ...initial, ...failover(2, "db2", ["db1"]), by: "x", at: Date.now() };
    const seenA = seesGeneration(a, 2);
    const seenB = seesGeneration(b, 2);
    await raw().set(`${prefix}topology`, JSON.stringify(next));
    const [msA, msB] = await Promise.all([seenA, seenB]);
    expect(msA).toBeLessThan(1000);
    expect(msB).toBeLessThan(1000);
    expect(a.current()).toEqual(next);
    expect(b.current()).toEqual(next);
  });

  it("never accepts a lower generation, and restores the store over it", async () => {
    const { make, raw, prefix } = fleet();
    const a = make("a");
    await a.start(initial);
    const lease = (await a.tryAcquire(5000))!;
    await a.publish(lease, failover(2, "db2", ["db1"]));
    const r = raw();
    const changes: TopologyRecord[] = [];
    a.onChange((t) => changes.push(t));

    await r.set(`${prefix}topology`, JSON.stringify(initial));
    await r.publish(`${prefix}topology-changed`, JSON.stringify(initial));
    await waitFor(
      "the store restored to generation 2",
      async () => JSON.parse((await r.get(`${prefix}topology`))!).generation === 2,
      1000,
    );
    expect(a.current().generation).toBe(2);
    expect(changes).toEqual([]);
  });

  it("ignores and logs malformed records, and overwrites a malformed store", async () => {
    const { make, raw, prefix } = fleet();
    const { logger, lines } = captureLogger();
    const a = make("a", { logger });
    await a.start(initial);
    const r = raw();

    await r.publish(`${prefix}topology-changed`, JSON.stringify({ ...initial, generation: 5, primary: 7 }));
    await r.publish(`${prefix}topology-changed`, "{not json");
    await r.set(`${prefix}topology`, "garbage");
    await waitFor(
      "the store restored",
      async () => (await r.get(`${prefix}topology`)) === JSON.stringify(initial),
      1000,
    );
    // The store changes before the coordinator reads the script's reply and logs it.
    await waitFor(
      "the restore logged",
      () => lines.some((l) => l.msg === "stored topology record" && l.why === "older or malformed"),
      1000,
    );
    expect(a.current()).toEqual(initial);
    const malformed = lines.filter((l) => l.msg === "ignoring malformed topology record");
    expect(malformed.map((l) => l.source)).toEqual(["pubsub", "pubsub", "store"]);
    expect(String(malformed[0]!.error)).toMatch(/primary/);
    expect(String(malformed[2]!.error)).toMatch(/not JSON/);
  });

  it("takes fencing tokens above the stored record's even when the counter was lost", async () => {
    const { make, raw, prefix } = fleet();
    const r = raw();
    await r.set(`${prefix}topology`, JSON.stringify({ ...initial, generation: 7, fencingToken: 40 }));
    const a = make("a");
    await a.start(initial);
    expect(a.current().generation).toBe(7);
    expect((await a.tryAcquire(5000))?.token).toBe(41);
  });
});

describe("RedisCoordinator when Redis goes away", () => {
  it("answers every call within the timeout while Redis is dead, keeping current()", async () => {
    const { make } = fleet();
    const { logger, lines } = captureLogger();
    const a = make("a", { logger });
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const lease = (await a.tryAcquire(10_000))!;
    expect(await a.publish(lease, failover(2, "db2", ["db1"]))).toBe(true);
    await waitFor("b at generation 2", () => b.current().generation === 2, 1000);
    const before = a.current();

    await redis.kill();
    try {
      const results = {
        tryAcquire: await timed(() => b.tryAcquire(1000)),
        renew: await timed(() => a.renew(lease, 10_000)),
        publish: await timed(() => a.publish(lease, failover(3, "db3", ["db1", "db2"]))),
        release: await timed(() => a.release(lease)),
      };
      expect(results).toEqual({
        tryAcquire: { value: null, ms: expect.any(Number) },
        renew: { value: false, ms: expect.any(Number) },
        publish: { value: false, ms: expect.any(Number) },
        release: { value: undefined, ms: expect.any(Number) },
      });
      for (const { ms } of Object.values(results)) expect(ms).toBeLessThan(OP_TIMEOUT + SLACK);
      expect(a.current()).toEqual(before);
      expect(b.current()).toEqual(before);
      await waitFor("a reports disconnected", () => !a.health().connected, 2000);
      expect(a.health().lastError).toEqual(expect.any(String));
      // Dead for a second: the poll keeps failing, and that is logged once, not four times a second.
      await new Promise((r) => setTimeout(r, 1000));
      expect(a.current()).toEqual(before);
      const failures = lines.filter((l) => l.msg === "redis call failed" && l.op === "poll");
      expect(failures.length).toBeLessThanOrEqual(1);
    } finally {
      await redis.restart();
    }
  });

  it("answers within the timeout while Redis is frozen (accepts, never replies)", async () => {
    const { make } = fleet();
    const a = make("a");
    await a.start(initial);
    const lease = (await a.tryAcquire(10_000))!;
    redis.freeze();
    try {
      const calls: [() => Promise<unknown>, unknown][] = [
        [() => a.tryAcquire(1000), null],
        [() => a.renew(lease, 10_000), false],
        [() => a.publish(lease, failover(2, "db2", ["db1"])), false],
        [() => a.release(lease), undefined],
      ];
      for (const [call, expected] of calls) {
        const { value, ms } = await timed(call);
        expect(value).toBe(expected);
        expect(ms).toBeLessThan(OP_TIMEOUT + SLACK);
      }
      expect(a.current()).toEqual(initial);
      await waitFor("a reports disconnected", () => !a.health().connected, 3000);
    } finally {
      redis.thaw();
    }
    await waitFor("a reconnected", () => a.health().connected && a.health().lastError === null, 5000);
  });

  it("reconnects after a restart (empty store), restores the record and resyncs to a higher one", async () => {
    const { make, raw, prefix } = fleet();
    const a = make("a");
    const b = make("b");
    await Promise.all([a.start(initial), b.start(initial)]);
    const lease = (await a.tryAcquire(10_000))!;
    expect(await a.publish(lease, failover(2, "db2", ["db1"]))).toBe(true);
    await waitFor("b at generation 2", () => b.current().generation === 2, 1000);

    await redis.kill();
    await redis.restart();
    const r = raw();
    // The restarted Redis is empty: the instances put back what they know.
    await waitFor(
      "generation 2 restored to the store",
      async () => {
        const stored = await r.get(`${prefix}topology`).catch(() => null);
        return stored !== null && JSON.parse(stored).generation === 2;
      },
      5000,
    );
    await waitFor("both connected", () => a.health().connected && b.health().connected, 5000);
    // The old lease died with the old Redis.
    expect(await a.publish(lease, failover(3, "db3"))).toBe(false);

    // Another instance moved the fleet on: both adopt it within a second.
    const next: TopologyRecord = {
      ...failover(3, "db3", ["db1", "db2"]),
      by: "c",
      at: Date.now(),
      fencingToken: 9,
    };
    const seenA = seesGeneration(a, 3);
    const seenB = seesGeneration(b, 3);
    await r.set(`${prefix}topology`, JSON.stringify(next));
    const [msA, msB] = await Promise.all([seenA, seenB]);
    expect(msA).toBeLessThan(1000);
    expect(msB).toBeLessThan(1000);
    expect(a.current()).toEqual(next);
    expect(b.current()).toEqual(next);

    // And a new lease outranks the one that wrote generation 3.
    const fresh = (await b.tryAcquire(5000))!;
    expect(fresh.token).toBeGreaterThan(9);
    expect(await b.publish(fresh, failover(4, "db1", ["db2", "db3"]))).toBe(true);
    await waitFor("a at generation 4", () => a.current().generation === 4, 1000);
  });

  it("starts on its initial record while Redis is down, and seeds it once Redis is back", async () => {
    const { make, raw, prefix } = fleet();
    await redis.kill();
    const a = make("a");
    const { ms } = await timed(() => a.start(initial));
    expect(ms).toBeLessThan(2 * OP_TIMEOUT + SLACK);
    expect(a.current()).toEqual(initial);
    expect(a.health().connected).toBe(false);
    expect(await a.tryAcquire(1000)).toBeNull();

    await redis.restart();
    const r = raw();
    await waitFor(
      "initial seeded",
      async () => (await r.get(`${prefix}topology`).catch(() => null)) === JSON.stringify(initial),
      5000,
    );
    await waitFor("a connected", () => a.health().connected, 5000);
    expect(await a.tryAcquire(1000)).not.toBeNull();
  });
});

describe("startRedis", () => {
  it("stops its server and removes its dir at the end of an `await using` scope", async () => {
    let pid = 0;
    let dir = "";
    {
      await using r = await startRedis();
      pid = r.pid;
      const c = new Redis(r.url, { lazyConnect: true });
      await c.connect();
      expect(await c.ping()).toBe("PONG");
      dir = String(((await c.config("GET", "dir")) as string[])[1]);
      c.disconnect();
      expect(existsSync(dir)).toBe(true);
    }
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(dir)).toBe(false);
  });
});
