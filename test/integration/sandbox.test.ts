import { existsSync } from "node:fs";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { sandboxStatus, sandboxUp } from "../../src/sandbox/cluster.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

let sb: TestSandbox;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
});

afterAll(async () => {
  await sb?.down();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("sandbox", () => {
  test("a row written on the primary is read back on each replica", async () => {
    const app = sb.credentials.app;
    const p = await mysql.createConnection({
      host: sb.primary.host,
      port: sb.primary.port,
      user: app.user,
      password: app.password,
      database: "app",
    });
    await p.query("CREATE TABLE rep (id INT PRIMARY KEY, v VARCHAR(10))");
    await p.query("INSERT INTO rep VALUES (1, 'hello')");
    await p.end();
    await sb.waitForReplicas();
    for (const r of sb.replicas) {
      const c = await mysql.createConnection({
        host: r.host,
        port: r.port,
        user: app.user,
        password: app.password,
        database: "app",
      });
      const [rows] = await c.query("SELECT v FROM rep WHERE id = 1");
      expect(rows).toEqual([{ v: "hello" }]);
      await c.end();
    }
  });

  test("a write on a replica is refused (read_only, 1290)", async () => {
    const app = sb.credentials.app;
    const r = sb.replicas[0]!;
    const c = await mysql.createConnection({
      host: r.host,
      port: r.port,
      user: app.user,
      password: app.password,
      database: "app",
    });
    await expect(c.query("INSERT INTO rep VALUES (2, 'no')")).rejects.toMatchObject({ errno: 1290 });
    await c.end();
  });

  test("semi-synchronous replication is on and every node logs binlogs with its own server_id", async () => {
    const p = await sb.connect(sb.primary);
    const [st] = await p.query("SHOW STATUS LIKE 'Rpl_semi_sync_master_status'");
    expect((st as { Value: string }[])[0]!.Value).toBe("ON");
    const [clients] = await p.query("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'");
    expect(Number((clients as { Value: string }[])[0]!.Value)).toBe(2);
    await p.end();
    const ids = new Set<number>();
    for (const n of [sb.primary, ...sb.replicas]) {
      const c = await sb.connect(n);
      const [v] = await c.query(
        "SELECT @@server_id AS id, @@log_bin AS lb, @@log_slave_updates AS lsu, @@binlog_format AS bf",
      );
      const row = (v as { id: number; lb: number; lsu: number; bf: string }[])[0]!;
      expect(row).toMatchObject({ lb: 1, lsu: 1, bf: "ROW" });
      ids.add(row.id);
      await c.end();
    }
    expect(ids.size).toBe(3);
  });

  test("status shows both replication threads running", async () => {
    const rows = await sandboxStatus(sb.dir);
    expect(rows.map((r) => r.role)).toEqual(["primary", "replica", "replica"]);
    for (const r of rows.slice(1)) {
      expect(r).toMatchObject({ alive: true, readOnly: true, ioRunning: "Yes", sqlRunning: "Yes" });
    }
    expect(rows[0]).toMatchObject({ alive: true, readOnly: false });
  });

  test("a second up on a running sandbox reports it instead of breaking it", async () => {
    const again = await sandboxUp({ dir: sb.dir });
    expect(again.primary.pid).toBe(sb.primary.pid);
    expect(alive(sb.primary.pid)).toBe(true);
  });

  test("down leaves no process and no directory", async () => {
    const pids = [sb.primary, ...sb.replicas].map((n) => n.pid);
    await sb.down();
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(existsSync(sb.dir)).toBe(false);
  });
});
