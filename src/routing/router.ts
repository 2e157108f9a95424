import type { Consistency } from "../config/types.js";
import { CLIENT_ERRORS, type ClientErrorSpec } from "../errors.js";

/**
 * Where one statement goes: a pure function of what the classifier saw, the session's routing
 * state and the configured consistency (STYLE.md principle 7). It decides the whole plan,
 * including whether the pin a statement may take can stay on a replica; the session carries the
 * plan out and never decides again. The balancer picks which replica.
 *
 * The one rule above all: nothing that writes, nothing in a read-write transaction, and nothing
 * the classifier could not classify ever runs on a replica. A session is tied to a replica only
 * inside START TRANSACTION READ ONLY, and there only statements that are safe in a read-only
 * transaction run; a statement that commits implicitly (DDL, BEGIN, ...) ends that transaction
 * there first and runs as outside it; everything else is refused as the server refuses writes in
 * one (1792).
 */

export type StatementKind = "read" | "write" | "session";
/**
 * What a statement asks of earlier ones on its connection (RouteStatement.asks): about the
 * previous statement (ROW_COUNT()), the last result set (FOUND_ROWS()), the warnings list.
 */
export type Asks = "statement" | "rows" | "warnings";

/** What the router needs to know about a statement (derived from the classifier's flags). */
export interface RouteStatement {
  kind: StatementKind;
  /** START TRANSACTION READ ONLY: may run on one replica, pinned there until the end. */
  beginReadOnly: boolean;
  /** Starts a transaction (BEGIN, START TRANSACTION, XA START) or turns autocommit off. */
  beginsTransaction: boolean;
  /**
   * Asks what the server keeps per connection about earlier statements: about the previous
   * statement (ROW_COUNT()), the last result set (FOUND_ROWS()), or the warnings list (SHOW
   * WARNINGS/ERRORS, @@warning_count, @@error_count, GET DIAGNOSTICS); null: none of them.
   */
  asks: Asks | null;
  /**
   * Reads LAST_INSERT_ID(): the session's value is synced on whichever connection runs it; a read
   * goes to the primary, whose connection most likely holds it already (none to sync).
   */
  readsLastInsertId: boolean;
  /**
   * Safe inside a READ ONLY transaction that runs on a replica: reads, COMMIT/ROLLBACK,
   * savepoints, locking reads, plain session variables and USE. Not: writes, anything that
   * leaves state on the connection (user variables, temporary tables, locks, autocommit), BEGIN
   * of a read-write transaction, anything unclassified.
   */
  readOnlyTxnSafe: boolean;
  /**
   * Commits an open transaction before it runs (DDL, BEGIN, LOCK TABLES, ...): inside a READ ONLY
   * transaction on a replica, that transaction ends there first and the statement is routed as
   * outside it, as the server would do.
   */
  implicitCommit: boolean;
  hint: { route?: "primary" | "replica"; maxLagMs?: number } | null;
}

export interface RouteSession {
  /**
   * The session is tied to one backend connection (transaction, temp tables, locks, ...), on the
   * primary or, inside a READ ONLY transaction, on a replica.
   */
  pinned: "primary" | "replica" | null;
  consistency: Consistency;
  /**
   * Read-your-writes pending: the session wrote (`session`), or the session or another
   * connection of its user wrote within routing.consistency_window (`user`), and replicas may not
   * have applied it yet.
   */
  hasUnreplicatedWrite: boolean;
}

export type RoutePlan =
  | { readonly target: "primary"; readonly reason: RouteReason }
  | {
      readonly target: "replica";
      readonly reason: RouteReason;
      /** Skip replicas lagging more than this (hint). */
      readonly maxLagMs: number | null;
      /** Only a replica that has applied the session's writes may serve (read-your-writes). */
      readonly requireCaughtUp: boolean;
      /**
       * START TRANSACTION READ ONLY: the transaction's pin stays on the replica. For any other
       * read, a pin the statement turns out to take (state the server reported) moves to the
       * primary.
       */
      readonly pinOnReplica: boolean;
    }
  | { readonly target: "pinned"; readonly reason: "pinned" }
  | {
      /**
       * The connection the session's previous statement ran on, if no other session has leased it
       * since (a replica's only when `anyBackend`: the statement is a read), else the primary.
       */
      readonly target: "previous";
      readonly reason: "previous";
      readonly anyBackend: boolean;
      readonly asks: Asks;
    }
  | {
      /**
       * Commit the READ ONLY transaction on the pinned replica connection (the session's pin ends
       * with it), then carry out `next`: the statement commits implicitly on the server too.
       */
      readonly target: "end_read_only";
      readonly reason: "read_only_transaction";
      readonly next: RoutePlan;
    }
  | { readonly target: "refuse"; readonly reason: "read_only_transaction"; readonly error: ClientErrorSpec };

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
  | "needs_primary"
  | "previous";

