import type { RouteHint } from "./hints.js";
import { KW, KW_COUNT } from "./keywords.js";
import { Tok } from "./lexer.js";
import { setStatement } from "./set-statement.js";
import { StatementFlag as F, joinFlags } from "./statement-flags.js";
import {
  H_CALL,
  H_FLUSH,
  H_IMPLICIT_COMMIT,
  H_KILL,
  H_LOAD_DATA,
  H_NO_TABLES,
  H_READS_TRACKING,
  H_SAVEPOINT,
  H_UNKNOWN,
  LPAREN,
  READ,
  SEMI,
  SESSION,
  StatementScan,
  WRITE,
} from "./statement-scan.js";
import { beginStatement, endStatement, startStatement, xaStatement } from "./transaction-statement.js";

/**
 * The statement classifier: COM_QUERY payload bytes in, read / write / session plus flags out.
 * One linear pass of the lexer over the whole payload (every statement of a multi-statement,
 * every comment for hints); no strings, no per-token allocation.
 *
 * - read: may run on a replica: SELECT, WITH ... SELECT, (SELECT ...), VALUES, TABLE, SHOW,
 *   DESCRIBE, EXPLAIN (without ANALYZE; EXPLAIN UPDATE runs nothing), HELP,
 *   START TRANSACTION READ ONLY.
 * - session: changes session state only: SET of session variables, SET NAMES, USE, SET ROLE,
 *   SQL-level PREPARE and DEALLOCATE PREPARE. The router replays these or pins.
 * - write: everything else, anything we cannot parse (the safe side), and reads that must see the
 *   primary or this connection: locking reads, SELECT ... INTO, GET_LOCK()/RELEASE_LOCK()/
 *   IS_USED_LOCK()/IS_FREE_LOCK(), LAST_INSERT_ID(), SQL_CALC_FOUND_ROWS, sequences, `@x :=`.
 *   Transaction control (BEGIN, COMMIT, ...) is a write too: the router follows the transaction
 *   through the TX_* flags. Reads about the previous statement (SHOW WARNINGS, ROW_COUNT(),
 *   FOUND_ROWS(), ...) stay reads, flagged: the router sends them where that statement ran.
 * A multi-statement is a read only when every part is; otherwise a write (flags are the union).
 */

export type StatementKind = "read" | "write" | "session";
export type { RouteHint } from "./hints.js";

export interface Classification {
  kind: StatementKind;
  /** Bit set of StatementFlag (statement-flags.ts); test with hasFlag(). */
  flags: number;
  /** From `/* rwsplit: ... *\/` or `-- rwsplit: ...` comments; null when none. */
  hint: RouteHint | null;
}

const KINDS: readonly StatementKind[] = ["read", "session", "write"];

/** Verbs that are plainly writes, or admin statements for the primary: no UNKNOWN flag. */
const WRITE_VERBS = new Uint8Array(KW_COUNT);
// biome-ignore format: a table reads better packed
for (const kw of [
  KW.INSERT, KW.UPDATE, KW.DELETE, KW.REPLACE, KW.TRUNCATE, KW.ALTER, KW.RENAME, KW.GRANT,
  KW.REVOKE, KW.OPTIMIZE, KW.REPAIR, KW.CHECK, KW.CHECKSUM, KW.INSTALL, KW.UNINSTALL, KW.RESET,
  KW.PURGE, KW.CHANGE, KW.STOP, KW.SHUTDOWN, KW.RESTART, KW.BINLOG, KW.CACHE, KW.SIGNAL,
  KW.RESIGNAL, KW.BACKUP, KW.CLONE, KW.IMPORT, KW.DO, KW.SAVEPOINT, KW.RELEASE, KW.ANALYZE,
]) WRITE_VERBS[kw] = 1;

/** Of those, the verbs that commit an open transaction before they run (IMPLICIT_COMMIT). */
const COMMITTING_VERBS = new Uint8Array(KW_COUNT);
// biome-ignore format: a table reads better packed
for (const kw of [
  KW.TRUNCATE, KW.ALTER, KW.RENAME, KW.GRANT, KW.REVOKE, KW.OPTIMIZE, KW.REPAIR, KW.CHECK,
  KW.INSTALL, KW.UNINSTALL, KW.RESET, KW.CHANGE, KW.STOP, KW.CACHE, KW.ANALYZE,
]) COMMITTING_VERBS[kw] = 1;

/** Verbs of statements that use no table unless a FROM says so (NO_TABLES). */
const TABLELESS_VERBS = new Uint8Array(KW_COUNT);
// biome-ignore format: a table reads better packed
for (const kw of [
  KW.SELECT, KW.VALUES, KW.DO, KW.SET, KW.USE, KW.BEGIN, KW.START, KW.COMMIT, KW.ROLLBACK,
  KW.SAVEPOINT, KW.RELEASE,
]) TABLELESS_VERBS[kw] = 1;

