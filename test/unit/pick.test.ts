import { describe, expect, test } from "vitest";
import { type Candidate, PickTable, pick, pickIndex } from "../../src/balancer/pick.js";
import { seededRandom } from "../../src/balancer/seeded-random.js";

/** Returns the given values in turn, so a table row fixes both draws. */
function scripted(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i++];
    if (v === undefined) throw new Error("random() called more often than scripted");
    return v;
  };
}

function c(name: string, weight: number, inFlight = 0, exhausted = false): Candidate {
  return { name, weight, inFlight, exhausted };
}

describe("pick: weighted power of two choices", () => {
  test.each<[string, Candidate[], number[], string | null]>([
    ["none", [], [], null],
    ["one: it, without drawing", [c("a", 1)], [], "a"],
    ["one exhausted", [c("a", 1, 0, true)], [], null],
    ["all exhausted", [c("a", 1, 0, true), c("b", 1, 0, true)], [], null],
    ["weight 0 is never drawn", [c("a", 0), c("b", 1)], [], "b"],
    ["only weight 0", [c("a", 0)], [], null],
    ["exhausted skipped, one left", [c("a", 1, 0, true), c("b", 1, 5)], [], "b"],
    // weights 1,1: first draw r*2 -> 0.1*2 = 0.2 < 1: a; second among {b}: b. Loads 0/1 = 0/1: tie -> a.
    ["tie goes to the first draw", [c("a", 1), c("b", 1)], [0.1, 0.5], "a"],
    ["tie goes to the first draw (b first)", [c("a", 1), c("b", 1)], [0.9, 0.5], "b"],
    // The second draw wins only when the first is busier by DEAD_BAND_READS (1.5) reads on each
    // side: load(a) - load(b) >= 1.5 × (1/w(a) + 1/w(b)); with weights 1, 1 that is 3 reads.
    ["second draw busier by 3 reads per weight: it wins", [c("a", 1, 4), c("b", 1, 1)], [0.1, 0.5], "b"],
    ["second draw busier by less: the first keeps it", [c("a", 1, 3), c("b", 1, 1)], [0.1, 0.5], "a"],
    ["less loaded first draw wins", [c("a", 1, 1), c("b", 1, 2)], [0.1, 0.5], "a"],
    // Load is per unit of weight: a 9/3 - b 1/1 = 2 >= 1.5 × (1/3 + 1/1) = 2.
    ["inFlight / weight, not inFlight", [c("a", 3, 9), c("b", 1, 1)], [0.1, 0.5], "b"],
    // a 6/3 - b 1/1 = 1 < 2: a few reads more on the heavy replica are its share, not overload.
    ["within the dead band the first draw keeps it", [c("a", 3, 6), c("b", 1, 1)], [0.1, 0.5], "a"],
    // b first: b 3/1 - a 3/3 = 2 >= 2: the same count is less load on the heavier replica.
    ["a heavier replica may carry more", [c("a", 3, 3), c("b", 1, 3)], [0.9, 0.5], "a"],
    // weights 1,2,3 (total 6): 0.5*6 = 3 -> c (cum 1,3,6: 3 is not < 3). Second among a,b (total 3):
    // 0.9*3 = 2.7 -> b. Loads c 9/3 = 3, b 1/2 = 0.5: 2.5 >= 1.5 × (1/3 + 1/2) = 1.25 -> b.
    ["three, second draw among the rest", [c("a", 1), c("b", 2, 1), c("c", 3, 9)], [0.5, 0.9], "b"],
    ["three, exhausted first skipped", [c("a", 1, 0, true), c("b", 2, 1), c("c", 3, 3)], [0.0, 0.0], "b"],
    ["r just below 1 lands on the last", [c("a", 1), c("b", 1, 1)], [0.999999999999, 0.999999999999], "b"],
  ])("%s", (_name, candidates, draws, expected) => {
    expect(pick(candidates, scripted(...draws))).toBe(expected);
  });

  test("the second draw is another candidate: with two, both are always compared", () => {
    // a 10/5 - b 0/1 = 2 >= 1.5 × (1/5 + 1/1) = 1.8: b whichever is drawn first; and the reverse.
    const random = seededRandom(1);
    for (let i = 0; i < 1000; i++) {
      expect(pick([c("a", 5, 10), c("b", 1, 0)], random)).toBe("b");
      expect(pick([c("a", 5, 0), c("b", 1, 2)], random)).toBe("a");
    }
  });
});

describe("shares over 10k seeded picks (±3 percentage points)", () => {
  function shares(candidates: Candidate[], seed: number, n = 10_000): Record<string, number> {
    const random = seededRandom(seed);
    const counts: Record<string, number> = {};
    for (const cand of candidates) counts[cand.name] = 0;
    for (let i = 0; i < n; i++) {
      const name = pick(candidates, random);
      if (name !== null) counts[name]! += 1;
    }
    for (const k of Object.keys(counts)) counts[k]! /= n;
    return counts;
  }

  test.each<[string, Candidate[], Record<string, number>]>([
    ["equal weights", [c("a", 1), c("b", 1), c("c", 1)], { a: 1 / 3, b: 1 / 3, c: 1 / 3 }],
    ["weights 1, 2, 3, 4", [c("a", 1), c("b", 2), c("c", 3), c("d", 4)], { a: 0.1, b: 0.2, c: 0.3, d: 0.4 }],
    ["lag factors 1 and 0.6", [c("a", 1), c("b", 0.6)], { a: 0.625, b: 0.375 }],
    [
      "weights 1, 1, 2, middle exhausted",
      [c("a", 1), c("b", 1, 0, true), c("c", 2)],
      { a: 1 / 3, b: 0, c: 2 / 3 },
    ],
    [
      "in flight proportional to weight is equal load",
      [c("a", 1, 4), c("b", 2, 8), c("c", 5, 20)],
      { a: 0.125, b: 0.25, c: 0.625 },
    ],
    [
      "five replicas, one at the floor",
      [c("a", 1), c("b", 1), c("c", 1), c("d", 1), c("e", 0.01)],
      {
        a: 0.2494,
        b: 0.2494,
        c: 0.2494,
        d: 0.2494,
        e: 0.0025,
      },
    ],
  ])("%s", (_name, candidates, expected) => {
    const got = shares(candidates, 42);
    for (const [name, share] of Object.entries(expected)) {
      expect(Math.abs(got[name]! - share), `${name}: ${got[name]} vs ${share}`).toBeLessThanOrEqual(0.03);
    }
  });
});

describe("PickTable: the reusable structure the balancer keeps", () => {
  test("mask, weights and in-flight counts are read in place, pick after pick", () => {
    const t = new PickTable(["a", "b", "c"]);
    t.weights.set([1, 1, 1]);
    const random = seededRandom(9);
    t.allowed.set([0, 1, 0]);
    expect(pickIndex(t, random)).toBe(1);
    t.allowed.set([1, 0, 1]);
    t.inFlight.set([3, 0, 0]);
    expect(pickIndex(t, random)).toBe(2);
    t.weights[2] = 0;
    expect(pickIndex(t, random)).toBe(0);
    t.allowed.fill(0);
    expect(pickIndex(t, random)).toBe(-1);
    expect(t.size).toBe(3);
  });

  test("the table copies the names it is given", () => {
    const names = ["a", "b"];
    const t = new PickTable(names);
    names[0] = "z";
    expect(t.names).toEqual(["a", "b"]);
  });
});
