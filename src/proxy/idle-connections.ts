import { type BackendConnection, BackendState } from "./backend-connection.js";

/**
 * The idle connections of one pool key, most recently used last: a session takes the most
 * recent (its cache is warm, and the others may idle out), a connection kept for its session's
 * next statement waits at the far end (backend-pool.ts `release(keep)`).
 */

/**
 * The most recently used idle connection of `list` (taken out), skipping closed ones; with
 * `noSchema`, the most recent one with no default database, the others left in place; kept ones
 * (for another session's next statement) only with `evenKept`.
 */
export function takeIdle(
  list: BackendConnection[],
  noSchema: boolean,
  evenKept: boolean,
): BackendConnection | null {
  for (let i = list.length - 1; i >= 0; i--) {
    const conn = list[i]!;
    if (conn.state !== BackendState.IDLE) {
      list.splice(i, 1);
      continue;
    }
    if ((noSchema && conn.schema !== null) || (conn.kept && !evenKept)) continue;
    conn.kept = false;
    if (i === list.length - 1) list.pop();
    else list.splice(i, 1);
    return conn;
  }
  return null;
}
