/**
 * One node's replication state as the failover logic sees it: read by `readPosition`
 * (replication-ops.ts), judged by `chooseCandidate` (candidate.ts). Null where the node could not
 * be asked, or where it has no master configured (SHOW SLAVE STATUS is empty on a primary).
 */
export interface NodePosition {
  name: string;
  /** The node answered (connect + queries within the deadline). */
  reachable: boolean;
  /** Why it could not be read, when `reachable` is false. */
  error: string | null;
  readOnly: boolean | null;
  /** Slave_IO_Running: "Yes", "No" or "Connecting". */
  ioRunning: string | null;
  /** Slave_SQL_Running = Yes. */
  sqlRunning: boolean | null;
  /** Gtid_IO_Pos: what the IO thread has received (relay log), applied or not. */
  gtidIoPos: string | null;
  /** @@gtid_slave_pos: what the SQL thread has applied. */
  gtidSlavePos: string | null;
  /** @@gtid_current_pos: per domain, own binlogged writes or applied ones, whichever is newer. */
  gtidCurrentPos: string | null;
  /** @@gtid_binlog_pos: the last GTID per domain in this node's own binlog. */
  gtidBinlogPos: string | null;
  masterHost: string | null;
  masterPort: number | null;
  lastIoErrno: number | null;
  lastIoError: string | null;
  /** A stopped SQL thread with an error cannot apply its relay log: such a node is never promoted. */
  lastSqlErrno: number | null;
  lastSqlError: string | null;
}

/** A node not (yet) read: every field unknown. `readPosition` fills it in as it learns. */
export function unreachablePosition(name: string, error: string | null = null): NodePosition {
  return {
    name,
    reachable: false,
    error,
    readOnly: null,
    ioRunning: null,
    sqlRunning: null,
    gtidIoPos: null,
    gtidSlavePos: null,
    gtidCurrentPos: null,
    gtidBinlogPos: null,
    masterHost: null,
    masterPort: null,
    lastIoErrno: null,
    lastIoError: null,
    lastSqlErrno: null,
    lastSqlError: null,
  };
}
