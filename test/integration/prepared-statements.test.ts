import mysql from "mysql2/promise";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { BackendPool } from "../../src/proxy/backend-pool.js";
import { startApp, startProxy, type TestApp, type TestProxy, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Prepared statements bounded as the server bounds them (issue #12, point 4). MariaDB's
// max_prepared_stmt_count is global: before, COM_STMT_CLOSE only dropped the client's statement
// and rwsplit kept up to 256 per backend connection, so with max_prepared_stmt_count=20 the 21st
// distinct statement failed with ER 1461 through rwsplit, and then for direct clients too. Each
// case is compared with the same client talking to the primary directly.

let sb: TestSandbox;
let app: TestApp;
/** The primary, as root: the global limit and Prepared_stmt_count. */
let root: mysql.Connection;
let defaultLimit: number;

const user = { user: "app", password: "app-pass" };
const ROWS = 5;

function connect(to: { host: string; port: number }, database = "app"): Promise<mysql.Connection> {
  return mysql.createConnection({ host: to.host, port: to.port, ...user, database });
}

async function scalar(c: mysql.Connection, sql: string): Promise<number> {
  const [rows] = await c.query({ sql, rowsAsArray: true });
  return Number((rows as unknown[][])[0]![(rows as unknown[][])[0]!.length - 1]);
}

/** Prepared statements open on the primary, over all its connections. */
const openOnPrimary = () => scalar(root, "SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'");

async function setLimit(n: number): Promise<void> {
  await root.query(`SET GLOBAL max_prepared_stmt_count = ${n}`);
}

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `n` distinct statements, each prepared, executed and closed (mysql2 `prepare()` + `close()`). */
async function prepareAndClose(c: mysql.Connection, n: number, tag: string): Promise<unknown[]> {
  const results: unknown[] = [];
  for (let i = 1; i <= n; i++) {
    const stmt = await c.prepare(
      `SELECT id, v + ? AS w, '${tag}${i}' AS t FROM ps_t WHERE id = ${1 + (i % ROWS)}`,
    );
    const [rows] = await stmt.execute([i]);
    results.push(rows);
    stmt.close();
  }
  return results;
}

/** `n` distinct statements prepared and kept open (closed by the caller). */
async function prepareHeld(
  c: mysql.Connection,
  n: number,
  tag: string,
): Promise<mysql.PreparedStatementInfo[]> {
  const out: mysql.PreparedStatementInfo[] = [];
  for (let i = 1; i <= n; i++) out.push(await c.prepare(`SELECT ${i} AS held_${tag}`));
  return out;
}

const proxies: TestProxy[] = [];

/** Statements rwsplit has open on the primary, over every proxy of this file. */
function rwsplitOnPrimary(): number {
  return proxies.reduce((n, p) => n + p.server.upstreams.primary.stats().statements.prepared, 0);
}

function primaryPool(p: TestProxy): BackendPool {
  return p.server.upstreams.primary;
}

/**
 * Once the sessions closed their statements: what rwsplit has open on the primary is all it has
 * there (nothing else prepares on this sandbox), every one of them cached (none held), within
 * the cache's bound.
 */
async function expectOnlyCache(): Promise<void> {
  // COM_STMT_CLOSE and COM_QUIT have no response: the proxy may still be reading them.
  const allCached = () =>
    proxies.every(
      (p) => primaryPool(p).stats().statements.cached === primaryPool(p).stats().statements.prepared,
    );
  await until("Prepared_stmt_count", openOnPrimary, (n) => n === rwsplitOnPrimary() && allCached());
  for (const p of proxies) {
    const s = primaryPool(p).stats();
    expect(s.statements.cached).toBe(s.statements.prepared);
    expect(s.statements.prepared).toBeLessThanOrEqual(s.statements.cachePerConnection * s.open);
  }
}

/** The monitor has read `limit` from the primary (it checks every 500 ms here). */
async function learned(limit: number): Promise<void> {
  await until(
    "the learned limit",
    async () => primaryPool(app).statementBudget.serverLimit,
    (n) => n === limit,
  );
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 1 });
  root = await sb.connect(sb.primary);
  defaultLimit = await scalar(root, "SELECT @@GLOBAL.max_prepared_stmt_count");
  const c = await connect(sb.primary);
  await c.query("CREATE TABLE ps_t (id INT PRIMARY KEY, v INT)");
  await c.query(
    `INSERT INTO ps_t VALUES ${Array.from({ length: ROWS }, (_, i) => `(${i + 1}, ${10 * (i + 1)})`)}`,
  );
  await c.query("CREATE DATABASE other_db");
  await c.query("CREATE TABLE other_db.ps_t (id INT PRIMARY KEY, v INT)");
  await c.query("INSERT INTO other_db.ps_t VALUES (1, -1)");
  await c.end();
  await sb.waitForReplicas();
  app = await startApp(testConfig(sb.primary, sb.replicas));
  proxies.push(app);
  expect(await openOnPrimary()).toBe(0);
});

