import { describe, expect, test } from "vitest";
import { Command } from "../../src/protocol/constants/commands.js";
import { cacheBound, limitFromError, StatementBudget } from "../../src/proxy/statement-budget.js";
import { StatementCache, type StatementLink } from "../../src/proxy/statement-cache.js";

/** A connection that records the COM_STMT_CLOSE ids written to it. */
class FakeLink implements StatementLink {
  busy = false;
  readonly closed: number[] = [];
  sendNoReply(bytes: Buffer): void {
    expect(bytes.readUIntLE(0, 3)).toBe(5);
    expect(bytes[3]).toBe(0); // a new command: sequence id 0
    expect(bytes[4]).toBe(Command.STMT_CLOSE);
    this.closed.push(bytes.readUInt32LE(5));
  }
}

function cache(perConnection: number): { c: StatementCache; link: FakeLink } {
  const link = new FakeLink();
  const c = new StatementCache(link);
  c.budget = { perConnection };
  return { c, link };
}

describe("cacheBound: a quarter of max_prepared_stmt_count over the pool's connections", () => {
  test.each([
    [16382, 1, 256],
    [16382, 200, 20],
    [null, 200, 20],
    [20, 1, 5],
    [20, 3, 1],
    [20, 10, 0],
    [3, 1, 0],
    [0, 5, 0],
    [1_000_000, 1, 256],
    [16382, 0, 256],
  ])("limit %s, %i connections: %i each", (limit, connections, want) => {
    expect(cacheBound(limit, connections)).toBe(want);
  });
});

describe("limitFromError: the value ER 1461 names", () => {
  test.each([
    ["Can't create more than max_prepared_stmt_count statements (current value: 20)", 20],
    ["Can't create more than max_prepared_stmt_count statements (current value: 16382)", 16382],
    ["Can't create more than max_prepared_stmt_count statements", null],
  ])("%s", (message, want) => {
    expect(limitFromError(message)).toBe(want);
  });
});

describe("StatementCache", () => {
  test("held statements stay; the last release caches or closes by the bound", () => {
    const { c, link } = cache(0);
    const a = c.prepared("k1", 7, 0);
    c.hold(a);
    expect(a.refs).toBe(2);
    c.release(a);
    expect(link.closed).toEqual([]);
    c.release(a);
    expect(link.closed).toEqual([7]);
    expect(a.closed).toBe(true);
    expect(c.size).toBe(0);
  });

  test("the same key prepared again keeps the statement and closes the duplicate", () => {
    const { c, link } = cache(8);
    const a = c.prepared("k1", 1, 2);
    const again = c.prepared("k1", 2, 2);
    expect(again).toBe(a);
    expect(a.refs).toBe(2);
    expect(link.closed).toEqual([2]);
  });

  test("LRU: beyond the bound the least recently released goes first; a reuse moves it back", () => {
    const { c, link } = cache(2);
    const [s1, s2, s3, s4] = [1, 2, 3, 4].map((id) => c.prepared(`k${id}`, id, 0));
    c.release(s2!);
    c.release(s1!);
    c.release(s3!); // cached: s2, s1, s3 -> s2 out
    expect(link.closed).toEqual([2]);
    c.hold(s1!); // used again: no longer cached
    c.release(s1!); // cached: s3, s1
    c.release(s4!); // cached: s3, s1, s4 -> s3 out
    expect(link.closed).toEqual([2, 3]);
    expect(c.cached).toBe(2);
    expect(c.get("k1")).toBe(s1);
    expect(c.get("k4")).toBe(s4);
  });

  test("nothing is written while a response is in flight; the next trim closes it", () => {
    const { c, link } = cache(0);
    const a = c.prepared("k1", 1, 0);
    link.busy = true;
    c.release(a);
    expect(link.closed).toEqual([]);
    expect(c.cached).toBe(1);
    link.busy = false;
    expect(c.trim()).toBe(1);
    expect(link.closed).toEqual([1]);
  });

  test("evictUnused closes every cached statement, held ones stay", () => {
    const { c, link } = cache(10);
    const a = c.prepared("k1", 1, 0);
    c.prepared("k2", 2, 0);
    const b = c.prepared("k3", 3, 0);
    c.release(a);
    c.release(b);
    expect(c.evictUnused()).toBe(2);
    expect(link.closed).toEqual([1, 3]);
    expect(c.size).toBe(1);
  });

  test("closeId closes a held statement (a cursor on it); holders see it closed", () => {
    const { c, link } = cache(10);
    const a = c.prepared("k1", 5, 0);
    c.closeId(5);
    expect(link.closed).toEqual([5]);
    expect(a.closed).toBe(true);
    expect(c.get("k1")).toBeUndefined();
    c.release(a); // nothing more to close
    expect(link.closed).toEqual([5]);
  });

  test("a closed connection's cache is empty and writes nothing", () => {
    const { c, link } = cache(10);
    const a = c.prepared("k1", 1, 0);
    c.detach();
    expect(c.open).toBe(false);
    expect(a.closed).toBe(true);
    c.release(a);
    expect(c.prepared("k2", 2, 0).closed).toBe(true);
    expect(c.size).toBe(0);
    expect(link.closed).toEqual([]);
  });
});

describe("StatementBudget", () => {
  test("follows the server's limit and the pool's connections; trims idle connections when it shrinks", () => {
    let trims = 0;
    const b = new StatementBudget({ takeIdle: () => [], giveBack: () => {}, trimIdle: () => trims++ });
    expect(b.perConnection).toBe(256);
    b.setConnections(200);
    expect(b.perConnection).toBe(20);
    expect(trims).toBe(1);
    b.setServerLimit(100_000);
    expect(b.perConnection).toBe(125);
    expect(trims).toBe(1);
    b.setServerLimit(20);
    expect(b.perConnection).toBe(0);
    expect(b.serverLimit).toBe(20);
    expect(trims).toBe(2);
  });
});
