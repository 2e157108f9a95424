import { randomInt } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { seededRandom } from "../../src/balancer/seeded-random.js";
import { collationById } from "../../src/protocol/constants/charsets.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Session state, differentially: random sequences of statements and commands that change what a
// session is (schema, character set, session and user variables, transactions, temporary tables,
// COM_RESET_CONNECTION, COM_CHANGE_USER, COM_INIT_DB, ...), run on one connection straight to the
// primary and one through rwsplit. After every step a probe reads what the session can see of
// itself; through rwsplit the probe goes to a replica whenever the session is not pinned. MariaDB
// is the oracle: every answer, and every probe, must be the same both ways.
//
// Replay a failure:  RWSPLIT_PROPERTY_SEED=<seed> npx vitest run test/integration/session-state.differential.test.ts
// Hunt longer:       RWSPLIT_SESSDIFF_SEQUENCES=500 RWSPLIT_SESSDIFF_STEPS=40 (same command)

const SEED = process.env.RWSPLIT_PROPERTY_SEED
  ? Number(process.env.RWSPLIT_PROPERTY_SEED)
  : randomInt(2 ** 31);
const SEQUENCES = Number(process.env.RWSPLIT_SESSDIFF_SEQUENCES ?? 30);
const STEPS = Number(process.env.RWSPLIT_SESSDIFF_STEPS ?? 30);

const app = { user: "app", password: "app-pass" };

let sb: TestSandbox;
let proxy: TestApp;
let primaryId: number;

/** One side of the comparison: its connection, and what names its own objects (`{t}` in SQL). */
interface Side {
  c: mysql.Connection;
  /** "d" (direct) or "p" (through rwsplit): its own auto-increment table and lock names. */
  tag: "d" | "p";
  /**
   * Its lock name, new in each sequence: a lock the previous sequence's connection held is
   * released as the server cleans that connection up, which may not be done yet.
   */
  lock: string;
  /** The connection died (a fatal error): the rest of the sequence is skipped, on both sides. */
  dead: boolean;
}

interface Step {
  /** What it does, for the failure message (`{t}` stands for the side's table). */
  name: string;
  run(s: Side): Promise<unknown>;
  /** Make the replicas catch up first (the step reads data written earlier in the sequence). */
  fresh?: boolean;
  /**
   * Asks about earlier statements (aboutPrevious): not as a session's first step. TODO(issue): on a
   * new connection the server answers for nothing run yet (FOUND_ROWS() 1, ROW_COUNT() -1, no
   * warnings); rwsplit has no connection of the session's to ask and asks a pooled one.
   */
  asksPrevious?: boolean;
  /**
   * It would leave state on its connection (PINNING_SET): through rwsplit, refused with 1792
   * inside a START TRANSACTION READ ONLY that runs on a replica, a difference the README
   * documents ("What a client sees"). Not drawn inside one.
   */
  refusedInReadOnly?: boolean;
  /**
   * How it sets the connection character set: "partial" (one of its variables alone), "whole"
   * (SET NAMES, SET CHARACTER SET, or a restart of the session). See `columnsCompared`.
   */
  charset?: "partial" | "whole";
}

/** What the generator knows of the sequence so far (from the direct side's answers). */
interface Model {
  /** Inside a START TRANSACTION READ ONLY (the probe's @@in_transaction ends it). */
  readOnlyTx: boolean;
  /** A "partial" character set step since the last "whole" one. */
  looseCharset: boolean;
}

/**
 * SQL that rwsplit refuses (1792) inside a START TRANSACTION READ ONLY on a replica, where the
 * server runs it or refuses it with another error: what would leave state on the replica's
 * connection (user variables, values the server keeps per connection, temporary tables, locks,
 * SQL prepared statements, autocommit, transaction characteristics) and multi-statements that are
 * not all reads. The README documents it ("What a client sees"). LAST_INSERT_ID() read alone is
 * served there (the session's value synced on the replica's connection); LAST_INSERT_ID(expr) sets it.
 */
