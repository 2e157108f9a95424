import { describe, expect, test } from "vitest";
import { exclusionReason, initialState, markDown, observeReplica } from "../../src/balancer/eligibility.js";
import type { EligibilityState, LagPolicy, ReplicaObservation } from "../../src/balancer/types.js";

const LAG: LagPolicy = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };

/** A healthy replica at this lag; null = down. */
type Step = number | null | Partial<ReplicaObservation>;

function obs(step: Step, at: number): ReplicaObservation {
  const base = { up: true, replicating: true, readOnly: true, at };
  if (step === null) return { ...base, up: false, replicating: false, lagMs: null };
  if (typeof step === "number") return { ...base, lagMs: step };
  return { ...base, lagMs: 0, ...step };
}

/** Every state along the series, one observation per second after `from`'s last one. */
function run(steps: Step[], lag = LAG, from: EligibilityState = initialState()): EligibilityState[] {
  const out: EligibilityState[] = [];
  let s = from;
  steps.forEach((step, i) => {
    s = observeReplica(s, obs(step, from.at + (i + 1) * 1000), lag);
    out.push(s);
  });
  return out;
}

describe("observeReplica: excluded at once, re-admitted with hysteresis", () => {
  test("lag series 100, 3100, 2500, 1900, 1800, 1700 (the worked example)", () => {
    const states = run([100, 3100, 2500, 1900, 1800, 1700]);
    expect(states.map((s) => [s.eligible, s.reason, s.belowCount])).toEqual([
      [true, null, 0],
      [false, "lag 3100ms > max 3000ms", 0],
      [false, "lag 2500ms (re-admit below 2000ms)", 0],
      [false, "re-admitting: 1/3 checks below 2000ms", 1],
      [false, "re-admitting: 2/3 checks below 2000ms", 2],
      [true, null, 0],
    ]);
    expect(states.map((s) => s.phase)).toEqual([
      "serving",
      "excluded",
      "excluded",
      "excluded",
      "excluded",
      "serving",
    ]);
    expect(states.at(-1)!.transitions).toBe(3);
  });

  test.each<[string, Step[], boolean[]]>([
    [
      "a serving replica stays in the band between readmit and max",
      [100, 2500, 2999, 3000, 2100],
      [true, true, true, true, true],
    ],
    ["the first check admits under the plain max rule", [2900], [true]],
    ["lag exactly at max is not past it", [3000], [true]],
    ["one ms past max excludes", [100, 3001], [true, false]],
    [
      "lag exactly at the readmit mark is not below it",
      [3100, 2000, 2000, 2000, 1999, 1999, 1999],
      [false, false, false, false, false, false, true],
    ],
    [
      "a lag above the mark restarts the count",
      [3100, 1900, 1900, 2100, 1900, 1900, 1900],
      [false, false, false, false, false, false, true],
    ],
    [
      "a lag past max during re-admission restarts it",
      [3100, 1900, 1900, 3100, 1900, 1900, 1900],
      [false, false, false, false, false, false, true],
    ],
    ["down then up: three good checks first", [100, null, 100, 100, 100], [true, false, false, false, true]],
    ["down at the first check: three good checks first", [null, 100, 100, 100], [false, false, false, true]],
    ["read_only off does not exclude", [{ readOnly: false, lagMs: 100 }], [true]],
  ])("%s", (_name, steps, eligible) => {
    expect(run(steps).map((s) => s.eligible)).toEqual(eligible);
  });

  test("readmitChecks 1 re-admits on the first check below the mark", () => {
    const lag = { ...LAG, readmitChecks: 1 };
    expect(run([3100, 2500, 1999], lag).map((s) => s.eligible)).toEqual([false, false, true]);
  });

  test("oscillating ±200 ms around max for 60 checks: excluded once, never flaps back", () => {
    const series = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? 2800 : 3200));
    const states = run(series);
    // A single 3000 ms threshold would flip on every check: 60 transitions (ProxySQL #3340).
    // Here: admitted at the first check, excluded at the second, and 2800 is never below the
    // 2000 ms re-admit mark.
    expect(states.at(-1)!.transitions).toBe(2);
    expect(states.filter((s) => s.eligible)).toHaveLength(1);
    expect(states.at(-1)!.reason).toBe("lag 3200ms > max 3000ms");
    expect(states.at(-2)!.reason).toBe("lag 2800ms (re-admit below 2000ms)");
  });

  test("oscillating around the readmit mark after an exclusion: stays out", () => {
    const series = [3100, ...Array.from({ length: 59 }, (_, i) => (i % 2 === 0 ? 1800 : 2200))];
    const states = run(series);
    expect(states.every((s) => !s.eligible)).toBe(true);
    expect(states.at(-1)!.transitions).toBe(0);
  });

  test("three checks below the mark then one past max, 15 times: 2 transitions per cycle", () => {
    const series = Array.from({ length: 60 }, (_, i) => (i % 4 === 3 ? 3100 : 1900));
    const states = run(series);
    // Cycle 1: admitted at the first check (1), excluded at 3100 (2). Each later cycle:
    // re-admitted at its third 1900 (hysteresis met) and excluded at 3100 again.
    expect(states.at(-1)!.transitions).toBe(30);
    expect(states.slice(4, 8).map((s) => s.eligible)).toEqual([false, false, true, false]);
  });

  test("at most one exclusion per readmitChecks + 1 checks, whatever the series", () => {
    // A pseudo-random walk around max: every re-admission needs 3 checks below 2000 first.
    let lag = 3000;
    let seed = 7;
    const series = Array.from({ length: 600 }, () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      lag = Math.max(0, Math.min(6000, lag + ((seed % 2001) - 1000)));
      return lag;
    });
    const states = run(series);
    const exclusions = states.filter((s, i) => i > 0 && !s.eligible && states[i - 1]!.eligible).length;
    expect(exclusions).toBeGreaterThan(5); // the walk does cross both marks
    expect(exclusions).toBeLessThanOrEqual(Math.ceil(600 / 4));
    for (let i = 1; i < states.length; i++) {
      if (states[i]!.eligible && !states[i - 1]!.eligible && i >= 3) {
        expect(series.slice(i - 2, i + 1).every((l) => l < 2000)).toBe(true);
      }
    }
  });
});

