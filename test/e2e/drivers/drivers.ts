import { fileURLToPath } from "node:url";
import type { CaseName } from "./cases.js";
import { type DriverSpec, runScript } from "./harness.js";
import { runCli } from "./scripts/cli-matrix.js";
import { runMariadb } from "./scripts/mariadb-matrix.js";
import { runMysql2 } from "./scripts/mysql2-matrix.js";

// The drivers of the matrix, the cases each one's API allows, and the cases that fail through
// rwsplit today with the cause seen on the wire. A fix flips its cases: `test.fails` then fails,
// and the entry here is deleted.

const COMMON: readonly CaseName[] = [
  "crud_utf8mb4",
  "transaction_commit_rollback",
  "autocommit_off",
  "last_insert_id",
  "temporary_table",
  "user_variables",
  "prepared_null_binary",
  "json_column",
  "stored_procedure",
  "large_blob",
  "switch_database",
  "row_lock",
  "get_lock",
  "batch_insert",
  "connect_unlisted",
  "many_connections",
  "session_settings",
];

/** Causes shared by several drivers (issue #14 and #12). */
const CAUSE = {
  unlistedLogin:
    "#14 accounts: rwsplit knows only the config's `users`, so an account the server accepts gets " +
    "ERR 1045 (28000) \"Access denied for user 'drv_unlisted'@'127.0.0.1' (using password: YES)\" at login",
  unlistedChangeUser:
    "#14 accounts: COM_CHANGE_USER to an account that is not in the config's `users` gets ERR 1045 (28000) " +
    "from rwsplit, which then closes the connection (the next statements see a lost connection); the server accepts it",
  noCompress:
    "#14 compression: rwsplit's greeting does not offer CLIENT_COMPRESS (PROXY_SERVER_CAPABILITIES), so the " +
    "driver silently falls back to the uncompressed protocol: the 1.6 MB result crosses the wire as 1.6 MB " +
    "instead of ~3 KB (the transcripts match; the byte count fails)",
  mysqlndCompress:
    "#14 compression: mysqlnd sets CLIENT_COMPRESS in its handshake response (client flags 0x001aa2ad) although " +
    "rwsplit's greeting does not offer it, and compresses from the first command on; rwsplit reads the " +
    "compressed header `0d 00 00 00 00 00 00` as a plain packet whose command byte is 0x00 and answers " +
    'ERR 1047 "Unknown command COM_SLEEP (0x00)" uncompressed, which mysqlnd cannot read: ' +
    '2006 "MySQL server has gone away" after its read timeout',
  settingsLost:
    "#12 session state: `SET @@sql_mode = 'ANSI_QUOTES'` (the bare @@ form: MariaDB sends no session-track " +
    "entry) and `SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci` are lost on the next statement's " +
    "backend connection (@@sql_mode is the default, SELECT \"id\" gives 'id', 'a' = 'a ' is 1) and stay on the " +
    "pooled connection for the next session; and rwsplit's own backend settings show: " +
    "@@session_track_state_change = 1 and @@session_track_system_variables = '*'",
  trackingVisible:
    "#12 session state: rwsplit's own backend settings show: @@session_track_state_change = 1 and " +
    "@@session_track_system_variables = '*' instead of the server's defaults (0, 'autocommit,character_set_client,...'); " +
    "the other settings survive only because the whole session is pinned to one connection",
  statusFlags:
    "#12 status flags: OK packets keep SERVER_SESSION_STATE_CHANGED (0x4000) from rwsplit's own " +
    "session_track_state_change=ON: `SET @a = 1` gives 16386 instead of 2, `SET autocommit = 0` 16384 " +
    "instead of 0 (the other bits follow)",
  statusFlagsAnsi:
    "#12 status flags: OK packets keep SERVER_SESSION_STATE_CHANGED (0x4000) from rwsplit's own " +
    "session_track_state_change=ON (`SET @a = 1`: 16386 instead of 2), plus 0x8000 SERVER_STATUS_ANSI_QUOTES " +
    "on every statement when the pooled backend connection kept another session's SET @@sql_mode='ANSI_QUOTES' " +
    "(49154 instead of 2, 32771 instead of 3 after BEGIN)",
  noSessionTrackPinsPrimary:
    "mysqlnd does not ask for CLIENT_SESSION_TRACK (client flags 0x001aa28d), so rwsplit sets Pin.NO_SESSION_TRACK " +
    "at login (client-session.ts loggedIn) and pins the session to the connection of its first statement: " +
    "mysqli's set_charset() `SET NAMES utf8mb4` / PDO's first COM_STMT_PREPARE, both on the primary; " +
    "no statement of a PHP session ever reaches a replica (0 or 1 replica statements per run)",
  pinnedToReplica:
    "#12 writes on a replica: PyMySQL does not ask for CLIENT_SESSION_TRACK, so rwsplit sets " +
    "Pin.NO_SESSION_TRACK at login and pins the session to the connection of its first statement; when " +
    "that is a read, the session stays on a replica and its writes get ERR 1290 " +
    '"The MariaDB server is running with the --read-only option so it cannot execute this statement", ' +
    "then 1146 for the table that was never created",
  jsonNoExtMetadata:
    "#14 extended metadata: rwsplit does not offer MariaDB's MARIADB_CLIENT_EXTENDED_METADATA (greeting " +
    "filler bytes), so column definitions come without the `json` format: JSON columns and JSON_OBJECT() " +
    "come back as strings instead of parsed objects, JSON_EXTRACT as '\"😀\"' instead of '😀'",
  executeMinusOne:
    "#14 pipelined execute: the connector sends COM_STMT_PREPARE and, without waiting, COM_STMT_EXECUTE " +
    'with statement id 0xFFFFFFFF ("the statement just prepared"); rwsplit looks the id up in its own ' +
    "statement map (client-session.ts execute), finds nothing and answers its own ERR 1243 (HY000) " +
    '"Unknown prepared statement handler (4294967295) given to COM_STMT_EXECUTE" for every execute()',
  stmtCacheAcrossDatabases:
    "rwsplit caches server-side statements per backend connection by SQL text alone " +
    "(prepared-statements.ts rememberOnConnection: conn.statements keyed by sql): the client's " +
    "COM_STMT_PREPARE runs on the primary, the EXECUTE of the read on a replica connection that already " +
    "holds the same SQL, prepared there by an earlier session in the other database, and reuses it " +
    "(client-session.ts execute/executeOn). MariaDB runs a prepared statement in the database it was " +
    "prepared in: a session in db2 gets db's row and DATABASE() = db, and the reverse, with no error " +
    "(another database's data; after that database is dropped, 1146 \"Table 'olddb.t' doesn't exist\")",
  noBulk:
    "#14 bulk: rwsplit does not offer MARIADB_CLIENT_STMT_BULK_OPERATIONS, so batch() falls back to " +
    "pipelined COM_STMT_EXECUTEs: 100 results of 1 row instead of the bulk's [1, 99], and the batch with a " +
    "duplicate key keeps the row before the duplicate (COUNT 101) where COM_STMT_BULK_EXECUTE fails as one " +
    "statement (COUNT 100)",
} as const;

