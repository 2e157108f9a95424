import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// A `SET GLOBAL` of a variable sessions copy as they log in (sql_mode here, on every node, as an
// operator would): the server gives the new value to sessions that log in after it and leaves the
// earlier ones as they were, until they are reset or change user. The same client directly on the
// primary and through rwsplit, whose pool already holds connections that copied the old value;
// reads really on replicas, statements in transactions on the primary.

let sb: TestSandbox;
let proxy: TestApp;
let primaryId: number;
const nodes = () => [sb.primary, ...sb.replicas];
const saved: string[] = [];
const NEW_MODE = "ANSI_QUOTES";

const app = { user: "app", password: "app-pass", database: "app" };

async function setSqlMode(mode: (i: number) => string): Promise<void> {
  await Promise.all(
    nodes().map(async (n, i) => {
      const c = await sb.connect(n);
      await c.query("SET GLOBAL sql_mode = ?", [mode(i)]);
      await c.end();
    }),
  );
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  for (const n of nodes()) {
    const c = await sb.connect(n);
    const [rows] = await c.query("SELECT @@global.sql_mode AS m");
    saved.push(String((rows as { m: string }[])[0]!.m));
    await c.end();
  }
  const root = await sb.connect(sb.primary);
  const [ids] = await root.query("SELECT @@server_id AS id");
  primaryId = (ids as { id: number }[])[0]!.id;
  await root.end();
  const cfg = testConfig(sb.primary, sb.replicas);
  cfg.routing = { ...cfg.routing, consistency: "eventual" };
  proxy = await startApp(cfg);
});

afterAll(async () => {
  await proxy?.close();
  if (saved.length === nodes().length) await setSqlMode((i) => saved[i]!);
  await sb?.down();
});

const connect = (port: number, host: string) => mysql.createConnection({ host, port, ...app });
const direct = () => connect(sb.primary.port, sb.primary.host);
const through = () => connect(proxy.port, "127.0.0.1");

/** The session's sql_mode as a read sees it; through rwsplit, read until a replica answers. */
async function readMode(c: mysql.Connection, onReplica: boolean): Promise<string> {
  for (let i = 0; ; i++) {
    const [rows] = await c.query("SELECT @@server_id AS sid, @@sql_mode AS m");
    const row = (rows as { sid: number; m: string }[])[0]!;
    if (!onReplica || Number(row.sid) !== primaryId) return row.m;
    if (i >= 20) throw new Error("no read through rwsplit went to a replica");
  }
}

/** The same inside a transaction: on the primary. */
async function txMode(c: mysql.Connection): Promise<string> {
  await c.query("BEGIN");
  const [rows] = await c.query("SELECT @@sql_mode AS m");
  await c.query("COMMIT");
  return (rows as { m: string }[])[0]!.m;
}

describe("SET GLOBAL of a session variable, direct and through rwsplit", () => {
  test("sessions after it see the new value, sessions before it keep theirs until reset or change of user", async () => {
    // Sessions through rwsplit that fill its pools with connections that copied the old value.
    const busy = await Promise.all([1, 2, 3, 4].map(() => through()));
    // Several rounds, so that each replica holds some (a session that needs a connection its
    // generation does not have gets one with the values of the moment: see below).
    for (let i = 0; i < 10; i++)
      await Promise.all(busy.map(async (c) => [await readMode(c, false), await txMode(c)]));
    const oldDirect = await direct();
    const oldThrough = await through();
    const before = await readMode(oldDirect, false);
    expect(await readMode(oldThrough, true)).toBe(before);

    await setSqlMode(() => NEW_MODE);
    const newDirect = await direct();
    const expected = await readMode(newDirect, false);
    expect(expected).not.toBe(before);

    // The monitor reads the globals' digest every 2 s: a session that logs in after it has seen
    // the change gets the new value, on the replicas and on the primary.
    let newThrough: mysql.Connection | null = null;
    const deadline = Date.now() + 15_000;
    while (newThrough === null) {
      const c = await through();
      if ((await txMode(c)) === expected) newThrough = c;
      else {
        await c.end();
        if (Date.now() > deadline) throw new Error("rwsplit's new sessions never saw the new sql_mode");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // The earlier session keeps the old value on the connections of its generation. (One opened
    // for that generation from now on, when all of them are busy, copies the new value, as the
    // server would not: src/proxy/server-globals.ts. So this comes before the load below.)
    for (let i = 0; i < 10; i++) {
      expect({ read: await readMode(oldThrough, true), tx: await txMode(oldThrough) }).toEqual({
        read: await readMode(oldDirect, false),
        tx: await txMode(oldDirect),
      });
    }
    // Statement by statement, with the earlier sessions busy beside them: the new session leases
    // only connections opened since the change.
    for (let i = 0; i < 10; i++) {
      const load = busy.map((c) => (i % 2 === 0 ? readMode(c, false) : txMode(c)));
      expect({ read: await readMode(newThrough, true), tx: await txMode(newThrough) }).toEqual({
        read: expected,
        tx: expected,
      });
      await Promise.all(load);
    }
    expect(await readMode(oldDirect, false)).toBe(before);

    // COM_CHANGE_USER starts the session over from the globals of the moment, on both.
    await oldDirect.changeUser({ user: app.user, password: app.password, database: app.database });
    await oldThrough.changeUser({ user: app.user, password: app.password, database: app.database });
    // (without the IGNORE_SPACE of mysql2's login flags, which the server drops there too)
    const reset = await readMode(oldDirect, false);
    expect(reset).toBe(NEW_MODE);
    expect({ read: await readMode(oldThrough, true), tx: await txMode(oldThrough) }).toEqual({
      read: reset,
      tx: reset,
    });

    for (const c of [...busy, oldDirect, oldThrough, newDirect, newThrough]) await c.end();
  });
});
