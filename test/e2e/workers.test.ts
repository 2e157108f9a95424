import { type ChildProcess, execFile } from "node:child_process";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { ADMIN_TOKEN, type ConfigFile, configFile, until, yamlFor } from "../helpers/config-file.js";
import { ReadLoad, type Target, WriteLoad } from "../helpers/load.js";
import { parsePrometheusText } from "../helpers/prom-parse.js";
import { freePort, startSandbox, type TestSandbox } from "../helpers/sandbox.js";
import { spawnServe } from "../helpers/serve-process.js";

// `rwsplit serve --workers 2` as an operator runs it (issue #15): two worker processes share the
// listen port, the supervisor runs the monitor, HA and the admin app.

const run = promisify(execFile);
let sb: TestSandbox;
const cleanups: (() => Promise<void>)[] = [];

interface Served {
  proc: ChildProcess;
  port: number;
  admin: string;
  target: Target;
  logs: Record<string, unknown>[];
  stderr: () => string;
}

const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };

async function get<T>(s: Served, path: string): Promise<T> {
  const res = await fetch(`${s.admin}${path}`, { headers });
  return (path === "/metrics" ? await res.text() : await res.json()) as T;
}

interface SessionInfo {
  id: number;
  worker: number;
  pid: number;
}

async function sessions(s: Served): Promise<SessionInfo[]> {
  return (await get<{ sessions: SessionInfo[] }>(s, "/sessions")).sessions;
}

async function serve(extra: Record<string, unknown>): Promise<Served> {
  const port = await freePort();
  const adminPort = await freePort();
  const file: ConfigFile = configFile({
    ...yamlFor(sb, { replicas: 2 }),
    listen: `127.0.0.1:${port}`,
    admin: { listen: `127.0.0.1:${adminPort}`, token: ADMIN_TOKEN },
    workers: 2,
    ...extra,
  });
  const { proc, logs, stderr, exited } = spawnServe(["--config", file.path]);
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const killer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(killer);
    }
    file.remove();
  });
  const s: Served = {
    proc,
    port,
    admin: `http://127.0.0.1:${adminPort}`,
    target: { host: "127.0.0.1", port, user: "app", password: "app-pass", database: "app" },
    logs,
    stderr,
  };
  await until(
    `rwsplit --workers 2 to serve (stderr: ${stderr()})`,
    () =>
      logs.some((l) => l.msg === "worker processes serving") &&
      logs.some((l) => l.msg?.toString().startsWith("admin endpoints")),
    60_000,
  );
  await until(
    "every backend up",
    async () => (await get<{ backends: { up: boolean }[] }>(s, "/backends")).backends.every((b) => b.up),
    15_000,
  );
  return s;
}

async function connectMany(s: Served, n: number): Promise<mysql.Connection[]> {
  const out: mysql.Connection[] = [];
  for (let i = 0; i < n; i++) out.push(await mysql.createConnection(s.target));
  cleanups.push(async () => {
    for (const c of out) c.destroy();
  });
  return out;
}

beforeAll(async () => {
  await run("npm", ["run", "build", "--silent"], { timeout: 120_000 });
  sb = await startSandbox({ replicas: 2 });
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, KEY (n))");
  await c.query("CREATE TABLE app.kv (k INT PRIMARY KEY, v INT NOT NULL)");
  await c.end();
  await sb.waitForReplicas();
}, 180_000);

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

afterAll(async () => {
  await sb?.down();
});

