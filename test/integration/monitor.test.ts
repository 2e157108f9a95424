import net from "node:net";
import type mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BackendConfig } from "../../src/config/types.js";
import { Monitor, type MonitorConfig } from "../../src/monitor/monitor.js";
import type { BackendObservation } from "../../src/monitor/types.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// The monitor against the real replication sandbox (primary + 2 replicas, semi-sync, GTID).
// The tests share one sandbox and run in order; the last one shuts the primary down.

const INTERVAL = 500;
const TIMEOUT = 1000;

let sandbox: TestSandbox;
let monitor: Monitor;
const seen: BackendObservation[] = [];

function backend(name: string, n: { host: string; port: number }): BackendConfig {
  return { name, host: n.host, port: n.port, weight: 1, priority: 0 };
}

function monitorConfig(
  over: Partial<MonitorConfig["monitor"]> = {},
  replicas?: BackendConfig[],
): MonitorConfig {
  return {
    backends: {
      primary: backend("primary", sandbox.primary),
      replicas: replicas ?? sandbox.replicas.map((r) => backend(r.name, r)),
    },
    monitor: {
      user: sandbox.credentials.monitor.user,
      password: sandbox.credentials.monitor.password,
      intervalMs: INTERVAL,
      timeoutMs: TIMEOUT,
      heartbeat: { enabled: true, intervalMs: 250, schema: "rwsplit" },
      ...over,
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function latest(m: Monitor, name: string): BackendObservation {
  return m.snapshot().find((o) => o.name === name)!;
}

/** Polls until `pred` holds on the backend's latest observation; returns it and how long it took. */
async function until(
  m: Monitor,
  name: string,
  pred: (o: BackendObservation) => boolean,
  ms: number,
): Promise<{ obs: BackendObservation; waited: number }> {
  const start = Date.now();
  for (;;) {
    const obs = latest(m, name);
    if (pred(obs)) return { obs, waited: Date.now() - start };
    if (Date.now() - start > ms) {
      throw new Error(`${name}: condition not met within ${ms} ms; last: ${JSON.stringify(obs)}`);
    }
    await sleep(20);
  }
}

async function root<T>(node: { host: string; port: number }, fn: (c: mysql.Connection) => Promise<T>) {
  const c = await sandbox.connect(node);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

const healthy = (o: BackendObservation) =>
  o.up && o.replicating === true && o.lagSource === "heartbeat" && o.lagMs !== null && o.lagMs < 500;

beforeAll(async () => {
  sandbox = await startSandbox({ replicas: 2 });
  monitor = new Monitor(monitorConfig(), { onObservation: (o) => seen.push(o) });
  monitor.start();
});

afterAll(async () => {
  await monitor?.stop();
  await sandbox?.down();
});

describe("backend monitor", () => {
  test("healthy cluster: primary writable, replicas read-only with heartbeat lag under 500 ms", async () => {
    for (const r of sandbox.replicas) await until(monitor, r.name, healthy, 10_000);
    seen.length = 0;
    await sleep(3000);
    for (const r of sandbox.replicas) {
      const obs = seen.filter((o) => o.name === r.name);
      expect(obs.length).toBeGreaterThanOrEqual(5);
      for (const o of obs) {
        expect(o).toMatchObject({
          up: true,
          role: "replica",
          readOnly: true,
          replicating: true,
          lagSource: "heartbeat",
        });
        expect(o.lagMs).toBeLessThan(500);
        expect(o.gtidSlavePos).toMatch(/^0-1-\d+$/);
        expect(o.checkDurationMs).toBeLessThan(TIMEOUT);
      }
    }
    const p = latest(monitor, "primary");
    expect(p).toMatchObject({ up: true, role: "primary", readOnly: false, replicating: null, lagMs: null });
    expect(p.gtidBinlogPos).toMatch(/^0-1-\d+$/);
    expect(monitor.primaryReachable()).toBe(true);
  });

  test("STOP SLAVE: lag becomes unknown (null, not 0) within 1 s; START SLAVE: it recovers", async () => {
    const r1 = sandbox.replicas[0]!;
    await root(r1, (c) => c.query("STOP SLAVE"));
    const { obs, waited } = await until(monitor, r1.name, (o) => o.lagMs === null, 1000 + 200);
    expect(waited).toBeLessThanOrEqual(1000);
    expect(obs).toMatchObject({ up: true, replicating: false, lagSource: null });
    await root(r1, (c) => c.query("START SLAVE"));
    await until(monitor, r1.name, healthy, 5000);
  });

  test("STOP SLAVE SQL_THREAD: heartbeat lag grows past 1500 ms while the other replica stays fresh", async () => {
    const [r1, r2] = [sandbox.replicas[0]!, sandbox.replicas[1]!];
    await root(r1, (c) => c.query("STOP SLAVE SQL_THREAD"));
    await sleep(2000 + INTERVAL);
    const stalled = latest(monitor, r1.name);
    expect(stalled).toMatchObject({ up: true, replicating: false, lagSource: "heartbeat" });
    expect(stalled.lagMs).toBeGreaterThan(1500);
    expect(healthy(latest(monitor, r2.name))).toBe(true);
    await root(r1, (c) => c.query("START SLAVE SQL_THREAD"));
    await until(monitor, r1.name, healthy, 5000);
  });

  test("heartbeat not writable: lag falls back to Seconds_Behind_Master, and the primary says why", async () => {
    // The monitor user has no privileges on this schema.
    const m = new Monitor(
      monitorConfig({ heartbeat: { enabled: true, intervalMs: 250, schema: "rwsplit_denied" } }),
    );
    m.start();
    try {
      for (const r of sandbox.replicas) {
        const { obs } = await until(m, r.name, (o) => o.lagSource !== null, 5000);
        expect(obs).toMatchObject({ replicating: true, lagSource: "seconds_behind_master", lagMs: 0 });
      }
      const { obs } = await until(m, "primary", (o) => o.lastError !== null, 5000);
      expect(obs.lastError).toMatch(/^heartbeat writer: .*denied/i);
    } finally {
      await m.stop();
    }
  });

  test("stop() closes every connection and nothing runs afterwards", async () => {
    const monitorConnections = () =>
      root(sandbox.primary, async (c) => {
        const [rows] = await c.query(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?",
          [sandbox.credentials.monitor.user],
        );
        return Number((rows as { n: number }[])[0]!.n);
      });
    const before = await monitorConnections();
    let calls = 0;
    const m = new Monitor(monitorConfig(), { onObservation: () => calls++ });
    m.start();
    await until(m, "primary", (o) => o.up, 5000);
    // Its writer and its primary loop each hold a connection to the primary.
    expect(await monitorConnections()).toBe(before + 2);
    await m.stop();
    const callsAtStop = calls;
    await sleep(2 * INTERVAL);
    expect(calls).toBe(callsAtStop);
    expect(await monitorConnections()).toBe(before);
  });

  test("checkNow: a check at once instead of at the next interval, never two at a time", async () => {
    const at: number[] = [];
    const m = new Monitor(monitorConfig({ intervalMs: 60_000 }), {
      onObservation: (o) => {
        if (o.name === "primary") at.push(o.checkedAt);
      },
    });
    try {
      m.start();
      await until(m, "primary", (o) => o.up, 5000);
      expect(at).toHaveLength(1);
      const asked = Date.now();
      expect(m.checkNow("primary")).toBe(true);
      expect(m.checkNow("primary")).toBe(false);
      expect(m.checkNow("nope")).toBe(false);
      await until(m, "primary", () => at.length === 2, 2000);
      expect(at[1]! - asked).toBeLessThan(500);
    } finally {
      await m.stop();
    }
    expect(m.checkNow("primary")).toBe(false);
  });

  test("a hung backend: each check fails at the timeout, one connection attempt at a time", async () => {
    // Accepts TCP connections and never says a word (no handshake).
    let open = 0;
    let maxOpen = 0;
    let accepted = 0;
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((s) => {
      accepted++;
      open++;
      maxOpen = Math.max(maxOpen, open);
      sockets.add(s);
      s.on("close", () => {
        open--;
        sockets.delete(s);
      });
      s.on("error", () => {});
    });
    await new Promise<void>((r) => hole.listen(0, "127.0.0.1", r));
    const port = (hole.address() as net.AddressInfo).port;
    const obs: BackendObservation[] = [];
    const m = new Monitor(
      monitorConfig(
        {
          intervalMs: 100,
          timeoutMs: 300,
          heartbeat: { enabled: false, intervalMs: 250, schema: "rwsplit" },
        },
        [backend("hung", { host: "127.0.0.1", port })],
      ),
      { onObservation: (o) => o.name === "hung" && obs.push(o) },
    );
    m.start();
    await sleep(1600);
    await m.stop();
    await sleep(100);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => hole.close(() => r()));
    expect(obs.length).toBeGreaterThanOrEqual(3);
    expect(obs.length).toBeLessThanOrEqual(7);
    for (const o of obs) {
      expect(o.up).toBe(false);
      expect(o.lastError).toMatch(/300 ms|ETIMEDOUT|timeout/i);
      expect(o.checkDurationMs).toBeGreaterThanOrEqual(290);
      expect(o.checkDurationMs).toBeLessThan(800);
    }
    // The server may see the next attempt a tick before the previous socket's close.
    expect(maxOpen).toBeLessThanOrEqual(2);
    expect(accepted).toBe(obs.length);
  });

  test("the primary going away: primaryReachable() is false within 2 checks, replicas' lag unknown", async () => {
    expect(monitor.primaryReachable()).toBe(true);
    // The server may drop our connection before or after answering.
    await root(sandbox.primary, (c) => c.query("SHUTDOWN")).catch(() => {});
    const start = Date.now();
    while (monitor.primaryReachable() && Date.now() - start < 5000) await sleep(20);
    expect(monitor.primaryReachable()).toBe(false);
    expect(Date.now() - start).toBeLessThanOrEqual(2 * INTERVAL + TIMEOUT);
    for (const r of sandbox.replicas) {
      const { obs } = await until(monitor, r.name, (o) => o.lagMs === null, 5000);
      expect(obs).toMatchObject({ up: true, replicating: false, lagSource: null });
    }
  });
});
