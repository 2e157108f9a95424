import { describe, expect, it } from "vitest";
import { scriptedPool as pool, poolRequest as request } from "../helpers/scripted-pool.js";

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
