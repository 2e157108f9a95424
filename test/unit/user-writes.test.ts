import { describe, expect, it, test } from "vitest";
import { canonicalGtid, formatGtid, formatGtidPos, parseGtidPos } from "../../src/monitor/gtid.js";
import {
  mergePositions,
  readAfter,
  type UserWriteRecord,
  UserWrites,
} from "../../src/routing/user-writes.js";

// The per-user record of routing.consistency: user (pure: the time is passed in).

const WINDOW = 10_000;

function record(text: string, expiresAt = 1e12): UserWriteRecord {
  const position = parseGtidPos(text);
  if (position === null) throw new Error(`bad test position ${text}`);
  return { position, text: formatGtidPos(position), expiresAt };
}

describe("UserWrites", () => {
  test("a write counts for the window, then the user reads freely again", () => {
    const w = new UserWrites(WINDOW);
    expect(w.get("app", 0)).toBeNull();
    w.wrote("app", "0-1-5", 1000);
    expect(w.get("app", 1000)?.text).toBe("0-1-5");
    expect(w.get("app", 1000 + WINDOW - 1)?.text).toBe("0-1-5");
    expect(w.get("app", 1000 + WINDOW)).toBeNull();
    expect(w.size(1000 + WINDOW)).toBe(0);
  });

  test("each write starts the window again", () => {
    const w = new UserWrites(WINDOW);
    w.wrote("app", "0-1-5", 0);
    w.wrote("app", "0-1-6", 8000);
    expect(w.get("app", 12_000)?.text).toBe("0-1-6");
    expect(w.get("app", 18_000)).toBeNull();
  });

  test("users are separate", () => {
    const w = new UserWrites(WINDOW);
    w.wrote("app", "0-1-5", 0);
    expect(w.get("other", 1)).toBeNull();
    expect(w.get("app", 1)?.text).toBe("0-1-5");
  });

  test.each([
    ["a newer GTID of the domain replaces the older", ["0-1-5", "0-1-9"], "0-1-9"],
    ["an older one reported late changes nothing", ["0-1-9", "0-1-5"], "0-1-9"],
    ["after a failover, the new primary's higher seq wins", ["0-1-9", "0-2-10"], "0-2-10"],
    ["another domain is kept beside it", ["0-1-5", "1-1-3"], "0-1-5,1-1-3"],
    ["domains are merged one by one", ["0-1-5,1-1-3", "1-1-7", "0-1-4"], "0-1-5,1-1-7"],
    [
      "64-bit sequence numbers compare as numbers",
      ["0-1-9", "0-1-18446744073709551615"],
      "0-1-18446744073709551615",
    ],
  ])("%s", (_name, writes, want) => {
    const w = new UserWrites(WINDOW);
    writes.forEach((g, i) => {
      w.wrote("app", g, i);
    });
    expect(w.get("app", writes.length)?.text).toBe(want);
  });

  test("what is not a GTID is ignored", () => {
    const w = new UserWrites(WINDOW);
    expect(w.wrote("app", "", 0)).toBeNull();
    expect(w.wrote("app", "not-a-gtid", 0)).toBeNull();
    expect(w.get("app", 0)).toBeNull();
  });

  test("learnt records (another instance's) merge and keep the later expiry", () => {
    const w = new UserWrites(WINDOW);
    w.wrote("app", "0-1-5", 0); // expires at 10 000
    w.learn("app", "0-1-7,1-2-3", 4000, 1000); // earlier expiry: merged, expiry kept
    expect(w.get("app", 3000)?.text).toBe("0-1-7,1-2-3");
    expect(w.get("app", 9999)?.text).toBe("0-1-7,1-2-3");
    w.learn("app", "0-1-6", 15_000, 9999);
    expect(w.get("app", 14_000)?.text).toBe("0-1-7,1-2-3");
    expect(w.learn("late", "0-1-1", 100, 200)).toBeNull(); // already past its time
    expect(w.get("late", 200)).toBeNull();
  });

  test("bounded: past maxUsers the least recently written user goes first", () => {
    const w = new UserWrites(WINDOW, 3);
    for (const [i, u] of ["a", "b", "c"].entries()) w.wrote(u, `0-1-${i + 1}`, i);
    w.wrote("a", "0-1-10", 3); // a is now the most recent
    w.wrote("d", "0-1-11", 4);
    expect(w.get("b", 5)).toBeNull();
    expect(["a", "c", "d"].map((u) => w.get(u, 5)?.text)).toEqual(["0-1-10", "0-1-3", "0-1-11"]);
    expect(w.evicted).toBe(1);
  });

  test("expired records are swept as others write, not kept until looked at", () => {
    const w = new UserWrites(WINDOW);
    for (let i = 0; i < 100; i++) w.wrote(`u${i}`, "0-1-1", 0);
    // Each write sweeps up to two expired records from the front.
    for (let i = 0; i < 50; i++) w.wrote(`v${i}`, "0-1-2", WINDOW + i);
    expect(w.evicted).toBe(0);
    expect((w as unknown as { records: Map<string, unknown> }).records.size).toBe(50);
  });
});

