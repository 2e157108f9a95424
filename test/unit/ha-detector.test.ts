import { describe, expect, test } from "vitest";
import { assessPrimary, INITIAL_DETECTOR_STATE } from "../../src/ha/detector.js";
import type { BackendObservation } from "../../src/monitor/types.js";
import { observation } from "../helpers/observation.js";

function obs(over: Partial<BackendObservation>): BackendObservation {
  return observation({ name: "x", checkedAt: 1000, ...over });
}

const DETECT = 2000;
const up = obs({ name: "p", role: "primary", ioState: null, replicating: null });
/** A failed check of the primary that ended at `at` after `tookMs` (a refused connect: 0). */
const down = (at: number, tookMs = 0) =>
  obs({
    name: "p",
    role: "primary",
    up: false,
    checkedAt: at,
    checkDurationMs: tookMs,
    lastError: tookMs > 0 ? "no answer within 1000 ms" : "ECONNREFUSED",
  });
const lost = (name: string) => obs({ name, ioState: "Connecting", replicating: false });
const connected = (name: string) => obs({ name });
const unreachable = (name: string) => obs({ name, up: false, ioState: null });

describe("assessPrimary", () => {
  test.each([
    // [case, downSince before, primary observation, replicas, now, verdict, downSince after]
    ["primary up", null, up, [connected("r1")], 5000, "healthy", null],
    ["primary up again clears the run of failures", 1000, up, [lost("r1")], 5000, "healthy", null],
    ["first failed check starts the clock", null, down(1000), [lost("r1")], 1000, "suspect", 1000],
    [
      "a check that hung until the timeout counts from when it was sent",
      null,
      down(2000, 1000),
      [lost("r1")],
      2000,
      "suspect",
      1000,
    ],
    [
      "the hung check's time counts: failed once every check since it was sent failed for detect",
      1000,
      down(3000, 1000),
      [lost("r1")],
      3000,
      "failed",
      1000,
    ],
    [
      "one failed check after a long silence (a stalled monitor) is not detect ms of failures",
      null,
      down(9000, 0.4),
      [lost("r1")],
      9000,
      "suspect",
      8999,
    ],
    ["down for less than detect", 1000, down(2500), [lost("r1"), lost("r2")], 2999, "suspect", 1000],
    [
      "down for detect, every replica lost it",
      1000,
      down(3000),
      [lost("r1"), lost("r2")],
      3000,
      "failed",
      1000,
    ],
    [
      "a replica still connected: the proxy is cut off, not the primary",
      1000,
      down(3500),
      [lost("r1"), connected("r2")],
      3500,
      "suspect",
      1000,
    ],
    [
      "no replica reachable: nothing confirms nor takes over",
      1000,
      down(3500),
      [unreachable("r1")],
      3500,
      "suspect",
      1000,
    ],
    [
      "unreachable replicas do not veto; reachable ones confirm",
      1000,
      down(3500),
      [unreachable("r1"), lost("r2")],
      3500,
      "failed",
      1000,
    ],
    [
      "IO thread stopped by hand (No) counts as lost",
      1000,
      down(3500),
      [obs({ name: "r1", ioState: "No" })],
      3500,
      "failed",
      1000,
    ],
  ] as const)("%s", (_name, since, primary, replicas, now, verdict, after) => {
    const a = assessPrimary({ downSince: since }, primary, replicas, now, DETECT);
    expect(a.verdict).toBe(verdict);
    expect(a.state.downSince).toBe(after);
    expect(a.reason.length).toBeGreaterThan(0);
  });

  test("not checked yet is healthy (no failover at startup)", () => {
    const a = assessPrimary(INITIAL_DETECTOR_STATE, obs({ up: false, checkedAt: 0 }), [], 10_000, DETECT);
    expect(a.verdict).toBe("healthy");
  });

  test("the reason names the replicas that still see the primary", () => {
    const a = assessPrimary({ downSince: 0 }, down(5000), [connected("r2")], 5000, DETECT);
    expect(a.reason).toMatch(/r2 still replicate/);
  });
});
