import { packet } from "../../protocol/framing.js";
import { okForClient, type TrackingFilter } from "../../protocol/packets/ok-for-client.js";
import { CHARSET_VARIABLES, setAssignments } from "../../routing/set-assignments.js";
import type { RoutedStatement } from "../../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../../routing/statement-flags.js";
import type { BackendConnection } from "../backend-connection.js";
import { SESSION_TRACK_INIT_SQL } from "../backend-pool.js";
import { booleanSetting, trackedVariables, transactionInfoSetting } from "../server-defaults.js";
import type { CommandSteps, StatementOutcome } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";
import { BackendStatementError, markSynced } from "../session/state-sync.js";

/**
 * SET of session variables, and statements that read the session's own tracking settings.
 *
 * rwsplit knows a session's variables from MariaDB's session tracker, which misses some SET
 * forms (the bare `@@x = v`, collation_connection after SET NAMES ... COLLATE): after a SET, the
 * variables it assigned that the tracker did not report are read back from the connection that
 * ran it (one round trip, for those statements only). The client's own `session_track_*`
 * settings are kept by rwsplit (they shape the OK packets it relays) and never stay on a backend
 * connection, whose tracking is rwsplit's.
 */

const TRACKING = [
  "session_track_system_variables",
  "session_track_schema",
  "session_track_state_change",
  "session_track_transaction_info",
] as const;
const CHARSET: readonly string[] = CHARSET_VARIABLES;

/** The steps a SET or a read of session_track_* needs, or null for any other statement. */
export function setSteps(s: SessionPort, stmt: RoutedStatement, payload: Buffer): CommandSteps | null {
  const f = stmt.flags;
  if (hasFlag(f, F.READS_TRACKING)) return new TrackingReadSteps(s);
  if ((f & (F.SET_VAR | F.SET_NAMES)) === 0 || hasFlag(f, F.SET_STATEMENT) || hasFlag(f, F.MULTI))
    return null;
  const set = setAssignments(payload, 1, payload.length);
  if (set === null || set.session.length === 0) return null;
  const names = new Set(set.session.map((a) => a.name));
  // The connection charset and collation move together: read all four back if one moved.
  if (set.session.some((a) => CHARSET.includes(a.name))) for (const n of CHARSET) names.add(n);
  // max_join_size sets sql_big_selects (session-state.ts bigSelectsLast): read both back.
  if (names.has("max_join_size")) names.add("sql_big_selects");
  // The client's own session_track_* are read back too: only those it assigned (the others on
  // the connection are rwsplit's).
  const tracking = TRACKING.some((n) => names.has(n));
  return new SetSteps(s, [...names], tracking);
}

/** What rwsplit's tracking of a backend connection is (backend-pool.ts): put back after a client's. */
const RESTORE_TRACKING = SESSION_TRACK_INIT_SQL;

class SetSteps implements CommandSteps {
  /** The client's tracking settings after the statement, when it changed them. */
  private tracking: TrackingFilter | null = null;

  constructor(
    private readonly s: SessionPort,
    private readonly names: readonly string[],
    /** The statement assigns session_track_*: its OK is held until the new settings are known. */
    readonly holdsResponse: boolean,
  ) {}

  async settle(conn: BackendConnection, outcome: StatementOutcome): Promise<void> {
    if (outcome.errno !== 0) return;
    const state = this.s.state;
    const missing = this.names.filter((n) => !state.reported.has(n) || TRACKING.includes(n as never));
    if (missing.length === 0) return;
    const r = await conn.queryRows(`SELECT ${missing.map((n) => `@@SESSION.${ident(n)}`).join(", ")}`);
    if (r.err !== null) throw new BackendStatementError(r.err);
    const row = r.rows[0] ?? [];
    const tracking = { ...state.tracking };
    const lastInsertId = state.lastInsertId;
    missing.forEach((name, i) => {
      const value = row[i] ?? "";
      if (!applyTracking(tracking, name, value)) state.setVariable(name, value);
    });
    if (this.holdsResponse) {
      this.tracking = tracking;
      state.tracking = tracking;
      const restored = await conn.query(RESTORE_TRACKING);
      if (restored.err !== null) throw new BackendStatementError(restored.err);
    }
    // The connection ran the SET itself: it holds the session's state now (LAST_INSERT_ID() too).
    markSynced(conn, state);
    if (state.lastInsertId !== lastInsertId) conn.lastInsertId = state.lastInsertId;
  }

  /** The statement's OK, as the client's new tracking settings make it. */
  heldResponse(held: Buffer): Buffer {
    const tracking = this.tracking ?? this.s.state.tracking;
    if (held.length < 5 || held[4] !== 0x00) return held;
    const out = okForClient(held.subarray(4), tracking);
    return out === null ? held : packet(held[3]!, out);
  }
}

/**
 * `SELECT @@session_track_...`, `SHOW VARIABLES`: the connection shows the client's own tracking
 * settings while the statement runs, then rwsplit's again.
 */
class TrackingReadSteps implements CommandSteps {
  constructor(private readonly s: SessionPort) {}

  async before(conn: BackendConnection): Promise<void> {
    const t = this.s.state.tracking;
    const variables = t.variables === "*" ? "*" : [...t.variables].join(",");
    const info = ["OFF", "STATE", "CHARACTERISTICS"][t.transactionInfo]!;
    const r = await conn.query(
      `SET SESSION session_track_system_variables='${variables.replaceAll("'", "''")}', session_track_schema=${onOff(t.schema)}, session_track_state_change=${onOff(t.stateChange)}, session_track_transaction_info=${info}`,
    );
    if (r.err !== null) throw new BackendStatementError(r.err);
  }

  async settle(conn: BackendConnection): Promise<void> {
    const r = await conn.query(RESTORE_TRACKING);
    if (r.err !== null) throw new BackendStatementError(r.err);
  }
}

/** A session_track_* value read back into the client's settings; false for any other variable. */
function applyTracking(
  t: { -readonly [K in keyof TrackingFilter]: TrackingFilter[K] },
  name: string,
  value: string,
): boolean {
  switch (name) {
    case "session_track_system_variables":
      t.variables = trackedVariables(value);
      return true;
    case "session_track_schema":
      t.schema = booleanSetting(value) ?? t.schema;
      return true;
    case "session_track_state_change":
      t.stateChange = booleanSetting(value) ?? t.stateChange;
      return true;
    case "session_track_transaction_info":
      t.transactionInfo = transactionInfoSetting(value) ?? t.transactionInfo;
      return true;
  }
  return false;
}

function onOff(b: boolean): string {
  return b ? "ON" : "OFF";
}

function ident(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `\`${name.replaceAll("`", "``")}\``;
}
