import { describe, expect, test } from "vitest";
import { Balancer } from "../../src/balancer/balancer.js";
import { nextLagState, toReplicaObservation } from "../../src/balancer/lag-state.js";
import { seededRandom } from "../../src/balancer/seeded-random.js";
import type { BackendObservation } from "../../src/monitor/types.js";
import type { BackendPool } from "../../src/proxy/backend-pool.js";
import { BalancedPicker } from "../../src/proxy/balanced-picker.js";
import type { ReplicaRequest } from "../../src/proxy/upstreams.js";
import { observation } from "../helpers/observation.js";

// The picker's side of read-your-writes: replicas filtered by the monitor's GTID positions, the
// replica to wait on when none shows the write yet, and what a wait's outcome changes.

const LAG = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };

function setup(positions: Record<string, { gtid: string; lagMs?: number }>) {
  const names = Object.keys(positions);
  const pools = names.map(
    (name) => ({ endpoint: { name }, exhausted: () => false }) as unknown as BackendPool,
  );
  const balancer = new Balancer(
    names.map((name) => ({ name, weight: 1 })),
    LAG,
    { random: seededRandom(7) },
  );
  const obs = new Map<string, BackendObservation>();
  const check = (name: string, gtid: string, lagMs = 3) => {
    const o = observation({ name, gtidSlavePos: gtid, lagMs, checkedAt: Date.now() });
    obs.set(name, o);
    const fresh = { lastLagMs: null, ioLostSince: null, orphaned: false, effectiveLagMs: null };
    balancer.observe(name, toReplicaObservation(o, nextLagState(fresh, o, false)), o.checkedAt);
  };
  for (const [name, p] of Object.entries(positions)) check(name, p.gtid, p.lagMs);
  const picker = new BalancedPicker(pools, balancer, () => obs, 250);
  const pick = (minGtid: string | null) => {
    const r = picker.pick(request(minGtid));
    if (r.pool !== null) picker.done(r.pool);
    return r.pool?.endpoint.name ?? null;
  };
  const toWait = (minGtid: string) => {
    const r = picker.pickToWait(request(minGtid), 50);
    if (r.pool !== null) picker.done(r.pool);
    return r.pool?.endpoint.name ?? null;
  };
  const pool = (name: string) => pools.find((p) => p.endpoint.name === name)!;
  return { picker, pick, toWait, pool, check };
}

const request = (minGtid: string | null): ReplicaRequest => ({
  maxLagMs: null,
  minGtid,
  exclude: null,
  user: "app",
});

const tick = () => new Promise((r) => setTimeout(r, 2));

describe("BalancedPicker and read-your-writes", () => {
  test("only replicas the monitor saw apply the write serve the read", () => {
    const { pick } = setup({ r1: { gtid: "0-1-10" }, r2: { gtid: "0-1-12" } });
    for (let i = 0; i < 10; i++) expect(pick("0-1-11")).toBe("r2");
    expect(pick("0-1-13")).toBeNull();
  });

  test("none shows it yet: wait on the one that is closest", () => {
    const { toWait } = setup({ r1: { gtid: "0-1-10" }, r2: { gtid: "0-1-12" } });
    expect(toWait("0-1-13")).toBe("r2");
  });

  test("a lagging replica is not waited on", () => {
    const { toWait } = setup({ r1: { gtid: "0-1-12", lagMs: 2100 } });
    expect(toWait("0-1-13")).toBeNull();
  });

  test("a successful wait serves later reads needing no more, without waiting, until the next check", async () => {
    const { picker, pick, pool, check } = setup({ r1: { gtid: "0-1-10" } });
    expect(pick("0-1-13")).toBeNull();
    await tick();
    picker.waitSucceeded(pool("r1"), "0-1-13");
    expect(pick("0-1-13")).toBe("r1");
    expect(pick("0-1-12")).toBe("r1");
    expect(pick("0-1-14")).toBeNull();
    // The monitor's next check speaks for the replica again (here: it went back, a restore).
    await tick();
    check("r1", "0-1-5");
    expect(pick("0-1-12")).toBeNull();
  });

  test("a failed wait: that replica is not waited on again until the monitor checked it", async () => {
    const { picker, toWait, pool, check } = setup({ r1: { gtid: "0-1-10" }, r2: { gtid: "0-1-9" } });
    expect(toWait("0-1-13")).toBe("r1");
    await tick();
    picker.waitFailed(pool("r1"));
    expect(toWait("0-1-13")).toBe("r2");
    picker.waitFailed(pool("r2"));
    expect(toWait("0-1-13")).toBeNull();
    await tick();
    check("r1", "0-1-11");
    expect(toWait("0-1-13")).toBe("r1");
  });
});
