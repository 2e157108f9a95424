import type { SessionStateChange } from "../../protocol/packets/ok.js";
import type { TrackingFilter } from "../../protocol/packets/ok-for-client.js";

/**
 * Session variables that are not replayed on another backend connection: the session-tracking
 * setup itself (the proxy's), values the server maintains (last_gtid, insert/identity ids,
 * timestamp), and autocommit (a session with autocommit off is pinned to one connection instead).
 */
const NOT_REPLAYED = new Set([
  "session_track_system_variables",
  "session_track_schema",
  "session_track_state_change",
  "session_track_transaction_info",
  "last_gtid",
  "autocommit",
  "insert_id",
  "last_insert_id",
  "identity",
  "timestamp",
  "rand_seed1",
  "rand_seed2",
  "in_transaction",
  "transaction_isolation",
  "tx_isolation",
  "transaction_read_only",
  "tx_read_only",
  // They follow the schema (USE, COM_INIT_DB), which is replayed itself.
  "character_set_database",
  "collation_database",
]);

/** Before login: a client that tracks nothing. */
const NO_TRACKING: TrackingFilter = Object.freeze({
  sessionTrack: false,
  variables: new Set<string>(),
  schema: false,
  stateChange: false,
  transactionInfo: 0,
});

/** Shared by every session that has set no variable and had none reported (most of them). */
const NO_VARS: ReadonlyMap<string, string> = new Map();
const NONE_REPORTED: ReadonlySet<string> = new Set();

export { describePins, Pin } from "../../routing/pins.js";

/**
 * What a client session has set that any backend connection serving it must reproduce: the
 * schema, the session variables the server reported changing (from session-state tracking in OK
 * packets), the multi-statements option, and the last insert id. `version` moves on every change,
 * so a connection already synced to this version needs no work (the hot path).
 */
export class SessionState {
  schema: string | null;
  /** Made on the first variable set (NO_VARS until then: an empty Map is 180 bytes per session). */
  private ownVars: Map<string, string> | null = null;
  multiStatements: boolean;
  lastInsertId = 0;
  /**
   * GTID of the session's last write on the primary (MariaDB reports `last_gtid` through session
   * tracking): a replica serves this session's reads only once it has applied it.
   */
  lastWriteGtid: string | null = null;
  version = 0;
  /**
   * The client's own session tracking (its CLIENT_SESSION_TRACK and session_track_* settings):
   * what its OK packets carry. rwsplit's backend connections track more, for themselves.
   */
  tracking: TrackingFilter;
  /** Variables the server reported changing in the statement being answered (read-back check). */
  private ownReported: Set<string> | null = null;

  constructor(schema: string | null, multiStatements: boolean, tracking: TrackingFilter = NO_TRACKING) {
    this.schema = schema;
    this.multiStatements = multiStatements;
    this.tracking = tracking;
  }

  get vars(): ReadonlyMap<string, string> {
    return this.ownVars ?? NO_VARS;
  }

  get reported(): ReadonlySet<string> {
    return this.ownReported ?? NONE_REPORTED;
  }

  private ownVarsMap(): Map<string, string> {
    if (this.ownVars === null) this.ownVars = new Map();
    return this.ownVars;
  }

  private ownReportedSet(): Set<string> {
    if (this.ownReported === null) this.ownReported = new Set();
    return this.ownReported;
  }

  /** A statement begins: nothing reported yet. */
  clearReported(): void {
    this.ownReported?.clear();
  }

  /**
   * Applies the changes one OK packet reported. Returns true when the server said session state
   * changed in a way not explained by variables or schema (user variables, temporary tables, ...).
   */
  apply(changes: readonly SessionStateChange[], variables = true): boolean {
    let explained = false;
    let stateChanged = false;
    for (const c of changes) {
      if (c.type === "variable") {
        explained = true;
        const name = c.name.toLowerCase();
        if (name === "last_gtid") {
          if (c.value !== "") this.lastWriteGtid = c.value;
          continue;
        }
        // SET STATEMENT ... FOR reports the values it sets for one statement: not the session's.
        if (!variables) continue;
        this.ownReportedSet().add(name);
        if (NOT_REPLAYED.has(name)) continue;
        if (this.vars.get(name) !== c.value) {
          this.ownVarsMap().set(name, c.value);
          this.version++;
        }
      } else if (c.type === "schema") {
        explained = true;
        // "" when the current database was dropped: the session has none (DATABASE() is NULL).
        const schema = c.schema === "" ? null : c.schema;
        if (this.schema !== schema) {
          this.schema = schema;
          this.version++;
        }
      } else if (c.type === "state-change") {
        stateChanged = c.changed;
      }
    }
    return stateChanged && !explained;
  }

  setSchema(schema: string): void {
    if (this.schema !== schema) {
      this.schema = schema;
      this.version++;
    }
  }

  setMultiStatements(on: boolean): void {
    if (this.multiStatements !== on) {
      this.multiStatements = on;
      this.version++;
    }
  }

  /** Sets a variable rwsplit read back from the server (the tracker did not report it). */
  setVariable(name: string, value: string): void {
    if (NOT_REPLAYED.has(name) || this.vars.get(name) === value) return;
    this.ownVarsMap().set(name, value);
    this.version++;
  }

  reset(schema: string | null, multiStatements: boolean): void {
    this.schema = schema;
    this.ownVars = null;
    this.multiStatements = multiStatements;
    this.lastInsertId = 0;
    this.version++;
  }
}

/**
 * The SET statement that brings a connection's variables to the session's: changed or new values
 * assigned, values the session never set put back to DEFAULT. Null when nothing differs.
 */
export function varsSyncSql(
  want: ReadonlyMap<string, string>,
  have: ReadonlyMap<string, string>,
): string | null {
  const parts: string[] = [];
  const collations: string[] = [];
  for (const [name, value] of want) {
    if (have.get(name) === value) continue;
    // A character set assignment resets its collation: collations go last.
    (name.startsWith("collation_") ? collations : parts).push(`${quoteIdent(name)} = ${sqlValue(value)}`);
  }
  for (const name of have.keys()) {
    if (!want.has(name)) parts.push(`${quoteIdent(name)} = DEFAULT`);
  }
  parts.push(...collations);
  return parts.length === 0 ? null : `SET SESSION ${parts.join(", ")}`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/i.test(name) ? name : `\`${name.replace(/`/g, "``")}\``;
}

function sqlValue(v: string): string {
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  if (v === "") return "''";
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}
