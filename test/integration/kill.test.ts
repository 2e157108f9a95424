import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Command } from "../../src/protocol/constants/commands.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { RawClient } from "../helpers/raw-client.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// KILL through rwsplit names rwsplit's connection ids (the handshake's: mysql2's conn.threadId),
// never a backend's thread: the number is not forwarded. Primary + one replica, monitor running.

let sb: TestSandbox;
let proxy: TestApp;

const APP = { user: "app", password: "app-pass" };
const APP2 = { user: "app2", password: "app2-pass" };

const connect = (who = APP) =>
  mysql.createConnection({ host: proxy.host, port: proxy.port, ...who, database: "app" });

type SqlError = { errno?: number; sqlState?: string; code?: string; message: string };

/** Resolves to the error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<SqlError> {
  try {
    await p;
  } catch (e) {
    return e as SqlError;
  }
  throw new Error("expected the statement to fail");
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Backend threads (on any node) running `info`, as root sees them in the processlist. */
async function threadsRunning(info: string): Promise<{ node: string; id: number }[]> {
  const out: { node: string; id: number }[] = [];
  for (const node of [sb.primary, ...sb.replicas]) {
    const c = await sb.connect(node);
    const [rows] = await c.query("SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO = ?", [
      info,
    ]);
    for (const r of rows as { id: number }[]) out.push({ node: `${node.port}`, id: r.id });
    await c.end();
  }
  return out;
}

/** Waits until some backend runs `info` (the statement reached a server). */
async function untilRunning(info: string): Promise<{ node: string; id: number }> {
  for (let i = 0; i < 100; i++) {
    const t = await threadsRunning(info);
    if (t.length > 0) return t[0]!;
    await pause(50);
  }
  throw new Error(`no backend ever ran ${info}`);
}

async function threadExists(node: { host: string; port: number }, id: number): Promise<boolean> {
  const c = await sb.connect(node);
  const [rows] = await c.query("SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?", [id]);
  await c.end();
  return (rows as unknown[]).length === 1;
}

/** Waits until the monitor serves reads from the replica (else reads fall back to the primary). */
async function replicaServing(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const obs = [...proxy.app.observations().values()].filter((o) => o.role === "replica");
    if (obs.length === 1 && obs.every((o) => o.up && o.lagMs !== null && o.lagMs < 1000)) return;
    await pause(100);
  }
  throw new Error("the replica never looked fresh to the monitor");
}

function liveSessionIds(): Set<number> {
  return new Set(proxy.server.sessionsInfo().map((s) => s.id as number));
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 1 });
  const root = await sb.connect(sb.primary);
  await root.query(`CREATE USER '${APP2.user}'@'%' IDENTIFIED BY '${APP2.password}'`);
  await root.query(`GRANT SELECT ON *.* TO '${APP2.user}'@'%'`);
  await root.query("CREATE TABLE app.kill_probe (id INT PRIMARY KEY)");
  await root.end();
  await sb.waitForReplicas();
  proxy = await startApp(
    testConfig(sb.primary, sb.replicas, {
      users: [
        { name: APP.user, password: APP.password },
        { name: APP2.user, password: APP2.password },
      ],
    }),
  );
  await replicaServing();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

describe("KILL QUERY <rwsplit connection id>", () => {
  test.each([
    ["a read, on the replica", "SELECT SLEEP(20) AS kq1", "replica"],
    ["a locking read, on the primary", "SELECT SLEEP(20) AS kq2 FOR UPDATE", "primary"],
  ])("stops %s with the server's 1317; both connections stay usable", async (_name, sql, where) => {
    const a = await connect();
    const b = await connect();
    const running = failure(a.query(sql));
    const backend = await untilRunning(sql);
    // KILL QUERY goes to the backend that runs the statement.
    expect(backend.node).toBe(String(where === "primary" ? sb.primary.port : sb.replicas[0]!.port));
    const started = Date.now();
    const [ok] = await b.query(`KILL QUERY ${a.threadId}`);
    expect((ok as { affectedRows: number }).affectedRows).toBe(0);
    const err = await running;
    expect(err.errno).toBe(1317);
    expect(err.sqlState).toBe("70100");
    expect(Date.now() - started).toBeLessThan(2000);
    const [rows] = await a.query("SELECT 1 AS one");
    expect(rows).toEqual([{ one: 1 }]);
    const [rows2] = await b.query("SELECT 2 AS two");
    expect(rows2).toEqual([{ two: 2 }]);
    expect(await threadsRunning(sql)).toEqual([]);
    await a.end();
    await b.end();
  });

  test("inside a transaction: the statement stops, the transaction goes on", async () => {
    const a = await connect();
    const b = await connect();
    await a.query("BEGIN");
    const running = failure(a.query("SELECT SLEEP(20) AS kq3"));
    const backend = await untilRunning("SELECT SLEEP(20) AS kq3");
    expect(backend.node).toBe(String(sb.primary.port));
    await b.query(`KILL QUERY ${a.threadId}`);
    expect((await running).errno).toBe(1317);
    const [r] = await a.query("SELECT @@in_transaction AS t");
    expect(r).toEqual([{ t: 1 }]);
    await a.query("COMMIT");
    await a.end();
    await b.end();
  });

  test("a session with nothing running: OK, and it keeps working", async () => {
    const a = await connect();
    const b = await connect();
    await a.query("SELECT 1");
    await b.query(`KILL QUERY ${a.threadId}`);
    const [rows] = await a.query("SELECT 3 AS three");
    expect(rows).toEqual([{ three: 3 }]);
    await a.end();
    await b.end();
  });

  test.each(["its own id", "CONNECTION_ID()"])(
    "%s: 1317 as the server answers, and the connection goes on",
    async (form) => {
      const a = await connect();
      const err = await failure(a.query(`KILL QUERY ${form === "its own id" ? a.threadId : form}`));
      expect([err.errno, err.sqlState]).toEqual([1317, "70100"]);
      const [rows] = await a.query("SELECT 4 AS four");
      expect(rows).toEqual([{ four: 4 }]);
      await a.end();
    },
  );
});

