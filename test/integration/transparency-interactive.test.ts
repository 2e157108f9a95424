import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Interactive clients (CLIENT_INTERACTIVE, as the mariadb CLI on a terminal): the server gives
// their session wait_timeout = @@global.interactive_timeout as they log in, and drops it again on
// COM_RESET_CONNECTION and COM_CHANGE_USER (wait_timeout = the global one). The same client
// directly on the primary and through rwsplit, with reads really on replicas; the globals of
// every node are set apart (interactive_timeout 1234, wait_timeout 5678, each node's own) before
// rwsplit opens any connection, and put back at the end.

let sb: TestSandbox;
let proxy: TestApp;
let primaryId: number;
const nodes = () => [sb.primary, ...sb.replicas];
const saved: { interactive: number; wait: number }[] = [];

const app = { user: "app", password: "app-pass" };
const INTERACTIVE = ["INTERACTIVE"];

async function setTimeouts(values: (i: number) => { interactive: number; wait: number }): Promise<void> {
  await Promise.all(
    nodes().map(async (n, i) => {
      const c = await sb.connect(n);
      const v = values(i);
      await c.query(`SET GLOBAL interactive_timeout = ${v.interactive}, wait_timeout = ${v.wait}`);
      await c.end();
    }),
  );
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  for (const n of nodes()) {
    const c = await sb.connect(n);
    const [rows] = await c.query(
      "SELECT @@global.interactive_timeout AS interactive, @@global.wait_timeout AS wait",
    );
    saved.push((rows as { interactive: number; wait: number }[])[0]!);
    await c.end();
  }
  await setTimeouts(() => ({ interactive: 1234, wait: 5678 }));
  const root = await sb.connect(sb.primary);
  const [ids] = await root.query("SELECT @@server_id AS id");
  primaryId = (ids as { id: number }[])[0]!.id;
  await root.end();
  const cfg = testConfig(sb.primary, sb.replicas);
  cfg.routing = { ...cfg.routing, consistency: "eventual" };
  // Started after the globals changed: a backend connection takes them as it logs in.
  proxy = await startApp(cfg);
});

afterAll(async () => {
  await proxy?.close();
  if (saved.length === nodes().length) await setTimeouts((i) => saved[i]!);
  await sb?.down();
});

function connect(port: number, host: string, interactive: boolean): Promise<mysql.Connection> {
  return mysql.createConnection({
    host,
    port,
    ...app,
    database: "app",
    ...(interactive ? { flags: INTERACTIVE } : {}),
  });
}

const PROBE =
  "SELECT @@server_id AS sid, @@wait_timeout AS wt, @@session.wait_timeout AS swt, @@interactive_timeout AS it";

/** The probe's values; through rwsplit, read until a replica answers (the read must go to one). */
async function probe(c: mysql.Connection, onReplica: boolean): Promise<Record<string, unknown>> {
  for (let i = 0; ; i++) {
    const [rows] = await c.query(PROBE);
    const { sid, ...rest } = (rows as Record<string, unknown>[])[0]!;
    if (!onReplica || Number(sid) !== primaryId) return rest;
    if (i >= 20) throw new Error("no read through rwsplit went to a replica");
  }
}

/** The same steps on a direct connection and through rwsplit: the probe after each, both ways. */
async function compare(interactive: boolean): Promise<void> {
  const d = await connect(sb.primary.port, sb.primary.host, interactive);
  const p = await connect(proxy.port, proxy.host, interactive);
  const steps: [string, (c: mysql.Connection) => Promise<unknown>][] = [
    ["login", async () => {}],
    ["SET wait_timeout = 77", (c) => c.query("SET wait_timeout = 77")],
    ["COM_RESET_CONNECTION", (c) => c.reset()],
    ["SET wait_timeout = 77", (c) => c.query("SET wait_timeout = 77")],
    ["COM_CHANGE_USER", (c) => c.changeUser(app)],
    ["COM_RESET_CONNECTION", (c) => c.reset()],
  ];
  const seen: string[] = [];
  try {
    for (const [name, run] of steps) {
      await run(d);
      await run(p);
      seen.push(name);
      const want = await probe(d, false);
      expect(await probe(p, true), `${interactive ? "interactive" : "plain"}: ${seen.join(", ")}`).toEqual(
        want,
      );
      // A transaction's statements go to the primary: the same there.
      await Promise.all([d.query("BEGIN"), p.query("BEGIN")]);
      expect(await probe(p, false)).toEqual(await probe(d, false));
      await Promise.all([d.query("COMMIT"), p.query("COMMIT")]);
    }
  } finally {
    await d.end();
    await p.end();
  }
}

describe("interactive clients and wait_timeout, as on the server", () => {
  test("a client with CLIENT_INTERACTIVE reads interactive_timeout in wait_timeout, on replicas too, until a COM_RESET_CONNECTION or COM_CHANGE_USER", async () => {
    await compare(true);
    // The value the server gives it, not the same by chance.
    const c = await connect(proxy.port, proxy.host, true);
    expect(await probe(c, true)).toEqual({ wt: 1234, swt: 1234, it: 1234 });
    await c.end();
  });

  test("a client without it reads the global wait_timeout", async () => {
    await compare(false);
  });

  test("what another session set on a pooled connection goes back to the login's: interactive_timeout for an interactive one", async () => {
    for (const interactive of [true, false]) {
      const a = await connect(proxy.port, proxy.host, interactive);
      await a.query("SET wait_timeout = 77");
      for (let i = 0; i < 4; i++) expect((await probe(a, true)).wt).toBe(77);
      await a.end();
      const b = await connect(proxy.port, proxy.host, interactive);
      for (let i = 0; i < 4; i++) expect((await probe(b, true)).wt).toBe(interactive ? 1234 : 5678);
      await b.end();
    }
  });
});

describe("an idle interactive client is closed as the server closes it", () => {
  test("after interactive_timeout, and after the global wait_timeout once a COM_RESET_CONNECTION dropped it", async () => {
    // Last in the file: idle backend connections of every node now go after 2 s (the pool copes).
    await setTimeouts(() => ({ interactive: 3600, wait: 2 }));
    // rwsplit reads the primary's defaults as it starts.
    const idleProxy = await startApp(testConfig(sb.primary, sb.replicas));
    const alive = async (c: mysql.Connection) =>
      c.query("SELECT 1").then(
        () => true,
        () => false,
      );
    try {
      const d = await connect(sb.primary.port, sb.primary.host, true);
      const p = await connect(idleProxy.port, idleProxy.host, true);
      for (const c of [d, p]) c.on("error", () => {});
      await new Promise((r) => setTimeout(r, 3500));
      expect([await alive(d), await alive(p)]).toEqual([true, true]);
      await Promise.all([d.reset(), p.reset()]);
      // The server checks a second or so late; rwsplit once a second.
      await new Promise((r) => setTimeout(r, 4000));
      expect([await alive(d), await alive(p)]).toEqual([false, false]);
      d.destroy();
      p.destroy();
    } finally {
      await idleProxy.close();
    }
  });
});