// The common plans are constants: routing a statement allocates nothing.
const PINNED: RoutePlan = Object.freeze({ target: "pinned", reason: "pinned" });
const primary = (reason: RouteReason): RoutePlan => Object.freeze({ target: "primary", reason });
const P_HINT = primary("hint");
const P_TRANSACTION = primary("in_transaction");
const P_WRITE = primary("write");
const P_SESSION = primary("session");
const previous = (anyBackend: boolean, asks: Asks): RoutePlan =>
  Object.freeze({ target: "previous", reason: "previous", anyBackend, asks });
const P_NEEDS = primary("needs_primary");
const PREVIOUS: Readonly<Record<Asks, readonly [RoutePlan, RoutePlan]>> = {
  statement: [previous(false, "statement"), previous(true, "statement")],
  rows: [previous(false, "rows"), previous(true, "rows")],
  warnings: [previous(false, "warnings"), previous(true, "warnings")],
};
const P_CONSISTENCY = primary("consistency_primary");
const replica = (reason: RouteReason, requireCaughtUp: boolean, pinOnReplica: boolean): RoutePlan =>
  Object.freeze({ target: "replica", reason, maxLagMs: null, requireCaughtUp, pinOnReplica });
const R_READ = replica("read", false, false);
const R_READ_CAUGHT_UP = replica("read", true, false);
const R_READ_ONLY_TX = replica("read_only_transaction", false, true);
const R_READ_ONLY_TX_CAUGHT_UP = replica("read_only_transaction", true, true);
const R_HINT = replica("hint", false, false);
const REFUSE_IN_READ_ONLY: RoutePlan = Object.freeze({
  target: "refuse",
  reason: "read_only_transaction",
  error: CLIENT_ERRORS.writeInReadOnlyTransaction(),
});

export function route(stmt: RouteStatement, session: RouteSession): RoutePlan {
  // A pinned session stays on its connection: transactions, temporary tables and locks live there.
  if (session.pinned === "primary") return PINNED;
  if (session.pinned === "replica") {
    if (stmt.readOnlyTxnSafe) return PINNED;
    if (!stmt.implicitCommit) return REFUSE_IN_READ_ONLY;
    return {
      target: "end_read_only",
      reason: "read_only_transaction",
      next: route(stmt, { ...session, pinned: null }),
    };
  }
  if (stmt.hint?.route === "primary") return P_HINT;
  // Read-your-writes pending: reads (a READ ONLY transaction's too) need a replica that applied it.
  const caughtUp =
    (session.consistency === "user" || session.consistency === "session") && session.hasUnreplicatedWrite;
  if (stmt.beginReadOnly && session.consistency !== "primary")
    return caughtUp ? R_READ_ONLY_TX_CAUGHT_UP : R_READ_ONLY_TX;
  if (stmt.beginsTransaction) return P_TRANSACTION;
  // SHOW WARNINGS, ROW_COUNT(), ...: where the previous statement ran, whatever it was.
  if (stmt.asks !== null) return PREVIOUS[stmt.asks][stmt.kind === "read" ? 1 : 0]!;
  if (stmt.kind === "write") return P_WRITE;
  if (stmt.kind === "session") return P_SESSION;
  const hint = stmt.hint;
  if (hint?.route === "replica") {
    // A replica hint asks for any replica: no read-your-writes wait.
    if (hint.maxLagMs === undefined) return R_HINT;
    return Object.freeze({
      target: "replica",
      reason: "hint",
      maxLagMs: hint.maxLagMs,
      requireCaughtUp: false,
      pinOnReplica: false,
    });
  }
  if (stmt.readsLastInsertId) return P_NEEDS;
  if (session.consistency === "primary") return P_CONSISTENCY;
  if (hint?.maxLagMs !== undefined) {
    return Object.freeze({
      target: "replica",
      reason: "hint",
      maxLagMs: hint.maxLagMs,
      requireCaughtUp: caughtUp,
      pinOnReplica: false,
    });
  }
  return caughtUp ? R_READ_CAUGHT_UP : R_READ;
}

/**
 * May a statement with this plan run on a replica connection at all? The session checks it at
 * the one place a statement is sent (statement-run.ts), whatever pin, retry or fallback led
 * there: a defence behind the router, counted when it ever trips.
 */
export function replicaMaySend(stmt: RouteStatement | null, inReadOnlyTxnOnReplica: boolean): boolean {
  if (stmt === null) return true; // a command that is no statement (PING, PREPARE, FETCH, ...)
  return inReadOnlyTxnOnReplica ? stmt.readOnlyTxnSafe : stmt.kind === "read";
}

const P_COMMAND = primary("session");

/**
 * A command that is no SQL statement (COM_INIT_DB, COM_STMT_PREPARE, COM_STMT_FETCH, ...): the
 * session's pinned connection, else the primary. None of them writes.
 */
export function routeCommand(session: RouteSession): RoutePlan {
  return session.pinned !== null ? PINNED : P_COMMAND;
}
