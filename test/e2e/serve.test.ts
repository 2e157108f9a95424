import { type ChildProcess, execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, expect, test } from "vitest";
import { freePort, startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// `rwsplit serve` as an operator runs it: the built CLI, flags only, SIGTERM drains.

const run = promisify(execFile);
let sb: TestSandbox;
let proc: ChildProcess | null = null;

beforeAll(async () => {
  await run("npm", ["run", "build", "--silent"], { timeout: 120_000 });
  sb = await startSandbox({ replicas: 1 });
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await new Promise((r) => proc!.once("exit", r));
  }
  await sb?.down();
});

test("serve with flags answers clients and /healthz, and SIGTERM lets a running statement finish, then exits 0", async () => {
  const port = await freePort();
  const admin = await freePort();
  proc = spawn(
    process.execPath,
    [
      "bin/rwsplit.js",
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--admin",
      `127.0.0.1:${admin}`,
      "--primary",
      `${sb.primary.host}:${sb.primary.port}`,
      "--replica",
      `${sb.replicas[0]!.host}:${sb.replicas[0]!.port}`,
      "--user",
      "app:app-pass",
      "--monitor-user",
      "monitor:monitor-pass",
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((r) => proc!.once("exit", (code) => r(code)));
  let c: mysql.Connection | null = null;
  for (let i = 0; i < 100 && c === null; i++) {
    c = await mysql
      .createConnection({ host: "127.0.0.1", port, user: "app", password: "app-pass" })
      .catch(() => null);
    if (c === null) await new Promise((r) => setTimeout(r, 100));
  }
  expect(c, stderr).not.toBeNull();
  const [rows] = await c!.query("SELECT 1 AS one");
  expect(rows).toEqual([{ one: 1 }]);
  const health = await fetch(`http://127.0.0.1:${admin}/healthz`);
  expect(health.status).toBe(200);
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  expect(metrics).toMatch(/^rwsplit_queries_total\{.*\} [1-9]/m);
  expect(metrics).toMatch(/^# TYPE rwsplit_replica_writes_blocked_total counter$/m);
  expect(metrics).not.toMatch(/^rwsplit_replica_writes_blocked_total\{.*\} [1-9]/m);
  // young_generation: fixed (the default): a burst of sessions leaves V8's young generation at
  // its start size (with `elastic` it doubles under such a burst, up to 32 MB).
  const burst = async () => {
    const b = await mysql.createConnection({ host: "127.0.0.1", port, user: "app", password: "app-pass" });
    for (let i = 0; i < 20; i++) await b.query("SELECT ? AS n, REPEAT('x', 200) AS pad", [i]);
    await b.end();
  };
  for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 50 }, burst));
  const after = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const young = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(after)?.[1]);
  expect(young).toBeGreaterThan(0);
  expect(young).toBeLessThanOrEqual(2 * 1024 * 1024);
  const slow = c!.query("/* rwsplit: route=primary */ SELECT SLEEP(1.5) AS s");
  await new Promise((r) => setTimeout(r, 300));
  proc.kill("SIGTERM");
  const [done] = await slow;
  expect(done).toEqual([{ s: 0 }]);
  expect(await exited).toBe(0);
  // No longer accepting.
  await expect(
    mysql.createConnection({ host: "127.0.0.1", port, user: "app", password: "app-pass" }),
  ).rejects.toThrow();
  c!.destroy();
});

test("a bad config names the key and exits 2", async () => {
  const r = await run(process.execPath, [
    "bin/rwsplit.js",
    "serve",
    "--primary",
    "nowhere",
    "--user",
    "a:b",
  ]).catch((e: { code: number; stderr: string }) => e);
  expect((r as { code: number }).code).toBe(2);
  expect((r as { stderr: string }).stderr).toMatch(/backends\.primary/);
});
