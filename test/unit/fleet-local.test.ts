import { describe, expect, it } from "vitest";
import {
  createCoordinator,
  LocalCoordinator,
  parseTopologyJson,
  parseTopologyRecord,
  type TopologyRecord,
} from "../../src/ha/fleet.js";
import { RedisCoordinator } from "../../src/ha/redis-coordinator.js";

const initial: TopologyRecord = {
  generation: 1,
  primary: "db1",
  fenced: [],
  reason: "initial",
  by: "config",
  at: 0,
  fencingToken: 0,
};

/** A coordinator on a clock the test moves. */
async function started(record: TopologyRecord = initial) {
  const clock = { now: 1_000_000 };
  const c = new LocalCoordinator({ instanceId: "i1", now: () => clock.now });
  await c.start(record);
  return { c, clock };
}

describe("LocalCoordinator", () => {
  it("starts on the initial record and reports itself local and connected", async () => {
    const { c } = await started();
    expect(c.current()).toEqual(initial);
    expect(c.instanceId).toBe("i1");
    expect(c.health()).toEqual({ backend: "local", connected: true, lastError: null });
  });

  it("throws on current() before start, and rejects an invalid initial record", async () => {
    const c = new LocalCoordinator();
    expect(() => c.current()).toThrow(/before start/);
    await expect(c.start({ ...initial, primary: "" })).rejects.toThrow(/primary/);
    await expect(c.start({ ...initial, generation: -1 })).rejects.toThrow(/generation/);
  });

  it("grants the lease to one holder at a time, with increasing fencing tokens", async () => {
    const { c, clock } = await started();
    const a = await c.tryAcquire(1000);
    expect(a).toEqual({ token: 1, instance: "i1", expiresAt: clock.now + 1000 });
    expect(await c.tryAcquire(1000)).toBeNull();
    clock.now += 999;
    expect(await c.tryAcquire(1000)).toBeNull();
    clock.now += 1;
    const b = await c.tryAcquire(1000);
    expect(b?.token).toBe(2);
    await c.release(b!);
    const d = await c.tryAcquire(1000);
    expect(d?.token).toBe(3);
  });

  it("starts fencing tokens above the token of the record it starts from", async () => {
    const { c } = await started({ ...initial, generation: 9, fencingToken: 41 });
    expect((await c.tryAcquire(1000))?.token).toBe(42);
  });

  it("renews only a held, unexpired lease, moving its expiry", async () => {
    const { c, clock } = await started();
    const lease = (await c.tryAcquire(1000))!;
    clock.now += 500;
    expect(await c.renew(lease, 1000)).toBe(true);
    expect(lease.expiresAt).toBe(clock.now + 1000);
    clock.now += 999;
    expect(await c.tryAcquire(1000)).toBeNull();
    clock.now += 1;
    expect(await c.renew(lease, 1000)).toBe(false);
    expect(await c.renew(lease, 0)).toBe(false);
  });

  it("publishes generation + 1 under a held lease and tells listeners", async () => {
    const { c } = await started();
    const seen: TopologyRecord[] = [];
    const off = c.onChange((t) => seen.push(t));
    const lease = (await c.tryAcquire(1000))!;
    expect(
      await c.publish(lease, { generation: 2, primary: "db2", fenced: ["db1"], reason: "failover" }),
    ).toBe(true);
    expect(c.current()).toMatchObject({
      generation: 2,
      primary: "db2",
      fenced: ["db1"],
      reason: "failover",
      by: "i1",
      fencingToken: lease.token,
    });
    expect(seen.map((t) => t.generation)).toEqual([2]);
    off();
    expect(
      await c.publish(lease, { generation: 3, primary: "db3", fenced: ["db1"], reason: "switchover" }),
    ).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it("refuses a generation that is not exactly current + 1", async () => {
    const { c } = await started();
    const lease = (await c.tryAcquire(1000))!;
    for (const generation of [1, 0, 3, 100]) {
      expect(await c.publish(lease, { generation, primary: "db2", fenced: [], reason: "failover" })).toBe(
        false,
      );
    }
    expect(c.current().generation).toBe(1);
  });

  it("fences: an expired lease cannot publish, nor one released, nor one never granted", async () => {
    const { c, clock } = await started();
    const old = (await c.tryAcquire(1000))!;
    clock.now += 1000;
    const next = { generation: 2, primary: "db2", fenced: ["db1"], reason: "failover" };
    expect(await c.publish(old, next)).toBe(false);
    const fresh = (await c.tryAcquire(1000))!;
    expect(fresh.token).toBeGreaterThan(old.token);
    expect(await c.publish(old, next)).toBe(false);
    expect(await c.publish({ ...fresh, token: fresh.token + 1 }, next)).toBe(false);
    await c.release(old); // not the holder: a no-op
    expect(await c.publish(fresh, next)).toBe(true);
    await c.release(fresh);
    expect(await c.publish(fresh, { ...next, generation: 3 })).toBe(false);
  });

  it("refuses an invalid proposal without throwing", async () => {
    const { c } = await started();
    const lease = (await c.tryAcquire(1000))!;
    expect(await c.publish(lease, { generation: 2, primary: "", fenced: [], reason: "failover" })).toBe(
      false,
    );
    expect(await c.publish(lease, { generation: 2.5, primary: "db2", fenced: [], reason: "x" })).toBe(false);
    expect(c.current().generation).toBe(1);
  });

  it("hands out copies: changing a returned record changes nothing inside", async () => {
    const { c } = await started();
    const t = c.current();
    t.fenced.push("db9");
    t.primary = "db9";
    expect(c.current()).toEqual(initial);
  });

  it("keeps notifying the other listeners when one throws", async () => {
    const { c } = await started();
    const seen: number[] = [];
    c.onChange(() => {
      throw new Error("listener bug");
    });
    c.onChange((t) => seen.push(t.generation));
    const lease = (await c.tryAcquire(1000))!;
    expect(await c.publish(lease, { generation: 2, primary: "db2", fenced: [], reason: "failover" })).toBe(
      true,
    );
    expect(seen).toEqual([2]);
  });

  it("never goes back to a lower generation on a second start", async () => {
    const { c } = await started();
    const lease = (await c.tryAcquire(1000))!;
    await c.publish(lease, { generation: 2, primary: "db2", fenced: ["db1"], reason: "failover" });
    await c.stop();
    await c.start(initial);
    expect(c.current().generation).toBe(2);
  });
});

describe("topology record validation", () => {
  it.each([
    ["a valid record", initial, true],
    ["extra keys (from a newer instance)", { ...initial, note: "x" }, true],
    ["a negative generation", { ...initial, generation: -1 }, false],
    ["a fractional generation", { ...initial, generation: 1.5 }, false],
    ["an empty primary", { ...initial, primary: "" }, false],
    ["fenced not a list", { ...initial, fenced: "db1" }, false],
    ["no fencing token", { ...initial, fencingToken: undefined }, false],
    ["null", null, false],
  ])("%s", (_name, value, ok) => {
    expect(parseTopologyRecord(value).ok).toBe(ok);
  });

  it("drops unknown keys and reports what is wrong", () => {
    const r = parseTopologyRecord({ ...initial, note: "x" });
    expect(r.ok && "note" in r.value).toBe(false);
    const bad = parseTopologyRecord({ ...initial, primary: 3 });
    expect(bad.ok ? "" : bad.error).toMatch(/^primary:/);
  });

  it("treats malformed JSON as an error value", () => {
    const r = parseTopologyJson("{not json");
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.error).toMatch(/not JSON/);
    expect(parseTopologyJson(JSON.stringify(initial))).toEqual({ ok: true, value: initial });
  });
});

describe("createCoordinator", () => {
  it("is local without redis and redis with a url (nothing connects until start)", async () => {
    expect(await createCoordinator(undefined)).toBeInstanceOf(LocalCoordinator);
    expect(await createCoordinator({ url: "redis://127.0.0.1:1" })).toBeInstanceOf(RedisCoordinator);
  });
});
