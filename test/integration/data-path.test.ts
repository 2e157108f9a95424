import { Readable } from "node:stream";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Command } from "../../src/protocol/constants/commands.js";
import { startProxy, type TestProxy, testConfig } from "../helpers/proxy.js";
import { RawClient } from "../helpers/raw-client.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// The data path against a real MariaDB primary: every statement goes to the primary here; the
// read/write split has its own tests.

let sandbox: TestSandbox;
let proxy: TestProxy;

const app = { user: "app", password: "app-pass" };

function viaProxy(extra: mysql.ConnectionOptions = {}) {
  return mysql.createConnection({ host: proxy.host, port: proxy.port, ...app, database: "app", ...extra });
}

function direct(extra: mysql.ConnectionOptions = {}) {
  const p = sandbox.primary;
  return mysql.createConnection({ host: p.host, port: p.port, ...app, database: "app", ...extra });
}

beforeAll(async () => {
  sandbox = await startSandbox({ replicas: 1 });
  proxy = await startProxy(testConfig(sandbox.primary, sandbox.replicas ?? []));
  const c = await direct();
  await c.query("CREATE DATABASE IF NOT EXISTS other_db");
  await c.query("CREATE TABLE IF NOT EXISTS other_db.marker (id INT PRIMARY KEY)");
  await c.query("REPLACE INTO other_db.marker VALUES (42)");
  await c.query(
    "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64), qty INT, price DECIMAL(10,2), note TEXT, made DATETIME(6), data BLOB) DEFAULT CHARSET=utf8mb4",
  );
  await c.end();
});

afterAll(async () => {
  await proxy?.close();
  await sandbox?.down();
});

/** Runs the same statements on both connections and returns raw (undecoded) results. */
async function rawResults(conn: mysql.Connection, statements: string[], prepared: boolean) {
  const out: unknown[] = [];
  for (const sql of statements) {
    // Text results undecoded (typeCast: false gives each field's bytes); binary results decoded
    // (mysql2 has no raw mode for them), which still compares every value and type.
    const [rows] = prepared
      ? await conn.execute({ sql, rowsAsArray: true })
      : await conn.query({ sql, rowsAsArray: true, typeCast: false });
    out.push(JSON.stringify(rows));
  }
  return out;
}

