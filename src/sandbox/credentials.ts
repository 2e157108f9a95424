/**
 * Who may log in to the sandbox, and with which privileges. The sandbox is a throwaway on
 * 127.0.0.1, so the passwords are fixed, public constants that tests and docs can quote.
 */
export const SANDBOX_CREDENTIALS = {
  /** Admin over TCP (CHANGE MASTER, KILL, SET GLOBAL ...): `root@'127.0.0.1'`. */
  root: { user: "root", password: "root-pass" },
  /** What replicas log in with: `REPLICATION SLAVE` only. */
  replication: { user: "repl", password: "repl-pass" },
  /** The application: broad privileges, but neither SUPER nor READ_ONLY ADMIN. */
  app: { user: "app", password: "app-pass" },
  /** The proxy's monitor: replication state, processlist, and its heartbeat table. */
  monitor: { user: "monitor", password: "monitor-pass" },
  /** Promotion, switchover and rejoin (src/ha/replication-ops.ts): FAILOVER_PRIVILEGES, no SUPER. */
  failover: { user: "rwsplit_failover", password: "failover-pass" },
  /** The application database. */
  database: "app",
} as const;

export type SandboxCredentials = typeof SANDBOX_CREDENTIALS;
export type SandboxUser = "root" | "replication" | "app" | "monitor" | "failover";

/**
 * The application's privileges, by their MariaDB 10.11 names (SHOW PRIVILEGES). Deliberately
 * absent: SUPER and READ_ONLY ADMIN (either lets a session write through `read_only=ON`, so a
 * replica would no longer refuse a misrouted write with 1290 ER_OPTION_PREVENTS_STATEMENT), and
 * ALL PRIVILEGES (which includes both).
 */
export const APP_PRIVILEGES = [
  "SELECT",
  "INSERT",
  "UPDATE",
  "DELETE",
  "CREATE",
  "DROP",
  "INDEX",
  "ALTER",
  "CREATE TEMPORARY TABLES",
  "LOCK TABLES",
  "EXECUTE",
  "CREATE VIEW",
  "SHOW VIEW",
  "CREATE ROUTINE",
  "ALTER ROUTINE",
  "EVENT",
  "TRIGGER",
  "REFERENCES",
  "PROCESS",
  "RELOAD",
] as const;

/**
 * What an operator grants the account that promotes, repoints and demotes nodes, by MariaDB
 * 10.11 names; each checked against the server's own 1227 "you need (at least one of) the ...
 * privilege(s)" answers. Deliberately absent: SUPER (not needed by any step; in 10.11 it does
 * not even cover `SET GLOBAL read_only`, MDEV-29596) and ALL PRIVILEGES.
 */
export const FAILOVER_PRIVILEGES = [
  // STOP/START SLAVE, CHANGE MASTER TO, SET GLOBAL gtid_slave_pos and rpl_semi_sync_slave_*.
  "REPLICATION SLAVE ADMIN",
  // RESET SLAVE [ALL] (REPLICATION SLAVE ADMIN alone gets 1227 "you need the RELOAD privilege").
  "RELOAD",
  // SHOW SLAVE STATUS (split from REPLICATION SLAVE ADMIN in 10.5.9).
  "SLAVE MONITOR",
  // SET GLOBAL read_only: only this privilege, not SUPER, since 10.11.0. It also lets this
  // account write through read_only=ON, which the operations never do.
  "READ_ONLY ADMIN",
  // SET GLOBAL rpl_semi_sync_master_* (the new primary's semi-sync, a demoted one's wait_no_slave).
  "REPLICATION MASTER ADMIN",
  // SHOW MASTER STATUS / SHOW BINLOG STATUS for diagnostics (BINLOG MONITOR's older name).
  "REPLICATION CLIENT",
  // KILL other users' sessions on a fenced primary, and the extra connection slot past
  // max_connections, so a saturated server can still be promoted or fenced.
  "CONNECTION ADMIN",
  // Every thread in SHOW PROCESSLIST (the replication threads, what a fenced primary still runs).
  "PROCESS",
] as const;

/** Quotes a string literal for SQL; the values here are our own constants, never user input. */
function lit(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}

/**
 * Users and the application database, run once in `mariadbd --bootstrap` on the template data
 * directory before it is copied to every node. Every node therefore starts with the same
 * accounts and an empty GTID history: nothing has to replicate, no `gtid_slave_pos` has to be
 * patched, and a replica can later be promoted with its users already in place.
 *
 * Bootstrap mode starts with the grant tables unloaded (it behaves like --skip-grant-tables and
 * refuses CREATE USER with 1290), so the script loads them first with FLUSH PRIVILEGES.
 */
export function bootstrapSql(c: SandboxCredentials = SANDBOX_CREDENTIALS): string {
  return `${[
    "FLUSH PRIVILEGES",
    // mariadb-install-db leaves root@localhost on unix_socket; TCP admin needs a password.
    `CREATE OR REPLACE USER ${lit(c.root.user)}@'127.0.0.1' IDENTIFIED BY ${lit(c.root.password)}`,
    `GRANT ALL PRIVILEGES ON *.* TO ${lit(c.root.user)}@'127.0.0.1' WITH GRANT OPTION`,
    `CREATE OR REPLACE USER ${lit(c.replication.user)}@'%' IDENTIFIED BY ${lit(c.replication.password)}`,
    `GRANT REPLICATION SLAVE ON *.* TO ${lit(c.replication.user)}@'%'`,
    `CREATE OR REPLACE USER ${lit(c.app.user)}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD(${lit(c.app.password)})`,
    `GRANT ${APP_PRIVILEGES.join(", ")} ON *.* TO ${lit(c.app.user)}@'%'`,
    `CREATE OR REPLACE USER ${lit(c.monitor.user)}@'%' IDENTIFIED BY ${lit(c.monitor.password)}`,
    // REPLICATION CLIENT is MariaDB 10.5+'s alias for BINLOG MONITOR (SHOW MASTER STATUS);
    // SHOW SLAVE STATUS needs SLAVE MONITOR since 10.5.9.
    `GRANT REPLICATION CLIENT, SLAVE MONITOR, PROCESS ON *.* TO ${lit(c.monitor.user)}@'%'`,
    // The heartbeat writer creates and updates its table in the `rwsplit` schema.
    `GRANT CREATE, INSERT, UPDATE, DELETE, SELECT ON rwsplit.* TO ${lit(c.monitor.user)}@'%'`,
    `CREATE OR REPLACE USER ${lit(c.failover.user)}@'%' IDENTIFIED BY ${lit(c.failover.password)}`,
    `GRANT ${FAILOVER_PRIVILEGES.join(", ")} ON *.* TO ${lit(c.failover.user)}@'%'`,
    `CREATE DATABASE IF NOT EXISTS \`${c.database}\``,
  ].join(";\n")};\n`;
}
