import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  AccountLoader,
  type AccountSnapshot,
  type FetchAccounts,
} from "../../src/proxy/accounts/account-loader.js";

/** When the loader reads the primary's accounts: at start, periodically, and on demand, rate limited. */

const EMPTY: AccountSnapshot = { accounts: [], resolveNames: false, source: "mysql.global_priv" };

function loader(opts: { gapMs?: number; intervalMs?: number; fetch?: FetchAccounts } = {}) {
  const started: number[] = [];
  const loads: AccountSnapshot[] = [];
  let primary = { name: "primary", host: "127.0.0.1", port: 1 };
  const fetch: FetchAccounts =
    opts.fetch ??
    (async (endpoint) => {
      started.push(Date.now());
      await new Promise((r) => setTimeout(r, 50));
      return { ...EMPTY, source: endpoint.name };
    });
  const l = new AccountLoader({
    primary: () => primary,
    credentials: { user: "monitor", password: "secret" },
    refreshIntervalMs: opts.intervalMs ?? 60_000,
    refreshMinGapMs: opts.gapMs ?? 1000,
    timeoutMs: 3000,
    logger: pino({ level: "silent" }),
    onLoad: (s) => loads.push(s),
    fetch,
  });
  return {
    l,
    started,
    loads,
    movePrimary: (name: string) => {
      primary = { ...primary, name };
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("AccountLoader", () => {
  it("loads at start, then every refresh interval", async () => {
    const { l, started } = loader({ intervalMs: 10_000 });
    const start = l.start();
    await vi.advanceTimersByTimeAsync(50);
    await start;
    expect(started).toEqual([1_000_000]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(started).toHaveLength(4);
    l.stop();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(started).toHaveLength(4);
  });

  it("concurrent requests share one load, which starts after the gap since the last one", async () => {
    const { l, started } = loader({ gapMs: 1000 });
    const start = l.start();
    await vi.advanceTimersByTimeAsync(50);
    await start;
    const asks = [l.refreshSoon(), l.refreshSoon(), l.refreshSoon()];
    expect(new Set(asks).size).toBe(1);
    await vi.advanceTimersByTimeAsync(1100);
    await Promise.all(asks);
    expect(started).toEqual([1_000_000, 1_001_000]);
    l.stop();
  });

  it("a request during a running load gets a later load (the running one may predate the account)", async () => {
    const { l, started } = loader({ gapMs: 0 });
    const first = l.refreshSoon();
    await vi.advanceTimersByTimeAsync(10);
    expect(started).toHaveLength(1);
    const second = l.refreshSoon();
    expect(second).not.toBe(first);
    await vi.advanceTimersByTimeAsync(200);
    await second;
    expect(started).toHaveLength(2);
    expect(started[1]!).toBeGreaterThanOrEqual(started[0]! + 50);
    l.stop();
  });

  it("reads from whichever node is the primary now", async () => {
    const { l, loads, movePrimary } = loader({ gapMs: 0 });
    const a = l.refreshSoon();
    await vi.advanceTimersByTimeAsync(60);
    await a;
    movePrimary("replica1");
    const b = l.refreshSoon();
    await vi.advanceTimersByTimeAsync(60);
    await b;
    expect(loads.map((s) => s.source)).toEqual(["primary", "replica1"]);
    l.stop();
  });

  it("a failed load keeps the last accounts, is never thrown, and says which grant is missing", async () => {
    const denied = Object.assign(
      new Error("SELECT command denied to user 'monitor'@'127.0.0.1' for table 'global_priv'"),
      {
        errno: 1142,
      },
    );
    const { l, loads } = loader({
      fetch: async () => {
        throw denied;
      },
    });
    await l.start();
    expect(loads).toEqual([]);
    expect(l.lastError).toMatch(/GRANT SELECT ON mysql\.global_priv TO 'monitor'/);
    expect(l.lastError).not.toContain("secret");
    l.stop();
  });

  it("stop wakes a waiting request without loading", async () => {
    const { l, started } = loader({ gapMs: 60_000 });
    const start = l.start();
    await vi.advanceTimersByTimeAsync(50);
    await start;
    const waiting = l.refreshSoon();
    l.stop();
    await waiting;
    expect(started).toHaveLength(1);
  });
});
