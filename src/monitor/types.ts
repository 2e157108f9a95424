/**
 * What the backend monitor reports. One `BackendObservation` per backend per check; the balancer,
 * `/backends` and the metrics consume these and nothing else from the monitor.
 */

/**
 * `fenced`: a former primary after a failover. It is still checked (so /backends shows it) but
 * never written to or read from until `rwsplit rejoin` makes it a replica again.
 */
export type BackendRole = "primary" | "replica" | "fenced";

/**
 * Where `lagMs` came from. `heartbeat`: the replica's copy of the primary's heartbeat row
 * (sub-second, see lag.ts for what it means); `seconds_behind_master`: the server's own
 * Seconds_Behind_Master × 1000 (whole seconds, NULL whenever the SQL thread is stopped).
 */
export type LagSource = "heartbeat" | "seconds_behind_master";

export interface BackendObservation {
  name: string;
  role: BackendRole;
  /** The check connected and every query answered within `monitor.timeoutMs`. */
  up: boolean;
  /** `@@read_only`; null when down. */
  readOnly: boolean | null;
  /**
   * Both replication threads run (Slave_IO_Running and Slave_SQL_Running are "Yes", on every
   * replication connection). Null for a primary that replicates from nobody, and when down.
   */
  replicating: boolean | null;
  /**
   * Replication lag in milliseconds; null when unknown (down, replication stopped or broken, no
   * usable source) and for the primary. Never 0 for a replica that is not replicating.
   */
  lagMs: number | null;
  lagSource: LagSource | null;
  /**
   * Slave_IO_Running ("Yes", "Connecting", "No"; the worst over the channels) and whether the SQL
   * threads run; null when the server replicates from nobody or is down. Failover reads these to
   * confirm that the replicas lost the primary too.
   */
  ioState: string | null;
  sqlRunning: boolean | null;
  /** Gtid_IO_Pos: what the replica received (MariaDB); null when not a replica. */
  gtidIoPos: string | null;
  /** Where the replica replicates from (first channel). */
  source: { host: string; port: number } | null;
  gtidSlavePos: string | null;
  gtidCurrentPos: string | null;
  gtidBinlogPos: string | null;
  /** `@@global.max_prepared_stmt_count` (the proxy's statement cache follows it); null when down. */
  maxPreparedStmtCount: number | null;
  /** `@@global.max_allowed_packet` (the largest client packet rwsplit takes follows the primary's). */
  maxAllowedPacket: number | null;
  /** A digest of the global values a new session copies (GLOBALS_DIGEST_SQL); null when not read. */
  globals: string | null;
  /** Why the check failed, or the replication error (Last_IO_Error / Last_SQL_Error), or the heartbeat writer's error (primary). */
  lastError: string | null;
  /** `Date.now()` when the check finished. 0 until the first check. */
  checkedAt: number;
  checkDurationMs: number;
}

/** One replication connection (a row of SHOW ALL SLAVES STATUS; MariaDB multi-source has several). */
export interface ReplicationChannel {
  /** Connection_name; "" for the default connection and for SHOW SLAVE STATUS. */
  connectionName: string;
  /** Slave_IO_Running verbatim: "Yes", "No", "Connecting" or "Preparing". */
  ioRunning: string;
  /** Slave_SQL_Running verbatim: "Yes" or "No". */
  sqlRunning: string;
  secondsBehindMaster: number | null;
  lastIoError: string | null;
  lastSqlError: string | null;
  /** Gtid_IO_Pos: the last GTID the IO thread received (MariaDB). */
  gtidIoPos: string | null;
  masterHost: string | null;
  masterPort: number | null;
}

/** The replication state of one server, folded over its replication connections. */
export interface ReplicationStatus {
  channels: ReplicationChannel[];
  /** Every channel's IO thread is connected ("Yes"). */
  ioRunning: boolean;
  /** Every channel's SQL thread runs. */
  sqlRunning: boolean;
  /** A stopped thread left an error (Last_IO_Error or Last_SQL_Error is set). */
  broken: boolean;
  /** The largest Seconds_Behind_Master over the channels; null if any channel reports NULL. */
  secondsBehindMaster: number | null;
  /** The first non-empty Last_IO_Error / Last_SQL_Error, prefixed with the channel name if any. */
  lastError: string | null;
}

/** `@@read_only` and the MariaDB GTID positions. */
export interface ServerVariables {
  readOnly: boolean;
  gtidSlavePos: string | null;
  gtidCurrentPos: string | null;
  gtidBinlogPos: string | null;
  /** `@@global.max_prepared_stmt_count`; null when not read. */
  maxPreparedStmtCount: number | null;
  /** `@@global.max_allowed_packet`; null when not read. */
  maxAllowedPacket: number | null;
}

/** A replica's heartbeat row, as its own clock sees it (microseconds since the epoch, UTC). */
export interface HeartbeatReading {
  /** The `ts` the primary wrote (its NOW(6)), as replicated. */
  tsUs: number;
  /** The replica's NOW(6) when the row was read. */
  replicaNowUs: number;
}

/** What the heartbeat writer on the primary has achieved, as seen by the replica checks. */
export interface HeartbeatWriterState {
  /** The writer wrote recently enough that a replica's row can be compared with it. */
  working: boolean;
  /** The `ts` of the newest row the writer committed (primary clock, µs since the epoch). */
  newestTsUs: number | null;
  /** The writer's period (`monitor.heartbeat.intervalMs`). */
  periodMs: number;
  lastError: string | null;
}
