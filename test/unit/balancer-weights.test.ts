import { describe, expect, test } from "vitest";
import { initialState, markDown, observeReplica } from "../../src/balancer/eligibility.js";
import type { EligibilityState, LagPolicy, WeighInput } from "../../src/balancer/types.js";
import { computeWeights } from "../../src/balancer/weights.js";

const LAG: LagPolicy = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };

/** The state after a series of checks: a number is a healthy replica's lag, "down", "stopped" (replication). */
function checked(...steps: (number | "down" | "stopped")[]): EligibilityState {
  return steps.reduce<EligibilityState>(
    (s, step, i) =>
      observeReplica(
        s,
        {
          up: step !== "down",
          replicating: typeof step === "number",
          lagMs: typeof step === "number" ? step : null,
          readOnly: true,
          at: i + 1,
        },
        LAG,
      ),
    initialState(),
  );
}

function replica(name: string, state: EligibilityState, weight = 1): WeighInput {
  return { name, weight, state };
}

describe("computeWeights: configured weight x lag factor for eligible replicas", () => {
  test.each<[string, WeighInput[], [boolean, number, string | null][]]>([
    [
      "lags 0, 1000, 1500, 2500 at weight 1",
      [
        replica("a", checked(0)),
        replica("b", checked(1000)),
        replica("c", checked(1500)),
        replica("d", checked(2500)),
      ],
      [
        [true, 1, null],
        [true, 0.8, null],
        [true, 0.6, null],
        [true, 0.2, null],
      ],
    ],
    [
      "configured weights multiply",
      [replica("a", checked(0), 3), replica("b", checked(2000), 2)],
      [
        [true, 3, null],
        [true, 0.8, null],
      ],
    ],
    [
      "excluded ones weigh 0 and say why",
      [
        replica("a", checked("down")),
        replica("b", checked("stopped")),
        replica("c", checked(3400)),
        replica("d", initialState()),
        replica("e", checked(3400, 1000)),
      ],
      [
        [false, 0, "down"],
        [false, 0, "replication stopped: lag unknown"],
        [false, 0, "lag 3400ms > max 3000ms"],
        [false, 0, "not checked yet"],
        [false, 0, "re-admitting: 1/3 checks below 2000ms"],
      ],
    ],
    [
      "in the hysteresis band a serving replica keeps its lag factor",
      [replica("a", checked(100, 2800))],
      [[true, 0.08, null]],
    ],
  ])("%s", (_name, input, expected) => {
    const out = computeWeights(input, LAG);
    expect(out.map((w) => w.name)).toEqual(input.map((r) => r.name));
    out.forEach((w, i) => {
      const [eligible, weight, reason] = expected[i]!;
      expect(w.eligible).toBe(eligible);
      expect(w.effectiveWeight).toBeCloseTo(weight, 12);
      expect(w.reason).toBe(reason);
    });
  });
});

describe("lag.minServing keeps the best N serving (Vitess min_number_serving_vttablets)", () => {
  const pool = (): WeighInput[] => [
    replica("r1", checked(100)),
    replica("r2", checked(3400)),
    replica("r3", checked(5000)),
    replica("r4", checked("down")),
  ];

  test.each<[number, string[]]>([
    [0, ["r1"]],
    [1, ["r1"]],
    [2, ["r1", "r2"]],
    [3, ["r1", "r2", "r3"]],
    // A down replica is never re-admitted this way, whatever N says.
    [4, ["r1", "r2", "r3"]],
    [10, ["r1", "r2", "r3"]],
  ])("minServing %d -> eligible %j", (minServing, eligible) => {
    const out = computeWeights(pool(), { ...LAG, minServing });
    expect(out.filter((w) => w.eligible).map((w) => w.name)).toEqual(eligible);
  });

  test("the re-admitted one says why and gets the floor weight", () => {
    const out = computeWeights(pool(), { ...LAG, minServing: 2 });
    expect(out[1]).toEqual({
      name: "r2",
      eligible: true,
      reason: "min_serving 2: lag 3400ms > max 3000ms",
      effectiveWeight: 0.01,
    });
    expect(out[0]).toEqual({ name: "r1", eligible: true, reason: null, effectiveWeight: 1 });
  });

  test("least lag first: one waiting for re-admission beats one past max", () => {
    const input = [
      replica("a", checked(5000)),
      replica("b", checked(3400, 2500)),
      replica("c", checked(4000)),
    ];
    const out = computeWeights(input, { ...LAG, minServing: 1 });
    expect(out.map((w) => [w.eligible, w.reason])).toEqual([
      [false, "lag 5000ms > max 3000ms"],
      [true, "min_serving 1: lag 2500ms (re-admit below 2000ms)"],
      [false, "lag 4000ms > max 3000ms"],
    ]);
    expect(out[1]!.effectiveWeight).toBeCloseTo(0.2, 12);
  });

  test("equal lag: config order", () => {
    const input = [replica("a", checked(4000)), replica("b", checked(4000)), replica("c", checked(4000))];
    const out = computeWeights(input, { ...LAG, minServing: 2 });
    expect(out.map((w) => w.eligible)).toEqual([true, true, false]);
  });

  test("all past max: shares follow configured weight", () => {
    const input = [replica("a", checked(4000), 1), replica("b", checked(9000), 3)];
    const out = computeWeights(input, { ...LAG, minServing: 2 });
    expect(out.map((w) => w.effectiveWeight)).toEqual([0.01, 0.03]);
  });

  test.each<[string, EligibilityState]>([
    ["unknown lag", checked("stopped")],
    ["down", checked("down")],
    ["never checked", initialState()],
    ["a query just failed on it", markDown(checked(100), "query failed")],
    ["marked down while excluded", markDown(checked(3400), "query failed")],
  ])("never re-admitted: %s", (_name, state) => {
    const out = computeWeights([replica("x", state)], { ...LAG, minServing: 1 });
    expect(out[0]!.eligible).toBe(false);
    expect(out[0]!.effectiveWeight).toBe(0);
  });

  test("enough eligible: nothing changes", () => {
    const input = [replica("a", checked(100)), replica("b", checked(200)), replica("c", checked(4000))];
    const out = computeWeights(input, { ...LAG, minServing: 2 });
    expect(out.map((w) => w.eligible)).toEqual([true, true, false]);
  });
});
