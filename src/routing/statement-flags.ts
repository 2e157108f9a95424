/**
 * What the classifier noticed about a statement, as a bit set in one JS number.
 *
 * There are more flags than the 32 bits JS bitwise operators work on, so the set is split:
 * - bits 0..31 are everything routing, pinning and session replay depend on. `flags & F` is safe
 *   for these (ToInt32 keeps the low 32 bits of any safe integer; test with `!== 0`, since bit 31
 *   comes out negative).
 * - bits 32 and up are never tested by routing with `&`: most only ever come with kind "write"
 *   (CALL, SELECT ... INTO, KILL, ...); the rest tell the session something it handles itself
 *   (SET STATEMENT ... FOR, reads of session_track_*). Test them with `hasFlag`.
 * Never combine flags with `|` outside this module: it drops the high bits. Use `hasFlag` and
 * `describeFlags`.
 */

const HIGH = 2 ** 32;

export const StatementFlag = {
  /** BEGIN [WORK], START TRANSACTION [...], XA START/BEGIN, COMMIT/ROLLBACK AND CHAIN. */
  TX_BEGIN: 1 << 0,
  /** START TRANSACTION READ ONLY (comes with TX_BEGIN). */
  TX_BEGIN_READ_ONLY: 1 << 1,
  /** COMMIT, ROLLBACK, XA COMMIT/ROLLBACK. Not ROLLBACK TO SAVEPOINT: the transaction goes on. */
  TX_END: 1 << 2,
  /** SET autocommit=0|OFF|false (or a value we cannot read: the safe side). */
  AUTOCOMMIT_OFF: 1 << 3,
  /** SET autocommit=1|ON|true|DEFAULT. */
  AUTOCOMMIT_ON: 1 << 4,
  /** XA START/BEGIN/END/PREPARE/COMMIT/ROLLBACK/RECOVER. */
  XA: 1 << 5,
  /** LOCK TABLE[S], FLUSH TABLES WITH READ LOCK. */
  LOCK_TABLES: 1 << 6,
  UNLOCK_TABLES: 1 << 7,
  /** GET_LOCK(): a named lock held by this connection. */
  GET_LOCK: 1 << 8,
  /** RELEASE_LOCK() / RELEASE_ALL_LOCKS(). */
  RELEASE_LOCK: 1 << 9,
  /** CREATE [OR REPLACE] TEMPORARY TABLE|SEQUENCE: lives only on this connection. */
  TEMP_TABLE_CREATE: 1 << 10,
  TEMP_TABLE_DROP: 1 << 11,
  /** SET @x = ..., @x := ..., SELECT ... INTO @x. */
  USER_VAR_WRITE: 1 << 12,
  /** Mentions @x without assigning it (not @@sysvar). */
  USER_VAR_READ: 1 << 13,
  /** LAST_INSERT_ID(), @@identity, @@last_insert_id: the session's value, not the server's. */
  LAST_INSERT_ID: 1 << 14,
  FOUND_ROWS: 1 << 15,
  ROW_COUNT: 1 << 16,
  SQL_CALC_FOUND_ROWS: 1 << 17,
  /** SET of session system variables (SET x=, SET SESSION x=, SET @@x=, SET @@session.x=). */
  SET_VAR: 1 << 18,
  /** SET NAMES, SET CHARACTER SET, SET CHARSET. */
  SET_NAMES: 1 << 19,
  USE: 1 << 20,
  /** More than one statement separated by `;`. */
  MULTI: 1 << 21,
  /** SQL-level PREPARE name FROM ... (not COM_STMT_PREPARE). */
  PREPARE_SQL: 1 << 22,
  /** SQL-level EXECUTE name, EXECUTE IMMEDIATE. */
  EXECUTE_SQL: 1 << 23,
  /** DEALLOCATE PREPARE / DROP PREPARE. */
  DEALLOCATE_SQL: 1 << 24,
  /** NEXTVAL/LASTVAL/SETVAL(), NEXT VALUE FOR, PREVIOUS VALUE FOR, seq.nextval/currval. */
  SEQUENCE: 1 << 25,
  /** FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE. */
  LOCKING_READ: 1 << 26,
  /** CONNECTION_ID(): must answer the client's id, whichever backend runs it. */
  CONNECTION_ID: 1 << 27,
  /** SET [SESSION] TRANSACTION ...: characteristics of the next transaction(s). */
  SET_TRANSACTION: 1 << 28,
  /**
   * Answers about the previous statement on this connection: SHOW WARNINGS/ERRORS, SHOW COUNT(*)
   * WARNINGS, @@warning_count, @@error_count, GET DIAGNOSTICS, SHOW PROFILE(S). Must run where the
   * previous statement ran.
   */
  LAST_STATEMENT_INFO: 1 << 29,
  /** HANDLER t OPEN/READ/CLOSE: an open handler lives on this connection. */
  HANDLER: 1 << 30,
  /** Anything that leaves server-side state on the connection we could not name more precisely. */
  SESSION_STATE: 2 ** 31,
  // --- high bits: always kind "write"; use hasFlag() ---
  CALL: HIGH * (1 << 0),
  /** SELECT ... INTO OUTFILE|DUMPFILE|@var. */
  SELECT_INTO: HIGH * (1 << 1),
  KILL: HIGH * (1 << 2),
  FLUSH: HIGH * (1 << 3),
  /** LOAD DATA [LOCAL] INFILE, LOAD XML. */
  LOAD_DATA: HIGH * (1 << 4),
  /** Unrecognised first keyword, unterminated quote or comment, empty statement. */
  UNKNOWN: HIGH * (1 << 5),
  /** SAVEPOINT sp, RELEASE SAVEPOINT sp, ROLLBACK [WORK] TO [SAVEPOINT] sp: inside a transaction. */
  SAVEPOINT: HIGH * (1 << 6),
  /** SET STATEMENT a=e [, ...] FOR stmt: the settings last for stmt only (whatever the tracker says). */
  SET_STATEMENT: HIGH * (1 << 7),
  /** Reads session_track_* (`@@session_track_x`, SHOW VARIABLES): must see the client's own settings. */
  READS_TRACKING: HIGH * (1 << 8),
  /**
   * Commits an open transaction before it runs (MariaDB KB "SQL statements that cause an implicit
   * commit"): DDL on non-temporary objects (CREATE, ALTER, DROP, RENAME, TRUNCATE), account
   * statements (GRANT, REVOKE), table maintenance (ANALYZE, CHECK, OPTIMIZE, REPAIR, CACHE INDEX,
   * LOAD INDEX), LOCK TABLES, replication control (CHANGE MASTER, STOP SLAVE), RESET. BEGIN and
   * START TRANSACTION commit too; they carry TX_BEGIN.
   */
  IMPLICIT_COMMIT: HIGH * (1 << 9),
  /**
   * Every statement uses no table (SELECT or VALUES with no FROM but FROM DUAL, DO, SET, USE,
   * transaction control, savepoints): the server keeps the previous statement's warnings and
   * errors for SHOW WARNINGS then (they are cleared by a statement that uses a table).
   */
  NO_TABLES: HIGH * (1 << 10),
} as const;

