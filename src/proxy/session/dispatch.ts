import type { ClientErrorSpec } from "../../errors.js";
import type { Captured, ResponseKind } from "../../protocol/response-scanner.js";
import type { PacketEdit } from "../../protocol/result-metadata.js";
import type { RoutePlan } from "../../routing/router.js";
import type { RoutedStatement } from "../../routing/statement.js";
import type { BackendConnection } from "../backend-connection.js";

/** What COM_STMT_PREPARE_OK said, read while its response is relayed. */
export interface PrepareOkInfo {
  /** The backend's statement id on the connection that answered. */
  backendId: number;
  numParams: number;
  numColumns: number;
}

/** How a statement ended, for the steps that look at it. */
export interface StatementOutcome {
  /** Status flags of the last OK/EOF. */
  status: number;
  /** The ERR's error number, or 0. */
  errno: number;
  /** The warning count of the last OK/EOF. */
  warnings: number;
  /** The response held a result set. */
  resultSet: boolean;
}

/**
 * What one command family adds to a statement's run (prepared statements, cursors,
 * COM_SET_OPTION): an object with the steps it needs, not closures made per statement.
 */
export interface CommandSteps {
  /**
   * The bytes to send on `conn` (a statement id rewritten for it, ...), or null when `conn`
   * must first be prepared with `prepareOn`.
   */
  bytesFor?(conn: BackendConnection): Buffer | null;
  prepareOn?(conn: BackendConnection): Promise<void>;
  /** Before the statement is sent on `conn` (after the session state is synced there). */
  before?(conn: BackendConnection): Promise<void>;
  /**
   * After the response, before the connection is let go or the client's next command is read:
   * what the statement changed that the proxy must learn from `conn` (variables read back).
   */
  settle?(conn: BackendConnection, outcome: StatementOutcome): Promise<void>;
  /** Hold the whole response back until it ends (and `heldResponse` rewrites it). */
  readonly holdsResponse?: boolean;
  /**
   * Hold the whole response back until it ends, on this connection (decided once it is leased
   * and the command's bytes for it are known): `heldResponse` then rewrites it.
   */
  holdsFor?(conn: BackendConnection): boolean;
  /**
   * The response was held back whole (`holdResponse`, `holdsFor`): what the client gets
   * instead. `edits` are the OK/EOF packets the client gets rewritten for its own session
   * (result-metadata.ts `rewriteResponse` applies them).
   */
  heldResponse?(
    held: Buffer,
    conn: BackendConnection,
    prepared: PrepareOkInfo | null,
    edits: readonly PacketEdit[],
  ): Buffer;
  /** A column count or column definition of the response (the scanner's COLUMN_COUNT, COLUMN_DEF). */
  onColumns?(conn: BackendConnection, type: Captured, payload: Buffer): void;
  /**
   * The held response (`holdResponse`) is ERR `errno`: a promise that resolves true when the
   * command should run once more on the same connection (a PREPARE past the server's
   * max_prepared_stmt_count, once cached statements are closed), or null to pass the ERR on.
   */
  retryAfter?(conn: BackendConnection, held: Buffer, errno: number): Promise<boolean> | null;
  /** After the response: the session's pin bits given what it said (cursors open or close). */
  afterResponse?(conn: BackendConnection, outcome: StatementOutcome, pins: number): number;
  /**
   * COM_STMT_PREPARE of this statement: the server answers ROW_COUNT() and FOUND_ROWS() about the
   * statement before it, and keeps the warnings list unless the statement uses a table
   * (previous-statement.ts).
   */
  readonly prepares?: RoutedStatement;
}

/**
 * The plan for one command (a read-only value): its bytes, how its response is shaped, where the
 * router sends it, and what the command adds. statement-run.ts carries it out.
 */
export interface Dispatch {
  readonly command: number;
  readonly kind: ResponseKind;
  /** What goes to the backend, unless `steps.bytesFor` builds it per connection. */
  readonly bytes: Buffer;
  readonly plan: RoutePlan;
  /** The metrics label when not the plan's reason (a PREPARE, a cursor FETCH, ...), else null. */
  readonly label: string | null;
  /** The SQL's classification (COM_QUERY, or the SQL an EXECUTE runs), null for other commands. */
  readonly statement: RoutedStatement | null;
  readonly steps: CommandSteps | null;
  /** Hold the whole response until it ends (COM_STMT_PREPARE: its statement id is rewritten). */
  readonly holdResponse: boolean;
  /**
   * One part of a longer command (a multi-statement rwsplit runs piece by piece): called when the
   * run is over instead of ending the command, with the error the run would have answered (the
   * caller answers it, in its own sequence).
   */
  readonly onDone?: (error: ClientErrorSpec | null) => void;
}

/** A dispatch with the usual defaults. */
export function dispatch(
  command: number,
  kind: ResponseKind,
  bytes: Buffer,
  plan: RoutePlan,
  more: Partial<Pick<Dispatch, "label" | "statement" | "steps" | "holdResponse">> = {},
): Dispatch {
  return {
    command,
    kind,
    bytes,
    plan,
    label: more.label ?? null,
    statement: more.statement ?? null,
    steps: more.steps ?? null,
    holdResponse: more.holdResponse ?? false,
  };
}
