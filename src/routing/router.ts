import type { Consistency } from "../config/types.js";

/**
 * Where one statement goes: a pure function of what the classifier saw, the session's routing
 * state and the configured consistency (STYLE.md principle 7). The session turns the decision
 * into a backend connection; the balancer picks which replica.
 */

export type StatementKind = "read" | "write" | "session";

/** What the router needs to know about a statement (derived from the classifier's flags). */
export interface RouteStatement {
  kind: StatementKind;
  /** START TRANSACTION READ ONLY: may run on one replica, pinned there until the end. */
  beginReadOnly: boolean;
  /** Starts a transaction (BEGIN, START TRANSACTION, XA START) or turns autocommit off. */
  beginsTransaction: boolean;
  /** A read that still must see the primary (reads a user variable this session set, ...). */
  needsPrimary: boolean;
  hint: { route?: "primary" | "replica"; maxLagMs?: number } | null;
}

export interface RouteSession {
  /** The session is tied to one backend connection (transaction, temp tables, locks, ...). */
  pinned: "primary" | "replica" | null;
  /** Why, for the reason label ("transaction", "temp_tables", ...). */
  pinReason: string | null;
  consistency: Consistency;
  /** The session wrote and replicas may not have applied it yet (read-your-writes pending). */
  hasUnreplicatedWrite: boolean;
}

export type RouteDecision =
  | { target: "primary"; reason: RouteReason }
  | {
      target: "replica";
      reason: RouteReason;
      /** Skip replicas lagging more than this (hint). */
      maxLagMs: number | null;
      /** Only a replica that has applied the session's writes may serve (read-your-writes). */
      requireCaughtUp: boolean;
    }
  | { target: "pinned"; reason: RouteReason };

/** Reason labels, used in metrics (`rwsplit_queries_total{reason}`) and debug output. */
export type RouteReason =
  | "write"
  | "read"
  | "session"
  | "hint"
  | "pinned"
  | "in_transaction"
  | "read_only_transaction"
  | "consistency_primary"
  | "needs_primary";

export function route(stmt: RouteStatement, session: RouteSession): RouteDecision {
  // A pinned session stays on its connection: transactions, temporary tables and locks live there.
  if (session.pinned !== null) return { target: "pinned", reason: "pinned" };
  if (stmt.hint?.route === "primary") return { target: "primary", reason: "hint" };
  if (stmt.beginReadOnly && session.consistency !== "primary") {
    return { target: "replica", reason: "read_only_transaction", maxLagMs: null, requireCaughtUp: false };
  }
  if (stmt.beginsTransaction) return { target: "primary", reason: "in_transaction" };
  if (stmt.kind === "write") return { target: "primary", reason: "write" };
  if (stmt.kind === "session") return { target: "primary", reason: "session" };
  if (stmt.hint?.route === "replica") {
    return {
      target: "replica",
      reason: "hint",
      maxLagMs: stmt.hint.maxLagMs ?? null,
      requireCaughtUp: false,
    };
  }
  if (stmt.needsPrimary) return { target: "primary", reason: "needs_primary" };
  if (session.consistency === "primary") return { target: "primary", reason: "consistency_primary" };
  return {
    target: "replica",
    reason: stmt.hint?.maxLagMs !== undefined ? "hint" : "read",
    maxLagMs: stmt.hint?.maxLagMs ?? null,
    requireCaughtUp: session.consistency === "session" && session.hasUnreplicatedWrite,
  };
}
