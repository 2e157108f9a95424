import { randomUUID } from "node:crypto";
import type mysql from "mysql2/promise";
import { SANDBOX_CREDENTIALS } from "./credentials.js";
import { connectNode, nodeFailure } from "./node.js";
import { pathsOfNode } from "./paths.js";
import type { SandboxInfo, SandboxNode } from "./types.js";

/**
 * The replication wiring, in SQL, over TCP as root: attach a replica to the primary by GTID,
 * read SHOW SLAVE STATUS, wait for catch-up, and prove it with a marker row.
 */

type Row = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parts of SHOW SLAVE STATUS the sandbox looks at (column names as the server sends them). */
export interface ReplicaThreads {
  ioRunning: string;
  sqlRunning: string;
  secondsBehind: number | null;
  lastIoError: string;
  lastSqlError: string;
}

export async function replicaThreads(c: mysql.Connection): Promise<ReplicaThreads | null> {
  const [rows] = await c.query("SHOW SLAVE STATUS");
  const s = (rows as Row[])[0];
  if (!s) return null;
  return {
    ioRunning: String(s.Slave_IO_Running),
    sqlRunning: String(s.Slave_SQL_Running),
    secondsBehind: s.Seconds_Behind_Master == null ? null : Number(s.Seconds_Behind_Master),
    lastIoError: String(s.Last_IO_Error ?? ""),
    lastSqlError: String(s.Last_SQL_Error ?? ""),
  };
}

async function scalar(c: mysql.Connection, sql: string, params: unknown[] = []): Promise<unknown> {
  const [rows] = await c.query(sql, params);
  const row = (rows as Row[])[0];
  return row ? Object.values(row)[0] : undefined;
}

/**
 * CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos, START SLAVE. slave_pos: the replica resumes
 * from the last GTID it applied (empty for a fresh copy of the template, so from the first
 * event in the primary's binlog). MASTER_CONNECT_RETRY=1 so a restarted primary is found again
 * within a second rather than the default 60.
 */
export async function attachReplica(replica: SandboxNode, primary: SandboxNode): Promise<void> {
  const c = await connectNode(replica);
  try {
    const r = SANDBOX_CREDENTIALS.replication;
    await c.query(
      "CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
      [primary.host, primary.port, r.user, r.password],
    );
    await c.query("START SLAVE");
  } finally {
    await c.end();
  }
}

/** Waits until Slave_IO_Running and Slave_SQL_Running are both Yes. */
export async function waitForThreads(replica: SandboxNode, timeoutMs: number): Promise<void> {
  const c = await connectNode(replica);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await replicaThreads(c);
      if (t?.ioRunning === "Yes" && t.sqlRunning === "Yes") return;
      if (Date.now() > deadline) {
        const state = t
          ? `Slave_IO_Running=${t.ioRunning} Slave_SQL_Running=${t.sqlRunning} Last_IO_Error=${t.lastIoError || "-"} Last_SQL_Error=${t.lastSqlError || "-"}`
          : "no replication configured";
        throw nodeFailure(replica.name, `replication threads not running (${state})`, pathsOfNode(replica));
      }
      await sleep(100);
    }
  } finally {
    await c.end();
  }
}

/**
 * Waits until the primary counts `count` semi-sync replicas (Rpl_semi_sync_master_clients).
 * Until then a commit would stall for rpl_semi_sync_master_timeout waiting for an ACK.
 */
export async function waitForSemiSyncClients(primary: SandboxNode, count: number, timeoutMs: number) {
  const c = await connectNode(primary);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [rows] = await c.query("SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'");
      const clients = Number((rows as Row[])[0]?.Value ?? 0);
      if (clients >= count) return;
      if (Date.now() > deadline) {
        throw nodeFailure(
          primary.name,
          `only ${clients} of ${count} replicas connected with semi-sync (Rpl_semi_sync_master_clients)`,
          pathsOfNode(primary),
        );
      }
      await sleep(100);
    }
  } finally {
    await c.end();
  }
}

/** The primary's position: every GTID in its binlog, per domain. */
export async function primaryPosition(primary: SandboxNode): Promise<string> {
  const c = await connectNode(primary);
  try {
    return String((await scalar(c, "SELECT @@gtid_binlog_pos")) ?? "");
  } finally {
    await c.end();
  }
}

/**
 * Waits until `replica` runs both threads and has applied `pos` (MASTER_GTID_WAIT returns 0 once
 * gtid_slave_pos reaches it, -1 on timeout). Waits in short slices so a stopped thread fails with
 * its error instead of a silent timeout.
 */
export async function waitForPosition(replica: SandboxNode, pos: string, timeoutMs: number): Promise<void> {
  const c = await connectNode(replica);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = await replicaThreads(c);
      const running = t?.ioRunning === "Yes" && t.sqlRunning === "Yes";
      if (running && Number(await scalar(c, "SELECT MASTER_GTID_WAIT(?, 0.5)", [pos])) === 0) return;
      if (Date.now() > deadline) {
        const why = t
          ? `Slave_IO_Running=${t.ioRunning} Slave_SQL_Running=${t.sqlRunning} Last_IO_Error=${t.lastIoError || "-"} Last_SQL_Error=${t.lastSqlError || "-"}`
          : "no replication configured";
        const at = await scalar(c, "SELECT @@gtid_slave_pos");
        throw nodeFailure(
          replica.name,
          `did not catch up to the primary's ${pos} within ${timeoutMs} ms (at ${at || "nothing"}; ${why})`,
          pathsOfNode(replica),
        );
      }
      if (!running) await sleep(100);
    }
  } finally {
    await c.end();
  }
}

/** Every replica caught up to the primary's current gtid_binlog_pos. */
export async function waitForReplicas(info: SandboxInfo, timeoutMs = 30_000): Promise<void> {
  const pos = await primaryPosition(info.primary);
  await Promise.all(info.replicas.map((r) => waitForPosition(r, pos, timeoutMs)));
}

/** Schema of the marker row; kept out of the application's database. */
const MARKER_DB = "rwsplit_sandbox";

/** Writes a fresh marker row on the primary and returns its token. */
export async function writeMarker(primary: SandboxNode): Promise<string> {
  const token = randomUUID();
  const c = await connectNode(primary);
  try {
    await c.query(`CREATE DATABASE IF NOT EXISTS ${MARKER_DB}`);
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${MARKER_DB}.marker (id INT PRIMARY KEY, token VARCHAR(36) NOT NULL, written_at DATETIME(6) NOT NULL)`,
    );
    await c.query(`REPLACE INTO ${MARKER_DB}.marker VALUES (1, ?, NOW(6))`, [token]);
    return token;
  } finally {
    await c.end();
  }
}

/** Checks a replica holds the marker row with `token`. */
export async function checkMarker(replica: SandboxNode, token: string): Promise<void> {
  const c = await connectNode(replica);
  try {
    const seen = await scalar(c, `SELECT token FROM ${MARKER_DB}.marker WHERE id = 1`);
    if (seen !== token) {
      throw nodeFailure(
        replica.name,
        `marker row not replicated (expected ${token}, found ${seen ?? "no row"})`,
        pathsOfNode(replica),
      );
    }
  } finally {
    await c.end();
  }
}