const PINNING_SET =
  /@v\d\s*:?=|INTO @|\b(timestamp|insert_id|last_insert_id|identity|rand_seed[12]|tx_isolation|tx_read_only|autocommit)\s*=|LAST_INSERT_ID\(\s*[^)\s]|TEMPORARY|app\.tmp1|_LOCK\(|PREPARE|EXECUTE|SET (SESSION )?TRANSACTION|;/i;
const CHARSET_VARIABLES = /\b(character_set_(client|connection|results)|collation_connection)\s*=/i;

// --- How a step's answer is compared -------------------------------------------------------------

/** What a client sees of an answer: rows and column names/types, or the OK's fields, or the error. */
function outcome(r: unknown, fields: unknown): unknown {
  // A multi-statement: one answer per statement, and per statement its columns or undefined.
  if (Array.isArray(r) && Array.isArray(fields) && fields.some((f) => f === undefined || Array.isArray(f))) {
    return r.map((x, i) => outcome(x, (fields as unknown[])[i]));
  }
  if (Array.isArray(r) && Array.isArray(fields)) {
    return {
      rows: r,
      columns: (fields as mysql.FieldPacket[]).map((f) => `${f.name}:${f.columnType}:${f.characterSet}`),
    };
  }
  if (Array.isArray(r)) return r.map((x) => outcome(x, undefined));
  if (r !== null && typeof r === "object" && "affectedRows" in r) {
    const h = r as mysql.ResultSetHeader;
    // serverStatus: a direct connection's status flags, SESSION_STATE_CHANGED aside (rwsplit's
    // backends track more than the client asked for, and it passes on what the client tracks).
    return {
      affectedRows: h.affectedRows,
      insertId: h.insertId,
      warningStatus: h.warningStatus,
      serverStatus: (h.serverStatus ?? 0) & ~0x4000,
    };
  }
  return r;
}

async function query(s: Side, sql: string): Promise<unknown> {
  const text = sql.replaceAll("{t}", `sd.ai_${s.tag}`).replaceAll("{lock}", s.lock);
  try {
    const [r, fields] = await s.c.query({ sql: text, timeout: 20_000 });
    return outcome(r, fields);
  } catch (e) {
    return failure(s, e);
  }
}

function failure(s: Side, e: unknown): unknown {
  const err = e as { errno?: number; sqlState?: string; code?: string; fatal?: boolean };
  // Not the server's nor the driver's: the test's own bug.
  if (err.errno === undefined && err.code === undefined) throw e;
  if (err.fatal) s.dead = true;
  return { errno: err.errno ?? null, sqlState: err.sqlState ?? null, code: err.code ?? null };
}

async function command(s: Side, run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
    return "ok";
  } catch (e) {
    return failure(s, e);
  }
}

// --- COM_INIT_DB, which mysql2 has no method for ---------------------------------------------------

// mysql2's package exports hide its internals: they are required by path.
const require = createRequire(import.meta.url);
const mysql2Lib = join(dirname(require.resolve("mysql2")), "lib");
type MysqlPacket = object;
const Mysql2Command = require(join(mysql2Lib, "commands/command.js")) as new () => {
  start(packet: MysqlPacket, connection: unknown): unknown;
};
const Mysql2Packet = require(join(mysql2Lib, "packets/packet.js")) as new (
  seq: number,
  buf: Buffer,
  start: number,
  end: number,
) => MysqlPacket;

/** COM_INIT_DB: int<1> 0x02, string<EOF> schema name; answered by OK or ERR. */
class InitDb extends Mysql2Command {
  constructor(
    private readonly schema: string,
    readonly onResult: (err: Error | null) => void,
  ) {
    super();
  }

  override start(_packet: MysqlPacket, connection: unknown): unknown {
    const body = Buffer.concat([Buffer.from([0x02]), Buffer.from(this.schema, "utf8")]);
    const header = Buffer.alloc(4);
    header.writeUIntLE(body.length, 0, 3);
    const buf = Buffer.concat([header, body]);
    (connection as { writePacket(p: MysqlPacket): void }).writePacket(
      new Mysql2Packet(0, buf, 0, buf.length),
    );
    return InitDb.prototype.done;
  }

  done(): null {
    process.nextTick(() => this.onResult(null));
    return null;
  }
}

