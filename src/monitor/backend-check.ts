import type { Connection as PromiseConnection } from "mysql2/promise";
import { ERRNO, serverErrno } from "../errors.js";
import {
  isMariaDb,
  MARIADB_VARIABLES_SQL,
  MYSQL_VARIABLES_SQL,
  parseReplicationStatus,
  parseServerVariables,
  REPLICATION_STATUS_SQL,
  SET_UTC_SQL,
  VERSION_SQL,
} from "./checks.js";
import { isServerError } from "./connection.js";
import { readHeartbeat } from "./heartbeat.js";
import type { HeartbeatReading, ReplicationStatus, ServerVariables } from "./types.js";

/**
 * One check of one backend, on the monitor's connection: COM_PING, read_only and GTID positions,
 * replication status, and (replicas) the heartbeat row. The caller bounds it with the timeout.
 */

/** Per-connection facts learnt once. */
export interface CheckSession {
  mariadb: boolean;
  /** The replication status statement this server accepts, once found. */
  statusSql: string | null;
}

export interface CheckResult {
  variables: ServerVariables;
  /** Null when the server replicates from nobody, or when the status could not be read. */
  replication: ReplicationStatus | null;
  /** The status statement's ERR (e.g. the monitor user lacks SLAVE MONITOR); null when it ran. */
  replicationError: string | null;
  heartbeat: HeartbeatReading | null;
  heartbeatError: string | null;
}

export async function initCheckSession(c: PromiseConnection): Promise<CheckSession> {
  await c.query(SET_UTC_SQL);
  const [rows] = await c.query(VERSION_SQL);
  const version = String((rows as Record<string, unknown>[])[0]?.version ?? "");
  return { mariadb: isMariaDb(version), statusSql: null };
}

export async function runBackendCheck(
  c: PromiseConnection,
  session: CheckSession,
  heartbeatSchema: string | null,
): Promise<CheckResult> {
  await c.ping();
  const [vars] = await c.query(session.mariadb ? MARIADB_VARIABLES_SQL : MYSQL_VARIABLES_SQL);
  const variables = parseServerVariables((vars as Record<string, unknown>[])[0] ?? {});
  let replication: ReplicationStatus | null = null;
  let replicationError: string | null = null;
  try {
    replication = parseReplicationStatus(await replicationRows(c, session));
  } catch (e) {
    if (!isServerError(e)) throw e;
    replicationError = (e as Error).message;
  }
  const hb = heartbeatSchema ? await readHeartbeat(c, heartbeatSchema) : { reading: null, error: null };
  return { variables, replication, replicationError, heartbeat: hb.reading, heartbeatError: hb.error };
}

/** Tries the status statements in order until one parses, and remembers it for this connection. */
async function replicationRows(
  c: PromiseConnection,
  session: CheckSession,
): Promise<Record<string, unknown>[]> {
  const candidates = session.statusSql ? [session.statusSql] : REPLICATION_STATUS_SQL;
  let last: unknown = null;
  for (const sql of candidates) {
    try {
      const [rows] = await c.query(sql);
      session.statusSql = sql;
      return rows as Record<string, unknown>[];
    } catch (e) {
      // ER_PARSE_ERROR: the server does not know the statement, try the next spelling.
      if (serverErrno(e) !== ERRNO.ER_PARSE_ERROR) throw e;
      last = e;
    }
  }
  throw last;
}
