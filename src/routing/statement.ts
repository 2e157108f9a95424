import { type Classification, classify, type StatementKind } from "./classify.js";
import { Pin } from "./pins.js";
import type { Asks, RouteStatement } from "./router.js";
import { StatementFlag as F, hasFlag } from "./statement-flags.js";

export interface RoutedStatement {
  route: RouteStatement;
  /** Pin bits (pins.ts) to set after the statement (user variables, temp tables, locks, SQL PREPARE). */
  pinAfter: number;
  /** The statement reads LAST_INSERT_ID(): the connection must carry the session's value. */
  usesLastInsertId: boolean;
  /** Classifier flags, for debug output and metrics. */
  flags: number;
  /** What the statement leaves as it was for a later question about earlier ones (Keeps bits). */
  keeps: number;
}

/**
 * What a statement leaves as the server kept it, for a later question about earlier statements
 * (src/proxy/session/previous-statement.ts; measured on MariaDB 10.11).
 */
export const Keeps = {
  /** Uses no table (NO_TABLES) and leaves no warning: SHOW WARNINGS still shows the earlier ones. */
  WARNINGS: 1,
  /** SHOW WARNINGS / ERRORS, GET DIAGNOSTICS: FOUND_ROWS() still counts the earlier result set. */
  FOUND_ROWS: 2,
  /** SELECT ... INTO: FOUND_ROWS() counts its rows though no result set is sent. */
  COUNTS_ROWS: 4,
} as const;

/**
 * What the router and the session need to know about one statement, from the classifier's view
 * of it (src/routing/classify.ts: a byte-level lexer, no string built for a plain statement).
 */
export function routeStatement(payload: Uint8Array, start: number): RoutedStatement {
  const c = classify(payload, start);
  // No flag and no hint (a plain SELECT, INSERT, ...): the answer depends on the kind alone, one
  // shared frozen object per kind instead of two new ones and a dozen flag tests (~90 ns).
  if (c.hint === null) {
    if (c.flags === 0) return PLAIN[c.kind];
    if (c.flags === F.NO_TABLES) return PLAIN_NO_TABLES[c.kind]; // SELECT 1, SET, BEGIN, ...
  }
  return routed(c);
}

function routed(c: Classification): RoutedStatement {
  const f = c.flags;
  let pinAfter = 0;
  if (hasFlag(f, F.USER_VAR_WRITE)) pinAfter |= Pin.USER_VARIABLES;
  if (hasFlag(f, F.TEMP_TABLE_CREATE)) pinAfter |= Pin.TEMP_TABLES;
  if (hasFlag(f, F.GET_LOCK) || hasFlag(f, F.LOCK_TABLES)) pinAfter |= Pin.LOCKS;
  if (
    hasFlag(f, F.PREPARE_SQL) ||
    hasFlag(f, F.HANDLER) ||
    hasFlag(f, F.SESSION_STATE) ||
    hasFlag(f, F.SQL_CALC_FOUND_ROWS) ||
    hasFlag(f, F.SET_TRANSACTION)
  ) {
    pinAfter |= Pin.UNTRACKED_STATE;
  }
  return {
    route: {
      kind: c.kind,
      beginReadOnly: hasFlag(f, F.TX_BEGIN_READ_ONLY),
      beginsTransaction: hasFlag(f, F.TX_BEGIN) || hasFlag(f, F.AUTOCOMMIT_OFF) || hasFlag(f, F.XA),
      // SHOW WARNINGS and friends answer about the previous statement: where it ran.
      asks: asks(f),
      readsLastInsertId: hasFlag(f, F.LAST_INSERT_ID),
      readOnlyTxnSafe: readOnlyTxnSafe(c.kind, f),
      // One statement: a multi-statement's parts would each need it (refused in a READ ONLY one).
      implicitCommit:
        !hasFlag(f, F.MULTI) &&
        !hasFlag(f, F.XA) &&
        (hasFlag(f, F.IMPLICIT_COMMIT) || hasFlag(f, F.TX_BEGIN)),
      hint: c.hint,
    },
    pinAfter,
    usesLastInsertId: hasFlag(f, F.LAST_INSERT_ID),
    flags: f,
    keeps: keeps(f),
  };
}

function keeps(f: number): number {
  const noTables = hasFlag(f, F.NO_TABLES);
  let k = noTables ? Keeps.WARNINGS : 0;
  // SHOW WARNINGS / ERRORS, GET DIAGNOSTICS: diagnostics, which change neither.
  if (hasFlag(f, F.LAST_STATEMENT_INFO) && !noTables) k |= Keeps.FOUND_ROWS | Keeps.WARNINGS;
  if (hasFlag(f, F.SELECT_INTO)) k |= Keeps.COUNTS_ROWS;
  return k;
}

/** What the statement asks of earlier ones on its connection (one place: the first that applies). */
function asks(f: number): Asks | null {
  if (hasFlag(f, F.ROW_COUNT)) return "statement";
  if (hasFlag(f, F.FOUND_ROWS)) return "rows";
  return hasFlag(f, F.LAST_STATEMENT_INFO) ? "warnings" : null;
}
/** Session statements that change only what rwsplit replays on any connection. */
const REPLAYED_ONLY = F.SET_VAR | F.SET_NAMES | F.USE;
/** Session statements that leave state on the connection, or open/close transactions. */
const CONNECTION_STATE =
  F.USER_VAR_WRITE |
  F.AUTOCOMMIT_OFF |
  F.AUTOCOMMIT_ON |
  F.SET_TRANSACTION |
  F.PREPARE_SQL |
  F.DEALLOCATE_SQL |
  F.SESSION_STATE |
  F.TEMP_TABLE_CREATE;

/**
 * Whether a statement may run inside a READ ONLY transaction pinned to a replica (router.ts):
 * reads; COMMIT / ROLLBACK [AND CHAIN] and savepoints, which only end or mark that transaction;
 * SET of session variables, SET NAMES and USE, which rwsplit replays anywhere. A multi-statement
 * only when every part is a read (its flags are the union of its parts'). Everything else would
 * change data or leave state on the replica's connection.
 */
function readOnlyTxnSafe(kind: RouteStatement["kind"], f: number): boolean {
  if (kind === "read") return true;
  if (hasFlag(f, F.MULTI) || hasFlag(f, F.UNKNOWN)) return false;
  if (kind === "session") return (f & REPLAYED_ONLY) !== 0 && (f & CONNECTION_STATE) === 0;
  if (hasFlag(f, F.XA)) return false;
  const otherFlags = (f % 2 ** 32) & ~(F.TX_END | F.TX_BEGIN);
  const onlyTxControl = (hasFlag(f, F.TX_END) || hasFlag(f, F.SAVEPOINT)) && otherFlags === 0;
  return onlyTxControl && !hasFlag(f, F.CALL) && !hasFlag(f, F.SELECT_INTO);
}

/** The answer for a statement with only `flags` and no hint, by kind (after the constants it uses). */
function frozen(kind: StatementKind, flags = 0): RoutedStatement {
  const r = routed({ kind, flags, hint: null });
  Object.freeze(r.route);
  return Object.freeze(r);
}

const PLAIN: Readonly<Record<StatementKind, RoutedStatement>> = {
  read: frozen("read"),
  write: frozen("write"),
  session: frozen("session"),
};
const PLAIN_NO_TABLES: Readonly<Record<StatementKind, RoutedStatement>> = {
  read: frozen("read", F.NO_TABLES),
  write: frozen("write", F.NO_TABLES),
  session: frozen("session", F.NO_TABLES),
};
