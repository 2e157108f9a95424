import { DeadlineError, ERRNO, isServerError } from "../errors.js";

/**
 * What the replication operations make of a driver's or server's error. Their error classes
 * (ReplicationOpError, REPLICATION_OP_FAILED; DivergedError, REPLICATION_DIVERGED) are in the
 * catalog, src/errors.ts.
 */

export { DivergedError, ReplicationOpError } from "../errors.js";

/**
 * The IO thread's Last_IO_Errno 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG) for a GTID the
 * primary cannot serve. MariaDB's two texts for a diverged replica (sql/sql_repl.cc):
 * "... requested to start from GTID X, which is not in the master's binlog" (optionally "...
 * it probably means that the slave has diverged ..."); the purged-binlog one ("Could not find
 * GTID state requested by slave in any binlog files") is not a divergence.
 */
export function isDivergedIoError(errno: number | null, message: string | null): boolean {
  return (
    errno === ERRNO.ER_MASTER_FATAL_ERROR_READING_BINLOG &&
    /not in the master's binlog|diverged/i.test(message ?? "")
  );
}

/** Appends what an operator can do about a driver or server error. */
export function describeCause(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  if (isServerError(e)) {
    if (e.errno === ERRNO.ER_SPECIFIC_ACCESS_DENIED_ERROR)
      return `${msg} (grant the failover user that privilege on every node)`;
    if (e.errno === ERRNO.ER_ACCESS_DENIED_ERROR)
      return `${msg} (check the failover user's name and password on this node)`;
    return `${msg} (errno ${e.errno})`;
  }
  if (e instanceof DeadlineError || code === "ETIMEDOUT") return `${msg} (the node is hung or overloaded)`;
  if (code === "ECONNREFUSED") return `${msg} (the node is down)`;
  return msg;
}
