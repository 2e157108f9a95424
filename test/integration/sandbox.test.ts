import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { formatStatus, sandboxStatus, sandboxUp } from "../../src/sandbox/cluster.js";
import {
  connect,
  startReplication,
  startSandbox,
  stopReplication,
  type TestSandbox,
  waitForReplicas,
} from "../helpers/sandbox.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function value(node: { host: string; port: number }, sql: string): Promise<unknown> {
  const c = await connect(node);
  try {
    const [rows] = await c.query(sql);
    return Object.values((rows as Record<string, unknown>[])[0] ?? {})[0];
  } finally {
    await c.end();
  }
}

describe("sandbox: primary + 2 replicas", () => {
  let sb: TestSandbox;

  beforeAll(async () => {
    sb = await startSandbox({ replicas: 2 });
  });

  afterAll(async () => {
    await sb?.down();
  });

  test("a row written on the primary (as app) is read back on each replica", async () => {
    const p = await sb.connect(sb.primary, "app", "app");
    await p.query("CREATE TABLE rep (id INT PRIMARY KEY, v VARCHAR(10))");
    await p.query("INSERT INTO rep VALUES (1, 'hello')");
    await p.end();
    await sb.waitForReplicas();
    for (const r of sb.replicas) {
      const c = await sb.connect(r, "app", "app");
      const [rows] = await c.query("SELECT v FROM rep WHERE id = 1");
      expect(rows).toEqual([{ v: "hello" }]);
      await c.end();
    }
  });

  test("a write on a replica as app is refused by read_only (1290)", async () => {
    const c = await sb.connect(sb.replicas[0]!, "app", "app");
    await expect(c.query("INSERT INTO rep VALUES (2, 'no')")).rejects.toMatchObject({ errno: 1290 });
    await c.end();
  });

  test("semi-sync is on with both replicas, every node binlogs ROW with its own server_id", async () => {
    const c = await connect(sb.primary);
    const [st] = await c.query(
      "SHOW STATUS WHERE Variable_name IN ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients')",
    );
    await c.end();
    const status = Object.fromEntries(
      (st as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]),
    );
    expect(status).toEqual({ Rpl_semi_sync_master_status: "ON", Rpl_semi_sync_master_clients: "2" });
    const ids = new Set<unknown>();
    for (const n of [sb.primary, ...sb.replicas]) {
      const v = await connect(n);
      const [rows] = await v.query(
        "SELECT @@server_id AS id, @@log_bin AS lb, @@log_slave_updates AS lsu, @@binlog_format AS bf, @@gtid_strict_mode AS strict",
      );
      await v.end();
      const row = (rows as Record<string, unknown>[])[0];
      expect(row).toMatchObject({ lb: 1, lsu: 1, bf: "ROW", strict: 1 });
      ids.add(row?.id);
    }
    expect(ids.size).toBe(3);
  });

  test("status shows both replication threads running on each replica", async () => {
    const rows = await sandboxStatus(sb.dir);
    expect(rows.map((r) => [r.name, r.role])).toEqual([
      ["primary", "primary"],
      ["replica1", "replica"],
      ["replica2", "replica"],
    ]);
    expect(rows[0]).toMatchObject({ alive: true, readOnly: false, ioRunning: null });
    for (const r of rows.slice(1)) {
      expect(r).toMatchObject({
        alive: true,
        readOnly: true,
        ioRunning: "Yes",
        sqlRunning: "Yes",
        error: null,
      });
      expect(r.gtidSlavePos).toBe(rows[0]?.gtidCurrentPos);
    }
    expect(formatStatus(rows[1]!)).toMatch(/^replica1 .* io=Yes sql=Yes /);
  });

  test("stopReplication lets a replica fall behind; startReplication catches it up", async () => {
    const r = sb.replicas[1]!;
    await stopReplication(r);
    const p = await sb.connect(sb.primary, "app", "app");
    await p.query("INSERT INTO rep VALUES (3, 'later')");
    await p.end();
    expect(await value(r, "SELECT COUNT(*) FROM app.rep WHERE id = 3")).toBe(0);
    await startReplication(r);
    await waitForReplicas(sb);
    expect(await value(r, "SELECT COUNT(*) FROM app.rep WHERE id = 3")).toBe(1);
  });

  test("a second up on the running sandbox reports it and leaves it alone", async () => {
    const lines: string[] = [];
    const again = await sandboxUp({ dir: sb.dir, log: (l) => lines.push(l) });
    expect(lines.join("\n")).toMatch(/already running/);
    expect([again.primary, ...again.replicas].map((n) => n.pid)).toEqual(
      [sb.primary, ...sb.replicas].map((n) => n.pid),
    );
    expect(await value(sb.replicas[0]!, "SELECT COUNT(*) FROM app.rep")).toBe(2);
  });

  test("down leaves no process and no directory", async () => {
    const pids = [sb.primary, ...sb.replicas].map((n) => n.pid);
    await sb.down();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(sb.dir)).toBe(false);
  });
});

test("up over a stale dir starts anew; `await using` disposes the sandbox", async () => {
  let dir = "";
  let pids: number[] = [];
  {
    await using sb = await startSandbox({ replicas: 1 });
    dir = sb.dir;
    // Simulate a crash: the processes die, the state file stays.
    for (const n of [sb.primary, ...sb.replicas]) process.kill(n.pid, "SIGKILL");
    while ([sb.primary, ...sb.replicas].some((n) => alive(n.pid)))
      await new Promise((r) => setTimeout(r, 50));
    const fresh = await sandboxUp({ dir, ports: [sb.primary.port, sb.replicas[0]!.port], replicas: 1 });
    pids = [fresh.primary, ...fresh.replicas].map((n) => n.pid);
    expect(pids).not.toContain(sb.primary.pid);
    expect(await value(fresh.replicas[0]!, "SELECT @@read_only")).toBe(1);
  }
  for (const pid of pids) expect(alive(pid)).toBe(false);
  expect(existsSync(dir)).toBe(false);
});
