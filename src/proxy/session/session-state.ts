import { Capability } from "../../protocol/constants/capabilities.js";
import { collationById } from "../../protocol/constants/charsets.js";
import type { SessionStateChange } from "../../protocol/packets/ok.js";
import type { TrackingFilter } from "../../protocol/packets/ok-for-client.js";
import { CHARSET_VARIABLES } from "../../routing/set-assignments.js";

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
  /**
   * The session's @@character_set_database / @@collation_database are the global ones, not its
   * database's: after COM_RESET_CONNECTION the server starts the session's variables from the
   * globals but keeps its database, and only the next USE or COM_INIT_DB (even of the same
   * database) brings the database's character set back (MariaDB 10.11).
   */
  globalDatabaseCharset = false;
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
        if (this.setLastInsertId(name, c.value) || NOT_REPLAYED.has(name)) continue;
        if (this.vars.get(name) !== c.value) {
          this.ownVarsMap().set(name, c.value);
          this.version++;
        }
      } else if (c.type === "schema") {
        explained = true;
        // "" when the current database was dropped: the session has none (DATABASE() is NULL).
        const schema = c.schema === "" ? null : c.schema;
        if (this.schema !== schema || this.globalDatabaseCharset) {
          this.schema = schema;
          this.globalDatabaseCharset = false;
          this.version++;
        }
      } else if (c.type === "state-change") {
        stateChanged = c.changed;
      }
    }
    return stateChanged && !explained;
  }

  setMultiStatements(on: boolean): void {
    if (this.multiStatements !== on) {
      this.multiStatements = on;
      this.version++;
    }
  }

  /** Sets a variable rwsplit read back from the server (the tracker did not report it). */
  setVariable(name: string, value: string): void {
    if (this.setLastInsertId(name, value) || NOT_REPLAYED.has(name) || this.vars.get(name) === value) return;
    this.ownVarsMap().set(name, value);
    this.version++;
  }

  /**
   * `SET @@last_insert_id = n` (or `@@identity`): what LAST_INSERT_ID() answers from now on (the OK
   * packet's insert id stays 0). Not replayed by a SET: a statement that reads it syncs it
   * (state-sync.ts). True when `name` is one of the two.
   */
  private setLastInsertId(name: string, value: string): boolean {
    if (name !== "last_insert_id" && name !== "identity") return false;
    const n = Number(value);
    if (Number.isSafeInteger(n) && n >= 0) this.lastInsertId = n;
    return true;
  }

  /** COM_RESET_CONNECTION: the same database, everything else as the server starts it over. */
  reset(schema: string | null, multiStatements: boolean): void {
    this.schema = schema;
    this.ownVars = null;
    this.multiStatements = multiStatements;
    this.globalDatabaseCharset = true;
    this.lastInsertId = 0;
    this.version++;
  }
}

/** What a backend connection logged in with that sets session variables (its pool key's). */
export interface LoginBaseline {
  /** The handshake collation id. */
  collation: number;
  wireFlags: number;
}

/**
 * Where a connection's @@collation_database (and @@character_set_database, the same value) is to
 * go, when it is to change: "global" for a session just reset (SessionState.globalDatabaseCharset),
 * "schema" back to its database's, as a USE would set it (the variable's DEFAULT is the current
 * database's collation, not the global one: sys_vars.cc Sys_var_collation_dbs).
 */
export type DatabaseCharsetSync = "global" | "schema" | null;

const DATABASE_CHARSET_SQL = {
  global: "collation_database = @@GLOBAL.collation_database",
  schema: "collation_database = DEFAULT",
} as const;

/**
 * The SET statement that brings a connection's variables to the session's: changed or new values
 * assigned, values the session never set put back to what the connection's login gave them, and
 * the database character set moved as `databaseCharset` says. Null when nothing differs.
 */