describe("mysql2 through the proxy", () => {
  test("1000 text statements give the same bytes as direct", async () => {
    const c = await viaProxy();
    for (let i = 0; i < 200; i++) {
      await c.query("INSERT INTO items (name, qty, price, note, made, data) VALUES (?, ?, ?, ?, ?, ?)", [
        `item-${i}`,
        i,
        i * 1.25,
        i % 7 === 0 ? null : "ünïcødé ✓ 😀".repeat(i % 5),
        new Date(1_700_000_000_000 + i * 1000),
        Buffer.from([i & 0xff, 0, 0xfe, 0xff]),
      ]);
    }
    const statements: string[] = [];
    for (let i = 0; i < 1000; i++) {
      statements.push(
        i % 4 === 0
          ? `SELECT * FROM items WHERE id = ${(i % 200) + 1}`
          : i % 4 === 1
            ? `SELECT id, name, note FROM items WHERE qty < ${i % 200} ORDER BY id`
            : i % 4 === 2
              ? `SELECT COUNT(*), SUM(price), MAX(made) FROM items`
              : `SELECT ${i} AS n, NULL AS z, 'x' AS s`,
      );
    }
    const d = await direct();
    const [a, b] = [await rawResults(c, statements, false), await rawResults(d, statements, false)];
    expect(a).toEqual(b);
    await c.end();
    await d.end();
  });

  test("1000 prepared statements (execute) give the same bytes as direct", async () => {
    const c = await viaProxy();
    const d = await direct();
    const stmts: string[] = [];
    for (let i = 0; i < 1000; i++)
      stmts.push(`SELECT id, name, price, made, data FROM items WHERE id <= ${(i % 50) + 1}`);
    expect(await rawResults(c, stmts, true)).toEqual(await rawResults(d, stmts, true));
    // Parameters, many times over the same statement.
    for (let i = 1; i <= 100; i++) {
      const [rows] = await c.execute("SELECT name, qty FROM items WHERE id = ?", [i]);
      expect(rows).toEqual([{ name: `item-${i - 1}`, qty: i - 1 }]);
    }
    await c.end();
    await d.end();
  });

  test("syntax errors keep their code and SQLSTATE; the session goes on", async () => {
    const c = await viaProxy();
    await expect(c.query("SELEKT 1")).rejects.toMatchObject({ errno: 1064, sqlState: "42000" });
    await expect(c.query("SELECT * FROM no_such_table")).rejects.toMatchObject({ errno: 1146 });
    const [rows] = await c.query("SELECT 1 AS ok");
    expect(rows).toEqual([{ ok: 1 }]);
    await c.end();
  });

  test("USE, SET NAMES and sql_mode travel with the session across pooled connections", async () => {
    const a = await viaProxy();
    const b = await viaProxy();
    await a.query("USE other_db");
    await a.query("SET NAMES utf8mb4");
    await a.query("SET sql_mode = 'ANSI_QUOTES'");
    await b.query("SET sql_mode = ''");
    for (let i = 0; i < 20; i++) {
      const [ra] = await a.query("SELECT DATABASE() AS db, @@sql_mode AS m, (SELECT id FROM marker) AS k");
      expect(ra).toEqual([{ db: "other_db", m: "ANSI_QUOTES", k: 42 }]);
      const [rb] = await b.query("SELECT DATABASE() AS db, @@sql_mode AS m");
      expect(rb).toEqual([{ db: "app", m: "" }]);
    }
    await a.end();
    await b.end();
  });

  test("multi-statements and multiple result sets", async () => {
    const c = await viaProxy({ multipleStatements: true });
    const [results] = await c.query(
      "SELECT 1 AS a; SELECT 2 AS b; UPDATE items SET qty = qty WHERE id = 1; SELECT 3 AS c",
    );
    const r = results as unknown[];
    expect(r[0]).toEqual([{ a: 1 }]);
    expect(r[1]).toEqual([{ b: 2 }]);
    expect(r[3]).toEqual([{ c: 3 }]);
    await c.query("CREATE PROCEDURE IF NOT EXISTS two_sets() BEGIN SELECT 1 AS x; SELECT 2 AS y; END");
    const [p] = await c.query("CALL two_sets()");
    expect((p as unknown[])[0]).toEqual([{ x: 1 }]);
    expect((p as unknown[])[1]).toEqual([{ y: 2 }]);
    await c.end();
  });

  test("transactions stay on one connection: rollback and read-your-own-uncommitted-writes", async () => {
    const c = await viaProxy();
    await c.query("CREATE TABLE IF NOT EXISTS tx (id INT PRIMARY KEY)");
    await c.beginTransaction();
    await c.query("INSERT INTO tx VALUES (1)");
    const [inside] = await c.query("SELECT COUNT(*) AS n FROM tx");
    expect(inside).toEqual([{ n: 1 }]);
    await c.rollback();
    const [after] = await c.query("SELECT COUNT(*) AS n FROM tx");
    expect(after).toEqual([{ n: 0 }]);
    await c.query("SET autocommit = 0");
    await c.query("INSERT INTO tx VALUES (2)");
    const [seen] = await c.query("SELECT COUNT(*) AS n FROM tx");
    expect(seen).toEqual([{ n: 1 }]);
    await c.query("COMMIT");
    await c.query("SET autocommit = 1");
    await c.end();
  });

  test("LAST_INSERT_ID, temporary tables, user variables and GET_LOCK keep working", async () => {
    const c = await viaProxy();
    const [ins] = await c.query("INSERT INTO items (name) VALUES ('lid')");
    const id = (ins as mysql.ResultSetHeader).insertId;
    const [lid] = await c.query("SELECT LAST_INSERT_ID() AS id");
    expect(lid).toEqual([{ id }]);
    await c.query("CREATE TEMPORARY TABLE tmp1 (x INT)");
    await c.query("INSERT INTO tmp1 VALUES (7)");
    const [t] = await c.query("SELECT x FROM tmp1");
    expect(t).toEqual([{ x: 7 }]);
    await c.query("SET @v := 99");
    const [v] = await c.query("SELECT @v AS v");
    expect(v).toEqual([{ v: 99 }]);
    const [l] = await c.query("SELECT GET_LOCK('rw', 1) AS g");
    expect(l).toEqual([{ g: 1 }]);
    const [r] = await c.query("SELECT RELEASE_LOCK('rw') AS r");
    expect(r).toEqual([{ r: 1 }]);
    await c.end();
  });

  test("ping, change user and an unknown command", async () => {
    const c = await viaProxy();
    await c.ping();
    await c.changeUser({ user: "app", password: "app-pass", database: "other_db" });
    const [rows] = await c.query("SELECT DATABASE() AS db");
    expect(rows).toEqual([{ db: "other_db" }]);
    await c.end();

    const { client, result } = await RawClient.login(proxy.host, proxy.port, "app", "app-pass");
    expect(result.payload[0]).toBe(0x00);
    const reply = await client.command(Buffer.from([Command.PROCESS_INFO]));
    expect(RawClient.err(reply)).toMatchObject({ errno: 1047, sqlState: "08S01" });
    const pong = await client.command(Buffer.from([Command.PING]));
    expect(pong.payload[0]).toBe(0x00);
    client.close();
  });

  test("wrong password is ERR 1045 / 28000", async () => {
    await expect(viaProxy({ password: "nope" })).rejects.toMatchObject({ errno: 1045, sqlState: "28000" });
    await expect(viaProxy({ user: "nobody" })).rejects.toMatchObject({ errno: 1045 });
  });

  test("a 64 MiB BLOB goes in and comes back intact", async () => {
    const c = await viaProxy();
    await c.query("CREATE TABLE IF NOT EXISTS big (id INT PRIMARY KEY, b LONGBLOB)");
    const blob = Buffer.alloc(64 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4096) blob.writeUInt32LE(i, i);
    await c.query("REPLACE INTO big VALUES (1, ?)", [blob]);
    const [rows] = await c.query("SELECT b FROM big WHERE id = 1");
    const got = (rows as { b: Buffer }[])[0]!.b;
    expect(got.length).toBe(blob.length);
    expect(got.equals(blob)).toBe(true);
    const [prepared] = await c.execute("SELECT b FROM big WHERE id = ?", [1]);
    expect((prepared as { b: Buffer }[])[0]!.b.equals(blob)).toBe(true);
    await c.end();
  });

  test("LOAD DATA LOCAL INFILE of 100k rows", async () => {
    const c = await viaProxy({
      infileStreamFactory: () => {
        let i = 0;
        return new Readable({
          read() {
            const lines: string[] = [];
            for (let k = 0; k < 5000 && i < 100_000; k++, i++) lines.push(`${i}\tname-${i}`);
            this.push(lines.length ? `${lines.join("\n")}\n` : null);
          },
        });
      },
    } as mysql.ConnectionOptions);
    await c.query("CREATE TABLE IF NOT EXISTS loaded (id INT PRIMARY KEY, name VARCHAR(32))");
    const [res] = await c.query("LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE loaded");
    expect((res as mysql.ResultSetHeader).affectedRows).toBe(100_000);
    const [n] = await c.query("SELECT COUNT(*) AS n FROM loaded");
    expect(n).toEqual([{ n: 100_000 }]);
    await c.end();
  });

  test("1000 concurrent clients, then the pool returns to its limits", async () => {
    const clients = await Promise.all(Array.from({ length: 1000 }, () => viaProxy()));
    const results = await Promise.all(clients.map((c, i) => c.query(`SELECT ${i} AS i`)));
    results.forEach(([rows], i) => {
      expect(rows).toEqual([{ i }]);
    });
    const stats = proxy.server.upstreams.primary.stats();
    expect(stats.open).toBeLessThanOrEqual(stats.max);
    await Promise.all(clients.map((c) => c.end()));
    for (let i = 0; i < 200 && proxy.server.clientCount > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(proxy.server.sessionsInfo()).toEqual([]);
    const after = proxy.server.upstreams.primary.stats();
    expect(after.busy).toBe(0);
    expect(after.waiting).toBe(0);
    expect(after.open).toBeLessThanOrEqual(after.max);
  });

  test("too many client connections is ERR 1040", async () => {
    const small = await startProxy(
      testConfig(sandbox.primary, [], {
        limits: { maxClientConnections: 2, maxAllowedPacket: 1 << 30, relayStallWarnMs: 5000 },
      }),
    );
    const opts = { host: small.host, port: small.port, ...app };
    const a = await mysql.createConnection(opts);
    const b = await mysql.createConnection(opts);
    await expect(mysql.createConnection(opts)).rejects.toMatchObject({ errno: 1040 });
    await a.end();
    await b.end();
    await small.close();
  });

  test("a 1 GiB result set streams through a slow client with bounded memory", async () => {
    const { client, result } = await RawClient.login(proxy.host, proxy.port, "app", "app-pass", "app");
    expect(result.payload[0]).toBe(0x00);
    // 1,048,576 rows of 1 KiB from MariaDB's sequence engine: no table storage needed.
    const sql = "SELECT REPEAT('x', 1024) FROM seq_1_to_1048576";
    const before = process.memoryUsage().rss;
    let received = 0;
    let peak = 0;
    const done = new Promise<void>((resolve) => {
      client.socket.removeAllListeners("data");
      client.socket.on("data", (chunk: Buffer) => {
        received += chunk.length;
        // A slow reader: pause for 2 ms every 4 MiB.
        if (received % (4 << 20) < chunk.length) {
          client.socket.pause();
          peak = Math.max(peak, process.memoryUsage().rss - before);
          setTimeout(() => client.socket.resume(), 2);
        }
        // Each row is 4 (header) + 3 (length 0xFC xx xx) + 1024 bytes; metadata and EOF come on top.
        if (received > 1_048_576 * 1031) resolve();
      });
    });
    client.send(0, Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql)]));
    await done;
    expect(received).toBeGreaterThan(1 << 30);
    // The proxy relays as it reads: growth stays far below the result's size.
    expect(peak).toBeLessThan(256 << 20);
    client.close();
  }, 240_000);

  test("pooled connections the server closed on wait_timeout never reach the next client (mysqljs #1816)", async () => {
    // A proxy of its own, started first: it learns the server's default wait_timeout (8 h) for its
    // clients. Its backend connections, opened after the change, get wait_timeout = 1 s, and it
    // never pings before reuse within the test (ping_after_idle 60 s): only close detection helps.
    const own = await startProxy({
      ...testConfig(sandbox.primary, []),
      pool: { ...testConfig(sandbox.primary, []).pool, pingAfterIdleMs: 60_000 },
    });
    const root = await sandbox.connect(sandbox.primary);
    await root.query("SET GLOBAL wait_timeout = 1");
    try {
      const c = await mysql.createConnection({ host: own.host, port: own.port, ...app, database: "app" });
      await Promise.all([1, 2, 3].map(() => c.query("SELECT 1")));
      await new Promise((r) => setTimeout(r, 2500));
      // The server closed every idle backend connection meanwhile; the client sees nothing of it.
      for (let i = 0; i < 5; i++) {
        const [rows] = await c.query("SELECT 2 AS two");
        expect(rows).toEqual([{ two: 2 }]);
      }
      await c.end();
    } finally {
      await root.query("SET GLOBAL wait_timeout = 28800");
      await root.end();
      await own.close();
    }
  });

  test("a backend connection killed mid-query gives the client an error, not a hang", async () => {
    const c = await viaProxy();
    // On the primary: a read on a replica would be retried elsewhere (that has its own test).
    const running = c.query("/* rwsplit: route=primary */ SELECT SLEEP(30)").then(
      () => null,
      (e: { errno?: number; code?: string }) => e,
    );
    const root = await sandbox.connect(sandbox.primary);
    let killed = false;
    for (let i = 0; i < 50 && !killed; i++) {
      const [rows] = await root.query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SELECT SLEEP(30)' AND USER = 'app'",
      );
      const id = (rows as { ID: number }[])[0]?.ID;
      if (id !== undefined) {
        await root.query(`KILL CONNECTION ${id}`);
        killed = true;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    expect(killed).toBe(true);
    const started = Date.now();
    const err = await running;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).not.toBeNull();
    await root.end();
    // The proxy keeps serving.
    const again = await viaProxy();
    const [rows] = await again.query("SELECT 1 AS ok");
    expect(rows).toEqual([{ ok: 1 }]);
    await again.end();
    c.destroy();
  });
});
