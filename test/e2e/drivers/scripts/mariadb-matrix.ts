import { createHash } from "node:crypto";
import * as mariadb from "mariadb";
import { type DriverTarget, Recorder, type Transcript } from "../transcript.js";
import { warningsCase } from "./node-warnings.js";

// The matrix scenario (../cases.ts) for MariaDB Connector/Node.js (`mariadb` 3.x), in-process.
// query() is the text protocol (client-side `?` escaping), execute() and prepare() the binary
// protocol, batch() COM_STMT_BULK_EXECUTE when the server offers it (else pipelined EXECUTEs).

type Conn = mariadb.Connection;

/** Fields of ConnectionInfo that 3.x has but its typings omit. */
const infoDatabase = (c: Conn) => (c.info as unknown as { database?: string } | null)?.database ?? null;

function blobPayload(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export async function runMariadb(
  t: DriverTarget,
  only: ReadonlySet<string> | null = null,
): Promise<Transcript> {
  const base: mariadb.ConnectionConfig = {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    database: t.db,
    charset: "utf8mb4",
    connectTimeout: 30_000,
    // A statement the proxy never answers fails after 20 s instead of hanging the matrix.
    socketTimeout: 20_000,
  };
  const open = (extra: Partial<mariadb.ConnectionConfig> = {}) =>
    mariadb.createConnection({ ...base, ...extra });
  const rec = new Recorder(only);
  const q = (c: Conn, sql: string, params?: unknown[]) => rec.step(sql, () => c.query(sql, params));
  const x = (c: Conn, label: string, sql: string, params: unknown[]) =>
    rec.step(label, () => c.execute(sql, params));
  const withConn = async (fn: (c: Conn) => Promise<void>, extra: Partial<mariadb.ConnectionConfig> = {}) => {
    const c = await open(extra);
    try {
      await fn(c);
    } finally {
      await c.end().catch(() => c.destroy());
    }
  };
  const ok = (p: Promise<unknown>) => p.then(() => "ok");
  /** prepare() + execute + close: waits for the PREPARE's answer, unlike execute(). */
  const prepared = async (c: Conn, sql: string, params: unknown[]) => {
    const p = await c.prepare(sql);
    try {
      return await p.execute(params);
    } finally {
      p.close();
    }
  };

  await rec.run("crud_utf8mb4", () =>
    withConn(async (c) => {
      await rec.step("read first", async () => typeof (await c.query("SELECT @@server_id AS id"))[0].id);
      await q(c, "CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT)");
      await q(c, "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3)");
      await q(c, "SELECT id, name, n FROM crud ORDER BY id");
      await q(c, "SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE ?", [
        "%😀%",
      ]);
      await q(c, "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2");
      await q(c, "SELECT id, name, n FROM crud ORDER BY id");
      await q(c, "DELETE FROM crud WHERE n = 1");
      await q(c, "SELECT COUNT(*) AS c FROM crud");
    }),
  );

  await rec.run("transaction_commit_rollback", () =>
    withConn(async (c) => {
      await q(c, "CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20))");
      await rec.step("beginTransaction", () => ok(c.beginTransaction()));
      await q(c, "INSERT INTO tx VALUES (1, 'rolled back')");
      await q(c, "SELECT COUNT(*) AS c FROM tx");
      await rec.step("rollback", () => ok(c.rollback()));
      await q(c, "SELECT COUNT(*) AS c FROM tx");
      await rec.step("beginTransaction", () => ok(c.beginTransaction()));
      await q(c, "INSERT INTO tx VALUES (2, 'committed')");
      await q(c, "SELECT @@in_transaction AS t");
      await rec.step("commit", () => ok(c.commit()));
      await q(c, "SELECT @@in_transaction AS t");
      await q(c, "SELECT id, v FROM tx ORDER BY id");
    }),
  );

  await rec.run("autocommit_off", () =>
    withConn(async (c) => {
      await q(c, "CREATE TABLE ac (id INT PRIMARY KEY)");
      await q(c, "SET autocommit = 0");
      await q(c, "INSERT INTO ac VALUES (1)");
      await q(c, "SELECT COUNT(*) AS c FROM ac");
      await rec.step("rollback", () => ok(c.rollback()));
      await q(c, "SELECT COUNT(*) AS c FROM ac");
      await q(c, "INSERT INTO ac VALUES (2)");
      await rec.step("commit", () => ok(c.commit()));
      await q(c, "SELECT @@autocommit AS a, @@in_transaction AS t");
      await q(c, "SELECT id FROM ac");
      await q(c, "SET autocommit = 1");
    }),
  );

  await rec.run("last_insert_id", () =>
    withConn(async (c) => {
      await q(c, "CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100");
      await q(c, "INSERT INTO li (v) VALUES ('a')");
      await q(c, "SELECT LAST_INSERT_ID() AS id");
      await q(c, "INSERT INTO li (v) VALUES ('b'), ('c')");
      await q(c, "SELECT LAST_INSERT_ID() AS id");
      await x(c, "prepared insert", "INSERT INTO li (v) VALUES (?)", ["d"]);
      await q(c, "SELECT LAST_INSERT_ID() AS id");
      await q(c, "SELECT LAST_INSERT_ID(42) AS id");
      await q(c, "SELECT LAST_INSERT_ID() AS id");
    }),
  );

  await rec.run("temporary_table", () =>
    withConn(async (c) => {
      await q(c, "CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10))");
      await q(c, "INSERT INTO tmp VALUES (1, 'x'), (2, 'y')");
      await q(c, "SELECT id, v FROM tmp ORDER BY id");
      await q(c, "SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE()");
      await x(c, "prepared select", "SELECT v FROM tmp WHERE id = ?", [2]);
      await q(c, "DROP TEMPORARY TABLE tmp");
      await q(c, "SELECT id FROM tmp");
    }),
  );

  await rec.run("user_variables", () =>
    withConn(async (c) => {
      await q(c, "SET @a = 'x😀', @b = 42");
      await q(c, "SELECT @a AS a, @b AS b");
      await q(c, "SELECT @b + 1 AS c");
      await q(c, "SELECT @c := 5 AS c");
      await q(c, "SELECT @c AS c, @never_set AS n");
      await x(c, "prepared read of @a", "SELECT @a AS a, ? AS p", [1]);
    }),
  );

  await rec.run("prepared_null_binary", () =>
    withConn(async (c) => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await q(
        c,
        "CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL)",
      );
      const ins = "INSERT INTO ps VALUES (?, ?, ?, ?, ?)";
      await x(c, "insert 1", ins, [1, "emoji 😀", bytes, 1.5, "2024-02-29 12:34:56.789"]);
      await x(c, "insert 2 (nulls)", ins, [2, null, null, null, null]);
      const sel = "SELECT id, s, b, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = ?";
      await x(c, "select 1", sel, [1]);
      await x(c, "select 2", sel, [2]);
      await x(c, "null-safe compare", "SELECT COUNT(*) AS c FROM ps WHERE s <=> ?", [null]);
      await x(c, "binary echo", "SELECT ? AS p, HEX(?) AS h", [
        Buffer.from([0, 255, 0]),
        Buffer.from([0, 255, 0]),
      ]);
    }),
  );

  await rec.run("prepared_per_database", async () => {
    // Fresh sessions, one after the other, alternating databases, each a read (for a replica).
    for (let i = 0; i < 16; i++) {
      await withConn(
        async (c) => {
          await rec.step(`session ${i}`, () =>
            prepared(c, "SELECT v, DATABASE() AS d FROM pdb WHERE id = ?", [1]),
          );
        },
        { database: i % 2 === 0 ? t.db : t.db2 },
      );
    }
  });

  await rec.run("json_column", () =>
    withConn(async (c) => {
      await q(c, "CREATE TABLE js (id INT PRIMARY KEY, doc JSON)");
      await q(c, `INSERT INTO js VALUES (1, '{"a": 1, "b": [1, 2, "😀"], "c": {"d": null}}')`);
      await q(c, "SELECT id, doc FROM js");
      await x(c, "prepared select", "SELECT id, doc FROM js WHERE id = ?", [1]);
      await q(c, "SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js");
      await q(c, "UPDATE js SET doc = JSON_SET(doc, '$.a', 2)");
      await q(c, "SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js");
      await q(c, "SELECT JSON_OBJECT('k', 'v😀') AS o");
    }),
  );

  await rec.run("stored_procedure", () =>
    withConn(async (c) => {
      await q(
        c,
        "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END",
      );
      await q(c, "CALL sp(3, @out)");
      await q(c, "SELECT @out AS o");
      await x(c, "prepared CALL", "CALL sp(?, @out2)", [4]);
      await q(c, "SELECT @out2 AS o");
      await q(c, "CREATE TABLE spt (id INT PRIMARY KEY)");
      await q(c, "CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a)");
      await q(c, "CALL spw(7)");
      await q(c, "SELECT id FROM spt");
    }),
  );

  await rec.run("large_blob", () =>
    withConn(async (c) => {
      const payload = blobPayload(4 * 1024 * 1024);
      rec.note("payload sha256", sha256(payload));
      await q(c, "CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB)");
      await x(c, "prepared insert", "INSERT INTO lob VALUES (?, ?)", [1, payload]);
      await q(c, "INSERT INTO lob VALUES (?, ?)", [2, payload]);
      await q(c, "SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob ORDER BY id");
      await rec.step("read back (text)", async () => {
        const d = (await c.query("SELECT data FROM lob WHERE id = 1"))[0].data as Buffer;
        return [d.length, sha256(d)];
      });
      await rec.step("read back (binary)", async () => {
        const d = (await c.execute("SELECT data FROM lob WHERE id = ?", [2]))[0].data as Buffer;
        return [d.length, sha256(d)];
      });
    }),
  );

  await rec.run("switch_database", () =>
    withConn(async (c) => {
      await q(c, "SELECT DATABASE() AS db");
      await q(c, `USE \`${t.db2}\``);
      rec.note("info.database", infoDatabase(c));
      await q(c, "SELECT DATABASE() AS db");
      await q(c, "CREATE TABLE sw (id INT)");
      await q(c, "INSERT INTO sw VALUES (1)");
      await q(c, "SELECT COUNT(*) AS c FROM sw");
      await q(c, `USE \`${t.db}\``);
      rec.note("info.database", infoDatabase(c));
      await q(c, "SELECT DATABASE() AS db");
      await q(c, "SELECT COUNT(*) AS c FROM sw");
      await q(c, `SELECT COUNT(*) AS c FROM \`${t.db2}\`.sw`);
    }),
  );

  await rec.run("row_lock", () =>
    withConn(async (a) =>
      withConn(async (b) => {
        await q(a, "CREATE TABLE rl (id INT PRIMARY KEY, v INT)");
        await q(a, "INSERT INTO rl VALUES (1, 0), (2, 0)");
        await rec.step("A beginTransaction", () => ok(a.beginTransaction()));
        await q(a, "SELECT v FROM rl WHERE id = 1 FOR UPDATE");
        await q(
          a,
          "SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()",
        );
        await q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT");
        await q(b, "SELECT id FROM rl FOR UPDATE SKIP LOCKED");
        await q(a, "UPDATE rl SET v = 1 WHERE id = 1");
        await rec.step("A commit", () => ok(a.commit()));
        await q(b, "SELECT v FROM rl WHERE id = 1 FOR UPDATE NOWAIT");
      }),
    ),
  );

  await rec.run("get_lock", () =>
    withConn(async (a) =>
      withConn(async (b) => {
        const name = `lock_${t.tag}`;
        await q(a, "SELECT GET_LOCK(?, 0) AS l", [name]);
        await q(a, "SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine", [name]);
        await q(b, "SELECT GET_LOCK(?, 0) AS l", [name]);
        await q(b, "SELECT IS_FREE_LOCK(?) AS f", [name]);
        await q(a, "SELECT RELEASE_LOCK(?) AS r", [name]);
        await q(b, "SELECT GET_LOCK(?, 0) AS l", [name]);
        await q(b, "SELECT RELEASE_LOCK(?) AS r", [name]);
        await q(a, "SELECT RELEASE_LOCK(?) AS r", [name]);
      }),
    ),
  );

  const batchSteps = async (c: Conn, table: string) => {
    await q(c, `CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL)`);
    const rows = Array.from({ length: 100 }, (_, i) => [
      i,
      `row ${i} 😀`,
      i % 3 === 0 ? null : Buffer.from([i]),
    ]);
    await rec.step("batch 100 rows", () => c.batch(`INSERT INTO ${table} (id, v, b) VALUES (?, ?, ?)`, rows));
    await q(c, `SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM ${table}`);
    await q(c, `SELECT id, v, b FROM ${table} WHERE id IN (1, 50, 99) ORDER BY id`);
    await rec.step("batch with a duplicate key", () =>
      c.batch(`INSERT INTO ${table} (id, v, b) VALUES (?, ?, ?)`, [
        [100, "new", null],
        [1, "dup", null],
      ]),
    );
    await q(c, `SELECT COUNT(*) AS n FROM ${table}`);
  };
  await rec.run("batch_insert", () => withConn((c) => batchSteps(c, "bi")));
  await rec.run("batch_bulk_on", () => withConn((c) => batchSteps(c, "bon"), { bulk: true }));
  await rec.run("batch_bulk_off", () => withConn((c) => batchSteps(c, "boff"), { bulk: false }));

  const executeSteps = async (c: Conn, table: string) => {
    await q(c, `CREATE TABLE ${table} (id INT PRIMARY KEY, v VARCHAR(20))`);
    await x(c, "insert 1", `INSERT INTO ${table} VALUES (?, ?)`, [1, "one 😀"]);
    await x(c, "insert 2 (same statement)", `INSERT INTO ${table} VALUES (?, ?)`, [2, null]);
    await x(c, "select", `SELECT id, v FROM ${table} WHERE id >= ? ORDER BY id`, [1]);
    await x(c, "select again", `SELECT id, v FROM ${table} WHERE id >= ? ORDER BY id`, [2]);
    await x(c, "error in execute", `SELECT nope FROM ${table} WHERE id = ?`, [1]);
    await x(c, "after the error", "SELECT ? + 1 AS n", [41]);
    await rec.step("prepare/execute/close", async () => {
      const p = await c.prepare(`SELECT v FROM ${table} WHERE id = ?`);
      try {
        return [await p.execute([1]), await p.execute([2])];
      } finally {
        p.close();
      }
    });
    await rec.step("10 executes at once (pipelined)", () =>
      Promise.all(Array.from({ length: 10 }, (_, i) => c.execute("SELECT ? AS i", [i]))),
    );
  };
  await rec.run("execute_prepare_cache_default", () => withConn((c) => executeSteps(c, "epc")));
  await rec.run("execute_prepare_cache_off", () =>
    withConn((c) => executeSteps(c, "enc"), { prepareCacheLength: 0 }),
  );

  await rec.run("json_typecast", async () => {
    const seen: unknown[] = [];
    const typeCast: mariadb.TypeCastFunction = (column, next) => {
      const col = column as unknown as {
        type: string;
        dataTypeName?: string;
        isDataTypeFormatJson?: () => boolean;
      };
      seen.push([column.name(), col.type, col.dataTypeName ?? null, col.isDataTypeFormatJson?.() ?? null]);
      if (col.isDataTypeFormatJson?.()) {
        const s = column.string();
        return s === null ? null : { parsed: JSON.parse(s) };
      }
      return next();
    };
    await withConn(async (c) => {
      await q(c, "CREATE TABLE jt (id INT PRIMARY KEY, doc JSON, txt LONGTEXT)");
      await q(c, `INSERT INTO jt VALUES (1, '{"a": [1, "😀"]}', '{"not": "json"}')`);
      await q(c, "SELECT id, doc, txt FROM jt");
    });
    await withConn(
      async (c) => {
        await q(c, "SELECT id, doc, txt FROM jt");
        await x(c, "prepared select", "SELECT id, doc, txt FROM jt WHERE id = ?", [1]);
      },
      { typeCast },
    );
    rec.note("columns seen by typeCast", seen);
    await withConn((c) => q(c, "SELECT id, doc FROM jt").then(() => {}), {
      jsonStrings: true,
    } as Partial<mariadb.ConnectionConfig>);
  });

  await rec.run("reset_connection", () =>
    withConn(async (c) => {
      // Another database, and sql_mode as the driver's login left it (mysql2 asks for IGNORE_SPACE):
      // MariaDB keeps the database and puts the global sql_mode back.
      await q(c, `USE \`${t.db2}\``);
      await q(c, "SET @r = 1, SESSION lock_wait_timeout = 7");
      await q(c, "CREATE TEMPORARY TABLE rt (i INT)");
      await rec.step("reset", () => ok(c.reset()));
      await q(c, "SELECT @r AS r, @@lock_wait_timeout AS lwt, DATABASE() AS db, @@sql_mode AS m");
      await q(c, "SELECT i FROM rt");
    }),
  );

  await rec.run("change_user", () =>
    withConn(async (c) => {
      await q(c, "SET @cu = 1");
      await rec.step("changeUser", () =>
        ok(c.changeUser({ user: t.user, password: t.password, database: t.db2 })),
      );
      await q(c, "SELECT CURRENT_USER() AS u, DATABASE() AS db, @cu AS v, @@sql_mode AS m");
    }),
  );

  await rec.run("change_user_unlisted", () =>
    withConn(async (c) => {
      await rec.step("changeUser", () =>
        ok(c.changeUser({ user: t.unlistedUser, password: t.unlistedPassword, database: t.db })),
      );
      await q(c, "SELECT CURRENT_USER() AS u, DATABASE() AS db");
      await q(c, "CREATE TABLE cuu (id INT)");
      await q(c, "INSERT INTO cuu VALUES (1)");
      await q(c, "SELECT id FROM cuu");
      await rec.step("changeUser back", () => ok(c.changeUser({ user: t.user, password: t.password })));
      await q(c, "SELECT CURRENT_USER() AS u");
    }),
  );

  await rec.run("connect_unlisted", () =>
    withConn(
      async (c) => {
        await q(c, "SELECT CURRENT_USER() AS u, DATABASE() AS db");
        await q(c, "CREATE TABLE cu (id INT)");
        await q(c, "INSERT INTO cu VALUES (1)");
        await q(c, "SELECT id FROM cu");
      },
      { user: t.unlistedUser, password: t.unlistedPassword },
    ),
  );

  await rec.run("compression", () =>
    withConn(
      async (c) => {
        await rec.step("big compressible result", async () => {
          const big = (await c.query("SELECT REPEAT('rwsplit ', 200000) AS big"))[0].big as string;
          return [big.length, sha256(Buffer.from(big))];
        });
        await q(c, "CREATE TABLE cz (id INT PRIMARY KEY, t MEDIUMTEXT)");
        await x(c, "prepared insert", "INSERT INTO cz VALUES (?, ?)", [1, "compress me ".repeat(10_000)]);
        await q(c, "SELECT id, LENGTH(t) AS len FROM cz");
      },
      { host: t.compressHost, port: t.compressPort, compress: true },
    ),
  );

  await rec.run("many_connections", async () => {
    await withConn((c) => q(c, "CREATE TABLE mc (id INT PRIMARY KEY)").then(() => {}));
    const results = await Promise.all(
      Array.from({ length: t.connections }, async (_, i) => {
        try {
          const c = await open();
          try {
            await c.query("INSERT INTO mc VALUES (?)", [i]);
            return Number((await c.query("SELECT COUNT(*) AS n FROM mc WHERE id = ?", [i]))[0].n);
          } finally {
            await c.end();
          }
        } catch (e) {
          return `error ${(e as { errno?: number }).errno}`;
        }
      }),
    );
    rec.note("per connection", results);
    // Then as many connections that only read: what spreads over the replicas.
    const readers = await Promise.all(
      Array.from({ length: t.connections }, async () => {
        try {
          const c = await open();
          try {
            return Number(
              (
                await c.query(
                  "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE() AS n",
                )
              )[0].n,
            );
          } finally {
            await c.end();
          }
        } catch (e) {
          return `error ${(e as { errno?: number }).errno}`;
        }
      }),
    );
    rec.note("readers", readers);
  });

  await rec.run("session_settings", () =>
    withConn(async (c) => {
      await q(c, "SET @@sql_mode = 'ANSI_QUOTES'");
      await q(c, "SELECT @@sql_mode AS m");
      await q(c, `SELECT "id" FROM (SELECT 1 AS id) t`);
      await q(c, "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci");
      await q(c, "SELECT 'a' = 'a ' AS eq, @@collation_connection AS c");
      await q(c, "SET time_zone = '+05:00'");
      await q(c, "SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t");
      await q(c, "SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v");
    }),
  );

  await rec.run("server_status", () =>
    withConn(async (c) => {
      // The connector keeps the last OK packet's status flags in conn.info.status.
      const status = (sql: string) =>
        rec.step(sql, async () => {
          await c.query(sql);
          return c.info?.status ?? null;
        });
      await status("SET @a = 1");
      await status("BEGIN");
      await status("DO 1");
      await status("COMMIT");
      await status("SET autocommit = 0");
      await status("SET autocommit = 1");
    }),
  );

  await rec.run("warnings", () =>
    withConn((c) =>
      warningsCase(
        rec,
        (sql) => q(c, sql),
        (sql) => c.query(sql),
        [
          ["prepared ? + 1", () => prepared(c, "SELECT ? + 1 AS x, @@server_id AS sid", ["q"])],
          ["execute ? + 1", () => c.execute("SELECT ? + 1 AS x, @@server_id AS sid", ["r"])],
        ],
      ),
    ),
  );

  return { driver: `mariadb (Connector/Node.js) ${mariadb.version}`, cases: rec.cases };
}
