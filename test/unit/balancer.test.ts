import { describe, expect, test } from "vitest";
import { Balancer, type BalancerOptions, type BalancerReplica } from "../../src/balancer/balancer.js";
import { seededRandom } from "../../src/balancer/seeded-random.js";
import type { LagPolicy, ReplicaObservation, TransitionEvent } from "../../src/balancer/types.js";

const LAG: LagPolicy = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };
const R3: BalancerReplica[] = [
  { name: "r1", weight: 1 },
  { name: "r2", weight: 1 },
  { name: "r3", weight: 1 },
];

type Seen = number | "down" | "stopped" | "unknown";

function observation(seen: Seen, at: number): ReplicaObservation {
  return {
    up: seen !== "down",
    replicating: seen !== "down" && seen !== "stopped",
    lagMs: typeof seen === "number" ? seen : null,
    readOnly: true,
    at,
  };
}

/** A balancer fed one round of checks per entry of `rounds` (name -> what the check saw). */
function balancer(
  rounds: Record<string, Seen>[],
  opts: { replicas?: BalancerReplica[]; lag?: Partial<LagPolicy> } & BalancerOptions = {},
) {
  const events: TransitionEvent[] = [];
  const b = new Balancer(
    opts.replicas ?? R3,
    { ...LAG, ...opts.lag },
    {
      random: opts.random ?? seededRandom(1),
      isExhausted: opts.isExhausted,
      onTransition: (e) => events.push(e),
    },
  );
  let now = 0;
  const feed = (round: Record<string, Seen>) => {
    now += 500;
    for (const [name, seen] of Object.entries(round)) b.observe(name, observation(seen, now), now);
  };
  rounds.forEach(feed);
  return { b, events, feed, now: () => now };
}

/** Picks n times, releasing each read at once (equal in-flight), and returns the shares. */
function shares(b: Balancer, n = 10_000, opts = {}): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = b.pickReplica(opts);
    const key = r.backend ?? "none";
    counts[key] = (counts[key] ?? 0) + 1;
    if (r.backend !== null) b.release(r.backend);
  }
  for (const k of Object.keys(counts)) counts[k]! /= n;
  return counts;
}

describe("pickReplica: the reason when no replica can serve", () => {
  test.each<[string, Record<string, Seen>[], string, { replicas?: BalancerReplica[] }?]>([
    ["never checked", [], "no replica eligible: r1 not checked yet, r2 not checked yet, r3 not checked yet"],
    [
      "down, replication stopped, lag unknown",
      [{ r1: "down", r2: "stopped", r3: "unknown" }],
      "no replica eligible: r1 down, r2 replication stopped: lag unknown, r3 lag unknown",
    ],
    [
      "past max and re-admitting",
      [
        { r1: 3400, r2: 3100, r3: "down" },
        { r1: 2500, r2: 1900, r3: "down" },
      ],
      "no replica eligible: r1 lag 2500ms (re-admit below 2000ms), r2 re-admitting: 1/3 checks below 2000ms, r3 down",
    ],
    ["no replicas configured", [], "no replicas configured", { replicas: [] }],
  ])("%s", (_name, rounds, reason, opts) => {
    const { b } = balancer(rounds, opts);
    expect(b.pickReplica()).toEqual({ backend: null, reason });
  });
});

describe("pickReplica: max_lag hint and exclude", () => {
  const fresh = () => balancer([{ r1: 100, r2: 1500, r3: "down" }]);

  test("maxLagMs skips replicas lagging more (and keeps shares among the rest)", () => {
    const { b } = fresh();
    expect(shares(b, 1000, { maxLagMs: 1000 })).toEqual({ r1: 1 });
    expect(shares(b, 1000, { maxLagMs: 1500 })).toHaveProperty("r2");
  });

  test("maxLagMs below every lag: says which lag beat it", () => {
    const { b } = fresh();
    expect(b.pickReplica({ maxLagMs: 50 })).toEqual({
      backend: null,
      reason: "no replica eligible: r1 lag 100ms > max_lag 50ms, r2 lag 1500ms > max_lag 50ms, r3 down",
    });
  });

  test("exclude retries on another one", () => {
    const { b } = fresh();
    expect(shares(b, 1000, { exclude: "r1" })).toEqual({ r2: 1 });
    expect(shares(b, 1000, { exclude: "r2" })).toEqual({ r1: 1 });
    expect(b.pickReplica({ exclude: "r1", maxLagMs: 1000 })).toEqual({
      backend: null,
      reason: "no replica eligible: r1 already tried, r2 lag 1500ms > max_lag 1000ms, r3 down",
    });
  });

  test("exhausted pools are skipped and named", () => {
    const full = new Set(["r1"]);
    const { b } = balancer([{ r1: 0, r2: 0, r3: "down" }], { isExhausted: (n) => full.has(n) });
    expect(shares(b, 1000)).toEqual({ r2: 1 });
    full.add("r2");
    expect(b.pickReplica()).toEqual({
      backend: null,
      reason: "no replica eligible: r1 pool full, r2 pool full, r3 down",
    });
  });

  test("isExhausted is told each replica's place in replicaNames()", () => {
    const asked: [string, number][] = [];
    const isExhausted = (n: string, i: number) => {
      asked.push([n, i]);
      return false;
    };
    const { b } = balancer([{ r1: 0, r2: 0, r3: 0 }], { isExhausted });
    b.pickReplica();
    expect(asked.length).toBe(3);
    for (const [n, i] of asked) expect(b.replicaNames()[i]).toBe(n);
  });

  test("reject: a per-read condition (e.g. read-your-writes) with its own reason", () => {
    const { b } = fresh();
    const reject = (n: string) => (n === "r1" ? "has not applied this session's last write" : null);
    expect(shares(b, 1000, { reject })).toEqual({ r2: 1 });
    expect(b.pickReplica({ reject, exclude: "r2" })).toEqual({
      backend: null,
      reason: "no replica eligible: r1 has not applied this session's last write, r2 already tried, r3 down",
    });
  });
});

