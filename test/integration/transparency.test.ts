import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { RawClient } from "../helpers/raw-client.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #12: what a client sees through rwsplit, compared with the same client talking to the
// primary directly; MariaDB is the oracle. Reads really go to replicas (checked by server_id).

let sb: TestSandbox;
let proxy: TestApp;
let primaryId: number;
let replicaIds: number[];

const app = { user: "app", password: "app-pass" };

async function serverIdOf(node: { host: string; port: number }): Promise<number> {
  const c = await sb.connect(node);
  const [rows] = await c.query("SELECT @@server_id AS id");
  await c.end();
  return (rows as { id: number }[])[0]!.id;
}

function viaProxy(extra: mysql.ConnectionOptions = {}) {
  return mysql.createConnection({ host: proxy.host, port: proxy.port, ...app, database: "app", ...extra });
}

function direct(extra: mysql.ConnectionOptions = {}) {
  return mysql.createConnection({
    host: sb.primary.host,
    port: sb.primary.port,
    ...app,
    database: "app",
    ...extra,
  });
}

/** Both ways, the same steps: [direct result, proxy result]. */
async function both<T>(
  steps: (c: mysql.Connection) => Promise<T>,
  extra: mysql.ConnectionOptions = {},
): Promise<[T, T]> {
  const d = await direct(extra);
  const p = await viaProxy(extra);
  try {
    return [await steps(d), await steps(p)];
  } finally {
    await d.end();
    await p.end();
  }
}

async function replicasFresh(ms = 1000): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const obs = [...proxy.app.observations().values()].filter((o) => o.role === "replica");
    if (obs.length === sb.replicas.length && obs.every((o) => o.up && o.lagMs !== null && o.lagMs < ms))
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("replicas never looked fresh to the monitor");
}

function blockedWrites(): number {
  let n = 0;
  for (const b of ["primary", "replica1", "replica2"])
    n += proxy.app.metrics.replicaWritesBlocked.get([b]).value;
  return n;
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  const cfg = testConfig(sb.primary, sb.replicas);
  // Reads right after a write in these tests must still show they ran on a replica.
  cfg.routing = { ...cfg.routing, consistency: "eventual" };
  proxy = await startApp(cfg);
  primaryId = await serverIdOf(sb.primary);
  replicaIds = await Promise.all(sb.replicas.map(serverIdOf));
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.tt (i INT PRIMARY KEY)");
  await c.query("INSERT INTO app.tt VALUES (1), (2), (3)");
  await c.end();
  await sb.waitForReplicas();
  await replicasFresh();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

/**
 * An OK packet with its session-state entries in a fixed order: MariaDB writes the changed system
 * variables in its tracker's hash order, which differs from one session to the next (seen: SET
 * NAMES reports character_set_client first on one connection, character_set_connection on
 * another). Any other packet as it is.
 */
function canonical(hex: string, track: boolean): string {
  const b = Buffer.from(hex, "hex");
  if (!track || b[0] !== 0x00 || b.length < 8) return hex;
  const status = b.readUInt16LE(3);
  if (!(status & 0x4000)) return hex;
  let off = 7;
  off += 1 + b[off]!; // info: string<lenenc> (short here)
  const stateLen = b[off]!;
  const state = b.subarray(off + 1, off + 1 + stateLen);
  const entries: string[] = [];
  for (let at = 0; at < state.length; ) {
    const len = state[at + 1]!;
    entries.push(state.subarray(at, at + 2 + len).toString("hex"));
    at += 2 + len;
  }
  return `${b.subarray(0, off + 1).toString("hex")}[${entries.sort().join(",")}]`;
}

/** One whole response to a COM_QUERY, as payloads in hex (single statements; classic EOF). */
async function rawAnswer(c: RawClient, sql: string): Promise<string[]> {
  c.send(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "utf8")]));
  const out: string[] = [];
  const first = await c.read();
  out.push(first.payload.toString("hex"));
  if (first.payload[0] === 0x00 || first.payload[0] === 0xff) return out;
  let eofs = 0;
  for (;;) {
    const p = await c.read();
    out.push(p.payload.toString("hex"));
    if (p.payload[0] === 0xff) return out;
    if (p.payload[0] === 0xfe && p.payload.length < 9 && ++eofs === 2) return out;
  }
}

