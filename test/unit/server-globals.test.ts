import { describe, expect, test } from "vitest";
import { type AcquireRequest, poolKeyString } from "../../src/proxy/backend-pool.js";
import { ServerGlobals } from "../../src/proxy/server-globals.js";
import { restartedLogin } from "../../src/proxy/session/login.js";

describe("ServerGlobals: a new generation for each SET GLOBAL the monitor sees", () => {
  test.each([
    {
      name: "first digests set the baseline",
      steps: [
        ["p", "a"],
        ["r1", "b"],
      ],
      generation: 0,
    },
    {
      name: "the same digest again",
      steps: [
        ["p", "a"],
        ["p", "a"],
        ["p", "a"],
      ],
      generation: 0,
    },
    {
      name: "a backend's digest changes",
      steps: [
        ["p", "a"],
        ["p", "b"],
      ],
      generation: 1,
    },
    {
      name: "changed back: another generation",
      steps: [
        ["p", "a"],
        ["p", "b"],
        ["p", "a"],
      ],
      generation: 2,
    },
    {
      name: "backends differ from each other (server_id)",
      steps: [
        ["p", "a"],
        ["r1", "b"],
        ["p", "a"],
      ],
      generation: 0,
    },
    {
      name: "not read (down, MySQL) changes nothing",
      steps: [
        ["p", "a"],
        ["p", null],
        ["p", "a"],
      ],
      generation: 0,
    },
    {
      name: "each backend that changes counts",
      steps: [
        ["p", "a"],
        ["r1", "b"],
        ["p", "c"],
        ["r1", "d"],
      ],
      generation: 2,
    },
  ] as { name: string; steps: [string, string | null][]; generation: number }[])(
    "$name",
    ({ steps, generation }) => {
      const g = new ServerGlobals();
      for (const [backend, digest] of steps) g.observe(backend, digest);
      expect(g.generation).toBe(generation);
    },
  );

  test("a backend removed and added again starts from its first digest", () => {
    const g = new ServerGlobals();
    g.observe("r1", "a");
    g.forget("r1");
    g.observe("r1", "b");
    expect(g.generation).toBe(0);
  });
});

describe("the pool key carries the generation a session logged in with", () => {
  const login = (globals: number, wireFlags = 0): AcquireRequest => {
    const key = { user: "app", wireFlags, mariadbFlags: 0, collation: 45, globals };
    return {
      key,
      keyString: poolKeyString(key),
      credentials: { user: "app", password: "pw", stage1: null, stage2: null },
      schema: null,
    };
  };

  test("sessions of two generations lease apart", () => {
    expect(login(0).keyString).not.toBe(login(1).keyString);
  });

  test("a reset or change of user takes the generation of the moment, as the server copies the globals again", () => {
    const before = login(0);
    expect(restartedLogin(before, 0)).toBe(before);
    const after = restartedLogin(before, 3);
    expect(after.key.globals).toBe(3);
    expect(after.keyString).toBe(login(3).keyString);
  });
});
