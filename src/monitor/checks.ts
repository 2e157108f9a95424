import type { HeartbeatReading, ReplicationChannel, ReplicationStatus, ServerVariables } from "./types.js";

/**
 * The monitor's SQL and the parsing of what it returns. The parsers are pure: rows in (objects
 * keyed by column name, as mysql2 gives them with `dateStrings: true`), typed values out.
 */

/** A monitor session's clock reads and heartbeat timestamps are UTC, whatever the server's time_zone. */
export const SET_UTC_SQL = "SET SESSION time_zone = '+00:00'";
export const VERSION_SQL = "SELECT VERSION() AS version";

/**
 * MariaDB: a digest of the global values a new session copies (every variable with a global and a
 * session value; 188 on MariaDB 10.11, read in about 1.5 ms). A `SET GLOBAL` of one of them changes
 * it, and sessions that log in after that must not get a pooled connection that copied the old
 * value (src/proxy/server-globals.ts). MySQL has no SYSTEM_VARIABLES table: not read there.
 */
export const GLOBALS_DIGEST_SQL =
  "SELECT MD5(GROUP_CONCAT(VARIABLE_NAME, '=', IFNULL(GLOBAL_VALUE, '') ORDER BY VARIABLE_NAME " +
  "SEPARATOR '\\n')) AS globals FROM information_schema.SYSTEM_VARIABLES WHERE VARIABLE_SCOPE = 'SESSION'";

/**
 * MariaDB: read_only, the three GTID positions, max_prepared_stmt_count (the bound of the
 * proxy's statement cache follows it) and max_allowed_packet (so does the largest client packet
 * rwsplit takes) in one round trip.
 */
export const MARIADB_VARIABLES_SQL =
  "SELECT @@read_only AS read_only, @@gtid_slave_pos AS gtid_slave_pos, " +
  "@@gtid_current_pos AS gtid_current_pos, @@gtid_binlog_pos AS gtid_binlog_pos, " +
  "@@global.max_prepared_stmt_count AS max_prepared_stmt_count, " +
  "@@global.max_allowed_packet AS max_allowed_packet";
/** MySQL has no MariaDB GTID variables. */
export const MYSQL_VARIABLES_SQL =
  "SELECT @@read_only AS read_only, @@global.max_prepared_stmt_count AS max_prepared_stmt_count, " +
  "@@global.max_allowed_packet AS max_allowed_packet";

/**
 * Replication status statements, most specific first. MariaDB's SHOW ALL SLAVES STATUS lists every
 * multi-source connection (and adds Connection_name); SHOW SLAVE STATUS covers the default
 * connection on MariaDB and MySQL up to 8.3; MySQL 8.4 removed it for SHOW REPLICA STATUS, whose
 * columns say Replica/Source instead of Slave/Master (both spellings are read below).
 */
export const REPLICATION_STATUS_SQL = ["SHOW ALL SLAVES STATUS", "SHOW SLAVE STATUS", "SHOW REPLICA STATUS"];

export function isMariaDb(version: string): boolean {
  return /mariadb/i.test(version);
}

type Row = Record<string, unknown>;

function field(row: Row, ...names: string[]): unknown {
  for (const n of names) if (n in row) return row[n];
  return undefined;
}

function text(v: unknown): string | null {
  if (v == null) return null;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return String(v);
}

function nonEmpty(v: unknown): string | null {
  const t = text(v)?.trim();
  return t ? t : null;
}

function int(v: unknown): number | null {
  if (v == null || v === "") return null;
  const n = typeof v === "number" ? v : Number(text(v));
  return Number.isFinite(n) ? n : null;
}

/** One row of SHOW [ALL] SLAVES|REPLICA STATUS. */
export function parseReplicationChannel(row: Row): ReplicationChannel {
  return {
    connectionName: text(field(row, "Connection_name")) ?? "",
    ioRunning: text(field(row, "Slave_IO_Running", "Replica_IO_Running")) ?? "No",
    sqlRunning: text(field(row, "Slave_SQL_Running", "Replica_SQL_Running")) ?? "No",
    secondsBehindMaster: int(field(row, "Seconds_Behind_Master", "Seconds_Behind_Source")),
    lastIoError: nonEmpty(field(row, "Last_IO_Error")),
    lastSqlError: nonEmpty(field(row, "Last_SQL_Error")),
    gtidIoPos: text(field(row, "Gtid_IO_Pos")),
    masterHost: nonEmpty(field(row, "Master_Host", "Source_Host")),
    masterPort: int(field(row, "Master_Port", "Source_Port")),
  };
}

