import type { BackendConnection } from "../backend-connection.js";

/**
 * Waiting on a replica connection until it has applied a GTID position, before a read that must
 * see it is sent there. MariaDB's `MASTER_GTID_WAIT(gtid_pos[, timeout])` (KB "MASTER_GTID_WAIT")
 * returns 0 once the server's gtid_slave_pos covers `gtid_pos`, -1 when `timeout` (seconds, with
 * fractions) runs out first, NULL on bad arguments.
 *
 * The proxy's own queries relay no rows to anyone: the scanner only counts them. So the answer is
 * put in the row count: `SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT(...) = 0` returns one row when
 * the replica caught up and none when it timed out (or the function said NULL).
 */

export type WaitResult = "caught_up" | "timeout" | "error";

/** A GTID position as MariaDB prints it: "domain-server-seq" triples, comma-separated. */
const POSITION = /^\d{1,10}-\d{1,10}-\d{1,20}(,\d{1,10}-\d{1,10}-\d{1,20})*$/;

/**
 * The statement, or null when `gtid` is not a position (it is put in the SQL text: it comes from
 * the server's session tracking or from Redis, and is checked anyway).
 */
export function gtidWaitSql(gtid: string, waitMs: number): string | null {
  if (!POSITION.test(gtid)) return null;
  const seconds = (Math.max(0, waitMs) / 1000).toFixed(3);
  return `SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT('${gtid}', ${seconds}) = 0`;
}

/**
 * Runs the wait on `conn` (leased, nothing else in flight). "error" when the server refused it
 * (a MySQL server has no MASTER_GTID_WAIT) or the connection failed; `conn` is closed then only if
 * it was lost.
 */
export async function waitForGtid(
  conn: BackendConnection,
  gtid: string,
  waitMs: number,
): Promise<WaitResult> {
  const sql = gtidWaitSql(gtid, waitMs);
  if (sql === null) return "error";
  try {
    const r = await conn.query(sql);
    if (r.err !== null) return "error";
    return conn.scanner.rows > 0 ? "caught_up" : "timeout";
  } catch {
    return "error";
  }
}
