/** The drain state machine (src/cluster/drain.ts): tables of loads over time. */
import { describe, expect, test } from "vitest";
import {
  type DrainLoad,
  type DrainState,
  describeDrain,
  startDrain,
  stepDrain,
  undrainRefusal,
} from "../../src/cluster/drain.js";

const TIMEOUT = 10_000;

/** [t, reads in flight, connections] → [phase, close, remove] per row, fed in order. */
type Row = [number, number, number, "draining" | "drained", boolean, boolean];

function run(start: DrainState, rows: Row[]): void {
  let s = start;
  for (const [t, inFlight, connections, phase, close, remove] of rows) {
    const load: DrainLoad = { inFlight, connections };
    const step = stepDrain(s, load, t);
    expect({ t, phase: step.state.phase, close: step.close, remove: step.remove }).toEqual({
      t,
      phase,
      close,
      remove,
    });
    s = step.state;
  }
}

describe("stepDrain", () => {
  test("maintenance: drained once nothing runs there, and stays drained", () => {
    run(startDrain(undefined, "maintenance", 0, TIMEOUT), [
      [200, 2, 3, "draining", false, false],
      [900, 0, 1, "draining", false, false],
      [1400, 0, 0, "drained", false, false],
      [5000, 0, 0, "drained", false, false],
    ]);
  });

  test("a read in flight with no connection of its own yet keeps it draining", () => {
    run(startDrain(undefined, "maintenance", 0, TIMEOUT), [
      [100, 1, 0, "draining", false, false],
      [150, 0, 0, "drained", false, false],
    ]);
  });

  test("a transaction kept open past drain_timeout: closed, drained (forced)", () => {
    const s = startDrain(undefined, "maintenance", 0, TIMEOUT);
    run(s, [
      [9900, 0, 1, "draining", false, false],
      [10_000, 0, 1, "drained", true, false],
    ]);
    const forced = stepDrain(s, { inFlight: 0, connections: 1 }, 10_000).state;
    expect(forced).toMatchObject({ forced: true, drainedAt: 10_000 });
    expect(describeDrain(forced, 10_000)).toBe("drained (maintenance, closed at drain_timeout)");
  });

  test("removal: removed once drained", () => {
    run(startDrain(undefined, "removal", 0, TIMEOUT), [
      [100, 1, 2, "draining", false, false],
      [300, 0, 0, "drained", false, true],
    ]);
  });

  test("removal at the deadline: closed and removed in one step", () => {
    run(startDrain(undefined, "removal", 0, TIMEOUT), [[10_000, 3, 3, "drained", true, true]]);
  });

  test("a drained backend that has a connection again gets it closed", () => {
    const drained = stepDrain(
      startDrain(undefined, "maintenance", 0, TIMEOUT),
      { inFlight: 0, connections: 0 },
      1,
    ).state;
    run(drained, [[2000, 0, 1, "drained", true, false]]);
  });
});

describe("startDrain", () => {
  const m = startDrain(undefined, "maintenance", 1000, TIMEOUT);

  test("starts draining with its deadline", () => {
    expect(m).toEqual({
      phase: "draining",
      purpose: "maintenance",
      since: 1000,
      deadline: 11_000,
      drainedAt: null,
      forced: false,
    });
    expect(describeDrain(m, 4000)).toBe("draining (maintenance, 7 s left before drain_timeout)");
  });

  test.each<[string, DrainState, "maintenance" | "removal", Partial<DrainState>]>([
    ["asked again: unchanged", m, "maintenance", { purpose: "maintenance", since: 1000 }],
    [
      "removal takes over a maintenance drain, keeping its clock",
      m,
      "removal",
      { purpose: "removal", deadline: 11_000 },
    ],
    [
      "a maintenance drain of a backend being removed is that removal",
      startDrain(undefined, "removal", 0, TIMEOUT),
      "maintenance",
      { purpose: "removal", since: 0 },
    ],
  ])("%s", (_name, prev, purpose, expected) => {
    expect(startDrain(prev, purpose, 5000, TIMEOUT)).toMatchObject(expected);
  });

  test("a removal that takes over a drained maintenance drain is removed at the next step", () => {
    const drained = stepDrain(m, { inFlight: 0, connections: 0 }, 2000).state;
    const removal = startDrain(drained, "removal", 3000, TIMEOUT);
    expect(stepDrain(removal, { inFlight: 0, connections: 0 }, 3000)).toMatchObject({ remove: true });
  });
});

describe("undrainRefusal", () => {
  test("a maintenance drain (or none) can be undone; a removal cannot", () => {
    expect(undrainRefusal(undefined, "r1")).toBeNull();
    expect(undrainRefusal(startDrain(undefined, "maintenance", 0, 1), "r1")).toBeNull();
    expect(undrainRefusal(startDrain(undefined, "removal", 0, 1), "r1")).toMatch(/add it back to the file/);
  });
});