function initDb(c: mysql.Connection, schema: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const inner = (c as unknown as { connection: { addCommand(cmd: unknown): void } }).connection;
    inner.addCommand(new InitDb(schema, (err) => (err ? reject(err) : resolve())));
  });
}

// --- The probe -------------------------------------------------------------------------------------

/**
 * What a session sees of itself. Left out, because they cannot match and say nothing about
 * rwsplit: @@server_id (read apart: it shows where the probe ran), CONNECTION_ID() (each side its
 * own), and what the server keeps about earlier statements (ROW_COUNT(), FOUND_ROWS(),
 * @@warning_count), which the router sends where those ran: they are a step of their own
 * (aboutPrevious below), asked right after the statements they are about.
 * @@character_set_database / @@collation_database are in: after COM_RESET_CONNECTION (or a refused
 * COM_CHANGE_USER) MariaDB 10.11 gives them the global values while DATABASE() stays, until the
 * next USE; the sandbox's `app` is latin1 and the server's character set utf8mb4, so it shows.
 * MariaDB 10.11 names the transaction characteristics tx_isolation and tx_read_only
 * (transaction_isolation and transaction_read_only are 11.1's).
 */
const PROBE = `SELECT @@server_id AS sid, DATABASE() AS db, @@sql_mode AS sql_mode,
  @@character_set_client AS cs_client, @@character_set_connection AS cs_conn,
  @@character_set_results AS cs_results, @@collation_connection AS coll_conn,
  @@character_set_database AS cs_db, @@collation_database AS coll_db,
  @@autocommit AS ac, @@in_transaction AS in_tx,
  @@time_zone AS tz, @@tx_isolation AS iso, @@tx_read_only AS ro,
  @@sql_select_limit AS sel_limit, @@max_statement_time AS mst, @@group_concat_max_len AS gcml,
  @@wait_timeout AS wt, @@sql_notes AS notes, @@div_precision_increment AS dpi,
  @@session.sql_safe_updates AS safe_upd, @@session.sql_auto_is_null AS auto_null,
  @@lc_time_names AS lc_time, @@max_join_size AS mjs, @@sql_big_selects AS big_sel,
  @@foreign_key_checks AS fkc, @@unique_checks AS uc, @@sql_quote_show_create AS qsc,
  @@long_query_time AS lqt, @@optimizer_search_depth AS osd,
  IF(@@timestamp < 1500000000, @@timestamp, 'now') AS ts, (SELECT COUNT(*) FROM app.tt) AS app_tt`;

/**
 * What the session set that rwsplit keeps apart from the connection: user variables (they pin the
 * session) and LAST_INSERT_ID() (synced where it is read). Reading either sends a statement to
 * the primary (router.ts), or inside a READ ONLY transaction keeps it on its replica, so they are
 * a probe of their own.
 */
const PROBE_PRIMARY = "SELECT @v1 AS v1, @v2 AS v2, @v3 AS v3, LAST_INSERT_ID() AS lii";