/**
 * Folds the status rows of one server. No rows: the server replicates from nobody (null).
 * "broken" means a thread stopped with an error; a thread stopped by STOP SLAVE has none
 * (MariaDB clears Last_IO_Error / Last_SQL_Error at START SLAVE, not at STOP SLAVE, so an old
 * error stays visible until replication is restarted).
 */
export function parseReplicationStatus(rows: readonly Row[]): ReplicationStatus | null {
  if (rows.length === 0) return null;
  const channels = rows.map(parseReplicationChannel);
  let secondsBehindMaster: number | null = 0;
  let lastError: string | null = null;
  let broken = false;
  for (const c of channels) {
    if (c.secondsBehindMaster === null || secondsBehindMaster === null) secondsBehindMaster = null;
    else secondsBehindMaster = Math.max(secondsBehindMaster, c.secondsBehindMaster);
    const ioError = c.ioRunning !== "Yes" ? c.lastIoError : null;
    const sqlError = c.sqlRunning !== "Yes" ? c.lastSqlError : null;
    if (ioError || sqlError) broken = true;
    const err = c.lastIoError ?? c.lastSqlError;
    if (err && !lastError) lastError = c.connectionName ? `${c.connectionName}: ${err}` : err;
  }
  return {
    channels,
    ioRunning: channels.every((c) => c.ioRunning === "Yes"),
    sqlRunning: channels.every((c) => c.sqlRunning === "Yes"),
    broken,
    secondsBehindMaster,
    lastError,
  };
}

/** The row of MARIADB_VARIABLES_SQL / MYSQL_VARIABLES_SQL. */
export function parseServerVariables(row: Row): ServerVariables {
  return {
    readOnly: int(row.read_only) === 1,
    gtidSlavePos: text(row.gtid_slave_pos),
    gtidCurrentPos: text(row.gtid_current_pos),
    gtidBinlogPos: text(row.gtid_binlog_pos),
    maxPreparedStmtCount: int(row.max_prepared_stmt_count),
    maxAllowedPacket: int(row.max_allowed_packet),
  };
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * A DATETIME(6) as the text protocol sends it ("2024-11-25 07:48:00.123456"), read as UTC (the
 * monitor's sessions run with time_zone '+00:00'), in microseconds since the epoch. Null when
 * malformed. Microseconds since 1970 stay below 2^53 until the year 2255.
 */
export function parseDateTimeUs(v: unknown): number | null {
  const m = DATETIME.exec(text(v)?.trim() ?? "");
  if (!m) return null;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (Number.isNaN(ms)) return null;
  const micro = m[7] ? Number(m[7].padEnd(6, "0")) : 0;
  return ms * 1000 + micro;
}

/** The row of `heartbeatSql(schema).read`; null when the row is missing or unreadable. */
export function parseHeartbeatRow(row: Row | undefined): HeartbeatReading | null {
  if (!row) return null;
  const tsUs = parseDateTimeUs(row.ts);
  const replicaNowUs = parseDateTimeUs(row.now_ts);
  if (tsUs === null || replicaNowUs === null) return null;
  return { tsUs, replicaNowUs };
}

/** Backtick-quotes an identifier (a backtick inside is doubled, as the manual's "Identifier Names" says). */
export function quoteIdent(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/**
 * The heartbeat statements (pt-heartbeat's scheme, one row): the writer on the primary upserts
 * row 1 with its NOW(6); replicas read it back through replication.
 */
export function heartbeatSql(schema: string) {
  const table = `${quoteIdent(schema)}.heartbeat`;
  return {
    createSchema: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(schema)}`,
    createTable: `CREATE TABLE IF NOT EXISTS ${table} (id INT PRIMARY KEY, ts DATETIME(6) NOT NULL)`,
    write: `REPLACE INTO ${table} (id, ts) VALUES (1, NOW(6))`,
    /** The writer reads back what it wrote: the exact value replicas will see. */
    readBack: `SELECT ts FROM ${table} WHERE id = 1`,
    read: `SELECT ts, NOW(6) AS now_ts FROM ${table} WHERE id = 1`,
  };
}