describe("KILL [CONNECTION] <rwsplit connection id>", () => {
  test("closes the target, stops its statement on the server, answers OK", async () => {
    const a = await connect();
    const b = await connect();
    const closed = new Promise<void>((resolve) => a.on("end", () => resolve()));
    const sql = "SELECT SLEEP(20) AS kc1";
    const running = failure(a.query(sql));
    const backend = await untilRunning(sql);
    await b.query(`KILL CONNECTION ${a.threadId}`);
    const err = await running;
    expect(err.code).toMatch(/PROTOCOL_CONNECTION_LOST|ECONNRESET/);
    await closed;
    // The statement does not go on running on the backend after its client is gone.
    for (let i = 0; i < 40 && (await threadsRunning(sql)).length > 0; i++) await pause(50);
    expect(await threadsRunning(sql)).toEqual([]);
    expect(backend.id).toBeGreaterThan(0);
    expect(liveSessionIds().has(a.threadId)).toBe(false);
    const [rows] = await b.query("SELECT 5 AS five");
    expect(rows).toEqual([{ five: 5 }]);
    await b.end();
  });

  test("KILL <id> of an idle session closes it", async () => {
    const a = await connect();
    const b = await connect();
    await a.query("SELECT 1");
    const closed = new Promise<void>((resolve) => a.on("end", () => resolve()));
    await b.query(`KILL ${a.threadId}`);
    await closed;
    await failure(a.query("SELECT 1"));
    await b.end();
  });

  test.each(["its own id", "CONNECTION_ID()"])(
    "%s: 1927 Connection was killed, then closed",
    async (form) => {
      const a = await connect();
      const err = await failure(a.query(`KILL ${form === "its own id" ? a.threadId : form}`));
      expect([err.errno, err.sqlState]).toEqual([1927, "70100"]);
      await failure(a.query("SELECT 1"));
    },
  );
});

describe("refusals", () => {
  test("an unknown id: 1094 with a hint", async () => {
    const b = await connect();
    const err = await failure(b.query("KILL 999999"));
    expect([err.errno, err.sqlState]).toEqual([1094, "HY000"]);
    expect(err.message).toMatch(/^Unknown thread id: 999999\b.*handshake/);
    const err2 = await failure(b.query("KILL QUERY 999999"));
    expect(err2.errno).toBe(1094);
    await b.end();
  });

  test("another user's session: 1095, and its statement keeps running", async () => {
    const a = await connect();
    const other = await connect(APP2);
    const running = a.query("SELECT SLEEP(1.5) AS slept");
    await untilRunning("SELECT SLEEP(1.5) AS slept");
    const err = await failure(other.query(`KILL QUERY ${a.threadId}`));
    expect([err.errno, err.sqlState]).toEqual([1095, "HY000"]);
    expect(err.message).toMatch(new RegExp(`^You are not owner of thread ${a.threadId}\\b`));
    expect((await failure(other.query(`KILL ${a.threadId}`))).errno).toBe(1095);
    const [rows] = await running;
    expect(rows).toEqual([{ slept: 0 }]);
    await a.end();
    await other.end();
  });

  test("KILL USER, KILL QUERY ID, expressions, prepared KILL: 1235; KILL in a multi-statement runs", async () => {
    const b = await connect();
    for (const sql of [
      "KILL USER app",
      "KILL QUERY ID 5",
      "KILL CONNECTION_ID() + 0",
      "EXECUTE IMMEDIATE 'KILL 999999'",
      "PREPARE s FROM 'KILL QUERY ?'",
    ]) {
      const err = await failure(b.query(sql));
      expect([err.errno, err.sqlState], sql).toEqual([1235, "42000"]);
    }
    const prepared = await failure(b.execute("KILL ?", [b.threadId]));
    expect(prepared.errno).toBe(1235);
    const [rows] = await b.query("SELECT 6 AS six");
    expect(rows).toEqual([{ six: 6 }]);
    await b.end();
    const multi = await mysql.createConnection({
      host: proxy.host,
      port: proxy.port,
      ...APP,
      multipleStatements: true,
    });
    // KILL in a multi-statement runs in order, as on the server: the SELECT, then 1094 for an id
    // that is no session.
    expect((await failure(multi.query("SELECT 1; KILL 999999"))).errno).toBe(1094);
    await multi.end();
  });
});