afterEach(async () => {
  await setLimit(defaultLimit);
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await root?.end();
  await sb?.down();
});

describe("max_prepared_stmt_count=20 on the primary", () => {
  test("30 distinct statements prepared and closed work through rwsplit as directly; direct clients can still prepare after", async () => {
    await setLimit(20);
    // The monitor reads the new limit at its next check: the cache's bound follows.
    await learned(20);

    const d = await connect(sb.primary);
    const directResults = await prepareAndClose(d, 30, "a");
    await d.end();
    await until("Prepared_stmt_count after the direct run", openOnPrimary, (n) => n === 0);

    const p = await connect(app);
    const proxied = await prepareAndClose(p, 30, "a");
    expect(proxied).toEqual(directResults);
    await p.end();
    await expectOnlyCache();

    // Direct clients have what rwsplit does not cache: three quarters of the limit at least.
    const cached = await openOnPrimary();
    expect(cached).toBeLessThanOrEqual(5);
    const d2 = await connect(sb.primary);
    const held = await prepareHeld(d2, 20 - cached, "d");
    expect(held.length).toBe(20 - cached);
    for (const s of held) s.close();
    await d2.end();
  });

  test("a session may hold as many statements as the server allows (rwsplit's cache makes room); one more gets 1461", async () => {
    await setLimit(20);
    await learned(20);
    const c = await connect(app);
    const held = await prepareHeld(c, 20, "h");
    expect(held.length).toBe(20);
    const err = await c.prepare("SELECT 'one too many'").catch((e: { errno?: number }) => e);
    expect((err as { errno?: number }).errno).toBe(1461);
    for (const s of held) s.close();
    await c.end();
    await expectOnlyCache();
  });

  test("a cache filled under the default limit is trimmed when the monitor learns a lower one", async () => {
    await learned(defaultLimit);
    const p = await connect(app);
    await prepareAndClose(p, 30, "b");
    await p.end();
    // Under the default limit a connection caches up to 256: all 30 stay.
    await until("cached", openOnPrimary, (n) => n >= 30 && n === rwsplitOnPrimary());
    await setLimit(20);
    await until("trimmed", openOnPrimary, (n) => n <= 5);
    await expectOnlyCache();
    const d = await connect(sb.primary);
    const held = await prepareHeld(d, 15, "t");
    for (const s of held) s.close();
    await d.end();
  });
});

describe("without the monitor", () => {
  let bare: TestProxy;

  beforeAll(async () => {
    bare = await startProxy(testConfig(sb.primary, sb.replicas));
    proxies.push(bare);
  });

  test("a PREPARE that gets 1461 closes the cached statements, runs once more, and learns the limit", async () => {
    const p = await connect(bare);
    await prepareAndClose(p, 30, "c");
    // COM_STMT_CLOSE has no response: the last one may still be on its way.
    const stats = () => Promise.resolve(primaryPool(bare).stats().statements);
    await until("all cached", stats, (s) => s.cached === 30);
    expect(await stats()).toMatchObject({ prepared: 30, cached: 30, serverLimit: null });
    await setLimit(20);
    await until("over the limit", openOnPrimary, (n) => n >= 30);
    const proxied = await prepareAndClose(p, 3, "c-after");
    await p.end();
    const s = primaryPool(bare).stats().statements;
    expect(s.serverLimit).toBe(20);
    expect(s.cachePerConnection).toBeLessThanOrEqual(5);
    await expectOnlyCache();
    const d = await connect(sb.primary);
    expect(await prepareAndClose(d, 3, "c-after")).toEqual(proxied);
    await d.end();
  });
});

test("the same SQL in two schemas is two statements: a session never runs another schema's", async () => {
  const sql = "SELECT v FROM ps_t WHERE id = 1";
  const run = async (to: { host: string; port: number }, database: string) => {
    const c = await connect(to, database);
    const [rows] = await c.execute(sql);
    return { c, rows };
  };
  const a = await run(app, "app");
  const b = await run(app, "other_db");
  const da = await run(sb.primary, "app");
  const db = await run(sb.primary, "other_db");
  expect(a.rows).toEqual(da.rows);
  expect(b.rows).toEqual(db.rows);
  expect(b.rows).toEqual([{ v: -1 }]);
  for (const x of [a, b, da, db]) await x.c.end();
});
