import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BackendStatus } from "../../src/admin/status.js";
import { parsePrometheusText } from "../helpers/prom-parse.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Monitoring, the admin endpoints and replica failures, against a real cluster. The last tests
// kill servers, so this file owns its sandbox.

let sb: TestSandbox;
let proxy: TestApp;
let base: string;

async function backends(): Promise<BackendStatus[]> {
  const r = await fetch(`${base}/backends`);
  return ((await r.json()) as { backends: BackendStatus[] }).backends;
}

async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  ms: number,
): Promise<{ value: T; elapsed: number }> {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (ok(value)) return { value, elapsed: Date.now() - start };
    if (Date.now() - start > ms)
      throw new Error(`condition not met within ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  const cfg = testConfig(sb.primary, sb.replicas);
  cfg.admin = { listen: { host: "127.0.0.1", port: 0 }, enabled: true };
  proxy = await startApp(cfg);
  base = `http://127.0.0.1:${proxy.app.adminListen!.port}`;
  // The heartbeat table is created by the monitor's first writes: wait until replicas report it.
  await until(
    backends,
    (b) => b.every((x) => x.up && (x.role === "primary" || (x.eligible && x.lagSource === "heartbeat"))),
    15_000,
  );
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

describe("admin endpoints and replica health", () => {
  test("/healthz, /readyz and /backends describe a healthy cluster without secrets", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/backends`)).text();
    expect(text).not.toContain("app-pass");
    expect(text).not.toContain("monitor-pass");
    const b = JSON.parse(text).backends as BackendStatus[];
    expect(b.map((x) => x.role)).toEqual(["primary", "replica", "replica"]);
    for (const r of b.slice(1)) {
      expect(r).toMatchObject({ up: true, eligible: true, readOnly: true, lagSource: "heartbeat" });
      expect(r.lagMs).toBeLessThan(1000);
      // Replicating normally: the lag policy passes the measured lag on.
      expect(r.lagPolicy).toMatchObject({ ioLostSince: null, orphaned: false, effectiveLagMs: r.lagMs });
    }
    expect(b[0]!.lagPolicy).toBeNull();
  });

  test("/metrics is valid Prometheus text with rwsplit_ families", async () => {
    const c = await mysql.createConnection({
      host: proxy.host,
      port: proxy.port,
      user: "app",
      password: "app-pass",
    });
    for (let i = 0; i < 20; i++) await c.query("SELECT 1");
    await c.end();
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const families = parsePrometheusText(await res.text());
    for (const f of [
      "rwsplit_queries_total",
      "rwsplit_query_duration_seconds",
      "rwsplit_backend_up",
      "rwsplit_replica_lag_seconds",
    ]) {
      expect(families.has(f), f).toBe(true);
    }
    const q = families.get("rwsplit_queries_total")!;
    const replicaReads = q.samples
      .filter((s) => s.labels.route === "replica")
      .reduce((n, s) => n + s.value, 0);
    expect(replicaReads).toBeGreaterThanOrEqual(20);
    // Bytes per backend and direction: the replicas got 20 COM_QUERYs ("SELECT 1": 13 bytes each)
    // and answered each with a result set.
    const bytes = families.get("rwsplit_bytes_total")!.samples;
    const on = (direction: string) =>
      bytes
        .filter((s) => s.labels.direction === direction && s.labels.backend !== "primary")
        .reduce((n, s) => n + s.value, 0);
    expect(on("in")).toBeGreaterThanOrEqual(20 * 13);
    expect(on("out")).toBeGreaterThan(on("in"));
    expect(new Set(bytes.map((s) => s.labels.backend)).size).toBe(3);
  });

  test("STOP SLAVE on a replica excludes it within 1 s, START SLAVE brings it back", async () => {
    const r1 = sb.replicas[0]!;
    const c = await sb.connect(r1);
    await c.query("STOP SLAVE");
    const { elapsed, value } = await until(backends, (b) => b[1]!.eligible === false, 3000);
    expect(elapsed).toBeLessThan(1000);
    expect(value[1]!.reason).toMatch(/lag unknown|replication/);
    // Its reads moved to the other replica.
    const app = await mysql.createConnection({
      host: proxy.host,
      port: proxy.port,
      user: "app",
      password: "app-pass",
    });
    const [r] = await app.query("SELECT @@port AS port");
    expect((r as { port: number }[])[0]!.port).toBe(sb.replicas[1]!.port);
    await app.end();
    await c.query("START SLAVE");
    await c.end();
    await until(backends, (b) => b[1]!.eligible === true, 10_000);
  });

  test("killing a replica under read load gives clients zero errors", async () => {
    const clients = await Promise.all(
      Array.from({ length: 4 }, () =>
        mysql.createConnection({ host: proxy.host, port: proxy.port, user: "app", password: "app-pass" }),
      ),
    );
    let errors = 0;
    let reads = 0;
    let stop = false;
    const loops = clients.map(async (c) => {
      while (!stop) {
        try {
          await c.query("SELECT COUNT(*) FROM information_schema.COLLATIONS");
          reads++;
        } catch {
          errors++;
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    process.kill(sb.replicas[1]!.pid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(loops);
    await Promise.all(clients.map((c) => c.end()));
    expect(reads).toBeGreaterThan(100);
    expect(errors).toBe(0);
  });

  test("all replicas unavailable: reads are served by the primary and /backends says why", async () => {
    const c = await sb.connect(sb.replicas[0]!);
    await c.query("STOP SLAVE");
    await c.end();
    const { value } = await until(backends, (b) => b.slice(1).every((x) => !x.eligible), 3000);
    expect(value[1]!.reason).toBeTruthy();
    expect(value[2]!.reason).toMatch(/down/);
    const app = await mysql.createConnection({
      host: proxy.host,
      port: proxy.port,
      user: "app",
      password: "app-pass",
    });
    const [r] = await app.query("SELECT @@port AS port");
    expect((r as { port: number }[])[0]!.port).toBe(sb.primary.port);
    await app.end();
  });

  test("/readyz turns 503 within 2 s of the primary going away", async () => {
    process.kill(sb.primary.pid, "SIGKILL");
    const { elapsed } = await until(
      () => fetch(`${base}/readyz`).then((r) => r.status),
      (s) => s === 503,
      5000,
    );
    expect(elapsed).toBeLessThan(2000);
  });
});
