import { DeadlineError, isServerError } from "./admin-session.js";

/**
 * Errors of the replication operations: which operation, on which node, why, and what to do.
 * Stable codes: REPLICATION_OP_FAILED, and REPLICATION_DIVERGED for a node whose history has
 * transactions the (new) primary does not have, which no retry can fix.
 */

export type ReplicationErrorCode = "REPLICATION_OP_FAILED" | "REPLICATION_DIVERGED";

export class ReplicationOpError extends Error {
  readonly code: ReplicationErrorCode = "REPLICATION_OP_FAILED";
  constructor(
    /** readPosition, waitApplied, promote, repoint, setReadOnly, waitForGtid, demote, checkDiverged, binlogPos. */
    readonly op: string,
    /** The node the operation ran on. */
    readonly node: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${op} ${node}: ${message}`, options);
    this.name = "ReplicationOpError";
  }
}

export class DivergedError extends ReplicationOpError {
  override readonly code: ReplicationErrorCode = "REPLICATION_DIVERGED";
  constructor(
    op: string,
    node: string,
    /** The primary the node was to replicate from. */
    readonly primary: string,
    /** The node's @@gtid_binlog_pos, and the GTIDs of it the primary does not have. */
    readonly nodePos: string,
    readonly extraGtids: string[],
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      op,
      node,
      `diverged from ${primary}: ${detail}. ${node} is left read_only and not replicating; restore it from a backup of ${primary} (or discard those transactions) before it rejoins`,
      options,
    );
    this.name = "DivergedError";
  }
}

/**
 * The IO thread's Last_IO_Errno 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG) for a GTID the
 * primary cannot serve. MariaDB's two texts for a diverged replica (sql/sql_repl.cc):
 * "... requested to start from GTID X, which is not in the master's binlog" (optionally "...
 * it probably means that the slave has diverged ..."); the purged-binlog one ("Could not find
 * GTID state requested by slave in any binlog files") is not a divergence.
 */
export function isDivergedIoError(errno: number | null, message: string | null): boolean {
  return errno === 1236 && /not in the master's binlog|diverged/i.test(message ?? "");
}

/** Appends what an operator can do about a driver or server error. */
export function describeCause(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (isServerError(e)) {
    if (e.errno === 1227) return `${msg} (grant the failover user that privilege on every node)`;
    if (e.errno === 1045) return `${msg} (check the failover user's name and password on this node)`;
    return `${msg} (errno ${e.errno})`;
  }
  if (e instanceof DeadlineError || code === "ETIMEDOUT") return `${msg} (the node is hung or overloaded)`;
  if (code === "ECONNREFUSED") return `${msg} (the node is down)`;
  return msg;
}