describe("transparency with the server (issue #12)", () => {
  test("1. a client without CLIENT_SESSION_TRACK (PyMySQL): a read on a replica, then its write on the primary", async () => {
    const { client, result } = await RawClient.login(
      proxy.host,
      proxy.port,
      "app",
      "app-pass",
      "app",
      Capability.MULTI_STATEMENTS,
      Capability.SESSION_TRACK,
    );
    expect(result.payload[0]).toBe(0x00);
    try {
      const id = await rawAnswer(client, "SELECT @@server_id");
      const value = Number(Buffer.from(id[3]!, "hex").toString("utf8", 1));
      expect(replicaIds).toContain(value);
      const created = await rawAnswer(client, "CREATE TABLE app.case1 (i INT)");
      expect(created[0]!.slice(0, 2)).toBe("00");
      const again = await rawAnswer(client, "SELECT @@server_id");
      expect(replicaIds).toContain(Number(Buffer.from(again[3]!, "hex").toString("utf8", 1)));
      expect(blockedWrites()).toBe(0);
    } finally {
      client.close();
    }
  });

  test("2a. SET @@sql_mode and @@wait_timeout (forms the tracker does not report) travel to the replica that reads", async () => {
    const [d, p] = await both(async (c) => {
      await c.query("SET @@sql_mode = 'ANSI_QUOTES'");
      await c.query("SET @@wait_timeout = 100");
      const [rows] = await c.query("SELECT @@server_id AS id, @@sql_mode AS m, @@wait_timeout AS w");
      return (rows as { id: number; m: string; w: number }[])[0]!;
    });
    expect(d.id).toBe(primaryId);
    expect(replicaIds).toContain(p.id);
    expect({ m: p.m, w: p.w }).toEqual({ m: d.m, w: d.w });
  });

  test("2b. SET NAMES ... COLLATE and SET collation_connection travel too", async () => {
    const [d, p] = await both(async (c) => {
      await c.query("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci");
      const [a] = await c.query("SELECT @@server_id AS id, 'a' = 'a ' AS eq, @@collation_connection AS coll");
      await c.query("SET collation_connection = utf8mb4_bin");
      const [b] = await c.query("SELECT @@server_id AS id, 'a' = 'A' AS eq, @@collation_connection AS coll");
      return [a, b] as { id: number; eq: number; coll: string }[][];
    });
    expect(replicaIds).toContain(p[0]![0]!.id);
    expect(replicaIds).toContain(p[1]![0]!.id);
    expect(p.map((r) => ({ eq: r[0]!.eq, coll: r[0]!.coll }))).toEqual(
      d.map((r) => ({ eq: r[0]!.eq, coll: r[0]!.coll })),
    );
  });

  test("2d. what another session set on a pooled connection goes back to this login's values: its collation (224 in result columns too), IGNORE_SPACE", async () => {
    // mysql2 logs in with utf8mb4_unicode_ci (224) and CLIENT_IGNORE_SPACE: neither is the global value.
    for (let i = 0; i < 4; i++) {
      const c = await viaProxy();
      await c.query("SET NAMES latin1, sql_mode = 'ANSI_QUOTES'");
      await c.query("SELECT i FROM tt");
      await c.end();
    }
    const [d, p] = await both(async (c) => {
      const [rows, fields] = await c.query(
        "SELECT @@server_id AS id, @@collation_connection AS coll, @@character_set_results AS results, @@sql_mode AS mode",
      );
      const r = (rows as { id: number; coll: string; results: string; mode: string }[])[0]!;
      return { ...r, columns: (fields as mysql.FieldPacket[]).map((f) => f.characterSet) };
    });
    expect(replicaIds).toContain(p.id);
    expect(d.columns).toContain(224);
    expect({ ...p, id: 0 }).toEqual({ ...d, id: 0 });
  });

  test("2c. a session with no default database does not find another session's tables", async () => {
    // Other sessions leave pooled connections in database `app`.
    for (let i = 0; i < 4; i++) {
      const c = await viaProxy();
      await c.query("SELECT i FROM tt");
      await c.end();
    }
    const [d, p] = await both(
      async (c) => {
        const err = await c.query("SELECT i FROM tt").then(
          () => null,
          (e: { errno: number }) => e.errno,
        );
        const [rows] = await c.query("SELECT DATABASE() AS db, @@server_id AS id");
        return { err, ...(rows as { db: string | null; id: number }[])[0]! };
      },
      { database: undefined },
    );
    expect(d.err).toBe(1046);
    expect(p.err).toBe(1046);
    expect(p.db).toBeNull();
    expect(replicaIds).toContain(p.id);
  });

  test("3. OK packets are the server's own: rwsplit's session tracking never shows (with and without CLIENT_SESSION_TRACK)", async () => {
    const statements = [
      "DO 1",
      "SET @a = 1",
      "SET sql_mode = ''",
      "SET SESSION sql_mode = 'ANSI_QUOTES'",
      "SET @@sql_mode = ''",
      "USE app",
      "SET autocommit = 0",
      "SET autocommit = 1",
      "INSERT INTO app.tt VALUES (50)",
      "UPDATE app.tt SET i = 51 WHERE i = 50",
      "DELETE FROM app.tt WHERE i = 51",
      "SET NAMES utf8mb4",
      "SELECT @@session_track_state_change, @@session_track_schema",
      "SET session_track_state_change = ON",
      "SET @b = 2",
      "SELECT @@session_track_state_change",
      "SET session_track_state_change = OFF",
      "SET session_track_system_variables = 'sql_mode'",
      "SET sql_mode = 'ANSI_QUOTES'",
      "SET time_zone = '+01:00'",
      "SET session_track_schema = OFF",
      "USE app",
      "SHOW VARIABLES LIKE 'session_track_s%'",
    ];
    for (const without of [0, Capability.SESSION_TRACK]) {
      const answers: string[][][] = [];
      for (const node of [sb.primary, { host: proxy.host, port: proxy.port }]) {
        const { client } = await RawClient.login(node.host, node.port, "app", "app-pass", "app", 0, without);
        const got: string[][] = [];
        for (const sql of statements) got.push(await rawAnswer(client, sql));
        client.close();
        answers.push(got);
      }
      statements.forEach((sql, i) => {
        const track = without === 0;
        expect(
          answers[1]![i]!.map((h) => canonical(h, track)),
          `${sql} (${track ? "with" : "without"} CLIENT_SESSION_TRACK)`,
        ).toEqual(answers[0]![i]!.map((h) => canonical(h, track)));
      });
    }
  });

  test("numbers glued to words (`SELECT .5a`, which once looped the proxy's digest): the server's answers, and every session still served", async () => {
    const statements = ["SELECT .5a", "SELECT 1.5e1x", "SELECT -.5x, (.5e1x)", "SELECT 0x1Fg", "SELECT .5e"];
    const [d, p] = await both(async (c) => {
      const out: unknown[] = [];
      for (const sql of statements)
        out.push(
          await c.query({ sql, timeout: 5000 }).then(
            ([rows]) => rows,
            (e: { errno?: number; code?: string }) => e.errno ?? e.code,
          ),
        );
      return out;
    });
    expect(p).toEqual(d);
    const other = await viaProxy();
    try {
      const [rows] = await other.query({ sql: "SELECT 1 AS one", timeout: 5000 });
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await other.end();
    }
  });

  test("a refused COM_CHANGE_USER keeps the connection as the user it was, reset, in its database; the fourth is refused as an unknown command", async () => {
    const [d, p] = await both(async (c) => {
      c.on("error", () => {});
      const out: unknown[] = [];
      await c.query("USE app");
      await c.query("SET @v = 42");
      await c.query("SET sql_mode = 'ANSI_QUOTES'");
      for (let i = 0; i < 4; i++) {
        out.push(
          await c.changeUser({ user: "app", password: "wrong" }).then(
            () => "changed",
            (e: { errno?: number; code?: string }) => e.errno ?? e.code,
          ),
        );
        const [rows] = await c.query(
          "SELECT @v AS v, DATABASE() AS db, CURRENT_USER() AS u, @@sql_mode LIKE '%ANSI_QUOTES%' AS ansi_quotes",
        );
        out.push(rows);
      }
      return out;
    });
    expect(d[0]).toBe(1045);
    expect(d.at(-2)).toBe(1047);
    expect(p).toEqual(d);
  });

  test("3. mysql2's serverStatus after SET @a = 1 is the server's (2, not 16386)", async () => {
    const [d, p] = await both(async (c) => {
      const [r] = await c.query("SET @a = 1");
      return (r as mysql.ResultSetHeader).serverStatus;
    });
    expect(p).toBe(d);
  });
});

