import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { stringify } from "yaml";
import type { Rwsplit } from "../../src/app.js";
import {
  adminApi,
  backendEntry,
  type ConfigFile,
  captureLogger,
  configFile,
  type FileData,
  startFromFile,
  until,
  yamlFor,
} from "../helpers/config-file.js";
import { ReadLoad, type Target, WriteLoad } from "../helpers/load.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

/**
 * Changing the cluster without a restart (issue #18), in-process against one sandbox of three
 * replicas, the third left out of the first config: reloads of the file (broken, adding and
 * removing a replica under load, a user's password), maintenance drains, and two instances
 * sharing their changes through Redis. `rwsplit serve` with SIGHUP: test/e2e/reload.test.ts.
 */

let sb: TestSandbox;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 3 });
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, KEY (n))");
  await c.end();
  await sb.waitForReplicas();
});

afterAll(async () => {
  await sb?.down();
});

interface BackendsBody {
  config: { version: number; hash: string; fleet: { instances: { instance: string; version: number }[] } };
  backends: {
    name: string;
    eligible: boolean;
    weight: number;
    drain: { state: string; purpose: string } | null;
    reason: string | null;
  }[];
}

const replicasFile = (n: number[], extra: FileData = {}): FileData => {
  const base = yamlFor(sb, { replicas: 0, extra });
  const backends = base.backends as { primary: FileData; replicas: FileData[] };
  backends.replicas = n.map((i) => backendEntry(sb.replicas[i - 1]!, i - 1));
  return base;
};

const target = (app: Rwsplit, user = "app", password = "app-pass"): Target => ({
  host: "127.0.0.1",
  port: app.listen.port,
  user,
  password,
  database: "app",
});

const readsOn = (app: Rwsplit, backend: string) =>
  app.metrics
    .queryTotals()
    .filter((q) => q.backend === backend && q.route === "replica")
    .reduce((n, q) => n + q.value, 0);