// --- The steps -------------------------------------------------------------------------------------

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Session variables and values to set them to (some refused by the server: compared by errno). */
const VARIABLES: Record<string, readonly string[]> = {
  sql_mode: [
    "''",
    "'ANSI'",
    "'ANSI_QUOTES'",
    "'NO_BACKSLASH_ESCAPES'",
    "'IGNORE_SPACE'",
    "'TRADITIONAL'",
    "'PIPES_AS_CONCAT,NO_ZERO_DATE'",
    // TODO(issue): not 'ORACLE': there BEGIN is a syntax error (an anonymous block), which leaves
    // a READ ONLY transaction open on the server; rwsplit, which does not parse by sql_mode, ends
    // the one on the replica first (a statement that commits implicitly, router.ts end_read_only)
    // and the session is outside any transaction after the 1064. Any statement that commits
    // implicitly and then fails to parse does the same.
    "'STRICT_ALL_TABLES'",
    "DEFAULT",
    "'NOT_A_MODE'",
    "CONCAT(@@sql_mode, ',ANSI_QUOTES')",
  ],
  time_zone: ["'+00:00'", "'+05:30'", "'-03:00'", "'SYSTEM'", "DEFAULT", "'Mars/Olympus'"],
  sql_select_limit: ["1", "3", "DEFAULT", "18446744073709551615", "1+1"],
  max_statement_time: ["0", "30", "100.5", "DEFAULT"],
  group_concat_max_len: ["4", "1024", "100000", "DEFAULT"],
  wait_timeout: ["100", "3600", "DEFAULT", "'abc'"],
  sql_notes: ["0", "1", "OFF", "DEFAULT"],
  div_precision_increment: ["0", "4", "30", "DEFAULT"],
  sql_safe_updates: ["0", "1", "ON", "DEFAULT"],
  sql_auto_is_null: ["0", "1", "DEFAULT"],
  lc_time_names: ["'en_US'", "'de_DE'", "'fr_FR'", "DEFAULT", "'xx_XX'"],
  max_join_size: ["1000", "DEFAULT", "18446744073709551615"],
  sql_big_selects: ["0", "1", "DEFAULT"],
  foreign_key_checks: ["0", "1", "DEFAULT"],
  unique_checks: ["0", "1"],
  sql_quote_show_create: ["0", "1"],
  long_query_time: ["1", "2.5", "DEFAULT"],
  optimizer_search_depth: ["0", "10", "DEFAULT"],
  character_set_results: ["latin1", "utf8mb4", "NULL", "binary", "DEFAULT"],
  character_set_client: ["latin1", "utf8mb4", "DEFAULT"],
  collation_connection: ["utf8mb4_bin", "latin1_swedish_ci", "utf8mb4_unicode_ci", "DEFAULT"],
  tx_isolation: ["'READ-COMMITTED'", "'SERIALIZABLE'", "'REPEATABLE-READ'", "DEFAULT", "'NOPE'"],
  tx_read_only: ["0", "1", "DEFAULT"],
  timestamp: ["1000000000", "DEFAULT"],
  insert_id: ["500"],
  autocommit: ["0", "1", "ON", "DEFAULT", "'maybe'"],
  nosuch_variable: ["1"],
};

/** `SET` of one or more session variables, in each form the server takes. */
function setVariables(r: Rand): Step {
  const forms = ["", "SESSION ", "LOCAL ", "@@", "@@session.", "@@local."];
  const n = r() < 0.7 ? 1 : 2 + Math.floor(r() * 2);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = pick(r, Object.keys(VARIABLES));
    parts.push(`${pick(r, forms)}${name} = ${pick(r, VARIABLES[name]!)}`);
  }
  return sqlStep(`SET ${parts.join(", ")}`);
}

function sqlStep(sql: string, fresh = false): Step {
  return {
    name: sql,
    run: (s) => query(s, sql),
    fresh,
    refusedInReadOnly: PINNING_SET.test(sql),
    charset: CHARSET_VARIABLES.test(sql)
      ? "partial"
      : /^SET (NAMES|CHARACTER SET|CHARSET)\b/i.test(sql)
        ? "whole"
        : undefined,
  };
}

const SCHEMAS = ["app", "sd", "nosuch_db"] as const;

/** What the server keeps about earlier statements (previous-statement.ts), asked right after them. */
function aboutPrevious(r: Rand): Step {
  const reads = [
    "SELECT 'a' + 1 AS x",
    "SELECT 'b' + 1 AS x FROM DUAL",
    "SELECT i FROM tt ORDER BY i",
    "SELECT i FROM tt WHERE i > 100",
    "SELECT * FROM nosuch_table",
    "SELECT nosuch_function()",
    "SELECT CAST('x' AS SIGNED) AS n, i FROM app.tt ORDER BY i",
    "SET lc_time_names = 'xx_XX'",
    "SET @@session.sql_select_limit = DEFAULT",
    "DO 1",
  ];
  const writes = [
    "INSERT IGNORE INTO {t} (id, v) VALUES (1, 'dup')",
    "UPDATE {t} SET v = 'u'",
    "UPDATE {t} SET v = v",
    "INSERT INTO {t} (v) VALUES ('this value is longer than twenty')",
  ];
  const write = r() < 0.3;
  const first = pick(r, write ? writes : reads);
  const between =
    r() < 0.4 ? pick(r, ["SELECT 1 AS one", "SET @@session.div_precision_increment = 4", "DO 2"]) : null;
  const question = pick(r, [
    "SHOW WARNINGS",
    "SHOW ERRORS",
    "SHOW COUNT(*) WARNINGS",
    "SELECT @@warning_count AS w, @@error_count AS e",
    "SELECT ROW_COUNT() AS rc",
    "SELECT FOUND_ROWS() AS fr",
  ]);
  const statements = between === null ? [first, question] : [first, between, question];
  return {
    name: statements.join(" / "),
    run: async (s) => {
      const answers: unknown[] = [];
      for (const sql of statements) answers.push(await query(s, sql));
      return answers;
    },
    // Refused by rwsplit in a READ ONLY transaction on a replica (DO too: it may call anything).
    refusedInReadOnly: write || statements.some((sql) => sql.startsWith("DO ")),
    asksPrevious: true,
  };
}

