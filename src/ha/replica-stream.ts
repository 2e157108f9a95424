import type { AdminSession, Credentials, Endpoint } from "./admin-session.js";
import { describeThreads, readSlaveStatus, type SlaveStatus } from "./slave-status.js";

/**
 * Pointing a node at a primary (CHANGE MASTER TO) and proving the binlog dump then really runs.
 * Used by repoint (a replica changes primary) and demote (a former primary becomes a replica).
 */

/**
 * How often a replica whose primary went away retries (CHANGE MASTER TO MASTER_CONNECT_RETRY,
 * default 60 s): a primary that is back, or a repointed replica's first attempt, within a second.
 */
const CONNECT_RETRY_S = 1;
const POLL_MS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `gtidClause` is ours (MASTER_USE_GTID=..., MASTER_DEMOTE_TO_SLAVE=1), never user input. */
export function changeMaster(s: AdminSession, primary: Endpoint, repl: Credentials, gtidClause: string) {
  return s.query(
    `CHANGE MASTER TO MASTER_HOST=?, MASTER_PORT=?, MASTER_USER=?, MASTER_PASSWORD=?, ${gtidClause}, MASTER_CONNECT_RETRY=${CONNECT_RETRY_S}`,
    [primary.host, primary.port, repl.user, repl.password],
  );
}

export type Streaming = { ok: true } | { ok: false; st: SlaveStatus | null; why: string };

/**
 * After START SLAVE: is the binlog dump really running? Slave_IO_Running=Yes alone is not
 * proof, it is set once the TCP login succeeded, before the primary looked up the requested
 * GTID (a diverged replica is refused with 1236 right after). The primary's first event after a
 * successful lookup is a Rotate naming its binlog, which sets Master_Log_File (emptied by CHANGE
 * MASTER TO MASTER_HOST): Yes + Master_Log_File + no IO error is a stream. A refused one never
 * gets a Master_Log_File (observed on 10.11: 1236 with Master_Log_File empty, IO thread No).
 */
export async function awaitStreaming(s: AdminSession, waitMs: number): Promise<Streaming> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const st = await readSlaveStatus(s);
    if (!st) return { ok: false, st, why: "no master configured after CHANGE MASTER" };
    if (st.ioRunning === "No")
      return { ok: false, st, why: `the IO thread stopped (${describeThreads(st)})` };
    if (!st.sqlRunning && st.lastSqlErrno) {
      return { ok: false, st, why: `the SQL thread stopped (${describeThreads(st)})` };
    }
    if (st.ioRunning === "Yes" && st.masterLogFile !== "" && st.lastIoErrno === 0 && st.sqlRunning) {
      return { ok: true };
    }
    if (Date.now() >= deadline) {
      return { ok: false, st, why: `not replicating after ${waitMs} ms (${describeThreads(st)})` };
    }
    await sleep(POLL_MS);
  }
}

/** "...requested to start from GTID 0-1-7, which is not..." → ["0-1-7"]. */
export function gtidsIn(message: string): string[] {
  return [...message.matchAll(/GTID (\d+-\d+-\d+)/g)].map((m) => m[1] as string);
}

/** CHANGE MASTER TO ... MASTER_DEMOTE_TO_SLAVE exists from MariaDB 10.10 on (MDEV-20122). */
export function supportsDemoteToSlave(version: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version);
  const major = Number(m?.[1] ?? 0);
  return major > 10 || (major === 10 && Number(m?.[2] ?? 0) >= 10);
}
