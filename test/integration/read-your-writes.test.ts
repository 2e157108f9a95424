import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Config } from "../../src/config/types.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Read-your-writes per user, across connections and rwsplit instances (issue #12, point 6):
// every PHP request, CLI run or serverless call is a new connection, and it must read what the
// same user's previous connection wrote, with routing.consistency: user (the default).

let sb: TestSandbox;
let redis: TestRedis;
let replicaIds: number[];
const apps: TestApp[] = [];
let nextId = 1;

const READER = { user: "reader", password: "reader-pass" };

function config(over: Partial<Config> = {}, monitorIntervalMs = 500): Config {
  const c = testConfig(sb.primary, sb.replicas, {
    users: [
      { name: "app", password: "app-pass" },
      { name: READER.user, password: READER.password },
    ],
    ...over,
  });
  c.routing = { ...c.routing, consistency: "user" };
  c.monitor = { ...c.monitor, intervalMs: monitorIntervalMs };
  return c;
}

async function start(c: Config): Promise<TestApp> {
  const app = await startApp(c);
  apps.push(app);
  await replicasObserved(app);
  return app;
}

async function stop(app: TestApp): Promise<void> {
  apps.splice(apps.indexOf(app), 1);
  await app.close();
}

const connect = (
  app: TestApp,
  who: { user: string; password: string } = { user: "app", password: "app-pass" },
) => mysql.createConnection({ host: app.host, port: app.port, ...who, database: "app" });

/** Until the monitor has seen both replicas up with a known lag (they serve reads from then on). */
async function replicasObserved(app: TestApp): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const obs = [...app.app.observations().values()].filter((o) => o.role === "replica");
    if (obs.length === 2 && obs.every((o) => o.up && o.lagMs !== null && o.lagMs < 1000)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the monitor never saw both replicas fresh");
}

/**
 * One round as a stateless client does it: a connection INSERTs a unique row and disconnects, a
 * new connection of the same user SELECTs it at once. True when the row was missing (stale).
 */
async function staleRound(writeVia: TestApp, readVia: TestApp): Promise<boolean> {
  const id = nextId++;
  const w = await connect(writeVia);
  await w.query("INSERT INTO ryw (id, v) VALUES (?, ?)", [id, `row ${id}`]);
  await w.end();
  const r = await connect(readVia);
  const [rows] = await r.query("SELECT v FROM ryw WHERE id = ?", [id]);
  await r.end();
  return (rows as unknown[]).length === 0;
}

/** `rounds` rounds on `workers` concurrent clients; the number of stale reads. */
async function staleRounds(
  rounds: number,
  workers: number,
  writeVia: TestApp,
  readVia = writeVia,
): Promise<number> {
  let stale = 0;
  let left = rounds;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (left-- > 0) if (await staleRound(writeVia, readVia)) stale++;
    }),
  );
  return stale;
}

/** Statements counted by the app's metrics, by route and backend (reason filter optional). */
function counted(app: TestApp, route: string, reason?: string): number {
  return app.app.metrics
    .queryTotals()
    .filter((q) => q.route === route && (reason === undefined || q.reason === reason))
    .reduce((n, q) => n + q.value, 0);
}

function waits(app: TestApp, result: string): number {
  return app.app.metrics.consistencyWaits.entries
    .filter((e) => e.labels.result === result)
    .reduce((n, e) => n + e.cell.value, 0);
}

async function onReplicas(sql: string): Promise<void> {
  for (const r of sb.replicas) {
    const c = await sb.connect(r);
    await c.query(sql);
    await c.end();
  }
}

