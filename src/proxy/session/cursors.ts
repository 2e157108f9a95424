import { ERRNO } from "../../errors.js";
import { ServerStatus } from "../../protocol/constants/server-status.js";

/**
 * Server-side cursors (COM_STMT_EXECUTE with a cursor flag, then COM_STMT_FETCH). A cursor lives
 * on one backend connection, so while any is open the session stays pinned there (Pin.CURSOR).
 * This module is the pure part: which EXECUTEs ask for a cursor, and which responses open or
 * close one. The session feeds it events; it touches no socket.
 */

/**
 * COM_STMT_EXECUTE: int<1> 0x17, int<4> stmt_id, int<1> flags, ... The flags byte is
 * enum_cursor_type: CURSOR_TYPE_READ_ONLY 0x01, CURSOR_TYPE_FOR_UPDATE 0x02,
 * CURSOR_TYPE_SCROLLABLE 0x04. MariaDB's PARAMETER_COUNT_AVAILABLE 0x08 (bulk/array binding) is
 * not a cursor.
 */
export const CURSOR_TYPE_MASK = 0x07;
const FLAGS_OFFSET = 5;

/** Whether a COM_STMT_EXECUTE payload asks the server to open a cursor. */
export function requestsCursor(executePayload: Buffer): boolean {
  return executePayload.length > FLAGS_OFFSET && (executePayload[FLAGS_OFFSET]! & CURSOR_TYPE_MASK) !== 0;
}

/** ER_UNKNOWN_STMT_HANDLER and ER_STMT_HAS_NO_OPEN_CURSOR: the server has no cursor for it. */
const NO_CURSOR_ERRNOS: readonly number[] = [ERRNO.ER_UNKNOWN_STMT_HANDLER, ERRNO.ER_STMT_HAS_NO_OPEN_CURSOR];

/** What happened to a statement, as far as its cursor is concerned. */
export type CursorEvent =
  /** The response to COM_STMT_EXECUTE: its final status flags, and the ERR's errno (else 0). */
  | { kind: "execute"; status: number; errno: number }
  /** The response to COM_STMT_FETCH. */
  | { kind: "fetch"; status: number; errno: number }
  /** COM_STMT_RESET or COM_STMT_CLOSE (the proxy closes the cursor on the backend). */
  | { kind: "reset" }
  | { kind: "close" };

/**
 * Whether a statement has an open cursor after `e`, given whether it had one before.
 *
 * - EXECUTE closes the statement's previous cursor; a cursor is open after it exactly when the
 *   response said SERVER_STATUS_CURSOR_EXISTS (a statement without a result set ignores the
 *   flag and answers OK). On ERR the proxy cannot tell whether the old cursor went: it keeps it
 *   (the pin stays; a later FETCH gets the server's own answer).
 * - FETCH: SERVER_STATUS_LAST_ROW_SENT means the server closed the cursor. An ERR saying there
 *   is no cursor (or no statement) closes it here too; another ERR (interrupted, ...) keeps it.
 * - RESET and CLOSE close it.
 */
export function cursorOpenAfter(open: boolean, e: CursorEvent): boolean {
  switch (e.kind) {
    case "execute":
      if (e.errno !== 0) return open;
      return (e.status & ServerStatus.CURSOR_EXISTS) !== 0;
    case "fetch":
      if (e.errno !== 0) return NO_CURSOR_ERRNOS.includes(e.errno) ? false : open;
      return open && (e.status & ServerStatus.LAST_ROW_SENT) === 0;
    case "reset":
    case "close":
      return false;
  }
}

/**
 * The session's open cursors: client statement id → the backend statement id it is open on (all
 * on the one pinned connection). Two client statements with the same SQL share a backend
 * statement (prepared-statements.ts), and the server keeps one cursor per statement: an EXECUTE
 * through one closes the other's cursor, so the other is dropped here as well (its FETCH then
 * gets "no open cursor" rather than the newer cursor's rows).
 */
/** Shared by every session without an open cursor (most of them): the map is made on the first. */
const NONE: ReadonlyMap<number, number> = new Map();

export class OpenCursors {
  private byStmt: ReadonlyMap<number, number> = NONE;

  get size(): number {
    return this.byStmt.size;
  }

  has(clientId: number): boolean {
    return this.byStmt.has(clientId);
  }

  /** The backend statement id the cursor is open on, or undefined. */
  backendId(clientId: number): number | undefined {
    return this.byStmt.get(clientId);
  }

  /** Applies one event to statement `clientId`, run as backend statement `backendId`. */
  apply(clientId: number, backendId: number, e: CursorEvent): void {
    const open = cursorOpenAfter(this.byStmt.has(clientId), e);
    if (!open && this.byStmt === NONE) return;
    const byStmt = this.byStmt === NONE ? new Map<number, number>() : (this.byStmt as Map<number, number>);
    this.byStmt = byStmt;
    if (e.kind === "execute" && e.errno === 0) {
      for (const [other, b] of byStmt) if (other !== clientId && b === backendId) byStmt.delete(other);
    }
    if (open) byStmt.set(clientId, backendId);
    else byStmt.delete(clientId);
  }

  /** The connection holding them is gone (or the session was reset): nothing is open. */
  clear(): void {
    this.byStmt = NONE;
  }

  /** Client statement ids with an open cursor, for debug output. */
  ids(): number[] {
    return [...this.byStmt.keys()];
  }
}