/** The SQL steps, with weights. */
const GENERATORS: [number, (r: Rand) => Step][] = [
  [30, setVariables],
  [
    6,
    (r) =>
      sqlStep(
        pick(r, [
          "SET NAMES utf8mb4",
          "SET NAMES latin1",
          "SET NAMES utf8mb3",
          "SET NAMES binary",
          "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci",
          "SET NAMES latin1 COLLATE latin1_bin",
          "SET NAMES utf8mb4 COLLATE latin1_bin",
          "SET NAMES ucs2",
          "SET NAMES DEFAULT",
          "SET CHARACTER SET latin1",
          "SET CHARACTER SET utf8mb4",
          "SET CHARSET DEFAULT",
        ]),
      ),
  ],
  [6, (r) => sqlStep(`USE ${pick(r, SCHEMAS)}`)],
  [
    3,
    (r) => {
      const db = pick(r, SCHEMAS);
      return { name: `COM_INIT_DB ${db}`, run: (s) => command(s, () => initDb(s.c, db)) };
    },
  ],
  [
    6,
    (r) =>
      sqlStep(
        pick(r, [
          "SET @v1 = 1",
          "SET @v1 = NULL",
          "SET @v2 = 'two', @v3 = 3.5",
          "SELECT @v3 := 'three'",
          "SELECT 42 INTO @v2",
          "SET @v1 = @@sql_mode",
          "SET sql_mode = @v1",
          "SET @v3 = LAST_INSERT_ID()",
        ]),
      ),
  ],
  [
    8,
    (r) =>
      sqlStep(
        pick(r, [
          "BEGIN",
          "START TRANSACTION",
          "START TRANSACTION READ ONLY",
          "START TRANSACTION READ WRITE",
          "START TRANSACTION WITH CONSISTENT SNAPSHOT",
          "COMMIT",
          "ROLLBACK",
          "COMMIT AND CHAIN",
          "ROLLBACK AND CHAIN",
          "SAVEPOINT sp1",
          "ROLLBACK TO SAVEPOINT sp1",
          "RELEASE SAVEPOINT sp1",
        ]),
      ),
  ],
  [
    4,
    (r) =>
      sqlStep(
        pick(r, [
          "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
          "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
          "SET TRANSACTION READ ONLY",
          "SET TRANSACTION READ WRITE",
          "SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED",
          "SET SESSION TRANSACTION READ ONLY",
          "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ WRITE",
        ]),
      ),
  ],
  [
    4,
    (r) =>
      sqlStep(
        pick(r, [
          "CREATE TEMPORARY TABLE app.tmp1 (i INT)",
          "CREATE TEMPORARY TABLE tt (i INT)",
          "INSERT INTO app.tmp1 VALUES (1)",
          "DROP TEMPORARY TABLE IF EXISTS app.tmp1",
          "DROP TEMPORARY TABLE tt",
          "SELECT COUNT(*) AS n FROM app.tmp1",
        ]),
      ),
  ],
  [
    8,
    (r) =>
      sqlStep(
        pick(r, [
          "INSERT INTO {t} (v) VALUES ('a')",
          "INSERT INTO {t} (v) VALUES ('b'), ('c')",
          // TODO(issue): not `INSERT INTO {t} (id, v) VALUES (100, 'x')`: an explicit id is the OK
          // packet's insert id (100) but leaves LAST_INSERT_ID() as it was (measured), and rwsplit
          // takes the OK's value for the session's LAST_INSERT_ID() (as ProxySQL does), so a later
          // LAST_INSERT_ID() answers 100, or what the pooled connection held, where the server
          // answers the session's last generated id.
          "INSERT IGNORE INTO {t} (id, v) VALUES (1, 'dup')",
          "UPDATE {t} SET v = 'u'",
          "UPDATE {t} SET v = 'w' WHERE id = LAST_INSERT_ID()",
          "DELETE FROM {t} WHERE v = 'zz'",
          "SET insert_id = 500",
          "SET @@last_insert_id = 7",
          "SELECT LAST_INSERT_ID(5)",
          "DO LAST_INSERT_ID(LAST_INSERT_ID() + 1)",
          "SELECT LAST_INSERT_ID() AS lii",
        ]),
      ),
  ],
  [
    2,
    (r) =>
      sqlStep(
        pick(r, ["SELECT COUNT(*) AS n, MAX(id) AS m FROM {t}", "SELECT id, v FROM {t} ORDER BY id"]),
        true,
      ),
  ],
  [
    4,
    (r) =>
      sqlStep(
        pick(r, [
          "SELECT COUNT(*) AS n FROM tt",
          "SELECT i FROM app.tt ORDER BY i",
          "SELECT nosuch_column FROM app.tt",
          "SELECT GROUP_CONCAT(i) AS g FROM app.tt",
          "SELECT 1/3 AS q",
          "SELECT 'a' || 'b' AS c",
          "SELECT DATE_FORMAT('2020-03-01', '%W %M') AS d",
          "SELECT CONVERT_TZ('2020-01-01 00:00:00', @@time_zone, '+00:00') AS t",
          'SELECT "dq" AS dq',
          "SELECT 'x\\\\y' AS bs",
          "SELECT 'a' = 'A' AS ci, 'a' = 'a ' AS pad",
        ]),
      ),
  ],
  [
    3,
    (r) =>
      sqlStep(
        pick(r, [
          "SET STATEMENT max_statement_time = 1 FOR SELECT @@max_statement_time AS m",
          "SET STATEMENT sql_select_limit = 1 FOR SELECT i FROM app.tt ORDER BY i",
          "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT @@sql_mode AS m",
          "SET STATEMENT time_zone = '+09:00' FOR SELECT @@time_zone AS tz",
        ]),
      ),
  ],
  // A statement, maybe one without a table (which keeps the warnings), then a question about
  // them: the server answers for its own connection, rwsplit for the one they ran on.
  [6, aboutPrevious],
  [
    2,
    (r) =>
      sqlStep(
        pick(r, [
          "SELECT GET_LOCK('{lock}', 0) AS l",
          "SELECT RELEASE_LOCK('{lock}') AS l",
          "SELECT IS_USED_LOCK('{lock}') IS NOT NULL AS used",
          "PREPARE ps1 FROM 'SELECT @@sql_select_limit AS l'",
          "EXECUTE ps1",
          "DEALLOCATE PREPARE ps1",
          "SET rand_seed1 = 12345, rand_seed2 = 67890",
          "SET rand_seed1 = 12345, rand_seed2 = 67890; SELECT RAND() AS r",
          "SET timestamp = 1000000000; SELECT UNIX_TIMESTAMP() AS t",
          "SET insert_id = 700",
        ]),
      ),
  ],
  [
    3,
    (r) =>
      sqlStep(
        `${pick(r, ["SET sql_mode = ''", "SET @v2 = 9", "DO 1", "USE sd"])}; ${pick(r, ["SELECT @@sql_mode AS m", "SET time_zone = '+01:00'", "SELECT DATABASE() AS db"])}`,
      ),
  ],
  [
    3,
    () => ({
      name: "COM_RESET_CONNECTION",
      run: (s) => command(s, () => s.c.reset()),
      charset: "whole",
    }),
  ],
  [
    3,
    (r) => {
      const database = pick(r, [undefined, "sd", "app"]);
      return {
        name: `COM_CHANGE_USER app${database ? ` database ${database}` : ""}`,
        run: (s) => command(s, () => s.c.changeUser({ ...app, ...(database ? { database } : {}) })),
        charset: "whole",
      };
    },
  ],
  // The server answers a refused COM_CHANGE_USER a second later: rare.
  [
    0.3,
    () => ({
      name: "COM_CHANGE_USER app with a wrong password",
      run: (s) => command(s, () => s.c.changeUser({ user: "app", password: "wrong" })),
      charset: "whole",
    }),
  ],
];