describe("serve --workers 2", () => {
  test("connections land on both workers; read-your-writes; KILL across workers; /metrics counts both; a killed worker is restarted and only its clients notice", async () => {
    const s = await serve({ routing: { consistency: "user" } });
    const conns = await connectMany(s, 8);
    const listed = await sessions(s);
    expect(listed).toHaveLength(8);
    const workers = new Set(listed.map((x) => x.worker));
    expect([...workers].sort()).toEqual([0, 1]);
    const workerOf = new Map(listed.map((x) => [x.id, x]));
    const onWorker = (w: number) => conns.filter((c) => workerOf.get(c.threadId)?.worker === w);
    const [a0, b0] = onWorker(0);
    const [a1, b1] = onWorker(1);
    expect(a0 && b0 && a1 && b1).toBeTruthy();

    // A write then a read in one session, and then in another session of the user on the other worker.
    for (let i = 0; i < 20; i++) {
      await a0!.query("REPLACE INTO kv VALUES (1, ?)", [i]);
      const [mine] = await a0!.query("SELECT v FROM kv WHERE k = 1");
      expect((mine as { v: number }[])[0]!.v).toBe(i);
      const [theirs] = await a1!.query("SELECT v FROM kv WHERE k = 1");
      expect((theirs as { v: number }[])[0]!.v).toBe(i);
    }
    const [server] = await b1!.query("SELECT @@server_id AS id");
    expect((server as { id: number }[])[0]!.id).not.toBe(1);

    // KILL QUERY and KILL of a session on the other worker.
    const sleeping = a1!.query("SELECT SLEEP(30)").then(
      () => null,
      (e: { errno?: number }) => e.errno ?? -1,
    );
    await new Promise((r) => setTimeout(r, 300));
    await b0!.query(`KILL QUERY ${a1!.threadId}`);
    expect(await sleeping).toBe(1317);
    await b0!.query(`KILL ${a1!.threadId}`);
    await expect(a1!.query("SELECT 1")).rejects.toThrow();
    await expect(b0!.query("KILL 4242")).rejects.toMatchObject({ errno: 1094 });

    // /metrics: the data path's counters are both workers' together.
    const families = parsePrometheusText(await get<string>(s, "/metrics"));
    const metrics = [...families.values()].flatMap((f) => f.samples);
    const total = (name: string) => metrics.filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
    expect(total("rwsplit_client_connections_total")).toBe(8);
    expect(total("rwsplit_client_connections")).toBe(7);
    const reads = metrics.filter((m) => m.name === "rwsplit_queries_total" && m.labels.route === "replica");
    expect(reads.reduce((n, m) => n + m.value, 0)).toBeGreaterThanOrEqual(21);
    expect(metrics.some((m) => m.name === "rwsplit_topology_generation")).toBe(true);
    expect(total("rwsplit_replica_writes_blocked_total")).toBe(0);

    // The status page's top statements are both workers' (gathered while the page is read).
    const top = await until(
      "the status page's top statements",
      async () => {
        const live = await get<{ top: { text: string; count: number }[] }>(s, "/console.json");
        return live.top.find((d) => d.text.includes("FROM kv")) ?? null;
      },
      10_000,
      250,
    );
    expect(top.count).toBeGreaterThanOrEqual(40);

    // SIGKILL worker 0: its clients lose their connection, worker 1's go on, worker 0 comes back.
    const victimPid = listed.find((x) => x.worker === 0)!.pid;
    process.kill(victimPid, "SIGKILL");
    await expect(a0!.query("SELECT 1")).rejects.toThrow();
    for (const c of onWorker(1).filter((c) => c !== a1)) {
      const [r] = await c.query("SELECT 1 AS one");
      expect((r as { one: number }[])[0]!.one).toBe(1);
    }
    const restarted = await until(
      "worker 0 restarted",
      () => s.logs.find((l) => l.msg === "worker serving" && l.slot === 0 && l.pid !== victimPid) ?? null,
      20_000,
    );
    expect(restarted.pid).not.toBe(victimPid);
    // Counters never go back: the dead worker's counts (as of the scrape above) stay in /metrics,
    // which Prometheus would otherwise read as a counter reset.
    const later = [...parsePrometheusText(await get<string>(s, "/metrics")).values()].flatMap(
      (f) => f.samples,
    );
    const sum = (name: string) => later.filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
    expect(sum("rwsplit_queries_total")).toBeGreaterThanOrEqual(total("rwsplit_queries_total"));
    expect(sum("rwsplit_client_connections_total")).toBeGreaterThanOrEqual(8);
    const fresh = await connectMany(s, 4);
    const again = await sessions(s);
    const freshWorkers = new Set(fresh.map((c) => again.find((x) => x.id === c.threadId)?.worker));
    expect([...freshWorkers].sort()).toEqual([0, 1]);
    // Ids stay unique across workers and incarnations.
    expect(new Set(again.map((x) => x.id)).size).toBe(again.length);
  }, 120_000);

  test("TLS: every worker presents the same certificate, a generated one included", async () => {
    const s = await serve({ tls: { enabled: true } });
    const conns: mysql.Connection[] = [];
    for (let i = 0; i < 4; i++)
      conns.push(await mysql.createConnection({ ...s.target, ssl: { rejectUnauthorized: false } }));
    cleanups.push(async () => {
      for (const c of conns) c.destroy();
    });
    const listed = await sessions(s);
    expect(new Set(listed.map((x) => x.worker)).size).toBe(2);
    const fingerprints = conns.map((c) => {
      const stream = (
        c as unknown as { connection: { stream: { getPeerCertificate?(): { fingerprint256: string } } } }
      ).connection.stream;
      return stream.getPeerCertificate?.().fingerprint256 ?? null;
    });
    expect(fingerprints[0]).toMatch(/^[0-9A-F:]+$/);
    expect(new Set(fingerprints).size).toBe(1);
  }, 60_000);

  test("with Redis down, a drain still reaches every worker: no new read goes to the drained replica", async () => {
    // Nothing listens on this port: the fleet's store is down from the start.
    const s = await serve({ redis: { url: `redis://127.0.0.1:${await freePort()}` } });
    const c = await sb.connect(sb.replicas[0]!);
    const [[row]] = (await c.query("SELECT @@server_id AS id")) as unknown as [{ id: number }[]];
    await c.end();
    const res = await fetch(`${s.admin}/backends/replica1/drain`, { method: "POST", headers });
    const body = (await res.json()) as { fleet: string };
    expect(res.status).toBe(200);
    expect(body.fleet).toMatch(/not shared/);
    const conns = await connectMany(s, 8);
    expect(new Set((await sessions(s)).map((x) => x.worker)).size).toBe(2);
    const seen = new Set<number>();
    for (let i = 0; i < 10; i++)
      for (const conn of conns) {
        const [rows] = await conn.query("SELECT @@server_id AS id");
        seen.add((rows as { id: number }[])[0]!.id);
      }
    expect(seen.has(row!.id)).toBe(false);
    expect(seen.size).toBeGreaterThan(0);
  }, 90_000);

  test("failover under load: writes resume, no acknowledged write lost or duplicated, reads never fail, every worker follows the new primary", async () => {
    const { failover: f, replication: r } = sb.credentials;
    const s = await serve({
      failover: {
        user: f.user,
        password: f.password,
        replication_user: r.user,
        replication_password: r.password,
        detect: "2s",
        hold_writes: "15s",
      },
    });
    const writes = new WriteLoad(s.target, 4).start();
    const reads = new ReadLoad(s.target, 4).start();
    await new Promise((r) => setTimeout(r, 1500));
    // The load's connections are spread over both workers.
    const byWorker = new Set((await sessions(s)).map((x) => x.worker));
    expect(byWorker.size).toBe(2);
    const killedAt = Date.now();
    process.kill(sb.primary.pid, "SIGKILL");
    const topology = await until(
      "a new primary",
      async () => {
        const b = await get<{ topology: { generation: number; primary: string } }>(s, "/backends");
        return b.topology.generation > 1 ? b.topology : null;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2000));
    await writes.stop();
    await reads.stop();
    const resumedAt = writes.resumedAfter(killedAt);
    expect(resumedAt).not.toBeNull();
    expect(resumedAt! - killedAt).toBeLessThan(8000);
    // Reads never fail; of the writes, at most those in flight when the primary died (one per writer).
    expect(reads.failures).toEqual([]);
    // A write in flight when the primary died cannot be answered (it may or may not have committed);
    // nothing after that fails: writes are held until the new primary serves.
    const late = writes.failures.filter((f) => f.at - killedAt > 1000);
    expect(late, JSON.stringify(writes.failures.map((f) => ({ ...f, at: f.at - killedAt })))).toEqual([]);
    expect(writes.failures.length).toBeLessThanOrEqual(4);
    const newPrimary = sb.replicas[topology.primary === "replica1" ? 0 : 1]!;
    const c = await sb.connect(newPrimary);
    const [rows] = await c.query("SELECT n, COUNT(*) AS k FROM app.ids GROUP BY n");
    await c.end();
    const count = new Map((rows as { n: number; k: number }[]).map((x) => [Number(x.n), Number(x.k)]));
    expect(writes.acked.filter((n) => !count.has(n))).toEqual([]);
    expect([...count].filter(([, k]) => k > 1)).toEqual([]);
    console.log(
      `workers failover: first write ${resumedAt! - killedAt} ms after the kill, ${writes.acked.length} acknowledged, ${writes.failures.length} failed in flight: ${JSON.stringify(writes.failures.map((f) => ({ ms: f.at - killedAt, message: f.message })))}`,
    );
  }, 150_000);
});
