import type { RouteStatement } from "./router.js";

/** Session pins a statement causes once it ran (bits of proxy/session-state's Pin). */
export const PinAfter = {
  NONE: 0,
  USER_VARIABLES: 1 << 8,
  TEMP_TABLES: 1 << 7,
  LOCKS: 1 << 6,
  UNTRACKED_STATE: 1 << 2,
} as const;

export interface RoutedStatement {
  route: RouteStatement;
  /** Pin bits to set after the statement (user variables, temp tables, locks, SQL PREPARE). */
  pinAfter: number;
  /** The statement reads LAST_INSERT_ID(): the connection must carry the session's value. */
  usesLastInsertId: boolean;
}

const READ_WORDS = new Set(["select", "show", "describe", "desc", "explain", "help", "with"]);

/**
 * Interim: a first-keyword look until the table-tested classifier (src/routing/classify.ts)
 * lands. Conservative: anything not plainly a read goes to the primary.
 */
export function routeStatement(payload: Buffer, start: number): RoutedStatement {
  const text = payload.toString("latin1", start, Math.min(payload.length, start + 512));
  const m = /^\s*(?:\/\*(?!\s*rwsplit)[\s\S]*?\*\/\s*)*([a-zA-Z]+)/.exec(text);
  const word = m?.[1]?.toLowerCase() ?? "";
  const lower = text.toLowerCase();
  const sideEffects =
    /for\s+update|lock\s+in\s+share|for\s+share|into\s|get_lock|release_lock|last_insert_id|found_rows|row_count|nextval|next\s+value|@\w+\s*:=|;/.test(
      lower,
    );
  const kind =
    READ_WORDS.has(word) && !sideEffects ? "read" : word === "set" || word === "use" ? "session" : "write";
  let pinAfter = 0;
  if (/@\w+\s*:?=/.test(lower) && (word === "set" || /:=/.test(lower))) pinAfter |= PinAfter.USER_VARIABLES;
  if (/create\s+temporary/.test(lower)) pinAfter |= PinAfter.TEMP_TABLES;
  if (/get_lock|lock\s+tables/.test(lower)) pinAfter |= PinAfter.LOCKS;
  const hint = /\/\*\s*rwsplit:\s*route=(primary|replica)/.exec(lower);
  return {
    route: {
      kind,
      beginReadOnly: /^\s*start\s+transaction\s+read\s+only/.test(lower),
      beginsTransaction: word === "begin" || /^\s*start\s+transaction/.test(lower),
      needsPrimary: false,
      hint: hint ? { route: hint[1] as "primary" | "replica" } : null,
    },
    pinAfter,
    usesLastInsertId: /last_insert_id/.test(lower),
  };
}