const TOTAL_WEIGHT = GENERATORS.reduce((n, [w]) => n + w, 0);

function randomStep(r: Rand, model: Model, first: boolean): Step {
  for (;;) {
    let x = r() * TOTAL_WEIGHT;
    let step: Step | undefined;
    for (const [w, g] of GENERATORS) {
      x -= w;
      if (x < 0) {
        step = g(r);
        break;
      }
    }
    step ??= GENERATORS[0]![1](r);
    if (model.readOnlyTx && step.refusedInReadOnly) continue;
    if (first && step.asksPrevious) continue;
    return step;
  }
}

/** After a step: what the model learns from the direct side's answer. */
function learn(model: Model, step: Step, direct: unknown): void {
  const failed = direct !== null && typeof direct === "object" && "errno" in direct;
  if (failed) return;
  if (/^START TRANSACTION READ ONLY/.test(step.name)) model.readOnlyTx = true;
  if (step.charset === "partial") model.looseCharset = true;
  if (step.charset === "whole") model.looseCharset = false;
}

/**
 * Result columns as compared: name, type and collation id; only the character set of the
 * collation after a "partial" character set step. TODO(issue): the server keeps a collation in
 * character_set_results that no variable shows (the login's, or SET NAMES ... COLLATE's) and
 * result columns carry; after `SET collation_connection = DEFAULT` or `SET character_set_results
 * = 'utf8mb4'` alone, rwsplit's replay by the variables' values (session-state.ts charsetSync)
 * cannot tell which one the server kept, and columns may say 45 where the server's say 224 (the
 * same character set; values are the same).
 */