describe("pickReplica: shares follow configured weight x lag factor", () => {
  test.each<[string, BalancerReplica[], Record<string, Seen>, Record<string, number>]>([
    ["equal, fresh", R3, { r1: 0, r2: 100, r3: 500 }, { r1: 1 / 3, r2: 1 / 3, r3: 1 / 3 }],
    ["lag 0 and 1500 (factor 0.6)", R3, { r1: 0, r2: 1500, r3: "down" }, { r1: 0.625, r2: 0.375 }],
    ["lag factors 1, 0.8, 0.2", R3, { r1: 0, r2: 1000, r3: 2500 }, { r1: 0.5, r2: 0.4, r3: 0.1 }],
    [
      "configured weights 1, 2, 1 with r3 at 2000 (0.4)",
      [
        { name: "r1", weight: 1 },
        { name: "r2", weight: 2 },
        { name: "r3", weight: 1 },
      ],
      { r1: 0, r2: 0, r3: 2000 },
      { r1: 1 / 3.4, r2: 2 / 3.4, r3: 0.4 / 3.4 },
    ],
  ])("%s", (_name, replicas, seen, expected) => {
    const { b } = balancer([seen], { replicas, random: seededRandom(7) });
    const got = shares(b);
    for (const [name, share] of Object.entries(expected)) {
      expect(Math.abs((got[name] ?? 0) - share), `${name}: ${got[name]} vs ${share}`).toBeLessThanOrEqual(
        0.03,
      );
    }
  });

  test("in-flight reads steer the next pick to the less loaded replica", () => {
    const { b } = balancer([{ r1: 0, r2: 0 }], { replicas: R3.slice(0, 2), random: seededRandom(3) });
    // Never released: with two replicas both are always compared, and the second draw wins once
    // the first has 3 more in flight (pick.ts: 1.5 reads each side of the dead band), so the
    // counts never drift further apart, where 1000 coin flips would drift by ~30.
    for (let i = 0; i < 1000; i++) {
      b.pickReplica();
      const [r1, r2] = b.snapshot().map((s) => s.inFlight);
      expect(Math.abs(r1! - r2!)).toBeLessThanOrEqual(3);
    }
    expect(
      b
        .snapshot()
        .map((s) => s.inFlight)
        .reduce((x, y) => x + y),
    ).toBe(1000);
  });
});

