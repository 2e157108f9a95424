import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { type DriverTarget, Recorder, type Transcript } from "../transcript.js";

// The matrix scenario (../cases.ts) for the `mariadb` command-line client (libmariadb), as scripts
// and cron jobs use it: a script on stdin, `--batch --force` (every statement runs; errors go to
// stderr as "ERROR 1146 (42S02) at line 7: ..."). Each step is one invocation: one connection.
// Prepared statements are SQL PREPARE/EXECUTE; one session cannot hold a lock against another,
// so row_lock and get_lock check the lock from inside the session; the client has no reset or
// change-user command.

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const sha256 = (s: string | Buffer) => createHash("sha256").update(s).digest("hex");

function mariadb(
  t: DriverTarget,
  sql: string,
  extra: string[] = [],
  user?: [string, string],
): Promise<CliResult> {
  const [name, password] = user ?? [t.user, t.password];
  const args = [
    "--no-defaults",
    "-h",
    t.host,
    "-P",
    String(t.port),
    `-u${name}`,
    `-p${password}`,
    "--default-character-set=utf8mb4",
    "--connect-timeout=30",
    "--batch",
    "--force",
    ...extra,
    t.db,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("mariadb", args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(sql);
  });
}

export async function runCli(t: DriverTarget, only: ReadonlySet<string> | null = null): Promise<Transcript> {
  const rec = new Recorder(only);
  /** One invocation as a step: what a script sees (stdout, stderr, exit code). */
  const session = (label: string, lines: string[], extra: string[] = [], user?: [string, string]) =>
    rec.step(label, () => mariadb(t, `${lines.join("\n")}\n`, extra, user));

  await rec.run("crud_utf8mb4", async () => {
    await session("crud", [
      "SELECT @@server_id IS NOT NULL AS read_first;",
      "CREATE TABLE crud (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL, n INT);",
      "INSERT INTO crud (name, n) VALUES ('héllo 😀', 1), ('𝄞 clef', 2), ('plain', 3);",
      "SELECT ROW_COUNT() AS affected;",
      "SELECT id, name, n FROM crud ORDER BY id;",
      "SELECT name, CHAR_LENGTH(name) AS cl, LENGTH(name) AS bl FROM crud WHERE name LIKE '%😀%';",
      "UPDATE crud SET name = CONCAT(name, ' 🚀'), n = n + 10 WHERE n >= 2;",
      "SELECT ROW_COUNT() AS affected;",
      "SELECT id, name, n FROM crud ORDER BY id;",
      "DELETE FROM crud WHERE n = 1;",
      "SELECT COUNT(*) AS c FROM crud;",
    ]);
  });

  await rec.run("transaction_commit_rollback", async () => {
    await session("transactions", [
      "CREATE TABLE tx (id INT PRIMARY KEY, v VARCHAR(20));",
      "BEGIN;",
      "INSERT INTO tx VALUES (1, 'rolled back');",
      "SELECT COUNT(*) AS c FROM tx;",
      "ROLLBACK;",
      "SELECT COUNT(*) AS c FROM tx;",
      "START TRANSACTION;",
      "INSERT INTO tx VALUES (2, 'committed');",
      "SELECT @@in_transaction AS t;",
      "COMMIT;",
      "SELECT @@in_transaction AS t;",
      "SELECT id, v FROM tx ORDER BY id;",
    ]);
  });

  await rec.run("autocommit_off", async () => {
    await session("autocommit off", [
      "CREATE TABLE ac (id INT PRIMARY KEY);",
      "SET autocommit = 0;",
      "INSERT INTO ac VALUES (1);",
      "SELECT COUNT(*) AS c FROM ac;",
      "ROLLBACK;",
      "SELECT COUNT(*) AS c FROM ac;",
      "INSERT INTO ac VALUES (2);",
      "COMMIT;",
      "SELECT @@autocommit AS a, @@in_transaction AS t;",
      "SELECT id FROM ac;",
    ]);
  });

  await rec.run("last_insert_id", async () => {
    await session("last insert id", [
      "CREATE TABLE li (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(10)) AUTO_INCREMENT = 100;",
      "INSERT INTO li (v) VALUES ('a');",
      "SELECT LAST_INSERT_ID() AS id;",
      "INSERT INTO li (v) VALUES ('b'), ('c');",
      "SELECT LAST_INSERT_ID() AS id;",
      "SELECT LAST_INSERT_ID(42) AS id;",
      "SELECT LAST_INSERT_ID() AS id;",
    ]);
  });

  await rec.run("temporary_table", async () => {
    await session("temporary table", [
      "CREATE TEMPORARY TABLE tmp (id INT, v VARCHAR(10));",
      "INSERT INTO tmp VALUES (1, 'x'), (2, 'y');",
      "SELECT id, v FROM tmp ORDER BY id;",
      "SELECT COUNT(*) AS c FROM information_schema.schemata WHERE schema_name = DATABASE();",
      "SELECT v FROM tmp WHERE id = 2;",
      "DROP TEMPORARY TABLE tmp;",
      "SELECT id FROM tmp;",
    ]);
  });

  await rec.run("user_variables", async () => {
    await session("user variables", [
      "SET @a = 'x😀', @b = 42;",
      "SELECT @a AS a, @b AS b;",
      "SELECT @b + 1 AS c;",
      "SELECT @c := 5 AS c;",
      "SELECT @c AS c, @never_set AS n;",
    ]);
  });

  await rec.run("prepared_null_binary", async () => {
    const hex = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("hex");
    await session("SQL PREPARE/EXECUTE", [
      "CREATE TABLE ps (id INT PRIMARY KEY, s VARCHAR(40) NULL, b VARBINARY(300) NULL, d DOUBLE NULL, dt DATETIME(6) NULL);",
      "PREPARE ins FROM 'INSERT INTO ps VALUES (?, ?, ?, ?, ?)';",
      `SET @id = 1, @s = 'emoji 😀', @b = X'${hex}', @d = 1.5, @dt = '2024-02-29 12:34:56.789';`,
      "EXECUTE ins USING @id, @s, @b, @d, @dt;",
      "SET @id = 2, @s = NULL, @b = NULL, @d = NULL, @dt = NULL;",
      "EXECUTE ins USING @id, @s, @b, @d, @dt;",
      "DEALLOCATE PREPARE ins;",
      "PREPARE sel FROM 'SELECT id, s, HEX(b) AS h, d, CAST(dt AS CHAR) AS dt FROM ps WHERE id = ?';",
      "SET @id = 1;",
      "EXECUTE sel USING @id;",
      "SET @id = 2;",
      "EXECUTE sel USING @id;",
      "PREPARE ns FROM 'SELECT COUNT(*) AS c FROM ps WHERE s <=> ?';",
      "EXECUTE ns USING NULL;",
    ]);
  });

  await rec.run("json_column", async () => {
    await session("json", [
      "CREATE TABLE js (id INT PRIMARY KEY, doc JSON);",
      `INSERT INTO js VALUES (1, '{"a": 1, "b": [1, 2, "😀"], "c": {"d": null}}');`,
      "SELECT id, doc FROM js;",
      "SELECT JSON_EXTRACT(doc, '$.b[2]') AS e, JSON_VALUE(doc, '$.a') AS v FROM js;",
      "UPDATE js SET doc = JSON_SET(doc, '$.a', 2);",
      "SELECT JSON_UNQUOTE(JSON_EXTRACT(doc, '$.a')) AS a FROM js;",
      "SELECT JSON_OBJECT('k', 'v😀') AS o;",
    ]);
  });

  await rec.run("stored_procedure", async () => {
    await session("procedures", [
      "DELIMITER //",
      "CREATE PROCEDURE sp(IN a INT, OUT b INT) BEGIN SELECT a AS first; SELECT a * 2 AS second, 'x😀' AS s; SET b = a * 10; END //",
      "DELIMITER ;",
      "CALL sp(3, @out);",
      "SELECT @out AS o;",
      "CREATE TABLE spt (id INT PRIMARY KEY);",
      "CREATE PROCEDURE spw(IN a INT) INSERT INTO spt VALUES (a);",
      "CALL spw(7);",
      "SELECT id FROM spt;",
    ]);
  });

  await rec.run("large_blob", async () => {
    const payload = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    rec.note("payload sha256", sha256(payload));
    // The blob is read back in the same session; the batch output (escaped) is hashed.
    await rec.step("insert, check, read back", async () => {
      const r = await mariadb(
        t,
        [
          "CREATE TABLE lob (id INT PRIMARY KEY, data LONGBLOB);",
          `INSERT INTO lob VALUES (1, X'${payload.toString("hex")}');`,
          "SELECT id, LENGTH(data) AS len, SHA2(data, 256) AS sha FROM lob;",
          "SELECT data FROM lob WHERE id = 1;",
        ].join("\n"),
      );
      return { code: r.code, stderr: r.stderr, bytes: r.stdout.length, sha256: sha256(r.stdout) };
    });
  });

  await rec.run("switch_database", async () => {
    await session("USE (the client's use command: COM_INIT_DB)", [
      "SELECT DATABASE() AS db;",
      `USE ${t.db2}`,
      "SELECT DATABASE() AS db;",
      "CREATE TABLE sw (id INT);",
      "INSERT INTO sw VALUES (1);",
      "SELECT COUNT(*) AS c FROM sw;",
      `USE ${t.db}`,
      "SELECT DATABASE() AS db;",
      "SELECT COUNT(*) AS c FROM sw;",
      `SELECT COUNT(*) AS c FROM \`${t.db2}\`.sw;`,
    ]);
  });

  await rec.run("row_lock", async () => {
    await session("FOR UPDATE in a transaction", [
      "CREATE TABLE rl (id INT PRIMARY KEY, v INT);",
      "INSERT INTO rl VALUES (1, 0), (2, 0);",
      "BEGIN;",
      "SELECT v FROM rl WHERE id = 1 FOR UPDATE;",
      "SELECT trx_rows_locked AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID();",
      "UPDATE rl SET v = 1 WHERE id = 1;",
      "COMMIT;",
      "SELECT v FROM rl WHERE id = 1;",
    ]);
  });

  await rec.run("get_lock", async () => {
    const name = `lock_${t.tag}`;
    await session("GET_LOCK", [
      `SELECT GET_LOCK('${name}', 0) AS l;`,
      `SELECT IS_USED_LOCK('${name}') = CONNECTION_ID() AS mine;`,
      `SELECT IS_FREE_LOCK('${name}') AS f;`,
      `SELECT RELEASE_LOCK('${name}') AS r;`,
      `SELECT IS_FREE_LOCK('${name}') AS f;`,
      `SELECT RELEASE_LOCK('${name}') AS r;`,
    ]);
  });

  await rec.run("batch_insert", async () => {
    const values = Array.from(
      { length: 100 },
      (_, i) => `(${i}, 'row ${i} 😀', ${i % 3 === 0 ? "NULL" : `X'${i.toString(16).padStart(2, "0")}'`})`,
    );
    await session("multi-row INSERT", [
      "CREATE TABLE bi (id INT PRIMARY KEY, v VARCHAR(20), b VARBINARY(10) NULL);",
      `INSERT INTO bi (id, v, b) VALUES ${values.join(", ")};`,
      "SELECT COUNT(*) AS n, SUM(id) AS s, COUNT(b) AS nb FROM bi;",
      "SELECT id, v, HEX(b) AS b FROM bi WHERE id IN (1, 50, 99) ORDER BY id;",
      "INSERT INTO bi (id, v, b) VALUES (100, 'new', NULL), (1, 'dup', NULL);",
      "SELECT COUNT(*) AS n FROM bi;",
    ]);
  });

  await rec.run("connect_unlisted", async () => {
    await session(
      "as the unlisted account",
      [
        "SELECT CURRENT_USER() AS u, DATABASE() AS db;",
        "CREATE TABLE cu (id INT);",
        "INSERT INTO cu VALUES (1);",
        "SELECT id FROM cu;",
      ],
      [],
      [t.unlistedUser, t.unlistedPassword],
    );
  });

  await rec.run("compression", async () => {
    await rec.step("--compress", async () => {
      const r = await mariadb(
        { ...t, host: t.compressHost, port: t.compressPort },
        [
          "SELECT REPEAT('rwsplit ', 200000) AS big;",
          "CREATE TABLE cz (id INT PRIMARY KEY, t MEDIUMTEXT);",
          `INSERT INTO cz VALUES (1, REPEAT('compress me ', 10000));`,
          "SELECT id, LENGTH(t) AS len FROM cz;",
        ].join("\n"),
        ["--compress"],
      );
      return { code: r.code, stderr: r.stderr, bytes: r.stdout.length, sha256: sha256(r.stdout) };
    });
  });

  await rec.run("many_connections", async () => {
    await session("create", ["CREATE TABLE mc (id INT PRIMARY KEY);"]);
    const results = await Promise.all(
      Array.from({ length: t.connections }, (_, i) =>
        mariadb(t, `INSERT INTO mc VALUES (${i});\nSELECT COUNT(*) FROM mc WHERE id = ${i};\n`, [
          "--skip-column-names",
        ]).then((r) => (r.code === 0 ? r.stdout.trim() : r.stderr.trim())),
      ),
    );
    rec.note("per connection", results);
    // Then as many connections that only read: what spreads over the replicas.
    const readers = await Promise.all(
      Array.from({ length: t.connections }, () =>
        mariadb(t, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = DATABASE();\n", [
          "--skip-column-names",
        ]).then((r) => (r.code === 0 ? r.stdout.trim() : r.stderr.trim())),
      ),
    );
    rec.note("readers", readers);
  });

  await rec.run("session_settings", async () => {
    await session("settings", [
      "SET @@sql_mode = 'ANSI_QUOTES';",
      "SELECT @@sql_mode AS m;",
      `SELECT "id" FROM (SELECT 1 AS id) t;`,
      "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci;",
      "SELECT 'a' = 'a ' AS eq, @@collation_connection AS c;",
      "SET time_zone = '+05:00';",
      "SELECT @@time_zone AS tz, CAST(FROM_UNIXTIME(0) AS CHAR) AS t;",
      "SELECT @@session_track_state_change AS s, @@session_track_system_variables AS v;",
    ]);
  });

  await rec.run("warnings", async () => {
    // --show-warnings: after a statement whose OK or EOF packet counted warnings, the client runs
    // SHOW WARNINGS and prints them ("Warning (Code 1292): ..."). No @@server_id: the transcript
    // is the whole output.
    await session(
      "show-warnings",
      [
        "SELECT 'a' + 1 AS x;",
        "SELECT @@warning_count AS w;",
        "SELECT CAST('x' AS SIGNED) AS n FROM pdb;",
        "SELECT @@warning_count AS w;",
        "SELECT 'b' + 1 AS x;",
        "SELECT 1 AS one;",
        "SHOW WARNINGS;",
        "SELECT @@warning_count AS w;",
        "CREATE TABLE wn (id INT PRIMARY KEY);",
        "INSERT INTO wn VALUES (1);",
        "INSERT IGNORE INTO wn VALUES (1);",
        "SELECT ROW_COUNT() AS rc;",
        "INSERT IGNORE INTO wn VALUES (1), (2);",
        "SELECT @@warning_count AS w;",
        "SELECT * FROM nosuch_table;",
        "SHOW ERRORS;",
        "SELECT @@error_count AS e, @@warning_count AS w;",
      ],
      ["--show-warnings"],
    );
    // \W turns the same on from inside the script; a SQL prepared statement.
    await session("\\W and PREPARE", [
      "\\W",
      "PREPARE s FROM 'SELECT ? + 1 AS x';",
      "SET @p = 'q';",
      "EXECUTE s USING @p;",
      "SELECT @@warning_count AS w;",
      "DEALLOCATE PREPARE s;",
      "SHOW WARNINGS;",
    ]);
  });

  const version = await mariadb(t, "", ["--version"]).catch(() => null);
  const v = version?.stdout.match(/Ver \S+ Distrib \S+/)?.[0] ?? "?";
  return { driver: `mariadb CLI ${v}`, cases: rec.cases };
}