function columnsCompared(x: unknown, model: Model): unknown {
  if (!model.looseCharset) return x;
  return JSON.parse(
    JSON.stringify(x, (k, v) =>
      k === "columns" && Array.isArray(v)
        ? v.map((c: string) =>
            c.replace(/:(\d+)$/, (_, id) => `:${collationById(Number(id))?.charset ?? id}`),
          )
        : v,
    ),
  );
}

// --- The run ---------------------------------------------------------------------------------------

function connectBoth(): Promise<[mysql.Connection, mysql.Connection]> {
  const opts = { ...app, database: "app", multipleStatements: true };
  return Promise.all([
    mysql.createConnection({ host: sb.primary.host, port: sb.primary.port, ...opts }),
    mysql.createConnection({ host: proxy.host, port: proxy.port, ...opts }),
  ]);
}

function describeRun(seq: number, done: string[], where: string, d: unknown, p: unknown): string {
  return [
    `seed ${SEED}, sequence ${seq} (replay: RWSPLIT_PROPERTY_SEED=${SEED}), ${where} differs`,
    "steps:",
    ...done.map((s, i) => `  ${i + 1}. ${s}`),
    `direct:       ${JSON.stringify(d)}`,
    `through rwsplit: ${JSON.stringify(p)}`,
  ].join("\n");
}

async function probeBoth(s: Side): Promise<unknown> {
  const session = await query(s, PROBE);
  const own = await query(s, PROBE_PRIMARY);
  return { ...(session as object), own };
}

