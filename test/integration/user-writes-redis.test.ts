import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { RedisUserWriteLog } from "../../src/proxy/consistency/redis-user-writes.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";

// Users' last writes shared through Redis (routing.consistency: user with redis.url), against a
// real redis-server: the merge in Redis, the expiry, pub/sub, and Redis going away.

let redis: TestRedis;
let prefixes = 0;
const logs: RedisUserWriteLog[] = [];
let raw: Redis;

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  raw.on("error", () => {});
});

afterEach(async () => {
  await Promise.all(logs.splice(0).map((l) => l.stop()));
});

afterAll(async () => {
  raw?.disconnect();
  await redis?.stop();
});

/** Instances sharing one key prefix (a fleet), each connected. */
async function fleet(n: number, windowMs = 10_000) {
  const keyPrefix = `t${++prefixes}:`;
  const out: RedisUserWriteLog[] = [];
  for (let i = 0; i < n; i++) {
    const l = new RedisUserWriteLog({ url: redis.url, windowMs, keyPrefix });
    l.start();
    logs.push(l);
    out.push(l);
  }
  for (const l of out) await expect.poll(() => l.status().shared, { timeout: 3000 }).toBe("redis");
  return { logs: out, keyPrefix, key: (user: string) => `${keyPrefix}writes:${user}` };
}

describe("RedisUserWriteLog", () => {
  test("a write through one instance is known to another's next login", async () => {
    const {
      logs: [a],
      keyPrefix,
      key,
    } = await fleet(1);
    a!.wrote("app", "0-1-5");
    await expect.poll(() => raw.hgetall(key("app"))).toEqual({ "0": "1-5" });
    // An instance that started after the write (it heard no pub/sub message) learns it at login.
    const later = new RedisUserWriteLog({ url: redis.url, windowMs: 10_000, keyPrefix });
    later.start();
    logs.push(later);
    await expect.poll(() => later.status().shared, { timeout: 3000 }).toBe("redis");
    expect(later.record("app")).toBeNull();
    await later.loggingIn("app");
    expect(later.record("app")?.text).toBe("0-1-5");
  });

  test("Redis keeps the newest GTID per domain, whatever order the instances report in", async () => {
    const {
      logs: [a, b],
      key,
    } = await fleet(2);
    a!.wrote("app", "0-1-9");
    await expect.poll(() => raw.hgetall(key("app"))).toEqual({ "0": "1-9" });
    // b may not have heard of 0-1-9 yet: an older GTID reported late must not win.
    b!.writes.wrote("app", "0-1-7", Date.now());
    b!.wrote("app", "1-2-3");
    await expect.poll(() => raw.hgetall(key("app"))).toEqual({ "0": "1-9", "1": "2-3" });
    a!.wrote("app", "0-1-10");
    await expect.poll(() => raw.hgetall(key("app"))).toEqual({ "0": "1-10", "1": "2-3" });
    const ttl = await raw.pttl(key("app"));
    expect(ttl).toBeGreaterThan(9000);
    expect(ttl).toBeLessThanOrEqual(10_000);
  });

  test("pub/sub: a long-lived session's instance learns the write without a login", async () => {
    const {
      logs: [a, b],
    } = await fleet(2);
    a!.wrote("app", "0-1-42");
    await expect.poll(() => b!.record("app")?.text, { timeout: 2000 }).toBe("0-1-42");
    expect(b!.record("other")).toBeNull();
  });

  test("the record expires in Redis with the window", async () => {
    const {
      logs: [a, b],
      key,
    } = await fleet(2, 300);
    a!.wrote("app", "0-1-5");
    await expect.poll(() => raw.exists(key("app"))).toBe(1);
    await expect.poll(() => raw.exists(key("app")), { timeout: 2000 }).toBe(0);
    await b!.loggingIn("app");
    expect(b!.record("app")).toBeNull();
  });

  test("Redis down: each instance keeps its own records, logins do not wait, and it says why", async () => {
    const {
      logs: [a],
    } = await fleet(1);
    await redis.kill();
    try {
      await expect.poll(() => a!.status().shared, { timeout: 3000 }).toBe("local");
      expect(a!.status().lastError).toEqual(expect.any(String));
      expect(a!.loggingIn("app")).toBeNull();
      a!.wrote("app", "0-1-5");
      expect(a!.record("app")?.text).toBe("0-1-5");
    } finally {
      await redis.restart();
    }
    await expect
      .poll(() => a!.status(), { timeout: 5000 })
      .toMatchObject({ shared: "redis", lastError: null });
  });
});
