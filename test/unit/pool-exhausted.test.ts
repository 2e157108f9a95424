import { describe, expect, it } from "vitest";
import { type AcquireRequest, BackendPool, poolKeyString } from "../../src/proxy/backend-pool.js";
import { ScriptedServer } from "../helpers/scripted-backend.js";

function request(user: string): AcquireRequest {
  const key = { user, wireFlags: 0, mariadbFlags: 0, collation: 45 };
  return {
    key,
    keyString: poolKeyString(key),
    credentials: { user, password: "pw", stage1: null, stage2: null },
    schema: null,
  };
}

function pool(maxPerBackend: number): BackendPool {
  const server = new ScriptedServer();
  return new BackendPool(
    { name: "r1", host: "127.0.0.1", port: 1 },
    {
      maxPerBackend,
      connectTimeoutMs: 1000,
      idleTimeoutMs: 60_000,
      pingAfterIdleMs: 5000,
      acquireTimeoutMs: 1000,
    },
    server.connector,
  );
}

// pool.max_per_backend is per user: the balancer skips a replica only for the user at the limit there.
describe("BackendPool.exhausted", () => {
  it("is true for a user at the limit with nothing idle, and for that user only", async () => {
    const p = pool(2);
    const a = request("a");
    const held = [await p.acquire(a), await p.acquire(a)];
    expect(p.exhausted("a")).toBe(true);
    expect(p.exhausted("b")).toBe(false);
    p.release(held[0]!, a.keyString);
    expect(p.exhausted("a")).toBe(false);
    p.destroyAll();
  });

  it("is false while every user is under the limit, whatever the pool holds in all", async () => {
    const p = pool(2);
    const a = request("a");
    const b = request("b");
    await p.acquire(a);
    await p.acquire(b);
    expect(p.exhausted("a")).toBe(false);
    expect(p.exhausted("b")).toBe(false);
    await p.acquire(b);
    expect(p.exhausted("a")).toBe(false);
    expect(p.exhausted("b")).toBe(true);
    p.destroyAll();
  });

  it("counts a closed connection out", async () => {
    const p = pool(1);
    const a = request("a");
    const conn = await p.acquire(a);
    expect(p.exhausted("a")).toBe(true);
    conn.destroy();
    expect(p.exhausted("a")).toBe(false);
    p.destroyAll();
  });
});
