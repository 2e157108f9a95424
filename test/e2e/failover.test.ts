import mysql from "mysql2/promise";
import { afterEach, describe, expect, test } from "vitest";
import type { Config } from "../../src/config/types.js";
import { type ReadLoad, ReadLoad as Reads, type Target, WriteLoad } from "../helpers/load.js";
import { killNode, restartNode } from "../helpers/node-restart.js";
import { failoverConfig, startApp, type TestApp } from "../helpers/proxy.js";
import { startRedis } from "../helpers/redis.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #8 end to end: a real semi-synchronous sandbox, rwsplit in-process, clients through it.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

async function cluster(): Promise<TestSandbox> {
  const sb = await startSandbox({ replicas: 2 });
  cleanups.push(() => sb.down());
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, KEY (n))");
  await c.end();
  await sb.waitForReplicas();
  return sb;
}

function haConfig(sb: TestSandbox, over: Partial<Config> = {}): Config {
  const c = failoverConfig(sb, { detectMs: 2000, holdWritesMs: 15_000 }, over);
  c.admin = { listen: { host: "127.0.0.1", port: 0 }, enabled: true };
  return c;
}

async function proxy(config: Config): Promise<TestApp> {
  const p = await startApp(config);
  cleanups.push(() => p.close());
  return p;
}

function target(p: TestApp): Target {
  return { host: p.host, port: p.port, user: "app", password: "app-pass", database: "app" };
}