/** Both sides' probes: the same values, @@server_id aside (counted: did the read go to a replica?). */
async function probe(d: Side, p: Side): Promise<{ d: unknown; p: unknown; onReplica: boolean }> {
  const [rd, rp] = await Promise.all([probeBoth(d), probeBoth(p)]);
  const strip = (x: unknown): [unknown, number | null] => {
    const rows = (x as { rows?: Record<string, unknown>[] }).rows;
    if (!rows) return [x, null];
    const sid = rows.length > 0 ? Number(rows[0]!.sid) : null;
    return [{ ...(x as object), rows: rows.map(({ sid: _, ...rest }) => rest) }, sid];
  };
  const [vd] = strip(rd);
  const [vp, sid] = strip(rp);
  return { d: vd, p: vp, onReplica: sid !== null && sid !== primaryId };
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  const cfg = testConfig(sb.primary, sb.replicas);
  // Reads really go to replicas, also right after a write.
  cfg.routing = { ...cfg.routing, consistency: "eventual" };
  proxy = await startApp(cfg);
  const root = await sb.connect(sb.primary);
  const [ids] = await root.query("SELECT @@server_id AS id");
  primaryId = (ids as { id: number }[])[0]!.id;
  await root.query("CREATE DATABASE sd");
  await root.query("CREATE TABLE app.tt (i INT PRIMARY KEY)");
  await root.query("INSERT INTO app.tt VALUES (1), (2), (3)");
  // Another `tt` with other rows: an unqualified `tt` shows which database a statement ran in.
  await root.query("CREATE TABLE sd.tt (i INT PRIMARY KEY)");
  await root.query("INSERT INTO sd.tt VALUES (10), (20)");
  await root.end();
  await sb.waitForReplicas();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

describe(`session state, direct and through rwsplit, differentially (seed ${SEED})`, () => {
  test(`${SEQUENCES} random sequences of ${STEPS} steps: every answer and every probe as on the primary`, async () => {
    const rnd = seededRandom(SEED);
    let probes = 0;
    let onReplica = 0;
    for (let seq = 0; seq < SEQUENCES; seq++) {
      // Each side its own auto-increment table, fresh: both see the same ids.
      const root = await sb.connect(sb.primary);
      for (const tag of ["d", "p"]) {
        await root.query(`DROP TABLE IF EXISTS sd.ai_${tag}`);
        await root.query(`CREATE TABLE sd.ai_${tag} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))`);
        await root.query(`INSERT INTO sd.ai_${tag} (v) VALUES ('zz')`);
      }
      await root.end();
      await sb.waitForReplicas();
      const [dc, pc] = await connectBoth();
      const d: Side = { c: dc, tag: "d", lock: `sessdiff_d${seq}`, dead: false };
      const p: Side = { c: pc, tag: "p", lock: `sessdiff_p${seq}`, dead: false };
      dc.on("error", () => {});
      pc.on("error", () => {});
      const done: string[] = [];
      try {
        const model: Model = { readOnlyTx: false, looseCharset: false };
        for (let i = 0; i < STEPS && !d.dead && !p.dead; i++) {
          const step = randomStep(rnd, model, i === 0);
          done.push(step.name);
          if (step.fresh) await sb.waitForReplicas();
          const [rd, rp] = await Promise.all([step.run(d), step.run(p)]);
          learn(model, step, rd);
          const [sd, sp] = [columnsCompared(rd, model), columnsCompared(rp, model)];
          if (!isDeepStrictEqual(sd, sp))
            expect(sp, describeRun(seq, done, "the last step's answer", sd, sp)).toEqual(sd);
          if (d.dead || p.dead) break;
          const pr = await probe(d, p);
          probes++;
          if (pr.onReplica) onReplica++;
          const [qd, qp] = [columnsCompared(pr.d, model), columnsCompared(pr.p, model)];
          if (!isDeepStrictEqual(qd, qp))
            expect(qp, describeRun(seq, done, "the probe after the last step", qd, qp)).toEqual(qd);
          const inTx = (pr.d as { rows?: { in_tx?: number }[] }).rows?.[0]?.in_tx;
          if (inTx !== 1) model.readOnlyTx = false;
        }
      } finally {
        await Promise.all([dc.end().catch(() => dc.destroy()), pc.end().catch(() => pc.destroy())]);
      }
    }
    console.log(`seed ${SEED}: ${SEQUENCES} sequences, ${probes} probes, ${onReplica} on a replica`);
    // The probes are meant to test replay on replicas: some must have gone to one.
    expect(onReplica).toBeGreaterThan(probes / 10);
  });
});
