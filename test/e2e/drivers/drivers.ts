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
  "warnings",
];

const CONNECTOR_J = "/usr/share/java/mariadb-java-client.jar";
const script = (name: string) => fileURLToPath(new URL(`./scripts/${name}`, import.meta.url));

export const DRIVERS: DriverSpec[] = [
  {
    id: "pymysql",
    title: "PyMySQL",
    cases: [...COMMON, "read_then_write", "server_status"],
    fails: {},
    // Debian's python3, where python3-pymysql is installed (not a pyenv or venv python3 on PATH).
    run: (t) => runScript("/usr/bin/python3", [script("pymysql_matrix.py")], t),
  },
  {
    id: "mysqli",
    title: "PHP mysqli",
    cases: [...COMMON, "prepared_per_database", "change_user", "change_user_unlisted", "compression"],
    fails: {},
    run: (t) => runScript("php", [script("php_matrix.php"), "mysqli"], t),
  },
  {
    id: "pdo",
    title: "PHP PDO (server-side prepares)",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {},
    run: (t) => runScript("php", [script("php_matrix.php"), "pdo"], t),
  },
  {
    id: "perlmysql",
    title: "Perl DBD::mysql",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {},
    run: (t) => runScript("perl", [script("dbd_matrix.pl"), "mysql"], t),
  },
  {
    id: "perlmariadb",
    title: "Perl DBD::MariaDB",
    cases: [...COMMON, "prepared_per_database", "compression"],
    fails: {},
    run: (t) => runScript("perl", [script("dbd_matrix.pl"), "MariaDB"], t),
  },
  {
    id: "connj",
    title: "MariaDB Connector/J",
    cases: [...COMMON, "prepared_per_database", "reset_connection", "compression"],
    fails: {},
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
    fails: {},
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
    fails: {},
    run: (t) => runMysql2(t),
  },
  {
    id: "cli",
    title: "mariadb CLI",
    cases: [...COMMON, "compression"],
    fails: {},
    run: (t) => runCli(t),
  },
];