describe("in-flight accounting", () => {
  test("pick counts, release uncounts, never below 0, unknown names ignored", () => {
    const { b } = balancer([{ r1: 0 }]);
    const r = b.pickReplica();
    expect(r).toEqual({ backend: "r1" });
    b.pickReplica();
    expect(b.snapshot()[0]!.inFlight).toBe(2);
    b.release("r1");
    b.release("r1");
    b.release("r1");
    b.release("nope");
    expect(b.snapshot()[0]!.inFlight).toBe(0);
  });

  test("a successful pick returns the same frozen answer (no allocation per read)", () => {
    const { b } = balancer([{ r1: 0 }]);
    const first = b.pickReplica();
    expect(b.pickReplica()).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});

describe("transitions: onTransition once per change, counted in the snapshot", () => {
  test("the lag series 100, 3100, 2500, 1900, 1800, 1700", () => {
    const { b, events } = balancer(
      [100, 3100, 2500, 1900, 1800, 1700].map((lag) => ({ r1: lag })),
      { replicas: [{ name: "r1", weight: 1 }] },
    );
    expect(events).toEqual([
      { name: "r1", to: "serving", reason: null, lagMs: 100, at: 500 },
      { name: "r1", to: "excluded", reason: "lag 3100ms > max 3000ms", lagMs: 3100, at: 1000 },
      { name: "r1", to: "serving", reason: null, lagMs: 1700, at: 3000 },
    ]);
    expect(b.snapshot()[0]!.transitions).toBe(3);
  });

  test("60 checks oscillating ±200 ms around max: two events", () => {
    const rounds = Array.from({ length: 60 }, (_, i) => ({ r1: i % 2 === 0 ? 2800 : 3200 }));
    const { events } = balancer(rounds, { replicas: [{ name: "r1", weight: 1 }] });
    expect(events.map((e) => e.to)).toEqual(["serving", "excluded"]);
  });

  test("min_serving: another replica's recovery ends the stand-in's turn", () => {
    const { b, events, feed } = balancer([{ r1: 3400, r2: 4000, r3: "down" }], { lag: { minServing: 1 } });
    expect(events).toEqual([
      { name: "r1", to: "serving", reason: "min_serving 1: lag 3400ms > max 3000ms", lagMs: 3400, at: 500 },
    ]);
    expect(b.pickReplica()).toEqual({ backend: "r1" });
    b.release("r1");
    // r2's first good check: it is still re-admitting, but with less lag than r1 it becomes the
    // better stand-in at once.
    feed({ r2: 100 });
    expect(events.slice(1)).toEqual([
      {
        name: "r2",
        to: "serving",
        reason: "min_serving 1: re-admitting: 1/3 checks below 2000ms",
        lagMs: 100,
        at: 1000,
      },
      { name: "r1", to: "excluded", reason: "lag 3400ms > max 3000ms", lagMs: 3400, at: 1000 },
    ]);
    // Its third: admitted in its own right; no event, only the reason changes.
    feed({ r2: 100 });
    feed({ r2: 100 });
    expect(events).toHaveLength(3);
    expect(b.snapshot()[1]).toMatchObject({ eligible: true, reason: null, phase: "serving" });
    expect(b.snapshot().map((s) => s.transitions)).toEqual([2, 1, 0]);
    // The state machine itself never admitted r1.
    expect(b.stateOf("r1")!.transitions).toBe(0);
  });

  test("stale observations fire nothing", () => {
    const { b, events } = balancer([{ r1: 100 }]);
    b.observe("r1", observation("down", 100), 2000);
    expect(events).toHaveLength(1);
    expect(b.snapshot()[0]!.eligible).toBe(true);
  });
});

describe("markDown: the data path excludes a replica now", () => {
  test("excluded at once with the reason given, back after three good checks", () => {
    const { b, events, feed, now } = balancer([{ r1: 100, r2: 100 }], { replicas: R3.slice(0, 2) });
    b.markDown("r1", "query failed: Lost connection to server during query", now());
    expect(events.at(-1)).toEqual({
      name: "r1",
      to: "excluded",
      reason: "query failed: Lost connection to server during query",
      lagMs: 100,
      at: 500,
    });
    expect(shares(b, 1000)).toEqual({ r2: 1 });
    feed({ r1: 100, r2: 100 });
    feed({ r1: 100, r2: 100 });
    expect(b.snapshot()[0]!.reason).toBe("re-admitting: 2/3 checks below 2000ms");
    feed({ r1: 100, r2: 100 });
    expect(b.snapshot()[0]!.eligible).toBe(true);
    b.markDown("nope", "ignored", now());
  });

  test("min_serving does not bring back a replica a query just failed on", () => {
    const { b, now } = balancer([{ r1: 100 }], { replicas: R3.slice(0, 1), lag: { minServing: 1 } });
    b.markDown("r1", "query failed", now());
    expect(b.pickReplica()).toEqual({ backend: null, reason: "no replica eligible: r1 query failed" });
  });
});

describe("snapshot: what /backends shows", () => {
  test("every field, in config order", () => {
    const { b } = balancer([{ r1: 1500, r2: "stopped", r3: 3400 }], {
      replicas: [
        { name: "r1", weight: 2 },
        { name: "r2", weight: 1 },
        { name: "r3", weight: 1 },
      ],
    });
    b.pickReplica();
    expect(b.snapshot()).toEqual([
      {
        name: "r1",
        phase: "serving",
        eligible: true,
        reason: null,
        lagMs: 1500,
        weight: 2,
        effectiveWeight: 1.2,
        inFlight: 1,
        transitions: 1,
        observedAt: 500,
      },
      {
        name: "r2",
        phase: "excluded",
        eligible: false,
        reason: "replication stopped: lag unknown",
        lagMs: null,
        weight: 1,
        effectiveWeight: 0,
        inFlight: 0,
        transitions: 0,
        observedAt: 500,
      },
      {
        name: "r3",
        phase: "excluded",
        eligible: false,
        reason: "lag 3400ms > max 3000ms",
        lagMs: 3400,
        weight: 1,
        effectiveWeight: 0,
        inFlight: 0,
        transitions: 0,
        observedAt: 500,
      },
    ]);
  });

  test("observations of names it does not balance (the primary) are ignored", () => {
    const { b, events } = balancer([{ primary: 0 }]);
    expect(events).toEqual([]);
    expect(b.snapshot().map((s) => s.name)).toEqual(["r1", "r2", "r3"]);
  });
});
