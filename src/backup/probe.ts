import mysql from "mysql2/promise";
import type { BackendConfig } from "../config/types.js";
import type { SourceCandidate } from "./source-select.js";

/**
 * What backups ask the servers, as the backup user: each backend's replication state (for
 * source selection), pausing and resuming a replica's SQL thread, and CHECKSUM TABLE of every
 * table. One short connection per question; nothing here keeps a connection open.
 */

export interface Credentials {
  user: string;
  password: string;
}

export type Row = Record<string, unknown>;

const CONNECT_TIMEOUT_MS = 3000;

export async function connect(
  b: { host: string; port: number },
  cred: Credentials,
): Promise<mysql.Connection> {
  const c = await mysql.createConnection({
    host: b.host,
    port: b.port,
    user: cred.user,
    password: cred.password,
    connectTimeout: CONNECT_TIMEOUT_MS,
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
  });
  c.on("error", () => {});
  return c;
}

export async function withConnection<T>(
  b: { host: string; port: number },
  cred: Credentials,
  work: (c: mysql.Connection) => Promise<T>,
): Promise<T> {
  const c = await connect(b, cred);
  try {
    return await work(c);
  } finally {
    await close(c);
  }
}

/** COM_QUIT (a server logs a connection dropped without one as "Aborted connection"). */
export async function close(c: mysql.Connection): Promise<void> {
  await c.end().catch(() => c.destroy());
}

export async function rows(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [r] = await c.query(sql, params);
  return r as Row[];
}

export interface ServerFacts {
  serverId: number;
  version: string;
  readOnly: boolean;
  logBin: boolean;
  gtidBinlogPos: string;
  gtidSlavePos: string;
  slave: Row | null;
}

export async function serverFacts(c: mysql.Connection): Promise<ServerFacts> {
  const [v] = await rows(
    c,
    "SELECT @@server_id AS id, @@version AS version, @@read_only AS ro, @@log_bin AS log_bin, @@gtid_binlog_pos AS binlog, @@gtid_slave_pos AS slave",
  );
  const slave = (await rows(c, "SHOW SLAVE STATUS"))[0] ?? null;
  return {
    serverId: Number(v?.id),
    version: String(v?.version ?? ""),
    readOnly: Number(v?.ro) === 1,
    logBin: Number(v?.log_bin) === 1,
    gtidBinlogPos: String(v?.binlog ?? ""),
    gtidSlavePos: String(v?.slave ?? ""),
    slave,
  };
}

/** Every backend's state as source selection needs it, read in parallel. */
export async function probeBackends(
  backends: readonly BackendConfig[],
  topology: { primary: string; fenced: readonly string[] },
  cred: Credentials,
  lagMs: (name: string) => number | null = () => null,
): Promise<SourceCandidate[]> {
  return Promise.all(
    backends.map(async (b): Promise<SourceCandidate> => {
      const role =
        b.name === topology.primary ? "primary" : topology.fenced.includes(b.name) ? "fenced" : "replica";
      try {
        const f = await withConnection(b, cred, serverFacts);
        const s = f.slave;
        const text = (k: string) =>
          s && s[k] !== null && s[k] !== undefined && String(s[k]) !== "" ? String(s[k]) : null;
        return {
          name: b.name,
          role,
          reachable: true,
          error: null,
          readOnly: f.readOnly,
          ioRunning: s ? String(s.Slave_IO_Running) : null,
          sqlRunning: s ? s.Slave_SQL_Running === "Yes" : null,
          lastSqlError: text("Last_SQL_Error"),
          lastIoError: text("Last_IO_Error"),
          gtid: role === "primary" ? f.gtidBinlogPos : f.gtidSlavePos,
          lagMs: lagMs(b.name),
        };
      } catch (e) {
        return {
          name: b.name,
          role,
          reachable: false,
          error: (e as Error).message,
          readOnly: null,
          ioRunning: null,
          sqlRunning: null,
          lastSqlError: null,
          lastIoError: null,
          gtid: null,
        };
      }
    }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * STOP SLAVE SQL_THREAD and wait until it stopped; returns @@gtid_slave_pos, which then stays put
 * (a read_only replica changes only through its SQL thread) until `resumeReplica`.
 */
export async function pauseReplica(c: mysql.Connection): Promise<string> {
  await c.query("STOP SLAVE SQL_THREAD");
  for (let i = 0; i < 200; i++) {
    const s = (await rows(c, "SHOW SLAVE STATUS"))[0];
    if (s?.Slave_SQL_Running !== "Yes") break;
    await sleep(50);
  }
  const [r] = await rows(c, "SELECT @@gtid_slave_pos AS pos");
  return String(r?.pos ?? "");
}

export async function resumeReplica(c: mysql.Connection): Promise<void> {
  await c.query("START SLAVE SQL_THREAD");
}

/** Schemas that are the server's own: never compared (their content differs on every server). */
export const SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys"];

/** CHECKSUM TABLE of every base table outside the system schemas: "schema.table" → value. */
export async function tableChecksums(c: mysql.Connection): Promise<Record<string, string | null>> {
  const tables = await rows(
    c,
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?) ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [SYSTEM_SCHEMAS],
  );
  const out: Record<string, string | null> = {};
  const quote = (x: string) => `\`${x.replace(/`/g, "``")}\``;
  for (let i = 0; i < tables.length; i += 50) {
    const batch = tables.slice(i, i + 50).map((r) => `${quote(String(r.s))}.${quote(String(r.t))}`);
    // CHECKSUM TABLE: one row per table, "Table" as schema.table and "Checksum" (NULL if missing).
    for (const r of await rows(c, `CHECKSUM TABLE ${batch.join(", ")}`)) {
      out[String(r.Table)] = r.Checksum === null || r.Checksum === undefined ? null : String(r.Checksum);
    }
  }
  return out;
}
