import type { Connection as PromiseConnection } from "mysql2/promise";
import { ERRNO, serverErrno } from "../errors.js";
import {
  GLOBALS_DIGEST_SQL,
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
  /** The last digest of the server's session globals, and when it was read (`Date.now()`). */
  globals: string | null;
  globalsReadAt: number;
}

/** How often the digest of the session globals is read again: a `SET GLOBAL` is seen within it. */
export const GLOBALS_EVERY_MS = 2000;

export interface CheckResult {
  variables: ServerVariables;
  /** Null when the server replicates from nobody, or when the status could not be read. */
  replication: ReplicationStatus | null;
  /** The status statement's ERR (e.g. the monitor user lacks SLAVE MONITOR); null when it ran. */
  replicationError: string | null;
  heartbeat: HeartbeatReading | null;
  heartbeatError: string | null;
  /** GLOBALS_DIGEST_SQL's digest, as last read (every GLOBALS_EVERY_MS); null on MySQL or unread. */
  globals: string | null;
}

export async function initCheckSession(c: PromiseConnection): Promise<CheckSession> {
  await c.query(SET_UTC_SQL);
  const [rows] = await c.query(VERSION_SQL);
  const version = String((rows as Record<string, unknown>[])[0]?.version ?? "");
  return { mariadb: isMariaDb(version), statusSql: null, globals: null, globalsReadAt: 0 };
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
  const globals = await globalsDigest(c, session, Date.now());
  return {
    variables,
    replication,
    replicationError,
    heartbeat: hb.reading,
    heartbeatError: hb.error,
    globals,
  };
}

/** The session globals' digest, read again once GLOBALS_EVERY_MS has passed (MariaDB only). */
async function globalsDigest(
  c: PromiseConnection,
  session: CheckSession,
  now: number,
): Promise<string | null> {
  if (!session.mariadb || now - session.globalsReadAt < GLOBALS_EVERY_MS) return session.globals;
  session.globalsReadAt = now;
  try {
    const [rows] = await c.query(GLOBALS_DIGEST_SQL);
    const v = (rows as Record<string, unknown>[])[0]?.globals;
    session.globals = typeof v === "string" ? v : null;
  } catch (e) {
    if (!isServerError(e)) throw e;
    session.globals = null;
  }
  return session.globals;
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