/** Every acknowledged number is on `node` exactly once. */
async function checkIds(
  c: mysql.Connection,
  acked: number[],
): Promise<{ missing: number[]; duplicated: number[] }> {
  const [rows] = await c.query("SELECT n, COUNT(*) AS k FROM app.ids GROUP BY n");
  const count = new Map((rows as { n: number; k: number }[]).map((r) => [Number(r.n), Number(r.k)]));
  return {
    missing: acked.filter((n) => !count.has(n)),
    duplicated: [...count].filter(([, k]) => k > 1).map(([n]) => n),
  };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("automatic failover", () => {
  test("primary SIGKILLed under a write load: writes resume within 5 s, no acknowledged id lost or duplicated, reads never stop", async () => {
    const sb = await cluster();
    const p = await proxy(haConfig(sb));
    await until("monitor sees every backend", () => p.app.status.backends().every((b) => b.up), 10_000);
    const writes = new WriteLoad(target(p), 4).start();
    const reads: ReadLoad = new Reads(target(p), 2).start();
    await sleep(1500);
    const killedAt = Date.now();
    process.kill(sb.primary.pid, "SIGKILL");
    await until("a new primary", () => p.app.ha.topology().generation > 1, 20_000);
    await sleep(1500);
    const resumedAt = writes.resumedAfter(killedAt)!;
    await writes.stop();
    await reads.stop();
    const t = p.app.ha.topology();
    expect(t.primary).not.toBe("primary");
    expect(t.fenced).toEqual(["primary"]);
    expect(resumedAt - killedAt).toBeLessThan(5000);
    const newPrimary = sb.replicas[t.primary === "replica1" ? 0 : 1]!;
    const c = await sb.connect(newPrimary);
    const { missing, duplicated } = await checkIds(c, writes.acked);
    await c.end();
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(writes.acked.length).toBeGreaterThan(50);
    // Reads: served throughout by the replicas (no error, no gap longer than a second).
    expect(reads.failures).toEqual([]);
    const readGap = reads.maxGap(killedAt - 500, Date.now() - 1600);
    const gapEnd = reads.resumedAfter(killedAt - 500);
    const ha = p.app.ha.status().history[0];
    expect(
      readGap,
      `reads stopped for ${readGap} ms, until ${gapEnd === null ? "?" : gapEnd - killedAt} ms after the kill (failover: ${JSON.stringify(ha?.steps ?? ha)})`,
    ).toBeLessThan(1000);
    const report = p.app.ha.status().history[0]!;
    expect(report).toMatchObject({ kind: "failover", ok: true, from: "primary", to: t.primary });
    console.log(
      `failover: kill → first write ${resumedAt - killedAt} ms; detected+promoted in ${report.sinceDownMs} ms; ` +
        `${writes.acked.length} writes acknowledged, ${writes.failures.length} failed around the kill`,
    );
    // /backends tells the story: the new primary, the fenced old one, the generation.
    const res = await p.app.admin!.inject({ method: "GET", url: "/backends" });
    const body = res.json() as {
      topology: { generation: number; primary: string };
      backends: { name: string; role: string }[];
    };
    expect(body.topology).toMatchObject({ generation: 2, primary: t.primary });
    expect(body.backends.find((b) => b.name === "primary")?.role).toBe("fenced");
  }, 90_000);
});

async function count(sb: TestSandbox, node: { host: string; port: number }): Promise<number> {
  const c = await sb.connect(node);
  try {
    const [rows] = await c.query("SELECT COUNT(*) AS k FROM app.ids");
    return Number((rows as { k: number }[])[0]!.k);
  } finally {
    await c.end();
  }
}

async function variable(
  sb: TestSandbox,
  node: { host: string; port: number },
  sql: string,
): Promise<unknown> {
  const c = await sb.connect(node);
  try {
    const [rows] = await c.query(sql);
    return Object.values((rows as Record<string, unknown>[])[0] ?? {})[0];
  } finally {
    await c.end();
  }
}

async function slaveStatus(
  sb: TestSandbox,
  node: { host: string; port: number },
): Promise<Record<string, unknown> | null> {
  const c = await sb.connect(node);
  try {
    const [rows] = await c.query("SHOW SLAVE STATUS");
    return (rows as Record<string, unknown>[])[0] ?? null;
  } finally {
    await c.end();
  }
}

describe("after a failover", () => {
  test("the old primary, restarted, receives no writes and is set read_only; rejoin makes it a replica of the new primary", async () => {
    const sb = await cluster();
    const p = await proxy(haConfig(sb));
    await until("monitor sees every backend", () => p.app.status.backends().every((b) => b.up), 10_000);
    const w = new WriteLoad(target(p), 1).start();
    await sleep(500);
    await w.stop();
    await sb.waitForReplicas();
    // A client in the middle of a transaction when the primary dies.
    const tx = await mysql.createConnection(target(p));
    cleanups.push(() => tx.end());
    await tx.query("BEGIN");
    await tx.query("INSERT INTO ids (n) VALUES (-1)");
    await killNode(sb.primary);
    await until("a new primary", () => p.app.ha.topology().generation > 1, 20_000);
    const t = p.app.ha.topology();
    // Its next statement: a clear error (the transaction is gone), and the connection stays usable.
    await expect(tx.query("INSERT INTO ids (n) VALUES (-2)")).rejects.toThrow(/transaction was rolled back/);
    await tx.query("INSERT INTO ids (n) VALUES (-3)");
    const [neg] = await tx.query("SELECT n FROM ids WHERE n < 0 ORDER BY n");
    expect(neg).toEqual([{ n: -3 }]);
    await restartNode(sb, sb.primary);
    // It starts with its old command line: read_only=OFF. rwsplit fences it.
    await until(
      "the fenced old primary set read_only",
      async () => Number(await variable(sb, sb.primary, "SELECT @@read_only")) === 1,
      10_000,
    );
    const before = await count(sb, sb.primary);
    const more = new WriteLoad(target(p), 2).start();
    await sleep(1500);
    await more.stop();
    expect(more.failures).toEqual([]);
    expect(more.acked.length).toBeGreaterThan(20);
    expect(await count(sb, sb.primary)).toBe(before);
    const backends = p.app.status.backends();
    expect(backends.find((b) => b.name === "primary")).toMatchObject({ role: "fenced", eligible: false });
    // Rejoin: its history is a prefix of the new primary's (no write was lost at the kill).
    const r = await p.app.ha.rejoin("primary");
    expect(r.ok).toBe(true);
    expect(p.app.ha.topology()).toMatchObject({
      generation: t.generation + 1,
      primary: t.primary,
      fenced: [],
    });
    const newPrimary = sb.replicas[t.primary === "replica1" ? 0 : 1]!;
    const st = await slaveStatus(sb, sb.primary);
    expect(st).toMatchObject({
      Master_Port: newPrimary.port,
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
    });
    await until(
      "the rejoined node catches up",
      async () => (await count(sb, sb.primary)) >= before + more.acked.length,
      10_000,
    );
  }, 120_000);
});

describe("switchover", () => {
  test("under a write load: no client error, no lost or duplicated id, the old primary ends as a replica of the new one", async () => {
    const sb = await cluster();
    const p = await proxy(haConfig(sb));
    await until(
      "monitor sees every backend",
      () => p.app.status.backends().every((b) => b.up && (b.role === "primary" || b.eligible)),
      10_000,
    );
    const writes = new WriteLoad(target(p), 4).start();
    const reads = new Reads(target(p), 2).start();
    await sleep(1000);
    const res = await p.app.admin!.inject({
      method: "POST",
      url: "/switchover",
      payload: { to: "replica1" },
    });
    expect(res.statusCode, res.body).toBe(200);
    const report = (res.json() as { report: { durationMs: number; steps: string[] } }).report;
    await sleep(1000);
    await writes.stop();
    await reads.stop();
    expect(writes.failures).toEqual([]);
    expect(reads.failures).toEqual([]);
    expect(p.app.ha.topology()).toMatchObject({ generation: 2, primary: "replica1", fenced: [] });
    const c = await sb.connect(sb.replicas[0]!);
    const { missing, duplicated } = await checkIds(c, writes.acked);
    await c.end();
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    const st = await slaveStatus(sb, sb.primary);
    expect(st).toMatchObject({
      Master_Port: sb.replicas[0]!.port,
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "Yes",
    });
    expect(Number(await variable(sb, sb.primary, "SELECT @@read_only"))).toBe(1);
    const other = await slaveStatus(sb, sb.replicas[1]!);
    expect(other).toMatchObject({ Master_Port: sb.replicas[0]!.port, Slave_IO_Running: "Yes" });
    console.log(
      `switchover: ${report.durationMs} ms, ${writes.acked.length} writes acknowledged\n  ${report.steps.join("\n  ")}`,
    );
  }, 120_000);
});

describe("a fleet sharing Redis", () => {
  test("two instances: exactly one performs the failover; both route writes to the same new primary within 1 s of each other", async () => {
    const sb = await cluster();
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const config = () => haConfig(sb, { redis: { url: redis.url } });
    const a = await proxy(config());
    const b = await proxy(config());
    await until(
      "both monitors see every backend",
      () => [a, b].every((p) => p.app.status.backends().every((x) => x.up)),
      10_000,
    );
    const switched = new Map<string, number>();
    const watch = setInterval(() => {
      for (const [name, p] of [
        ["a", a],
        ["b", b],
      ] as const) {
        if (!switched.has(name) && p.app.proxy.upstreams.primary.endpoint.name !== "primary")
          switched.set(name, Date.now());
      }
    }, 5);
    cleanups.push(async () => clearInterval(watch));
    const wa = new WriteLoad(target(a), 2).start();
    const wb = new WriteLoad(target(b), 2, 1_000_000).start();
    await sleep(1000);
    const killedAt = Date.now();
    await killNode(sb.primary);
    await until("both instances switched", () => switched.size === 2, 20_000);
    await sleep(1000);
    await wa.stop();
    await wb.stop();
    const performed = [a, b].filter((p) =>
      p.app.ha.status().history.some((r) => r.kind === "failover" && r.ok),
    );
    expect(performed).toHaveLength(1);
    const ta = a.app.ha.topology();
    const tb = b.app.ha.topology();
    expect(ta).toEqual(tb);
    expect(a.app.proxy.upstreams.primary.endpoint.name).toBe(b.app.proxy.upstreams.primary.endpoint.name);
    expect(Math.abs(switched.get("a")! - switched.get("b")!)).toBeLessThan(1000);
    for (const w of [wa, wb]) {
      const resumed = w.resumedAfter(killedAt)!;
      expect(resumed - killedAt).toBeLessThan(5000);
    }
    const newPrimary = sb.replicas[ta.primary === "replica1" ? 0 : 1]!;
    const c = await sb.connect(newPrimary);
    const { missing, duplicated } = await checkIds(c, [...wa.acked, ...wb.acked]);
    await c.end();
    expect(missing).toEqual([]);
    expect(duplicated).toEqual([]);
    // Redis going away stops no query: both instances keep serving on the topology they know.
    await redis.kill();
    const after = [
      new WriteLoad(target(a), 1, 2_000_000).start(),
      new WriteLoad(target(b), 1, 3_000_000).start(),
    ];
    await sleep(1000);
    for (const w of after) {
      await w.stop();
      expect(w.failures).toEqual([]);
      expect(w.acked.length).toBeGreaterThan(10);
    }
    expect(a.app.ha.status().coordinator).toMatchObject({ backend: "redis", connected: false });
  }, 120_000);
});