export function varsSyncSql(
  want: ReadonlyMap<string, string>,
  have: ReadonlyMap<string, string>,
  login: LoginBaseline,
  databaseCharset: DatabaseCharsetSync = null,
): string | null {
  const head = charsetSync(want, have, login);
  const parts: string[] = [];
  const collations: string[] = [];
  // sql_big_selects goes after any max_join_size, which sets it (see below).
  let bigSelects: string | null = null;
  let maxJoinSize = false;
  const add = (name: string, value: string) => {
    const sql = `${quoteIdent(name)} = ${value}`;
    if (name === "sql_big_selects") bigSelects = sql;
    else {
      if (name === "max_join_size") maxJoinSize = true;
      // A character set assignment resets its collation: collations go last.
      (name.startsWith("collation_") ? collations : parts).push(sql);
    }
  };
  for (const [name, value] of want) {
    if (head !== null && CHARSET_NAMES.has(name)) {
      // After the SET NAMES that restores the login's: the session's own values, whatever `have` says.
      if (!head.all) add(name, varValue(name, value));
      continue;
    }
    if (have.get(name) === value) continue;
    add(name, varValue(name, value));
  }
  for (const name of have.keys()) {
    if (want.has(name) || (head !== null && CHARSET_NAMES.has(name))) continue;
    add(name, loginValue(name, login));
  }
  // Setting max_join_size sets sql_big_selects too (OFF, or ON for the maximum; sys_vars.cc
  // fix_max_join_size): the session's own sql_big_selects goes after it, also when `have` already
  // holds that value. (A SET of max_join_size reads sql_big_selects back: commands/set.ts.)
  const sbs = want.get("sql_big_selects");
  if (maxJoinSize && sbs !== undefined) parts.push(`sql_big_selects = ${sqlValue(sbs)}`);
  else if (bigSelects !== null) parts.push(bigSelects);
  parts.push(...collations);
  if (databaseCharset !== null) parts.push(DATABASE_CHARSET_SQL[databaseCharset]);
  // SET NAMES takes no SESSION before it (it is a session's anyway); it goes first.
  if (head !== null)
    return parts.length === 0 ? `SET ${head.sql}` : `SET ${head.sql}, SESSION ${parts.join(", ")}`;
  return parts.length === 0 ? null : `SET SESSION ${parts.join(", ")}`;
}

/** The variables a login's collation sets (thd_init_client_charset), and SET NAMES too. */
const CHARSET_NAMES: ReadonlySet<string> = new Set(CHARSET_VARIABLES);

/**
 * The connection character set as one `SET NAMES cs COLLATE c`, when it is to change. The server
 * keeps a collation in character_set_results that only SET NAMES ... COLLATE (or the login's
 * collation) sets and no variable shows: it is the collation id result columns carry (224 after
 * `SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci` or a login with 224, 45 after `SET
 * character_set_results = 'utf8mb4'`). So: the session's four values when they are one SET NAMES
 * (`all`), else the login's (a client's 224 is not the global utf8mb4_general_ci that DEFAULT
 * would give) followed by the session's own values. Null when nothing changes, or when the
 * login's collation id is not one MariaDB has (then DEFAULT, variable by variable).
 */
function charsetSync(
  want: ReadonlyMap<string, string>,
  have: ReadonlyMap<string, string>,
  login: LoginBaseline,
): { sql: string; all: boolean } | null {
  if (CHARSET_VARIABLES.every((n) => want.get(n) === have.get(n))) return null;
  const cs = want.get("character_set_client");
  const coll = want.get("collation_connection");
  if (
    cs !== undefined &&
    coll !== undefined &&
    want.get("character_set_results") === cs &&
    want.get("character_set_connection") === cs &&
    (coll === cs || coll.startsWith(`${cs}_`))
  ) {
    return { sql: `NAMES ${sqlValue(cs)} COLLATE ${sqlValue(coll)}`, all: true };
  }
  const c = collationById(login.collation);
  if (c === null) return null;
  return { sql: `NAMES ${sqlValue(c.charset)} COLLATE ${sqlValue(c.name)}`, all: false };
}

/**
 * What a variable was right after the connection's login, as SQL: the global value (DEFAULT),
 * but CLIENT_IGNORE_SPACE adds IGNORE_SPACE to sql_mode (sql_connect.cc), which DEFAULT would
 * lose, and CLIENT_INTERACTIVE gives wait_timeout the global interactive_timeout.
 */
function loginValue(name: string, login: LoginBaseline): string {
  if (name === "sql_mode" && login.wireFlags & Capability.IGNORE_SPACE)
    return "CONCAT_WS(',', NULLIF(@@GLOBAL.sql_mode, ''), 'IGNORE_SPACE')";
  if (name === "wait_timeout" && login.wireFlags & Capability.INTERACTIVE)
    return "@@GLOBAL.interactive_timeout";
  return "DEFAULT";
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/i.test(name) ? name : `\`${name.replace(/`/g, "``")}\``;
}

/**
 * A variable's value as SQL. MariaDB's tracker (and a read-back) gives NULL as "": a character
 * set variable that is NULL (`SET character_set_results = NULL`: results as stored) is replayed
 * as NULL, which '' is not (1115).
 */
function varValue(name: string, v: string): string {
  return v === "" && name.startsWith("character_set_") ? "NULL" : sqlValue(v);
}

function sqlValue(v: string): string {
  if (/^-?\d+(\.\d+)?$/.test(v)) return v;
  if (v === "") return "''";
  return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
}
