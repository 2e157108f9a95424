import { KW } from "./keywords.js";
import { ASSIGN, Lexer, Tok } from "./lexer.js";
import { StatementFlag as F } from "./statement-flags.js";

/**
 * The classifier's working state over one payload, and the rules every token goes through
 * whatever the statement (`visit`): built-in function calls, locking reads, SELECT ... INTO,
 * user and system variables, and finding WITH's main statement. Statement-specific parsing
 * (classify.ts, set-statement.ts, transaction-statement.ts) drives the lexer and calls `visit`
 * for the tokens it does not consume itself.
 */

export const READ = 0;
export const SESSION = 1;
export const WRITE = 2;

// High-word values of the flags above bit 31 (see statement-flags.ts).
const HIGH = 2 ** 32;
export const H_CALL = F.CALL / HIGH;
export const H_SELECT_INTO = F.SELECT_INTO / HIGH;
export const H_KILL = F.KILL / HIGH;
export const H_FLUSH = F.FLUSH / HIGH;
export const H_LOAD_DATA = F.LOAD_DATA / HIGH;
export const H_UNKNOWN = F.UNKNOWN / HIGH;
export const H_SAVEPOINT = F.SAVEPOINT / HIGH;
export const H_SET_STATEMENT = F.SET_STATEMENT / HIGH;
export const H_READS_TRACKING = F.READS_TRACKING / HIGH;
export const H_IMPLICIT_COMMIT = F.IMPLICIT_COMMIT / HIGH;
export const H_NO_TABLES = F.NO_TABLES / HIGH;

export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const LPAREN = 0x28;
export const RPAREN = 0x29;
export const EQ = 0x3d;
export const DOT = 0x2e;

export class StatementScan {
  readonly lex = new Lexer();
  /** Flags: the low 32 bits, and the high word (H_*). */
  lo = 0;
  hi = 0;
  /** The statement must not be a read (locking read, GET_LOCK(), `@x :=`, ...). */
  force = false;
  /** SELECT-like statement: INTO means SELECT ... INTO. */
  readType = false;
  /** In `WITH ...`, before the main statement. */
  withMode = false;
  depth = 0;
  /** Keyword ids of the previous two tokens (0: not a keyword). */
  private prev1 = 0;
  private prev2 = 0;
  /** The previous token, for `name (` calls and WITH's `) verb`. */
  private prevType = 0;
  private prevCh = 0;
  /** A user variable was the previous token: `:=` makes it a write, anything else a read. */
  private pendingVar = false;
  /** The token before this one was LAST_INSERT_ID's `(`: an argument sets the value. */
  private lastInsertIdArg = false;
  /** After SELECT ... INTO: the `@x, @y` that follow are written. */
  private intoVars = false;
  /** CALL's arguments: a user variable there may be an OUT or INOUT parameter, written by the call. */
  outVars = false;
  /** FROM clauses of the statement so far, but FROM DUAL (a statement without one uses no table). */
  tables = 0;

  /** Forgets what the previous tokens were (a new statement, or a SET value). */
  resetTokens(): void {
    this.flushVar();
    this.readType = this.withMode = this.intoVars = this.outVars = this.lastInsertIdArg = false;
    this.depth = this.prev1 = this.prev2 = this.prevType = this.prevCh = 0;
  }

  atEnd(): boolean {
    const lex = this.lex;
    return lex.type === Tok.EOF || (lex.type === Tok.PUNCT && lex.ch === SEMI);
  }

  isWord(kw: number): boolean {
    const lex = this.lex;
    return lex.type === Tok.WORD && lex.kw === kw && !lex.qualified;
  }

  isPunct(ch: number): boolean {
    const lex = this.lex;
    return lex.type === Tok.PUNCT && lex.ch === ch;
  }

  /** Keyword id of the current token if it is an unqualified word, else 0. */
  word(): number {
    const lex = this.lex;
    return lex.type === Tok.WORD && !lex.qualified ? lex.kw : 0;
  }

  result(base: number): number {
    return this.force ? WRITE : base;
  }

  /** Visits every token up to the end of the statement. */
  rest(): void {
    const lex = this.lex;
    while (!this.atEnd()) {
      this.visit();
      lex.next();
    }
    this.flushVar();
    // `WITH ...` whose main statement we never recognised.
    if (this.withMode) this.force = true;
  }

  /** Skips to the end of the statement unread (the lexer still collects hints). */
  skip(): void {
    while (!this.atEnd()) this.lex.next();
  }

  /** The rest of a statement we do not understand: a write. */
  unknown(): number {
    this.hi |= H_UNKNOWN;
    this.rest();
    return WRITE;
  }

  flushVar(): void {
    if (this.pendingVar) {
      this.pendingVar = false;
      this.lo |= F.USER_VAR_READ;
    }
  }

