import type { AdminSession, Row } from "./admin-session.js";

/**
 * The columns of MariaDB's SHOW SLAVE STATUS the replication operations read (names as the
 * server sends them; the default, unnamed connection of multi-source replication). Null when
 * the node has no master configured (a primary, or after RESET SLAVE ALL).
 */
export interface SlaveStatus {
  /** Slave_IO_Running: "Yes", "No" or "Connecting" (retrying every MASTER_CONNECT_RETRY seconds). */
  ioRunning: string;
  sqlRunning: boolean;
  /** Slave_IO_State, e.g. "Waiting for master to send event". */
  ioState: string;
  masterHost: string;
  masterPort: number;
  /**
   * Master_Log_File: emptied by CHANGE MASTER TO MASTER_HOST/MASTER_PORT, set again by the
   * Rotate event the master sends once it found the requested GTID in its binlog. Non-empty
   * after a START SLAVE means the binlog dump really started.
   */
  masterLogFile: string;
  /** Gtid_IO_Pos: the GTID position of what the IO thread has received into the relay log. */
  gtidIoPos: string;
  lastIoErrno: number;
  lastIoError: string;
  lastSqlErrno: number;
  lastSqlError: string;
}

export async function readSlaveStatus(s: AdminSession): Promise<SlaveStatus | null> {
  const r: Row | undefined = (await s.query("SHOW SLAVE STATUS"))[0];
  if (!r) return null;
  const str = (k: string) => (r[k] == null ? "" : String(r[k]));
  const num = (k: string) => (r[k] == null ? 0 : Number(r[k]));
  return {
    ioRunning: str("Slave_IO_Running"),
    sqlRunning: str("Slave_SQL_Running") === "Yes",
    ioState: str("Slave_IO_State"),
    masterHost: str("Master_Host"),
    masterPort: num("Master_Port"),
    masterLogFile: str("Master_Log_File"),
    gtidIoPos: str("Gtid_IO_Pos"),
    lastIoErrno: num("Last_IO_Errno"),
    lastIoError: str("Last_IO_Error"),
    lastSqlErrno: num("Last_SQL_Errno"),
    lastSqlError: str("Last_SQL_Error"),
  };
}

/** `Slave_IO_Running=Yes Slave_SQL_Running=No Last_SQL_Error=...`, for error messages. */
export function describeThreads(st: SlaveStatus | null): string {
  if (!st) return "no master configured";
  const parts = [`Slave_IO_Running=${st.ioRunning}`, `Slave_SQL_Running=${st.sqlRunning ? "Yes" : "No"}`];
  if (st.lastIoErrno) parts.push(`Last_IO_Error=${st.lastIoErrno} ${st.lastIoError}`);
  if (st.lastSqlErrno) parts.push(`Last_SQL_Error=${st.lastSqlErrno} ${st.lastSqlError}`);
  return parts.join(" ");
}
