import { execFile } from "node:child_process";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// auth.from_backend against a real primary and two replicas: accounts that rwsplit's config does
// not list log in with their MariaDB passwords, through mysql2 and the `mariadb` CLI.

const LOADER = { user: "rwsplit_auth", password: "auth-pass" };

let sb: TestSandbox;
let proxy: TestApp;
let primaryId: number;
let replicaIds: number[];

async function onPrimary(...sql: string[]): Promise<void> {
  const c = await sb.connect(sb.primary);
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

async function serverIdOf(node: { host: string; port: number }): Promise<number> {
  const c = await sb.connect(node);
  const [r] = await c.query("SELECT @@server_id AS id");
  await c.end();
  return (r as { id: number }[])[0]!.id;
}

/** CREATE USER on the primary, with what an application needs on `app`, replicated everywhere. */
async function createAccount(user: string, password: string, host = "%"): Promise<void> {
  await onPrimary(
    `CREATE USER '${user}'@'${host}' IDENTIFIED BY '${password}'`,
    `GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO '${user}'@'${host}'`,
  );
  await sb.waitForReplicas();
}

function connect(user: string, password: string): Promise<mysql.Connection> {
  return mysql.createConnection({ host: proxy.host, port: proxy.port, user, password, database: "app" });
}

async function loginError(user: string, password: string): Promise<{ errno?: number; message?: string }> {
  try {
    const c = await connect(user, password);
    await c.end();
  } catch (e) {
    return e as { errno?: number; message?: string };
  }
  throw new Error(`${user} logged in`);
}

async function one<T>(c: mysql.Connection, sql: string): Promise<T> {
  const [rows] = await c.query(sql);
  return Object.values((rows as Record<string, unknown>[])[0]!)[0] as T;
}

/** Waits until the monitor has seen every replica up with a known lag. */
async function replicasServing(): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const obs = [...proxy.app.observations().values()].filter((o) => o.role === "replica");
    if (obs.length === sb.replicas.length && obs.every((o) => o.up && o.lagMs !== null && o.lagMs < 1000))
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("replicas never looked fresh to the monitor");
}

