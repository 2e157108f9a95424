import { describe, expect, test } from "vitest";
import { hintBodyStart, parseHint, parseHintPairs, type RouteHint } from "../../src/routing/hints.js";

describe("parseHint", () => {
  test.each<[string, RouteHint | null]>([
    ["/* rwsplit: route=primary */", { route: "primary" }],
    ["/* rwsplit: route=replica */", { route: "replica" }],
    ["/*rwsplit:route=replica*/", { route: "replica" }],
    ["/* RWSPLIT: ROUTE=PRIMARY */", { route: "primary" }],
    ["/* rwsplit : route = replica */", { route: "replica" }],
    ["-- rwsplit: route=primary", { route: "primary" }],
    ["# rwsplit: route=primary", { route: "primary" }],
    ["rwsplit: route=primary", { route: "primary" }],
    ["/* rwsplit: max_lag=500ms */", { maxLagMs: 500 }],
    ["/* rwsplit: max_lag=2s */", { maxLagMs: 2000 }],
    ["/* rwsplit: max_lag=1.5s */", { maxLagMs: 1500 }],
    ["/* rwsplit: max_lag=0ms */", { maxLagMs: 0 }],
    ["/* rwsplit: max_lag=250 */", { maxLagMs: 250 }],
    ["/* rwsplit: MAX_LAG=3S */", { maxLagMs: 3000 }],
    ["/* rwsplit: max-lag=100ms */", { maxLagMs: 100 }],
    ["/* rwsplit: route=replica, max_lag=500ms */", { route: "replica", maxLagMs: 500 }],
    ["/* rwsplit: route=replica max_lag=500ms */", { route: "replica", maxLagMs: 500 }],
    ["/* rwsplit: route=replica ,, max_lag=2s, */", { route: "replica", maxLagMs: 2000 }],
    ["/* rwsplit: route=replica\n max_lag=2s */", { route: "replica", maxLagMs: 2000 }],
    ["/* rwsplit: route=replica route=primary */", { route: "primary" }],
    ["/* rwsplit: */", null],
    ["/* rwsplit */", null],
    ["/* rwsplit route=primary */", null],
    ["/* rw split: route=primary */", null],
    ["/* hint: route=primary */", null],
    ["/* x rwsplit: route=primary */", null],
    ["", null],
  ])("%j → %j", (text, hint) => {
    expect(parseHint(text).hint).toEqual(hint);
  });

  test("unknown keys are ignored but reported", () => {
    expect(parseHint("/* rwsplit: colour=blue, route=primary, Shard=3, lonely */")).toEqual({
      hint: { route: "primary" },
      unknown: ["colour", "shard", "lonely"],
      invalid: [],
    });
  });

  test("bad values of known keys are ignored but reported", () => {
    expect(parseHint("/* rwsplit: route=sideways, max_lag=soon, max_lag=5min, route */")).toEqual({
      hint: null,
      unknown: [],
      invalid: ["route=sideways", "max_lag=soon", "max_lag=5min", "route"],
    });
  });

  test("a bad value does not drop the good ones", () => {
    const r = parseHint("/* rwsplit: max_lag=abc, route=replica */");
    expect(r.hint).toEqual({ route: "replica" });
    expect(r.invalid).toEqual(["max_lag=abc"]);
  });
});

describe("byte-level parsing", () => {
  const bytes = (s: string) => Buffer.from(s, "latin1");

  test("hintBodyStart finds the pairs after `rwsplit:`", () => {
    const b = bytes("  rwsplit: route=primary");
    expect(hintBodyStart(b, 0, b.length)).toBe("  rwsplit:".length);
    expect(hintBodyStart(b, 0, "  rwsplit".length)).toBe(-1);
    expect(hintBodyStart(bytes("rwsplitter: x"), 0, 13)).toBe(-1);
  });

  test("parseHintPairs reads only its range and merges into the target", () => {
    const b = bytes("xx route=replica max_lag=2s yy");
    const into: RouteHint = { route: "primary", maxLagMs: 1 };
    expect(parseHintPairs(b, 3, 16, into)).toBe(true);
    expect(into).toEqual({ route: "replica", maxLagMs: 1 });
    expect(parseHintPairs(b, 0, 2, into)).toBe(false);
  });
});
