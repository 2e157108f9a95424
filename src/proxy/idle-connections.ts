import { type BackendConnection, BackendState } from "./backend-connection.js";

/**
 * The idle connections of one pool key, most recently used last: a session takes the most
 * recent (its cache is warm, and the others may idle out); a connection kept for its session's
 * next statement waits at the far end (backend-pool.ts `release(keep)`).
 */

/**
 * How `BackendPool.release` keeps a connection for the session that let it go, whose next
 * statement may ask about the last one (previous-statement.ts): AT_END, behind every other idle
 * connection (it wrote: ROW_COUNT()), multiplexing unchanged; RESERVED, there and for KEPT_FOR_MS
 * other sessions open another connection rather than take it, until the pool's limit (it left
 * warnings or an error, which drivers ask for at once; ProxySQL keeps such a connection too).
 */
export const Keep = { NO: 0, AT_END: 1, RESERVED: 2 } as const;
export type Keep = (typeof Keep)[keyof typeof Keep];

/** How long a RESERVED connection is kept: a session that asks nothing and goes idle ties none up. */
export const KEPT_FOR_MS = 1000;

/**
 * The most recently used idle connection of `list` (taken out), skipping closed ones; with
 * `noSchema`, only one with no default database, the others left in place. One kept for its
 * session (`keptUntil` past `now`) only with `evenKept`, the most recently kept first.
 */
export function takeIdle(
  list: BackendConnection[],
  noSchema: boolean,
  now: number,
  evenKept: boolean,
): BackendConnection | null {
  let kept = false;
  for (let i = list.length - 1; i >= 0; i--) {
    const conn = list[i]!;
    if (conn.state !== BackendState.IDLE) {
      list.splice(i, 1);
      continue;
    }
    if (noSchema && conn.schema !== null) continue;
    if (conn.keptUntil > now) {
      kept = true;
      continue;
    }
    if (i === list.length - 1) list.pop();
    else list.splice(i, 1);
    return conn;
  }
  if (!kept || !evenKept) return null;
  for (let i = 0; i < list.length; i++) {
    const conn = list[i]!;
    if (noSchema && conn.schema !== null) continue;
    list.splice(i, 1);
    conn.keptUntil = 0;
    return conn;
  }
  return null;
}