  visit(): void {
    const lex = this.lex;
    const type = lex.type;
    const isPunct = type === Tok.PUNCT;
    const ch = isPunct ? lex.ch : 0;
    if (this.pendingVar) {
      this.pendingVar = false;
      if (ch === ASSIGN) {
        this.lo |= F.USER_VAR_WRITE;
        this.force = true;
      } else this.lo |= F.USER_VAR_READ;
    }
    if (this.intoVars && type !== Tok.USER_VAR && ch !== COMMA) this.intoVars = false;
    if (this.lastInsertIdArg) {
      this.lastInsertIdArg = false;
      // LAST_INSERT_ID(expr) sets the connection's value, and no OK packet says so: pin.
      if (ch !== RPAREN) {
        this.lo |= F.SESSION_STATE;
        this.force = true;
      }
    }
    const atTop = this.depth === 0;
    const afterParen = this.prevType === Tok.PUNCT && this.prevCh === RPAREN;
    let kw = 0;
    if (type === Tok.WORD) {
      if (!lex.qualified) {
        kw = lex.kw;
        if (kw !== 0) this.keyword(kw);
      } else if (lex.kw === KW.NEXTVAL || lex.kw === KW.CURRVAL) {
        this.sequence(); // MariaDB sql_mode=ORACLE: seq.nextval, seq.currval
      }
    } else if (type === Tok.USER_VAR) {
      if (this.intoVars || this.outVars) this.lo |= F.USER_VAR_WRITE;
      else this.pendingVar = true;
    } else if (type === Tok.SYS_VAR) {
      this.sysVar(lex.kw);
    } else if (ch === LPAREN) {
      // A built-in call is an unqualified name then `(` (comments and spaces may sit between).
      if (this.prevType === Tok.WORD && this.prev1 !== 0) this.call(this.prev1);
      this.depth++;
    } else if (ch === RPAREN && this.depth > 0) {
      this.depth--;
    }
    if (this.withMode && atTop && afterParen) {
      // WITH name [(cols)] AS (...) [, ...] <main statement>: what follows a top-level `)`.
      if (kw === KW.SELECT || kw === KW.VALUES || kw === KW.TABLE || ch === LPAREN) {
        this.withMode = false;
        this.readType = true;
      } else if (kw !== KW.AS && ch !== COMMA) {
        this.withMode = false;
        this.force = true; // UPDATE, DELETE, INSERT, or something we do not know
      }
    }
    this.prev2 = this.prev1;
    this.prev1 = kw;
    this.prevType = type;
    this.prevCh = ch;
  }

  private keyword(kw: number): void {
    switch (kw) {
      case KW.UPDATE:
      case KW.SHARE:
        // FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE
        if (this.prev1 === KW.FOR || (kw === KW.SHARE && this.prev1 === KW.IN && this.prev2 === KW.LOCK)) {
          this.lo |= F.LOCKING_READ;
          this.force = true;
        }
        break;
      case KW.FOR:
        // NEXT VALUE FOR seq, PREVIOUS VALUE FOR seq (MariaDB sequences)
        if (this.prev1 === KW.VALUE && (this.prev2 === KW.NEXT || this.prev2 === KW.PREVIOUS))
          this.sequence();
        break;
      case KW.INTO:
        if (this.readType) {
          this.hi |= H_SELECT_INTO;
          this.force = true;
          this.intoVars = true;
        }
        break;
      case KW.FROM:
        this.tables++;
        break;
      case KW.DUAL:
        if (this.prev1 === KW.FROM) this.tables--;
        break;
      case KW.SQL_CALC_FOUND_ROWS:
        // FOUND_ROWS() must run where this ran: keep both on the primary.
        this.lo |= F.SQL_CALC_FOUND_ROWS;
        this.force = true;
        break;
    }
  }

  private sequence(): void {
    this.lo |= F.SEQUENCE;
    this.force = true;
  }

  /** `name(`: built-ins whose answer depends on this connection or the primary, or that change state. */
  private call(fn: number): void {
    switch (fn) {
      case KW.LAST_INSERT_ID:
        // A read of the session's value (the router sends it to the primary, where it most likely
        // is already; inside a READ ONLY transaction the replica gets it synced); with an argument,
        // a write that pins (visit()).
        this.lo |= F.LAST_INSERT_ID;
        this.lastInsertIdArg = true;
        return;
      case KW.FOUND_ROWS:
        // About the previous statement: a read where that one ran (router.ts "previous").
        this.lo |= F.FOUND_ROWS;
        return;
      case KW.ROW_COUNT:
        this.lo |= F.ROW_COUNT;
        return;
      case KW.GET_LOCK:
        this.lo |= F.GET_LOCK;
        break;
      case KW.RELEASE_LOCK:
      case KW.RELEASE_ALL_LOCKS:
        this.lo |= F.RELEASE_LOCK;
        break;
      case KW.IS_USED_LOCK:
      case KW.IS_FREE_LOCK:
        break; // must see the primary's lock state; no flag of their own
      case KW.NEXTVAL:
      case KW.LASTVAL:
      case KW.SETVAL:
        this.lo |= F.SEQUENCE;
        break;
      case KW.CONNECTION_ID:
        // Stays a read: the router answers with the client's id whichever backend runs it.
        this.lo |= F.CONNECTION_ID;
        return;
      default:
        return;
    }
    this.force = true;
  }

  /** A `@@name` read. */
  private sysVar(name: number): void {
    switch (name) {
      case KW.IDENTITY:
      case KW.LAST_INSERT_ID:
        this.lo |= F.LAST_INSERT_ID;
        break;
      case KW.WARNING_COUNT:
      case KW.ERROR_COUNT:
        this.lo |= F.LAST_STATEMENT_INFO;
        break;
      case KW.SESSION_TRACK_SYSTEM_VARIABLES:
      case KW.SESSION_TRACK_SCHEMA:
      case KW.SESSION_TRACK_STATE_CHANGE:
      case KW.SESSION_TRACK_TRANSACTION_INFO:
        this.hi |= H_READS_TRACKING;
        break;
      case KW.READ_ONLY:
      case KW.SUPER_READ_ONLY:
      case KW.INNODB_READ_ONLY:
        // Drivers ask this to find the writable server: a replica would answer "read only".
        this.force = true;
        break;
    }
  }
}