beforeAll(async () => {
  [sb, redis] = await Promise.all([startSandbox({ replicas: 2 }), startRedis()]);
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.ryw (id INT PRIMARY KEY, v VARCHAR(40))");
  await c.query("CREATE TABLE app.big (id INT PRIMARY KEY, b LONGBLOB)");
  await c.query(`CREATE USER '${READER.user}'@'127.0.0.1' IDENTIFIED BY '${READER.password}'`);
  await c.query(`GRANT SELECT ON app.* TO '${READER.user}'@'127.0.0.1'`);
  await c.end();
  await sb.waitForReplicas();
  replicaIds = [];
  for (const r of sb.replicas) {
    const rc = await sb.connect(r);
    const [rows] = await rc.query("SELECT @@server_id AS id");
    replicaIds.push((rows as { id: number }[])[0]!.id);
    await rc.end();
  }
});

afterAll(async () => {
  for (const app of apps.splice(0)) await app.close();
  await redis?.stop();
  await sb?.down();
});

describe("consistency: user", () => {
  test("no lag: new-connection reads right after the user's write wait on a replica and read there", async () => {
    const app = await start(config());
    const stale = await staleRounds(50, 2, app);
    const caughtUp = waits(app, "caught_up");
    console.log(
      `no lag: 50 rounds, ${stale} stale, waits caught_up=${caughtUp} timeout=${waits(app, "timeout")}, ` +
        `reads on replicas=${counted(app, "replica", "read")}, on the primary (consistency_fallback)=${counted(app, "primary", "consistency_fallback")}`,
    );
    expect(stale).toBe(0);
    // The monitor's positions are one check old: right after a write they show it nowhere, and
    // MASTER_GTID_WAIT on a replica that keeps up returns at once.
    expect(caughtUp).toBeGreaterThan(0);
    expect(counted(app, "replica", "read")).toBeGreaterThan(0);
    await stop(app);
  });

  test("a 4 MiB row written by one connection is there for the user's next connection", async () => {
    // The mariadb CLI case: a big row takes the replicas a while to apply, no lag injected.
    const app = await start(config());
    const blob = Buffer.alloc(4 << 20, 7);
    for (let id = 1; id <= 5; id++) {
      const w = await connect(app);
      await w.query("INSERT INTO big (id, b) VALUES (?, ?)", [id, blob]);
      await w.end();
      const r = await connect(app);
      const [rows] = await r.query("SELECT LENGTH(b) AS n FROM big WHERE id = ?", [id]);
      await r.end();
      expect(rows).toEqual([{ n: 4 << 20 }]);
    }
    await stop(app);
  });

  describe("both replicas' SQL threads stopped", () => {
    // The monitor checks every 2 min here, so the replicas stay eligible and their positions stale
    // for the whole test: the moment before lag exclusion kicks in (where the issue saw 25 of 200
    // reads stale), stretched over every round. Only the per-user record and the wait on the
    // replica keep these reads fresh.
    const SLOW_MONITOR = 120_000;
    let fleetA: TestApp;
    let fleetB: TestApp;
    /** The control: the same rounds with consistency: session (the old default). */
    let sessionScoped: TestApp;

    beforeAll(async () => {
      const shared = { redis: { url: redis.url } };
      fleetA = await start(
        config({ ...shared, admin: { listen: { host: "127.0.0.1", port: 0 }, enabled: true } }, SLOW_MONITOR),
      );
      fleetB = await start(
        config({ ...shared, admin: { listen: { host: "127.0.0.1", port: 0 }, enabled: true } }, SLOW_MONITOR),
      );
      const c = config({}, SLOW_MONITOR);
      c.routing = { ...c.routing, consistency: "session" };
      sessionScoped = await start(c);
      await onReplicas("STOP SLAVE SQL_THREAD");
    });

    afterAll(async () => {
      await onReplicas("START SLAVE SQL_THREAD");
      await sb.waitForReplicas();
    });

    test("control: with consistency session (the old default) the same rounds read stale", async () => {
      const stale = await staleRounds(20, 2, sessionScoped);
      console.log(`consistency session: ${stale} of 20 new-connection reads stale`);
      expect(stale).toBeGreaterThan(0);
      await stop(sessionScoped);
    });

    test("0 of 200 new-connection reads right after the same user's write are stale", async () => {
      const t0 = performance.now();
      const stale = await staleRounds(200, 8, fleetA);
      console.log(
        `SQL threads stopped: 200 rounds in ${Math.round(performance.now() - t0)} ms, ${stale} stale; ` +
          `waits timeout=${waits(fleetA, "timeout")} caught_up=${waits(fleetA, "caught_up")}, ` +
          `reads on the primary (consistency_fallback)=${counted(fleetA, "primary", "consistency_fallback")}`,
      );
      expect(stale).toBe(0);
      // The waits timed out (nothing applies), and each replica is asked again only after its next
      // check: a handful of 50 ms waits, not 200.
      expect(waits(fleetA, "timeout")).toBeGreaterThan(0);
      expect(waits(fleetA, "timeout")).toBeLessThanOrEqual(16);
      expect(counted(fleetA, "primary", "consistency_fallback")).toBeGreaterThanOrEqual(190);
    });

    test("another user's reads still reach the replicas", async () => {
      const before = counted(fleetA, "replica", "read");
      const c = await connect(fleetA, READER);
      const seen = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const [rows] = await c.query("SELECT @@server_id AS id");
        seen.add((rows as { id: number }[])[0]!.id);
      }
      await c.end();
      expect([...seen].every((id) => replicaIds.includes(id))).toBe(true);
      expect(counted(fleetA, "replica", "read") - before).toBe(20);
    });

    test("two instances on one Redis: a write through one, a read through the other, not stale", async () => {
      const stale = await staleRounds(50, 2, fleetA, fleetB);
      console.log(`fleet: 50 rounds written through A and read through B, ${stale} stale`);
      expect(stale).toBe(0);
      // The other way round too.
      expect(await staleRounds(20, 2, fleetB, fleetA)).toBe(0);
    });

    test("a long-lived connection on the other instance learns the user's write (pub/sub)", async () => {
      const pooled = await connect(fleetB);
      await pooled.query("SELECT 1");
      const id = nextId++;
      const w = await connect(fleetA);
      await w.query("INSERT INTO ryw (id, v) VALUES (?, ?)", [id, "pooled"]);
      await w.end();
      const gtid = fleetA.app.proxy.userWrites!.record("app")!.text;
      await expect.poll(() => fleetB.app.proxy.userWrites!.record("app")?.text, { timeout: 2000 }).toBe(gtid);
      const [rows] = await pooled.query("SELECT v FROM ryw WHERE id = ?", [id]);
      expect(rows).toEqual([{ v: "pooled" }]);
      await pooled.end();
    });

    test("/backends says how users' writes are kept; Redis down degrades to per instance, and back", async () => {
      const backends = async (app: TestApp) => {
        const { host, port } = app.app.adminListen!;
        const res = await fetch(`http://${host}:${port}/backends`);
        return (await res.json()) as { consistency: Record<string, unknown> };
      };
      expect((await backends(fleetB)).consistency).toMatchObject({
        scope: "user",
        windowMs: 10_000,
        waitMs: 50,
        shared: "redis",
        lastError: null,
      });
      await redis.kill();
      await expect
        .poll(async () => (await backends(fleetB)).consistency.shared, { timeout: 5000 })
        .toBe("local");
      expect((await backends(fleetB)).consistency.lastError).toEqual(expect.any(String));
      // Logins do not wait for a Redis that is gone, and each instance keeps its own records.
      expect(await staleRounds(10, 1, fleetB)).toBe(0);
      await redis.restart();
      for (const app of [fleetA, fleetB]) {
        await expect
          .poll(async () => (await backends(app)).consistency.shared, { timeout: 5000 })
          .toBe("redis");
      }
      expect(await staleRounds(10, 2, fleetA, fleetB)).toBe(0);
    });
  });
});