describe("unknown lag is not fresh (MaxScale MXS-2919)", () => {
  test.each<[string, Partial<ReplicaObservation>, string]>([
    ["down", { up: false, replicating: false, lagMs: null }, "down"],
    ["replication stopped", { replicating: false, lagMs: null }, "replication stopped: lag unknown"],
    ["replication stopped, stale lag", { replicating: false, lagMs: 100 }, "replication stopped"],
    ["replicating, no usable lag source", { lagMs: null }, "lag unknown"],
    ["past max", { lagMs: 3400 }, "lag 3400ms > max 3000ms"],
    ["fractional lag shows whole ms", { lagMs: 3400.6 }, "lag 3401ms > max 3000ms"],
  ])("%s -> %s", (_name, over, reason) => {
    const o = obs(over, 1000);
    expect(exclusionReason(o, LAG)).toBe(reason);
    const s = observeReplica(observeReplica(initialState(), obs(100, 500), LAG), o, LAG);
    expect(s).toMatchObject({ eligible: false, phase: "excluded", reason });
  });

  test("a serving replica whose lag becomes unknown is excluded at once", () => {
    const states = run([100, 100, { lagMs: null }, 100, 100, 100]);
    expect(states.map((s) => s.eligible)).toEqual([true, true, false, false, false, true]);
    expect(states[2]!.lagMs).toBeNull();
    expect(states[2]!.usable).toBe(false);
  });

  test("never checked: not eligible, says so", () => {
    expect(initialState()).toMatchObject({ phase: "unchecked", eligible: false, reason: "not checked yet" });
  });

  test("unchecked -> excluded is not a transition; unchecked -> serving is", () => {
    expect(run([null]).at(-1)!.transitions).toBe(0);
    expect(run([100]).at(-1)!.transitions).toBe(1);
  });
});

describe("markDown: the data path excludes a replica now", () => {
  test("serving -> excluded at once, back after three good checks", () => {
    const serving = run([100]).at(-1)!;
    const down = markDown(serving, "query failed: connection reset");
    expect(down).toMatchObject({
      phase: "excluded",
      eligible: false,
      reason: "query failed: connection reset",
      usable: false,
      transitions: 2,
      lagMs: 100,
    });
    expect(run([100, 100, 100], LAG, down).map((s) => s.eligible)).toEqual([false, false, true]);
  });

  test("during re-admission it restarts the count", () => {
    const halfway = run([3100, 1900, 1900]).at(-1)!;
    expect(halfway.belowCount).toBe(2);
    const down = markDown(halfway, "query failed");
    expect(down).toMatchObject({ belowCount: 0, transitions: 0, reason: "query failed" });
    expect(run([1900, 1900, 1900], LAG, down).map((s) => s.eligible)).toEqual([false, false, true]);
  });
});

describe("stale observations", () => {
  test("an observation older than the last one applied changes nothing", () => {
    const s = observeReplica(initialState(), obs(100, 5000), LAG);
    expect(observeReplica(s, obs(null, 4000), LAG)).toBe(s);
    expect(observeReplica(s, obs(null, 5000), LAG).eligible).toBe(false);
  });
});