describe("timeouts and KILL as on the server (issue #12, case 5)", () => {
  test("SET wait_timeout = 1: an idle connection is closed, as the server closes it", async () => {
    const [d, p] = await both(async (c) => {
      c.on("error", () => {});
      await c.query("SET wait_timeout = 1");
      await new Promise((r) => setTimeout(r, 3000));
      return c.query("SELECT 1").then(
        () => "answered",
        (e: { code?: string; fatal?: boolean }) => `${e.code ?? "error"} fatal=${e.fatal}`,
      );
    });
    expect(d).not.toBe("answered");
    expect(p).toBe(d);
  });

  test("KILL inside a multi-statement: the victim goes, the other statements run, one response", async () => {
    const shapes: string[][] = [];
    for (const node of [sb.primary, { host: proxy.host, port: proxy.port }]) {
      const victim = await mysql.createConnection({
        host: node.host,
        port: node.port,
        ...app,
        database: "app",
      });
      victim.on("error", () => {});
      const { client } = await RawClient.login(
        node.host,
        node.port,
        "app",
        "app-pass",
        "app",
        Capability.MULTI_STATEMENTS,
      );
      const answer = await rawAnswers(client, `KILL ${victim.threadId}; SELECT 1`, 2);
      shapes.push(answer.map(shape));
      const err = await rawAnswers(client, "KILL 999999; SELECT 1", 1);
      shapes.push(err.map(shape));
      client.close();
      const alive = await victim.query("SELECT 1").then(
        () => true,
        () => false,
      );
      expect(alive).toBe(false);
      await victim.end().catch(() => {});
    }
    expect(shapes[2]).toEqual(shapes[0]);
    expect(shapes[3]).toEqual(shapes[1]);
  });

  test("no backend connection stays busy once its clients are gone", async () => {
    const sessions: mysql.Connection[] = [];
    for (let i = 0; i < 3; i++) sessions.push(await viaProxy());
    const [a, b, c] = sessions as [mysql.Connection, mysql.Connection, mysql.Connection];
    for (const s of sessions) s.on("error", () => {});
    await a.query("BEGIN");
    await a.query("SELECT * FROM tt FOR UPDATE");
    await b.query("CREATE TEMPORARY TABLE tmp (i INT)");
    const stmt = await c.prepare("SELECT i FROM tt WHERE i > ?");
    await stmt.execute([0]);
    await c.query("SET @@sql_mode = 'ANSI_QUOTES'");
    // A client that hangs up in the middle of a large result.
    const d = await viaProxy();
    d.on("error", () => {});
    const big = d.query("SELECT seq, REPEAT('x', 1000) FROM seq_1_to_200000");
    setTimeout(() => d.destroy(), 50);
    // mysql2 settles nothing in flight when destroyed: wait a moment instead.
    await Promise.race([big.catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
    // A client killed from another session while its statement runs.
    const e = await viaProxy();
    e.on("error", () => {});
    const slow = e.query("SELECT SLEEP(5)").catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    await a.query(`KILL ${e.threadId}`).catch(() => {});
    await slow;
    for (const s of sessions) await s.end().catch(() => {});
    let busy: { name: string; busy: number }[] = [];
    for (let i = 0; i < 50; i++) {
      busy = proxy.app.status.backends().map((x) => ({ name: x.name, busy: x.pool.busy }));
      if (busy.every((x) => x.busy === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(busy.filter((x) => x.busy !== 0)).toEqual([]);
  });
});

/** `count` results of a multi-statement (or fewer, when one is an ERR), as payloads. */
async function rawAnswers(c: RawClient, sql: string, count: number): Promise<Buffer[]> {
  c.send(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "utf8")]));
  const out: Buffer[] = [];
  for (let results = 0; results < count; ) {
    const p = await c.read();
    out.push(p.payload);
    if (p.payload[0] === 0xff) return out;
    if (p.payload[0] === 0x00) {
      results++;
      continue;
    }
    let eofs = 0;
    for (;;) {
      const q = await c.read();
      out.push(q.payload);
      if (q.payload[0] === 0xfe && q.payload.length < 9 && ++eofs === 2) break;
    }
    results++;
  }
  return out;
}

/** A packet's kind and, for OK/EOF/ERR, what the client acts on (status flags, error number). */
function shape(p: Buffer): string {
  if (p[0] === 0xff) return `ERR ${p.readUInt16LE(1)}`;
  if (p[0] === 0x00 && p.length >= 7) return `OK status=${p.readUInt16LE(3) & ~0x4000}`;
  if (p[0] === 0xfe && p.length < 9) return `EOF status=${p.readUInt16LE(3) & ~0x4000}`;
  return `data ${p.length}`;
}

describe("max_allowed_packet as on the server", () => {
  test("a packet of max_allowed_packet bytes or more: the server's 1153 and a closed connection, and no backend connection is dropped for it", async () => {
    const nodes = [sb.primary, ...sb.replicas];
    const admin = await Promise.all(nodes.map((n) => sb.connect(n)));
    const [[before]] = (await admin[0]!.query("SELECT @@global.max_allowed_packet AS m")) as unknown as [
      { m: number }[],
    ];
    const max = 1024 * 1024;
    try {
      for (const c of admin) await c.query(`SET GLOBAL max_allowed_packet = ${max}`);
      // The monitor reads it with its next check of the primary.
      for (let i = 0; proxy.app.observations().get("primary")?.maxAllowedPacket !== max; i++) {
        if (i > 100) throw new Error("the monitor never saw the new max_allowed_packet");
        await new Promise((r) => setTimeout(r, 50));
      }
      // COM_QUERY's payload: the command byte and the statement.
      const statement = (payload: number) => {
        const head = "SELECT LENGTH('";
        const tail = "') AS n";
        return `${head}${"x".repeat(payload - 1 - head.length - tail.length)}${tail}`;
      };
      const [d, p] = await both(async (c) => {
        c.on("error", () => {});
        const fits = await c.query(statement(max - 1));
        const refused = await c.query(statement(max)).then(
          () => "answered",
          (e: { errno?: number; code?: string }) => e.errno ?? e.code,
        );
        const after = await c.query("SELECT 1").then(
          () => "open",
          () => "closed",
        );
        return { fits: fits[0], refused, after };
      });
      // The payload of max - 1 bytes: its command byte, the statement's 22 bytes and the x's.
      expect(d.fits).toEqual([{ n: max - 1 - 1 - "SELECT LENGTH('') AS n".length }]);
      expect(p.fits).toEqual(d.fits);
      // The server sends its 1153 and closes; the client may only see the reset of the connection.
      expect(d.after).toBe("closed");
      expect(p.after).toBe("closed");
      expect(p.refused).toBe(1153);
      // No replica was taken out of the reads for it: both still serve new sessions.
      const seen = new Set<number>();
      for (let i = 0; i < 20 && seen.size < replicaIds.length; i++) {
        const c = await viaProxy();
        const [rows] = await c.query("SELECT @@server_id AS id");
        seen.add((rows as { id: number }[])[0]!.id);
        await c.end();
      }
      expect([...seen].sort()).toEqual([...replicaIds].sort());
    } finally {
      for (const c of admin) {
        await c.query(`SET GLOBAL max_allowed_packet = ${before!.m}`);
        await c.end();
      }
    }
  });
});

describe("what the server keeps about earlier statements: warnings, errors, row counts", () => {
  type Answer = { rows?: unknown; errno?: number; id?: number };

  /** Each statement's answer, `@@server_id AS id` taken out of its rows. */
  async function run(c: mysql.Connection, statements: string[]): Promise<Answer[]> {
    const out: Answer[] = [];
    for (const sql of statements) {
      try {
        const [rows] = await c.query(sql);
        if (!Array.isArray(rows)) {
          out.push({ rows: "ok" });
          continue;
        }
        const r = rows as Record<string, unknown>[];
        const id = r[0]?.id as number | undefined;
        out.push({ rows: r.map(({ id: _id, ...rest }) => rest), ...(id === undefined ? {} : { id }) });
      } catch (e) {
        out.push({ errno: (e as { errno: number }).errno });
      }
    }
    return out;
  }

  const statements = [
    "SELECT @@server_id AS id, 'a' + 1 AS x",
    "SELECT 1 AS one",
    "SET @@session.sql_select_limit = 1000",
    "SELECT @@warning_count AS wc",
    "SHOW WARNINGS",
    "SELECT i FROM tt WHERE i = 1",
    "SHOW WARNINGS",
    "SELECT @@server_id AS id, 'b' + 1 AS x",
    "USE app",
    "BEGIN",
    "SELECT i FROM tt WHERE i = 2",
    "COMMIT",
    "SHOW WARNINGS",
    "SELECT @@server_id AS id, 'c' + 1 AS x",
    "BEGIN",
    "SELECT 1 AS one",
    "COMMIT",
    "SHOW COUNT(*) WARNINGS",
    "INSERT IGNORE INTO tt VALUES (1), (70)",
    "SELECT 2 AS two",
    "SHOW WARNINGS",
    "UPDATE tt SET i = i WHERE i < 3",
    "SELECT ROW_COUNT() AS rc",
    "DELETE FROM tt WHERE i = 70",
    "SELECT ROW_COUNT() AS rc",
    "SELECT @@server_id AS id, i FROM tt WHERE i < 3",
    "SELECT FOUND_ROWS() AS fr",
    "SELECT * FROM nosuch",
    "SELECT 1 AS one",
    "SHOW ERRORS",
    "SELECT @@error_count AS ec",
    // Last: GET DIAGNOSTICS into a user variable ties the session to the primary.
    "INSERT IGNORE INTO tt VALUES (1)",
    "SELECT 3 AS three",
    "GET DIAGNOSTICS @n = NUMBER",
    "SELECT @n AS n",
  ];

  test("SHOW WARNINGS / ERRORS, @@warning_count, ROW_COUNT(), FOUND_ROWS(), GET DIAGNOSTICS answer as on the server, about statements that ran on replicas too", async () => {
    await replicasFresh();
    const [d, p] = await both((c) => run(c, statements));
    expect(p.map(({ id: _id, ...a }) => a)).toEqual(d.map(({ id: _id, ...a }) => a));
    // The warnings asked about were a replica's: no other connection had them to show.
    const ids = p.flatMap((a) => (a.id === undefined ? [] : [a.id]));
    expect(ids.filter((id) => replicaIds.includes(id)).length).toBeGreaterThanOrEqual(3);
    expect(d[4]!.rows).toHaveLength(1); // the server kept 'a''s warning through SELECT 1 and SET
    expect(blockedWrites()).toBe(0);
  });

  test("a prepared statement's warnings, then SHOW WARNINGS (as Rails, Connector/J and PHP ask for them)", async () => {
    const [d, p] = await both(async (c) => {
      const [rows] = await c.execute("SELECT @@server_id AS id, ? + 1 AS x", ["q"]);
      const [warnings] = await c.query("SHOW WARNINGS");
      return { id: (rows as { id: number }[])[0]!.id, warnings };
    });
    expect(replicaIds).toContain(p.id);
    expect(p.warnings).toEqual(d.warnings);
    expect(d.warnings).toHaveLength(1);
  });

  /** `n` sessions through rwsplit running `sql` over and over (each one statement first) until stopped. */
  async function busySessions(statements: string[]): Promise<() => Promise<void>> {
    let stop = false;
    const busy = await Promise.all(statements.map(() => viaProxy()));
    await Promise.all(busy.map((c, n) => c.query(statements[n]!)));
    const loops = busy.map(async (c, n) => {
      while (!stop) await c.query(statements[n]!);
    });
    return async () => {
      stop = true;
      await Promise.all(loops);
      await Promise.all(busy.map((x) => x.end()));
    };
  }

  test("with other sessions busy beside it, a session's warnings are still its own (their connection is kept for it)", async () => {
    const warned = ["SELECT 'z' + 1 AS x", "SHOW WARNINGS", "SELECT @@warning_count AS w"];
    const [expected] = await both((c) => run(c, warned));
    const c = await viaProxy();
    const stop = await busySessions([
      "SELECT i FROM tt WHERE i = 1",
      "UPDATE tt SET i = i WHERE i = 3",
      "SELECT 'other' + 1 AS x",
      "INSERT IGNORE INTO tt VALUES (1)",
    ]);
    try {
      for (let i = 0; i < 40; i++) expect(await run(c, warned)).toEqual(expected);
    } finally {
      await stop();
      await c.end();
    }
  });
});

describe("LAST_INSERT_ID() as on the server", () => {
  test("read inside START TRANSACTION READ ONLY: the session's value, answered by the replica the transaction runs on", async () => {
    const [d, p] = await both(async (c) => {
      await c.query("CREATE TABLE IF NOT EXISTS ai_lii (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
      const [ins] = await c.query("INSERT INTO ai_lii (v) VALUES (1), (2)");
      await c.query("SELECT 1 AS pad"); // another connection in between, through rwsplit
      await c.query("START TRANSACTION READ ONLY");
      const [rows] = await c.query("SELECT @@server_id AS id, LAST_INSERT_ID() AS lii, @@identity AS ident");
      await c.query("COMMIT");
      const r = (rows as { id: number; lii: number; ident: number }[])[0]!;
      return { first: (ins as mysql.ResultSetHeader).insertId, ...r };
    });
    expect(replicaIds).toContain(p.id);
    expect(p.lii).toBe(p.first);
    expect(d.lii).toBe(d.first);
    expect(p.ident).toBe(p.lii);
    expect(blockedWrites()).toBe(0);
  });
});
