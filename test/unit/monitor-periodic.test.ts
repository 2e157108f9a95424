import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { Periodic } from "../../src/monitor/periodic.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("Periodic", () => {
  test("runs at once, then every period", async () => {
    let runs = 0;
    const p = new Periodic(100, async () => {
      runs++;
    });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await vi.advanceTimersByTimeAsync(350);
    expect(runs).toBe(4);
    await p.stop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a slow run is never overlapped, and the next one follows at once", async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const slow = deferred();
    const p = new Periodic(100, async () => {
      active++;
      runs++;
      maxActive = Math.max(maxActive, active);
      if (runs === 1) await slow.promise;
      active--;
    });
    p.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(1);
    slow.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(runs).toBe(2);
    expect(maxActive).toBe(1);
    await p.stop();
  });

  test("stop() waits for the run in flight and leaves no timer", async () => {
    const slow = deferred();
    let finished = false;
    const p = new Periodic(100, async () => {
      await slow.promise;
      finished = true;
    });
    p.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = p.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    slow.resolve();
    await stopping;
    expect(finished).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("trigger() runs at once and counts the period from there; a no-op while running or stopped", async () => {
    const times: number[] = [];
    let gate: ReturnType<typeof deferred> | null = null;
    const p = new Periodic(100, async () => {
      times.push(Date.now());
      await gate?.promise;
    });
    const t0 = Date.now();
    p.start();
    await vi.advanceTimersByTimeAsync(30);
    expect(p.trigger()).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(times.map((t) => t - t0)).toEqual([0, 30]);
    // The next run is a period after the triggered one, not after the first.
    await vi.advanceTimersByTimeAsync(100);
    expect(times.map((t) => t - t0)).toEqual([0, 30, 130]);
    gate = deferred();
    await vi.advanceTimersByTimeAsync(100);
    expect(times).toHaveLength(4);
    expect(p.trigger()).toBe(false);
    gate.resolve();
    gate = null;
    await vi.advanceTimersByTimeAsync(0);
    expect(times).toHaveLength(4);
    await p.stop();
    expect(p.trigger()).toBe(false);
    await vi.advanceTimersByTimeAsync(500);
    expect(times).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a throwing task does not end the loop", async () => {
    let runs = 0;
    const p = new Periodic(100, async () => {
      runs++;
      throw new Error("boom");
    });
    p.start();
    await vi.advanceTimersByTimeAsync(250);
    expect(runs).toBe(3);
    await p.stop();
  });
});