describe("the number is never a backend's thread id", () => {
  test("KILL <a pooled backend connection's thread id> leaves that connection alone", async () => {
    const c = await connect();
    await c.query("BEGIN");
    await c.query("INSERT INTO app.kill_probe VALUES (1)");
    const [[{ id: backendId }]] = (await c.query("SELECT CONNECTION_ID() AS id")) as unknown as [
      [{ id: number }],
    ];
    expect(backendId).not.toBe(c.threadId);
    const b = await connect();
    for (const sql of [`KILL ${backendId}`, `KILL QUERY ${backendId}`, `KILL CONNECTION ${backendId}`]) {
      if (liveSessionIds().has(backendId)) break; // the same number is also a live rwsplit session
      const err = await failure(b.query(sql));
      expect(err.errno, sql).toBe(1094);
    }
    expect(await threadExists(sb.primary, backendId)).toBe(true);
    // Same backend thread, transaction and its uncommitted row still there.
    const [r] = await c.query("SELECT CONNECTION_ID() AS id, COUNT(*) AS n FROM app.kill_probe");
    expect(r).toEqual([{ id: backendId, n: 1 }]);
    await c.query("ROLLBACK");
    await c.end();
    await b.end();
  });

  test("KILL <the monitor's or a replication thread's id> reaches no server", async () => {
    const root = await sb.connect(sb.primary);
    const [rows] = await root.query(
      "SELECT ID AS id, USER AS user FROM information_schema.PROCESSLIST WHERE USER IN ('monitor', 'repl')",
    );
    await root.end();
    const victims = rows as { id: number; user: string }[];
    expect(victims.map((v) => v.user)).toContain("monitor");
    expect(victims.map((v) => v.user)).toContain("repl");
    const b = await connect();
    for (const v of victims) {
      if (liveSessionIds().has(v.id)) continue;
      expect((await failure(b.query(`KILL ${v.id}`))).errno).toBe(1094);
    }
    for (const v of victims) expect(await threadExists(sb.primary, v.id), `${v.user} ${v.id}`).toBe(true);
    await b.end();
  });
});

describe("COM_PROCESS_KILL (0x0c, int<4> id): KILL CONNECTION", () => {
  const processKill = (id: number) => {
    const p = Buffer.alloc(5);
    p[0] = Command.PROCESS_KILL;
    p.writeUInt32LE(id, 1);
    return p;
  };

  test("closes the target and answers OK; an unknown id gets 1094", async () => {
    const a = await connect();
    const closed = new Promise<void>((resolve) => a.on("end", () => resolve()));
    const running = failure(a.query("SELECT SLEEP(20) AS pk1"));
    await untilRunning("SELECT SLEEP(20) AS pk1");
    const { client, result } = await RawClient.login(proxy.host, proxy.port, APP.user, APP.password, "app");
    expect(result.payload[0]).toBe(0x00);
    const ok = await client.command(processKill(a.threadId!));
    expect(ok.payload[0]).toBe(0x00);
    expect(ok.seq).toBe(1);
    await running;
    await closed;
    for (let i = 0; i < 40 && (await threadsRunning("SELECT SLEEP(20) AS pk1")).length > 0; i++)
      await pause(50);
    expect(await threadsRunning("SELECT SLEEP(20) AS pk1")).toEqual([]);
    const unknown = await client.command(processKill(999999));
    expect(RawClient.err(unknown)?.errno).toBe(1094);
    const short = await client.command(Buffer.from([Command.PROCESS_KILL, 1]));
    expect(RawClient.err(short)?.errno).toBe(1835);
    client.close();
  });
});