describe("one proxy", () => {
  let file: ConfigFile;
  let app: Rwsplit;
  let log: ReturnType<typeof captureLogger>;

  beforeAll(async () => {
    file = configFile(replicasFile([1, 2]));
    log = captureLogger();
    app = await startFromFile(file, log.logger);
    await until("both replicas serving", () => app.cluster.balancer.snapshot().every((r) => r.eligible));
  });

  afterAll(async () => {
    await app?.stop();
    file?.remove();
  });

  test("a broken file changes nothing; each problem is named by its key, in the answer and the log", async () => {
    const api = adminApi(app);
    const before = await api.get<BackendsBody>("/backends");
    // Three problems, and a replica added that must not be.
    const broken = {
      ...replicasFile([1, 2, 3]),
      lag: { max: "fast" },
      pool: { max_per_backend: 0 },
      backend: {},
    };
    file.writeText(stringify(broken));
    const r = await api.post<{ ok: boolean; problems: { path: string; message: string }[] }>(
      "/config/reload",
    );
    expect(r.status).toBe(400);
    expect(r.body.ok).toBe(false);
    expect(r.body.problems.map((p) => p.path).sort()).toEqual(["backend", "lag.max", "pool.max_per_backend"]);
    expect(r.body.problems.find((p) => p.path === "backend")!.message).toMatch(/did you mean "backends"/);
    const after = await api.get<BackendsBody>("/backends");
    expect(after.backends.map((b) => b.name)).toEqual(before.backends.map((b) => b.name));
    expect(after.config.version).toBe(before.config.version);
    expect(after.config.hash).toBe(before.config.hash);
    const line = log.lines.find((l) => String(l.msg).startsWith("config reload rejected"));
    expect(line?.msg).toMatch(/lag\.max: expected a positive duration/);
    expect(line?.msg).toMatch(/pool\.max_per_backend: expected a whole number >= 1, found 0/);
    expect(line?.problems).toHaveLength(3);
    expect(line?.who).toMatch(/^admin token holder from 127\.0\.0\.1/);

    // Not YAML at all: the line and column.
    file.writeText("backends: [unclosed\n");
    const yaml = await api.post<{ problems: { path: string }[] }>("/config/reload");
    expect(yaml.status).toBe(400);
    expect(yaml.body.problems[0]!.path).toMatch(/rwsplit\.yaml:\d+:\d+$/);

    // Valid, but it drops the primary: refused with a pointer to switchover.
    const noPrimary = replicasFile([2]);
    (noPrimary.backends as { primary: FileData }).primary = backendEntry(sb.replicas[0]!, 0);
    file.write(noPrimary);
    const refused = await api.post<{ problems: { path: string; message: string }[] }>("/config/reload");
    expect(refused.status).toBe(400);
    expect(refused.body.problems[0]!.message).toMatch(/"primary" is the primary .*rwsplit switchover --to/);
    expect((await api.get<BackendsBody>("/backends")).config.version).toBe(before.config.version);
    file.write(replicasFile([1, 2]));
  });

  test("under load, a third replica added to the file serves reads within 5 s of catching up, and a removed one is drained and its pool closed, 0 client errors", async () => {
    const api = adminApi(app);
    const reads = new ReadLoad(target(app), 6).start();
    const writes = new WriteLoad(target(app), 2).start();
    await new Promise((r) => setTimeout(r, 500));

    // Add replica3.
    file.write(replicasFile([1, 2, 3]));
    const added = await api.post<{ changes: string[] }>("/config/reload");
    expect(added.status).toBe(200);
    expect(added.body.changes).toEqual([expect.stringMatching(/^backend replica3 added/)]);
    let caughtUpAt = 0;
    const firstReadAt = await until(
      "a read on replica3",
      () => {
        const o = app.observations().get("replica3");
        if (caughtUpAt === 0 && o?.up && o.replicating && o.lagMs !== null && o.lagMs < 2000)
          caughtUpAt = o.checkedAt;
        return readsOn(app, "replica3") > 0 ? Date.now() : null;
      },
      10_000,
      20,
    );
    expect(caughtUpAt).toBeGreaterThan(0);
    expect(firstReadAt - caughtUpAt).toBeLessThan(5000);
    console.log(`replica3: first read ${firstReadAt - caughtUpAt} ms after its first caught-up check`);

    // Remove replica2 while it serves.
    const pool = app.cluster.upstreams.pools.get("replica2")!;
    const readsBefore = readsOn(app, "replica2");
    expect(readsBefore).toBeGreaterThan(0);
    file.write(replicasFile([1, 3]));
    const removed = await api.post<{ changes: string[] }>("/config/reload");
    expect(removed.body.changes).toEqual(["backend replica2 removed (drained first)"]);
    // Draining (reads in flight finish) at most for a moment under this load, then gone.
    const during = (await api.get<BackendsBody>("/backends")).backends.find((b) => b.name === "replica2");
    if (during !== undefined) expect(during.drain).toMatchObject({ purpose: "removal" });
    await until("replica2 gone from /backends", async () =>
      (await api.get<BackendsBody>("/backends")).backends.every((b) => b.name !== "replica2"),
    );
    const drainedLine = log.lines.find((l) => l.msg === "backend drained" && l.backend === "replica2");
    expect(drainedLine).toMatchObject({ purpose: "removal", forced: false });
    console.log(`replica2 drained ${drainedLine?.afterMs} ms after its removal`);
    expect(
      log.lines.some((l) => String(l.msg).startsWith("backend removed") && l.backend === "replica2"),
    ).toBe(true);
    expect(pool.connectionCount).toBe(0);
    await expect(pool.acquire({} as never)).rejects.toThrow(/shutting down/);
    const c = await sb.connect(sb.replicas[1]!);
    const [procs] = await c.query(
      "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'app'",
    );
    await c.end();
    expect((procs as { n: number }[])[0]!.n).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    await reads.stop();
    await writes.stop();
    expect(readsOn(app, "replica2")).toBeLessThanOrEqual(readsBefore + 6); // at most the reads in flight
    expect(reads.failures).toEqual([]);
    expect(writes.failures).toEqual([]);
    expect(reads.okTimes.length).toBeGreaterThan(100);
    const reloads = log.lines.filter((l) => String(l.msg).startsWith("config reloaded"));
    expect(reloads.at(-1)).toMatchObject({
      who: expect.stringMatching(/admin token holder/),
      changes: removed.body.changes,
    });
  });

  test("drain: no new reads, a READ ONLY transaction on it finishes first, the primary is refused", async () => {
    const api = adminApi(app);
    // Only replica1 left serving: the transaction below runs there.
    expect((await api.post("/backends/replica3/drain")).status).toBe(200);
    const c = await mysql.createConnection(target(app));
    await c.query("START TRANSACTION READ ONLY");
    const [[first]] = (await c.query("SELECT @@port AS port")) as unknown as [{ port: number }[]];
    expect(first!.port).toBe(sb.replicas[0]!.port);
    const drained = await api.post<{ drain: { phase: string } }>("/backends/replica1/drain");
    expect(drained.body.drain.phase).toBe("draining");
    await new Promise((r) => setTimeout(r, 400));
    const mid = (await api.get<BackendsBody>("/backends")).backends.find((b) => b.name === "replica1")!;
    expect(mid.drain).toMatchObject({ state: "draining", purpose: "maintenance" });
    expect(mid.reason).toMatch(/^draining \(maintenance/);
    const [[again]] = (await c.query("SELECT @@port AS port")) as unknown as [{ port: number }[]];
    expect(again!.port).toBe(sb.replicas[0]!.port);
    await c.query("COMMIT");
    await until("replica1 drained", async () => {
      const b = (await api.get<BackendsBody>("/backends")).backends.find((x) => x.name === "replica1");
      return b?.drain?.state === "drained";
    });
    // Nothing left for reads: they go to the primary.
    const [[next]] = (await c.query("SELECT @@port AS port")) as unknown as [{ port: number }[]];
    expect(next!.port).toBe(sb.primary.port);
    await c.end();

    const primary = await api.post<{ error: string }>("/backends/primary/drain");
    expect(primary.status).toBe(409);
    expect(primary.body.error).toMatch(/switchover --to/);
    expect((await api.post("/backends/nope/drain")).status).toBe(404);

    for (const name of ["replica1", "replica3"])
      expect((await api.post(`/backends/${name}/undrain`)).status).toBe(200);
    await until("both serving again", () => app.cluster.balancer.snapshot().every((r) => r.eligible));
  });

  test("a user's password changed in the file: sessions logged in before go on, new logins need the new one", async () => {
    const api = adminApi(app);
    const root = await sb.connect(sb.primary);
    await root.query("CREATE OR REPLACE USER 'rot'@'%' IDENTIFIED BY 'old-pass'");
    await root.query("GRANT SELECT ON app.* TO 'rot'@'%'");
    await sb.waitForReplicas();
    const users = (pw: string) => [
      { name: "app", password: "app-pass" },
      { name: "rot", password: pw },
    ];
    file.write(replicasFile([1, 3], { users: users("old-pass") }));
    expect((await api.post<{ changes: string[] }>("/config/reload")).body.changes).toEqual([
      "user rot added",
    ]);
    const old = await Promise.all(
      [1, 2, 3].map(() => mysql.createConnection(target(app, "rot", "old-pass"))),
    );
    for (const c of old) await c.query("SELECT COUNT(*) FROM ids");

    await root.query("ALTER USER 'rot'@'%' IDENTIFIED BY 'new-pass'");
    await sb.waitForReplicas();
    file.write(replicasFile([1, 3], { users: users("new-pass") }));
    const changed = await api.post<{ changes: string[] }>("/config/reload");
    expect(changed.body.changes).toEqual(["user rot: password changed (new logins)"]);
    // The backend connections the old sessions used are gone: their next statements log in
    // to the backends again, with the password the servers now want.
    for (const node of [sb.primary, ...sb.replicas]) {
      const c = await sb.connect(node);
      const [ids] = await c.query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'rot'");
      for (const { ID } of ids as { ID: number }[]) await c.query(`KILL ${ID}`).catch(() => {});
      await c.end();
    }
    await Promise.all(old.map((c) => c.query("SELECT COUNT(*) FROM ids")));
    await Promise.all(old.map((c) => c.query("/* rwsplit: route=primary */ SELECT 1")));
    await expect(mysql.createConnection(target(app, "rot", "old-pass"))).rejects.toMatchObject({
      errno: 1045,
    });
    const fresh = await mysql.createConnection(target(app, "rot", "new-pass"));
    await fresh.query("SELECT COUNT(*) FROM ids");
    await fresh.end();
    for (const c of old) await c.end();
    await root.query("DROP USER 'rot'@'%'");
    await root.end();
  });
});

describe("two instances on one Redis", () => {
  let redis: TestRedis;
  let file: ConfigFile;
  let a: Rwsplit;
  let b: Rwsplit;

  beforeAll(async () => {
    redis = await startRedis();
    file = configFile(replicasFile([1, 2], { redis: { url: redis.url }, log: { level: "warn" } }));
    a = await startFromFile(file, captureLogger("warn").logger);
    b = await startFromFile(file, captureLogger("warn").logger);
    await until("replicas serving on both", () =>
      [a, b].every((x) => x.cluster.balancer.snapshot().every((r) => r.eligible)),
    );
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    file?.remove();
  });

  test("a drain on one instance is applied by the other within 1 s, and so are a reload and an undrain", async () => {
    const t0 = Date.now();
    const r = await adminApi(a).post<{ fleet: string; version: number }>("/backends/replica2/drain");
    expect(r.body.fleet).toBe("redis");
    await until("B drains replica2", () => b.cluster.drainOf("replica2") !== undefined, 2000, 5);
    const drainMs = Date.now() - t0;
    console.log(`drain on A applied by B after ${drainMs} ms`);
    expect(drainMs).toBeLessThan(1000);
    const onB = await adminApi(b).get<BackendsBody>("/backends");
    expect(onB.backends.find((x) => x.name === "replica2")?.drain).toMatchObject({ purpose: "maintenance" });
    expect(onB.config.version).toBe(r.body.version);

    // A reload on A: B reads its own file again.
    const next = replicasFile([1, 2], { redis: { url: redis.url }, log: { level: "warn" } });
    (next.backends as { replicas: FileData[] }).replicas[0]!.weight = 3;
    file.write(next);
    const t1 = Date.now();
    expect((await adminApi(a).post("/config/reload")).status).toBe(200);
    await until("B reweighs replica1", () => b.cluster.backend("replica1")?.weight === 3, 2000, 5);
    console.log(`reload on A applied by B after ${Date.now() - t1} ms`);
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(b.cluster.drainOf("replica2")).toBeDefined();

    // An undrain on B, back on A.
    const t2 = Date.now();
    expect((await adminApi(b).post("/backends/replica2/undrain")).status).toBe(200);
    await until("A undrains replica2", () => a.cluster.drainOf("replica2") === undefined, 2000, 5);
    expect(Date.now() - t2).toBeLessThan(1000);

    // Both report the same version and config to the fleet.
    const fleet = await until(
      "both instances' reports",
      async () => {
        const body = await adminApi(a).get<BackendsBody>("/backends");
        const list = body.config.fleet.instances;
        return list.length === 2 && list.every((i) => i.version === body.config.version) ? body : null;
      },
      3000,
    );
    expect(fleet.config.version).toBe((await adminApi(b).get<BackendsBody>("/backends")).config.version);
    expect(fleet.config.hash).toBe((await adminApi(b).get<BackendsBody>("/backends")).config.hash);
  });
});