export type StatementFlagName = keyof typeof StatementFlag;

const NAMES = Object.keys(StatementFlag) as StatementFlagName[];

/** Whether `flags` contains `flag` (any bit, including the ones above 31). */
export function hasFlag(flags: number, flag: number): boolean {
  // ToInt32 keeps the low word of any safe integer: no `% HIGH`, a floating-point fmod in V8.
  if (flag < HIGH) return (flags & flag) !== 0;
  return (Math.floor(flags / HIGH) & (flag / HIGH)) !== 0;
}

/** Joins the low 32-bit word and the high word the classifier accumulates into one flag set. */
export function joinFlags(low: number, high: number): number {
  return (low >>> 0) + high * HIGH;
}

/** The union of flags (each a single flag or a union already). */
export function flagsOf(...flags: number[]): number {
  let low = 0;
  let high = 0;
  for (const f of flags) {
    low |= f % HIGH;
    high |= Math.floor(f / HIGH);
  }
  return joinFlags(low, high);
}

/** Flag names in declaration order, for logs, debug endpoints and test failure messages. */
export function describeFlags(flags: number): StatementFlagName[] {
  const out: StatementFlagName[] = [];
  for (const name of NAMES) if (hasFlag(flags, StatementFlag[name])) out.push(name);
  return out;
}
