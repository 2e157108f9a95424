import { classify } from "./classify.js";
import { Pin } from "./pins.js";
import type { RouteStatement } from "./router.js";
import { StatementFlag as F, hasFlag } from "./statement-flags.js";

export interface RoutedStatement {
  route: RouteStatement;
  /** Pin bits (pins.ts) to set after the statement (user variables, temp tables, locks, SQL PREPARE). */
  pinAfter: number;
  /** The statement reads LAST_INSERT_ID(): the connection must carry the session's value. */
  usesLastInsertId: boolean;
  /** Classifier flags, for debug output and metrics. */
  flags: number;
}

/**
 * What the router and the session need to know about one statement, from the classifier's view
 * of it (src/routing/classify.ts: a byte-level lexer, no string built for a plain statement).
 */
export function routeStatement(payload: Uint8Array, start: number): RoutedStatement {
  const c = classify(payload, start);
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
      needsPrimary: hasFlag(f, F.LAST_STATEMENT_INFO),
      hint: c.hint,
    },
    pinAfter,
    usesLastInsertId: hasFlag(f, F.LAST_INSERT_ID),
    flags: f,
  };
}