function cli(
  user: string,
  password: string,
  sql: string,
): Promise<{ code: number; out: string; err: string }> {
  const argv = [
    "--no-defaults",
    "-h127.0.0.1",
    `-P${proxy.port}`,
    `-u${user}`,
    `-p${password}`,
    "--connect-timeout=10",
    "-N",
    "-s",
    "app",
    "-e",
    sql,
  ];
  return new Promise((resolve) => {
    execFile("mariadb", argv, { timeout: 20_000 }, (e, stdout, stderr) => {
      resolve({
        code: e ? Number((e as { code?: unknown }).code ?? 1) : 0,
        out: stdout.trim(),
        err: stderr.trim(),
      });
    });
  });
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  await onPrimary(
    `CREATE USER '${LOADER.user}'@'%' IDENTIFIED BY '${LOADER.password}'`,
    `GRANT SELECT ON mysql.global_priv TO '${LOADER.user}'@'%'`,
    "CREATE TABLE app.notes (id INT PRIMARY KEY, who VARCHAR(40))",
  );
  await createAccount("dana", "dana-pw");
  primaryId = await serverIdOf(sb.primary);
  replicaIds = await Promise.all(sb.replicas.map(serverIdOf));
  // Only `app` is configured; dana and the others come from the primary.
  proxy = await startApp(
    testConfig(sb.primary, sb.replicas, {
      accountsFromBackend: { ...LOADER, refreshIntervalMs: 300_000, refreshMinGapMs: 200 },
    }),
  );
  await replicasServing();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

describe("accounts from the server (auth.from_backend)", () => {
  test("an account not in rwsplit's config logs in: reads go to the replicas, writes to the primary", async () => {
    const c = await connect("dana", "dana-pw");
    expect(await one(c, "SELECT CURRENT_USER()")).toBe("dana@%");
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) seen.add(await one<number>(c, "SELECT @@server_id"));
    expect([...seen].sort()).toEqual([...replicaIds].sort());
    await c.query("INSERT INTO notes VALUES (1, CONCAT('dana on ', @@server_id))");
    await c.end();
    const p = await sb.connect(sb.primary, "root", "app");
    expect(await one(p, "SELECT who FROM notes WHERE id = 1")).toBe(`dana on ${primaryId}`);
    await p.end();
  });

  test("the mariadb CLI logs in as that account", async () => {
    const r = await cli("dana", "dana-pw", "SELECT CURRENT_USER(); SELECT COUNT(*) FROM notes");
    expect(r.err).toBe("");
    expect(r.out.split("\n")).toEqual(["dana@%", "1"]);
  });

  test("COM_CHANGE_USER from a configured user to a server account, and back", async () => {
    const c = await connect("app", "app-pass");
    await c.changeUser({ user: "dana", password: "dana-pw", database: "app" });
    expect(await one(c, "SELECT CURRENT_USER()")).toBe("dana@%");
    expect(await one(c, "SELECT COUNT(*) FROM notes")).toBe(1);
    await c.changeUser({ user: "app", password: "app-pass", database: "app" });
    expect(await one(c, "SELECT CURRENT_USER()")).toBe("app@%");
    await c.end();
  });

  test("a wrong password gets 1045, like the server's", async () => {
    const e = await loginError("dana", "not-dana");
    expect(e.errno).toBe(1045);
    expect(e.message).toMatch(/^Access denied for user 'dana'@'127\.0\.0\.1' \(using password: YES\)/);
    expect((await cli("dana", "not-dana", "SELECT 1")).err).toMatch(/ERROR 1045/);
    expect((await loginError("nobody-at-all", "x")).errno).toBe(1045);
  });

  test("an account created after start logs in at once (unknown names reload the accounts)", async () => {
    await createAccount("erin", "erin-pw");
    const before = proxy.server.accounts!.loads;
    const c = await connect("erin", "erin-pw");
    expect(await one(c, "SELECT CURRENT_USER()")).toBe("erin@%");
    await c.end();
    expect(proxy.server.accounts!.loads).toBe(before + 1);
  });

  test("a password changed on the server: the new one logs in, the old one no longer does", async () => {
    await createAccount("fred", "fred-old");
    const old = await connect("fred", "fred-old");
    await onPrimary("ALTER USER 'fred'@'%' IDENTIFIED BY 'fred-new'");
    await sb.waitForReplicas();
    const c = await connect("fred", "fred-new");
    expect(await one(c, "SELECT CURRENT_USER()")).toBe("fred@%");
    await c.end();
    expect((await loginError("fred", "fred-old")).errno).toBe(1045);
    // A session that logged in before keeps working, as on the server: its new backend
    // connections use the secret the new password's login proved.
    for (let i = 0; i < 10; i++) expect(await one(old, "SELECT 1")).toBe(1);
    await old.end();
  });

  test("locked accounts and accounts with other plugins are refused saying why", async () => {
    // INSTALL SONAME is not replicated: every node needs the plugin before the account replicates.
    for (const node of [sb.primary, ...sb.replicas]) {
      const c = await sb.connect(node);
      await c.query("INSTALL SONAME 'auth_ed25519'");
      await c.end();
    }
    await onPrimary(
      "CREATE USER 'gina'@'%' IDENTIFIED BY 'gina-pw' ACCOUNT LOCK",
      "CREATE USER 'hank'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('hank-pw')",
    );
    await sb.waitForReplicas();
    const locked = await loginError("gina", "gina-pw");
    expect([locked.errno, locked.message]).toEqual([4151, "Access denied, this account is locked"]);
    const ed = await loginError("hank", "hank-pw");
    expect(ed.errno).toBe(1251);
    expect(ed.message).toMatch(/'hank'@'%' authenticates with ed25519/);
  });

  test("passwords and hashes never appear in /sessions", async () => {
    const c = await connect("dana", "dana-pw");
    const text = JSON.stringify(proxy.server.sessionsInfo());
    expect(text).toContain('"user":"dana"');
    expect(text).not.toMatch(/dana-pw|\*[0-9A-F]{40}|stage/);
    await c.end();
  });
});