const CONNECTOR_J = "/usr/share/java/mariadb-java-client.jar";
const script = (name: string) => fileURLToPath(new URL(`./scripts/${name}`, import.meta.url));

export const DRIVERS: DriverSpec[] = [
  {
    id: "pymysql",
    title: "PyMySQL",
    cases: [...COMMON, "read_then_write", "server_status"],
    fails: {
      crud_utf8mb4: CAUSE.pinnedToReplica,
      switch_database: `${CAUSE.pinnedToReplica} (the case starts with SELECT DATABASE())`,
      read_then_write: CAUSE.pinnedToReplica,
      connect_unlisted: CAUSE.unlistedLogin,
      session_settings: CAUSE.trackingVisible,
      server_status: `${CAUSE.statusFlags}, relayed to a client that did not even negotiate CLIENT_SESSION_TRACK`,
    },
    // Debian's python3, where python3-pymysql is installed (not a pyenv or venv python3 on PATH).
    run: (t) => runScript("/usr/bin/python3", [script("pymysql_matrix.py")], t),
  },
  {
    id: "mysqli",
    title: "PHP mysqli",
    cases: [...COMMON, "prepared_per_database", "change_user", "change_user_unlisted", "compression"],
    fails: {
      connect_unlisted: CAUSE.unlistedLogin,
      change_user_unlisted: CAUSE.unlistedChangeUser,
      compression: CAUSE.mysqlndCompress,
      session_settings: CAUSE.trackingVisible,
    },
    replicaReadsFail: CAUSE.noSessionTrackPinsPrimary,
    run: (t) => runScript("php", [script("php_matrix.php"), "mysqli"], t),
  },
  {
    id: "pdo",
    title: "PHP PDO (server-side prepares)",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.mysqlndCompress,
      session_settings: CAUSE.trackingVisible,
    },
    replicaReadsFail: CAUSE.noSessionTrackPinsPrimary,
    run: (t) => runScript("php", [script("php_matrix.php"), "pdo"], t),
  },
  {
    id: "perlmysql",
    title: "Perl DBD::mysql",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {
      prepared_per_database: CAUSE.stmtCacheAcrossDatabases,
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
    },
    run: (t) => runScript("perl", [script("dbd_matrix.pl"), "mysql"], t),
  },
  {
    id: "perlmariadb",
    title: "Perl DBD::MariaDB",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {
      prepared_per_database: CAUSE.stmtCacheAcrossDatabases,
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
    },
    run: (t) => runScript("perl", [script("dbd_matrix.pl"), "MariaDB"], t),
  },
  {
    id: "connj",
    title: "MariaDB Connector/J",
    cases: [...COMMON, "prepared_per_database", "reset_connection", "compression"],
    fails: {
      prepared_per_database: CAUSE.stmtCacheAcrossDatabases,
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
    },
    // One JVM per run, every case inside: the source file is compiled in memory at start.
    run: (t) => runScript("java", ["-cp", CONNECTOR_J, script("Matrix.java")], t),
  },
  {
    id: "mariadbjs",
    title: "MariaDB Connector/Node.js",
    cases: [
      ...COMMON,
      "prepared_per_database",
      "reset_connection",
      "change_user",
      "change_user_unlisted",
      "compression",
      "server_status",
      "execute_prepare_cache_default",
      "execute_prepare_cache_off",
      "batch_bulk_on",
      "batch_bulk_off",
      "json_typecast",
    ],
    fails: {
      prepared_per_database: CAUSE.stmtCacheAcrossDatabases,
      last_insert_id: CAUSE.executeMinusOne,
      temporary_table: CAUSE.executeMinusOne,
      user_variables: CAUSE.executeMinusOne,
      prepared_null_binary: CAUSE.executeMinusOne,
      stored_procedure: CAUSE.executeMinusOne,
      large_blob: CAUSE.executeMinusOne,
      execute_prepare_cache_default: CAUSE.executeMinusOne,
      execute_prepare_cache_off: `${CAUSE.executeMinusOne}; with prepareCacheLength 0 every execute() is PREPARE + EXECUTE(-1) + CLOSE`,
      json_column: `${CAUSE.jsonNoExtMetadata}; the execute() step also gets ERR 1243 (id 0xFFFFFFFF)`,
      json_typecast:
        `${CAUSE.jsonNoExtMetadata}: the typeCast function sees the doc column as BLOB with ` +
        "isDataTypeFormatJson() false; the execute() step gets ERR 1243 (id 0xFFFFFFFF)",
      batch_insert: CAUSE.noBulk,
      batch_bulk_on: CAUSE.noBulk,
      switch_database:
        "#12 tracking leak: after `USE db2` conn.info.database is '' instead of db2: rwsplit relays the OK " +
        "packet with the SESSION_TRACK_STATE_CHANGE entry (type 0x02, '1') that its own " +
        "session_track_state_change=ON produces; connector 3.5.4 does not skip that entry's data, reads its " +
        "length byte 0x01 as SESSION_TRACK_SCHEMA and parses '' as the schema",
      change_user_unlisted: CAUSE.unlistedChangeUser,
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
      server_status: CAUSE.statusFlagsAnsi,
    },
    run: (t) => runMariadb(t),
  },
  {
    id: "mysql2",
    title: "mysql2",
    cases: [
      ...COMMON,
      "prepared_per_database",
      "reset_connection",
      "change_user",
      "change_user_unlisted",
      "compression",
      "server_status",
    ],
    fails: {
      prepared_per_database: CAUSE.stmtCacheAcrossDatabases,
      json_column: CAUSE.jsonNoExtMetadata,
      change_user_unlisted: CAUSE.unlistedChangeUser,
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
      server_status:
        `${CAUSE.statusFlagsAnsi}; mysql2 also hands the application stateChanges.trackStateChange '' ` +
        "for `SET @a = 1`, from the leaked SESSION_TRACK_STATE_CHANGE entry",
    },
    run: (t) => runMysql2(t),
  },
  {
    id: "cli",
    title: "mariadb CLI",
    cases: [...COMMON, "compression"],
    fails: {
      connect_unlisted: CAUSE.unlistedLogin,
      compression: CAUSE.noCompress,
      session_settings: CAUSE.settingsLost,
    },
    run: (t) => runCli(t),
  },
];
