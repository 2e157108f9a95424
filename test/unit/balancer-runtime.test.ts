/** The balancer changed while it runs (issue #18): drains, weights, lag policy, members added. */
import { describe, expect, test } from "vitest";
import { Balancer, type BalancerOptions } from "../../src/balancer/balancer.js";
import { seededRandom } from "../../src/balancer/seeded-random.js";
import type { LagPolicy, ReplicaObservation, TransitionEvent } from "../../src/balancer/types.js";
import { DRAINED } from "../../src/balancer/weights.js";

const LAG: LagPolicy = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };
const obs = (lagMs: number | null, at: number): ReplicaObservation => ({
  up: true,
  replicating: lagMs !== null,
  lagMs,
  readOnly: true,
  at,
});

function make(names: string[], opts: BalancerOptions = {}, lag: Partial<LagPolicy> = {}) {
  const events: TransitionEvent[] = [];
  const b = new Balancer(
    names.map((name) => ({ name, weight: 1 })),
    { ...LAG, ...lag },
    { random: seededRandom(7), onTransition: (e) => events.push(e), ...opts },
  );
  return { b, events };
}

function shares(b: Balancer, n = 4000): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = b.pickReplica();
    const k = r.backend ?? "none";
    counts[k] = (counts[k] ?? 0) + 1;
    if (r.backend !== null) b.release(r.backend);
  }
  for (const k of Object.keys(counts)) counts[k]! /= n;
  return counts;
}

describe("setDrained", () => {
  test("a drained replica gets no reads, says why, and serves again when undrained", () => {
    const { b, events } = make(["r1", "r2"]);
    b.observe("r1", obs(10, 1), 1);
    b.observe("r2", obs(10, 1), 1);
    b.setDrained("r2", true, 2);
    expect(shares(b)).toEqual({ r1: 1 });
    expect(b.snapshot()[1]).toMatchObject({
      name: "r2",
      eligible: false,
      reason: DRAINED,
      effectiveWeight: 0,
    });
    expect(events.at(-1)).toMatchObject({ name: "r2", to: "excluded", reason: DRAINED, at: 2 });
    b.setDrained("r2", false, 3);
    expect(b.snapshot()[1]).toMatchObject({ eligible: true, reason: null });
    expect(events.at(-1)).toMatchObject({ name: "r2", to: "serving", at: 3 });
  });

  test("the last replica drained: no replica, and the reason names the drain", () => {
    const { b } = make(["r1"]);
    b.observe("r1", obs(10, 1), 1);
    b.setDrained("r1", true, 2);
    const r = b.pickReplica();
    expect(r.backend).toBeNull();
    expect((r as { reason: string }).reason).toBe(`no replica eligible: r1 ${DRAINED}`);
  });

  test("min_serving never brings a drained replica back", () => {
    const { b } = make(["r1", "r2"], {}, { minServing: 2 });
    b.observe("r1", obs(10, 1), 1);
    b.observe("r2", obs(4000, 1), 1);
    expect(b.snapshot()[1]!.eligible).toBe(true); // min_serving keeps r2 in
    b.setDrained("r2", true, 2);
    expect(b.snapshot()[1]).toMatchObject({ eligible: false, reason: DRAINED });
  });
});

describe("setWeight and setPolicy", () => {
  test("a new weight changes the shares at once", () => {
    const { b } = make(["r1", "r2"]);
    b.observe("r1", obs(10, 1), 1);
    b.observe("r2", obs(10, 1), 1);
    b.setWeight("r1", 3, 2);
    const s = shares(b);
    expect(s.r1).toBeGreaterThan(0.7);
    expect(s.r1).toBeLessThan(0.8);
    expect(b.snapshot()[0]!.weight).toBe(3);
  });

  test("a lower lag.soft lowers the weight at once; a lower lag.max excludes at the next check", () => {
    const { b } = make(["r1", "r2"]);
    b.observe("r1", obs(10, 1), 1);
    b.observe("r2", obs(1500, 1), 1);
    const before = b.snapshot()[1]!.effectiveWeight;
    b.setPolicy({ ...LAG, softMs: 100, maxMs: 2000, readmitBelowMs: 1000 }, 2);
    expect(b.snapshot()[1]!.effectiveWeight).toBeLessThan(before);
    b.observe("r2", obs(2500, 3), 3);
    expect(b.snapshot()[1]).toMatchObject({ eligible: false, reason: "lag 2500ms > max 2000ms" });
  });
});

describe("a balancer that replaces another (members added or removed)", () => {
  test("known replicas keep their state, transitions and reads in flight; an added one is re-admitted", () => {
    const { b: old } = make(["r1", "r2"]);
    old.observe("r1", obs(10, 1), 1);
    old.observe("r2", obs(4000, 1), 1); // excluded
    old.observe("r2", obs(100, 2), 2); // re-admitting 1/3
    expect(old.pickReplica().backend).toBe("r1"); // one read in flight on r1
    old.setDrained("r1", false, 3);
    const { b } = make(["r1", "r2", "r3"], { from: old, admitting: new Set(["r3"]) });
    const snap = b.snapshot();
    expect(snap[0]).toMatchObject({ name: "r1", eligible: true, inFlight: 1, transitions: 1 });
    expect(b.stateOf("r2")).toMatchObject({ phase: "excluded", belowCount: 1 });
    expect(snap[2]).toMatchObject({ name: "r3", eligible: false, reason: "added: not checked yet" });
    // r3: caught up at its first check, yet serving only after readmit_checks (3) checks.
    const phases = [10, 20, 30].map((lag, k) => {
      b.observe("r3", obs(lag, 10 + k), 10 + k);
      return b.snapshot()[2]!.reason ?? "serving";
    });
    expect(phases).toEqual([
      "re-admitting: 1/3 checks below 2000ms",
      "re-admitting: 2/3 checks below 2000ms",
      "serving",
    ]);
    // The read counted in flight on the old balancer is released on the new one.
    b.release("r1");
    expect(b.snapshot()[0]!.inFlight).toBe(0);
  });

  test("a drain is carried over", () => {
    const { b: old } = make(["r1", "r2"]);
    old.observe("r1", obs(10, 1), 1);
    old.setDrained("r1", true, 2);
    const { b } = make(["r1"], { from: old });
    expect(b.snapshot()[0]).toMatchObject({ eligible: false, reason: DRAINED });
  });
});
