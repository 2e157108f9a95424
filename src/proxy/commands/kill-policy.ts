import { CLIENT_ERRORS, type ClientErrorSpec } from "../../errors.js";
import type { KillScope, KillStatement } from "../../routing/kill-statement.js";

/**
 * Who may kill what, through rwsplit (pure: the session looks the target up and carries the
 * decision out, src/proxy/session-kill.ts).
 *
 * A client's KILL names one of *rwsplit's* connection ids: the one rwsplit sent in its handshake
 * (what drivers call the thread id). That number means nothing on a backend, where it is some
 * other thread (another client's pooled connection, the monitor, a replication thread), so it is
 * never forwarded. The rules are the server's, with rwsplit's ids:
 *
 *   KILL [CONNECTION|QUERY] n, n a session of the same user  -> kill (self: the server's own answer)
 *   n no session                                              -> 1094 ER_NO_SUCH_THREAD
 *   n a session of another user (or one still logging in)     -> 1095 ER_KILL_DENIED_ERROR
 *   KILL USER u, KILL QUERY ID q, an expression as the id,
 *   KILL inside a multi-statement                             -> 1235 ER_NOT_SUPPORTED_YET
 *   KILL, KILL QUERY (no id)                                  -> 1064 ER_PARSE_ERROR
 *
 * MySQL lets users holding PROCESS/CONNECTION ADMIN (SUPER) kill anyone's threads; rwsplit does not
 * know its users' grants, so it keeps the rule for everyone else: own connections only.
 */

export interface KillIssuer {
  id: number;
  user: string;
}

/** The session `stmt.id` names, as the registry knows it; null when there is none. */
export interface KillTargetInfo {
  id: number;
  /** Null while the session is still authenticating. */
  user: string | null;
}

export type KillDecision =
  | { action: "kill"; scope: KillScope; targetId: number; self: boolean }
  | { action: "refuse"; error: ClientErrorSpec };

export function decideKill(
  stmt: KillStatement,
  issuer: KillIssuer,
  target: KillTargetInfo | null,
): KillDecision {
  switch (stmt.kind) {
    case "thread":
      if (target === null || target.id !== stmt.id) {
        return { action: "refuse", error: CLIENT_ERRORS.noSuchThread(stmt.idText) };
      }
      if (target.user !== issuer.user) {
        return { action: "refuse", error: CLIENT_ERRORS.killDenied(stmt.idText) };
      }
      return { action: "kill", scope: stmt.scope, targetId: stmt.id, self: stmt.id === issuer.id };
    case "own":
      return { action: "kill", scope: stmt.scope, targetId: issuer.id, self: true };
    case "query-id":
      return refuse(
        "KILL QUERY ID",
        "a query id belongs to one backend server; use KILL QUERY <connection id> with rwsplit's connection id (the handshake's)",
      );
    case "user":
      return refuse(
        "KILL USER",
        "kill each connection with KILL CONNECTION <connection id>; the admin port lists them at /sessions",
      );
    case "expression":
      return refuse(
        "KILL <expression>",
        "give the connection id as a plain number (or CONNECTION_ID() alone for this connection), rwsplit's connection id from the handshake (a SELECT of CONNECTION_ID() returns a backend's id)",
      );
    case "multi":
      return refuse("KILL in a multi-statement", "send KILL as a statement of its own");
    case "syntax":
      return { action: "refuse", error: CLIENT_ERRORS.killSyntax() };
  }
}

/** COM_STMT_PREPARE of a KILL: its `?` would reach the server as a server thread id. */
export function preparedKillRefusal(): ClientErrorSpec {
  return CLIENT_ERRORS.killNotSupported(
    "KILL as a prepared statement",
    "send KILL [QUERY] <connection id> as a text query (COM_QUERY)",
  );
}

/** PREPARE s FROM 'KILL ...' and EXECUTE IMMEDIATE 'KILL ...': the server would run it as it is. */
export function embeddedKillRefusal(): ClientErrorSpec {
  return CLIENT_ERRORS.killNotSupported(
    "KILL in PREPARE or EXECUTE IMMEDIATE",
    "send KILL [QUERY] <connection id> as a plain statement",
  );
}

function refuse(what: string, instead: string): KillDecision {
  return { action: "refuse", error: CLIENT_ERRORS.killNotSupported(what, instead) };
}
