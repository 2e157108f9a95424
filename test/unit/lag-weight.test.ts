import { describe, expect, test } from "vitest";
import { lagFactor, MIN_SERVING_FACTOR, servingWeight } from "../../src/balancer/lag-weight.js";
import type { LagPolicy } from "../../src/balancer/types.js";

const LAG: LagPolicy = { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 };

describe("lagFactor(lagMs, softMs, maxMs): 1 up to soft, linear to 0 at max", () => {
  // The worked examples of lag-weight.ts, defaults soft 500 / max 3000.
  test.each([
    [-5, 1],
    [0, 1],
    [250, 1],
    [500, 1],
    [501, 1 - 1 / 2500],
    [1000, 0.8],
    [1500, 0.6],
    [2000, 0.4],
    [2500, 0.2],
    [2975, 0.01],
    [2999, 0.0004],
    [3000, 0],
    [3400, 0],
    [Number.POSITIVE_INFINITY, 0],
  ])("lag %d ms -> %d", (lag, factor) => {
    expect(lagFactor(lag, 500, 3000)).toBeCloseTo(factor, 12);
  });

  test.each([
    // soft, max, lag, factor
    [0, 1000, 0, 1],
    [0, 1000, 250, 0.75],
    [1000, 5000, 3000, 0.5],
    [1000, 5000, 4600, 0.1],
    // soft == max (the schema forbids it): a step, never a division by zero.
    [1000, 1000, 1000, 1],
    [1000, 1000, 1001, 0],
  ])("soft %d, max %d, lag %d -> %d", (soft, max, lag, factor) => {
    expect(lagFactor(lag, soft, max)).toBeCloseTo(factor, 12);
  });

  test("never increases with lag", () => {
    let prev = 1;
    for (let lag = 0; lag <= 3500; lag += 7) {
      const f = lagFactor(lag, 500, 3000);
      expect(f).toBeLessThanOrEqual(prev);
      prev = f;
    }
  });
});

describe("servingWeight(weight, lagMs, lag): weight x max(lagFactor, 0.01)", () => {
  test.each([
    [1, 0, 1],
    [1, 1500, 0.6],
    [2, 1500, 1.2],
    [3, 2000, 1.2],
    [1, 2975, 0.01],
    // The floor: eligible means receiving reads, also at max and past it (min_serving).
    [1, 2990, MIN_SERVING_FACTOR],
    [1, 3000, MIN_SERVING_FACTOR],
    [2, 9000, 2 * MIN_SERVING_FACTOR],
  ])("weight %d at lag %d ms -> %d", (weight, lag, expected) => {
    expect(servingWeight(weight, lag, LAG)).toBeCloseTo(expected, 12);
  });

  test("two weight-1 replicas at lag 0 and 1500 share reads 62.5 % / 37.5 %", () => {
    const a = servingWeight(1, 0, LAG);
    const b = servingWeight(1, 1500, LAG);
    expect(a / (a + b)).toBeCloseTo(0.625, 12);
    expect(b / (a + b)).toBeCloseTo(0.375, 12);
  });
});