class Classifier extends StatementScan {
  private readonly body = (): number => this.statement();
  /** The current statement's verb (its first keyword after any opening parentheses). */
  private verb = 0;

  run(buf: Uint8Array, start: number, end: number): Classification {
    const lex = this.lex;
    lex.reset(buf, start, end);
    this.lo = this.hi = 0;
    let count = 0;
    let allRead = true;
    let noTables = true;
    let kind = WRITE;
    lex.next();
    while (lex.type !== Tok.EOF) {
      if (this.isPunct(SEMI)) {
        lex.next();
        continue;
      }
      this.resetTokens();
      this.force = false;
      this.tables = 0;
      this.verb = 0;
      kind = this.statement();
      count++;
      if (kind !== READ) allRead = false;
      if (TABLELESS_VERBS[this.verb] !== 1 || this.tables > 0) noTables = false;
    }
    if (noTables && count > 0) this.hi |= H_NO_TABLES;
    if (lex.error || count === 0) {
      kind = WRITE;
      this.hi |= H_UNKNOWN;
    } else if (count > 1) {
      this.lo |= F.MULTI;
      kind = allRead ? READ : WRITE;
    }
    return { kind: KINDS[kind]!, flags: joinFlags(this.lo, this.hi), hint: lex.hint };
  }

  /** One statement, from its first token to (not including) its `;` or the end. */
  private statement(): number {
    const lex = this.lex;
    let parens = 0;
    // (SELECT ...) UNION (SELECT ...)
    while (this.isPunct(LPAREN)) {
      parens++;
      this.visit();
      lex.next();
    }
    const kw = this.word();
    this.verb = kw;
    if (
      kw === 0 ||
      (parens > 0 && kw !== KW.SELECT && kw !== KW.WITH && kw !== KW.VALUES && kw !== KW.TABLE)
    ) {
      return this.unknown();
    }
    switch (kw) {
      case KW.SELECT:
      case KW.VALUES:
      case KW.TABLE:
        this.readType = true;
        this.rest();
        return this.result(READ);
      case KW.WITH:
        this.withMode = true;
        this.rest();
        return this.result(READ);
      case KW.SHOW:
        return this.show();
      case KW.DESCRIBE:
      case KW.DESC:
      case KW.EXPLAIN:
        return this.explain();
      case KW.HELP:
        this.skip();
        return READ;
      case KW.SET:
        return setStatement(this, this.body);
      case KW.USE:
        return this.flagged(F.USE, 0, SESSION);
      case KW.BEGIN:
        return beginStatement(this);
      case KW.START:
        return startStatement(this);
      case KW.COMMIT:
      case KW.ROLLBACK:
        return endStatement(this, kw);
      case KW.XA:
        return xaStatement(this);
      case KW.LOCK:
      case KW.UNLOCK:
        lex.next();
        if (this.isWord(KW.TABLE) || this.isWord(KW.TABLES)) {
          this.lo |= kw === KW.LOCK ? F.LOCK_TABLES : F.UNLOCK_TABLES;
          if (kw === KW.LOCK) this.hi |= H_IMPLICIT_COMMIT;
        }
        this.rest();
        return WRITE;
      case KW.CREATE:
        lex.next();
        if (this.isWord(KW.OR)) lex.next(); // OR REPLACE
        if (this.isWord(KW.REPLACE)) lex.next();
        if (this.isWord(KW.TEMPORARY)) this.lo |= F.TEMP_TABLE_CREATE;
        else this.hi |= H_IMPLICIT_COMMIT;
        this.rest();
        return WRITE;
      case KW.DROP:
        lex.next();
        if (this.isWord(KW.PREPARE)) return this.flagged(F.DEALLOCATE_SQL, 0, SESSION);
        if (this.isWord(KW.TEMPORARY)) this.lo |= F.TEMP_TABLE_DROP;
        else this.hi |= H_IMPLICIT_COMMIT;
        this.rest();
        return WRITE;
      case KW.PREPARE:
        // PREPARE s FROM '...' | @var runs nothing yet, whatever the text does.
        this.lo |= F.PREPARE_SQL;
        this.rest();
        return SESSION;
      case KW.EXECUTE:
        // Runs a statement we cannot see: a write, never "session" (which the router would replay
        // on every backend).
        this.lo |= F.EXECUTE_SQL;
        this.rest();
        return WRITE;
      case KW.DEALLOCATE:
        return this.flagged(F.DEALLOCATE_SQL, 0, SESSION);
      case KW.CALL:
        this.hi |= H_CALL;
        this.outVars = true;
        this.rest();
        return WRITE;
      case KW.KILL:
        return this.flagged(0, H_KILL, WRITE);
      case KW.FLUSH:
        return this.flush();
      case KW.HANDLER:
        return this.flagged(F.HANDLER, 0, WRITE);
      case KW.LOAD:
        lex.next();
        if (this.isWord(KW.DATA) || this.isWord(KW.XML)) this.hi |= H_LOAD_DATA;
        else if (this.isWord(KW.INDEX)) this.hi |= H_IMPLICIT_COMMIT;
        this.rest();
        return WRITE;
      case KW.GET:
        return this.getDiagnostics();
      case KW.SAVEPOINT:
        return this.flagged(0, H_SAVEPOINT, WRITE);
      case KW.RELEASE:
        lex.next();
        if (this.isWord(KW.SAVEPOINT)) this.hi |= H_SAVEPOINT;
        this.rest();
        return WRITE;
      default:
        if (WRITE_VERBS[kw] !== 1) return this.unknown();
        if (COMMITTING_VERBS[kw] === 1) {
          lex.next();
          // MariaDB's ANALYZE SELECT|UPDATE|DELETE runs the statement and shows its plan: no commit.
          const dml = this.isWord(KW.SELECT) || this.isWord(KW.UPDATE) || this.isWord(KW.DELETE);
          if (kw !== KW.ANALYZE || !dml) this.hi |= H_IMPLICIT_COMMIT;
        }
        this.rest();
        return WRITE;
    }
  }