describe("mergePositions", () => {
  test("returns the same object when nothing is newer (no allocation)", () => {
    const have = parseGtidPos("0-1-9,1-1-2")!;
    expect(mergePositions(have, parseGtidPos("0-1-5")!)).toBe(have);
    expect(mergePositions(have, parseGtidPos("1-1-2")!)).toBe(have);
    expect(formatGtidPos(mergePositions(have, parseGtidPos("2-1-1")!))).toBe("0-1-9,1-1-2,2-1-1");
  });
});

describe("readAfter: the position a read must see", () => {
  const user = record("0-1-20");
  test.each([
    ["eventual: nothing", "eventual", "0-1-5", user, null],
    ["primary: nothing (the router sends reads to the primary)", "primary", "0-1-5", user, null],
    ["session: the session's own write", "session", "0-1-5", user, "0-1-5"],
    ["session: nothing written", "session", null, user, null],
    ["user: the user's record", "user", null, user, "0-1-20"],
    ["user: the record covers the session's write", "user", "0-1-5", user, "0-1-20"],
    ["user: the session's write outlives an expired record", "user", "0-1-5", null, "0-1-5"],
    ["user: a session write in another domain is added", "user", "1-1-3", user, "0-1-20,1-1-3"],
    ["user: a newer session write wins its domain", "user", "0-1-30", user, "0-1-30"],
    ["user: nobody wrote", "user", null, null, null],
  ] as const)("%s", (_name, scope, sessionGtid, rec, want) => {
    expect(readAfter(scope, sessionGtid, rec)).toBe(want);
  });
});

describe("canonicalGtid: the fast path's parser", () => {
  it.each([
    ["0-1-100", { domain: 0, server: 1, seq: 100n }],
    [
      "4294967295-4294967295-18446744073709551615",
      { domain: 4294967295, server: 4294967295, seq: 18446744073709551615n },
    ],
    ["10-20-0", { domain: 10, server: 20, seq: 0n }],
  ])("%s is one GTID", (text, want) => {
    expect(canonicalGtid(text)).toEqual(want);
    expect(formatGtid(canonicalGtid(text)!)).toBe(text);
  });

  it.each([
    "",
    "0-1",
    "0-1-2-3",
    "0-1-100,1-2-5",
    " 0-1-100",
    "0-1-100 ",
    "00-1-100",
    "0-01-100",
    "0-1-0100",
    "-1-1-1",
    "a-1-1",
    "4294967296-1-1",
    "0-4294967296-1",
    "0-1-18446744073709551616",
  ])("%j is not canonical (the general parser decides)", (text) => {
    expect(canonicalGtid(text)).toBeNull();
  });

  it("merging through the fast path gives what the general parser gives, for any order of reports", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const fast = new UserWrites(1000);
      const want = new Map<number, bigint>();
      for (let i = 0; i < 20; i++) {
        const domain = rand(10) < 8 ? 0 : rand(3);
        const seq = BigInt(rand(50));
        const text = rand(10) < 8 ? `${domain}-1-${seq}` : `${domain}-1-${seq},${domain + 5}-2-${seq}`;
        for (const g of parseGtidPos(text)!.values()) {
          if ((want.get(g.domain) ?? -1n) < g.seq) want.set(g.domain, g.seq);
        }
        const r = fast.wrote("u", text, i)!;
        expect([...r.position.values()].map((g) => [g.domain, g.seq]).sort()).toEqual([...want].sort());
        expect(r.text).toBe(formatGtidPos(r.position));
      }
    }
  });
});
