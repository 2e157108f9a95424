import { describe, expect, it } from "vitest";
import { KEPT_FOR_MS, Keep } from "../../src/proxy/idle-connections.js";
import { poolRequest as request, scriptedPool } from "../helpers/scripted-pool.js";

const pool = () => scriptedPool(4);

// A statement about the previous one (SHOW WARNINGS, ROW_COUNT(), ...) runs on that one's connection
// when nobody leased it since (src/proxy/session/previous-statement.ts).
describe("BackendPool: the previous statement's connection", () => {
  it("is taken back while untouched, and not once another lease has used it", async () => {
    const p = pool();
    const a = request("a");
    const conn = await p.acquire(a);
    p.release(conn, a.keyString);
    const releases = conn.releases;
    expect(p.takeBack(conn, a.keyString, releases, Date.now())).toBe(conn);
    p.release(conn, a.keyString);
    expect(p.tryAcquire(a.keyString, Date.now())).toBe(conn); // another session's statement
    p.release(conn, a.keyString);
    expect(p.takeBack(conn, a.keyString, releases + 1, Date.now())).toBeNull();
    p.destroyAll();
  });

  it("is not taken back while leased, nor after it idled past the ping threshold", async () => {
    const p = pool();
    const a = request("a");
    const conn = await p.acquire(a);
    p.release(conn, a.keyString);
    const releases = conn.releases;
    expect(p.tryAcquire(a.keyString, Date.now())).toBe(conn);
    expect(p.takeBack(conn, a.keyString, releases, Date.now())).toBeNull();
    p.release(conn, a.keyString, Date.now());
    expect(p.takeBack(conn, a.keyString, conn.releases, Date.now() + 60_000)).toBeNull();
    p.destroyAll();
  });

  it("reserved (warnings, an error): another session opens a connection rather than take it, but takes it at the limit", async () => {
    const p = pool();
    const a = request("a");
    const [c1, c2, c3] = [await p.acquire(a), await p.acquire(a), await p.acquire(a)];
    p.release(c1, a.keyString);
    p.release(c2, a.keyString, Date.now(), Keep.RESERVED);
    p.release(c3, a.keyString);
    const now = Date.now();
    expect(p.tryAcquire(a.keyString, now)).toBe(c3);
    expect(p.tryAcquire(a.keyString, now)).toBe(c1);
    expect(p.tryAcquire(a.keyString, now)).toBeNull();
    const c4 = await p.acquire(a); // under the limit (4): a new one
    expect([c1, c2, c3]).not.toContain(c4);
    expect(await p.acquire(a)).toBe(c2); // at the limit
    expect(c2.keptUntil).toBe(0);
    p.destroyAll();
  });

  it("reserved for KEPT_FOR_MS only: then it is taken like any other", async () => {
    const p = pool();
    const a = request("a");
    const conn = await p.acquire(a);
    const at = Date.now();
    p.release(conn, a.keyString, at, Keep.RESERVED);
    expect(p.tryAcquire(a.keyString, at + KEPT_FOR_MS - 1)).toBeNull();
    expect(p.tryAcquire(a.keyString, at + KEPT_FOR_MS + 1)).toBe(conn);
    p.destroyAll();
  });

  it("behind the others (a write): taken when no other is idle, before a new one is opened", async () => {
    const p = pool();
    const a = request("a");
    const [c1, c2, c3] = [await p.acquire(a), await p.acquire(a), await p.acquire(a)];
    p.release(c1, a.keyString);
    p.release(c2, a.keyString, Date.now(), Keep.AT_END);
    p.release(c3, a.keyString);
    const now = Date.now();
    expect(p.tryAcquire(a.keyString, now)).toBe(c3);
    expect(p.tryAcquire(a.keyString, now)).toBe(c1);
    expect(p.tryAcquire(a.keyString, now)).toBe(c2);
    p.destroyAll();
  });

  it("a kept connection let go by its session is taken like any other", async () => {
    const p = pool();
    const a = request("a");
    const conn = await p.acquire(a);
    p.release(conn, a.keyString, Date.now(), Keep.RESERVED);
    expect(p.tryAcquire(a.keyString, Date.now())).toBeNull();
    conn.keptUntil = 0; // previous-statement.ts: the session's next statement asked nothing of it
    expect(p.tryAcquire(a.keyString, Date.now())).toBe(conn);
    p.destroyAll();
  });
});