  /** Sets flags and skips the rest of a statement whose kind its verb decides. */
  private flagged(lo: number, hi: number, kind: number): number {
    this.lo |= lo;
    this.hi |= hi;
    this.skip();
    return kind;
  }

  private show(): number {
    const lex = this.lex;
    lex.next();
    if (this.isWord(KW.FULL)) lex.next();
    const scoped = this.isWord(KW.SESSION) || this.isWord(KW.LOCAL) || this.isWord(KW.GLOBAL);
    if (scoped) lex.next();
    switch (this.word()) {
      case KW.VARIABLES:
        // SHOW [SESSION] VARIABLES shows session_track_* too: the client's, not rwsplit's.
        this.hi |= H_READS_TRACKING;
        break;
      case KW.WARNINGS:
      case KW.ERRORS:
      case KW.COUNT: // SHOW COUNT(*) WARNINGS|ERRORS
      case KW.PROFILE:
      case KW.PROFILES:
        // About the previous statement: a read where that one ran (router.ts "previous").
        this.lo |= F.LAST_STATEMENT_INFO;
        break;
      case KW.MASTER:
      case KW.BINARY:
      case KW.BINLOG:
      case KW.SLAVE:
      case KW.REPLICA:
      case KW.REPLICAS:
      case KW.PROCESSLIST:
        // About one server's replication or connections: the primary is the one people mean.
        this.force = true;
        break;
    }
    this.rest();
    return this.result(READ);
  }

  /** DESCRIBE t, EXPLAIN stmt: runs nothing, even for UPDATE, so the inner statement is skipped. */
  private explain(): number {
    this.lex.next();
    // EXPLAIN ANALYZE runs the statement (MySQL 8); EXPLAIN FOR CONNECTION n is about one server.
    if (this.isWord(KW.ANALYZE) || this.isWord(KW.FOR)) this.force = true;
    this.skip();
    return this.result(READ);
  }

  /** FLUSH ...; FLUSH TABLES [t, ...] WITH READ LOCK | FOR EXPORT holds locks until UNLOCK TABLES. */
  private flush(): number {
    const lex = this.lex;
    this.hi |= H_FLUSH;
    let prev = 0;
    for (lex.next(); !this.atEnd(); lex.next()) {
      const kw = this.word();
      if ((kw === KW.LOCK && prev === KW.READ) || (kw === KW.EXPORT && prev === KW.FOR)) {
        this.lo |= F.LOCK_TABLES;
      }
      prev = kw;
    }
    return WRITE;
  }

  /** GET [CURRENT|STACKED] DIAGNOSTICS @a = NUMBER, ... */
  private getDiagnostics(): number {
    const lex = this.lex;
    let diagnostics = false;
    for (lex.next(); !this.atEnd(); lex.next()) {
      if (this.isWord(KW.DIAGNOSTICS)) diagnostics = true;
      else if (lex.type === Tok.USER_VAR) this.lo |= F.USER_VAR_WRITE;
    }
    if (diagnostics) this.lo |= F.LAST_STATEMENT_INFO;
    else this.hi |= H_UNKNOWN;
    return WRITE;
  }
}

const CLASSIFIER = new Classifier();

/**
 * Classifies the COM_QUERY payload (without the command byte) in sql[start, end).
 * Never throws; whatever it cannot understand is a write with the UNKNOWN flag.
 */
export function classify(sql: Uint8Array, start = 0, end = sql.length): Classification {
  const s = Math.max(0, Math.min(start, sql.length));
  const e = Math.max(s, Math.min(end, sql.length));
  return CLASSIFIER.run(sql, s, e);
}

/** classify() on a string's UTF-8 bytes: for tests and tools. */
export function classifyString(sql: string): Classification {
  return classify(Buffer.from(sql, "utf8"));
}
