import { KW, keywordAt } from "./keywords.js";
import { ASSIGN, Scope, Tok } from "./lexer.js";
import { StatementFlag as F } from "./statement-flags.js";
import { COMMA, DOT, EQ, H_SET_STATEMENT, SESSION, type StatementScan, WRITE } from "./statement-scan.js";

/**
 * SET (MariaDB "SET", "SET NAMES", "SET CHARACTER SET", "SET TRANSACTION", "SET STATEMENT";
 * MySQL "SET Syntax for Variable Assignment"), starting at the token after SET:
 *
 *   SET assignment [, assignment] ...
 *     assignment: @x {=|:=} e | [GLOBAL|SESSION|LOCAL|PERSIST|PERSIST_ONLY] name {=|:=} e
 *               | @@[global.|session.|local.]name {=|:=} e
 *               | NAMES cs [COLLATE c] | CHARACTER SET cs | CHARSET cs
 *               | [GLOBAL|SESSION] TRANSACTION characteristic, ...
 *   SET PASSWORD ..., SET ROLE ..., SET DEFAULT ROLE ..., SET STATEMENT a=e [, ...] FOR stmt
 *
 * Session-only assignments make a "session" statement (the router replays it or pins); a global
 * one, SET PASSWORD/DEFAULT ROLE, or a value with side effects (GET_LOCK(), NEXTVAL(), a locking
 * subquery, ...) makes it a write: replaying those on every backend would be wrong.
 * `body` classifies the statement after SET STATEMENT ... FOR.
 */
export function setStatement(scan: StatementScan, body: () => number): number {
  const lex = scan.lex;
  lex.next();
  switch (scan.word()) {
    case KW.STATEMENT:
      return setStatementFor(scan, body);
    case KW.PASSWORD:
    case KW.DEFAULT: // SET DEFAULT ROLE
      scan.skip();
      return WRITE;
    case KW.ROLE:
      scan.lo |= F.SESSION_STATE;
      scan.skip();
      return SESSION;
  }
  let global = false;
  for (;;) {
    if (scan.atEnd()) return scan.unknown(); // SET alone, or a trailing comma
    const r = assignment(scan);
    if (r < 0) return scan.unknown();
    if (r === 1) global = true;
    if (scan.atEnd()) break;
    if (!scan.isPunct(COMMA)) return scan.unknown();
    lex.next();
  }
  return global ? WRITE : scan.result(SESSION);
}

/**
 * Values the server keeps per connection and its session tracker does not report when set
 * (MariaDB 10.11): the next insert's id, LAST_INSERT_ID(), the statement time, RAND()'s seed,
 * and the session's transaction characteristics (as SET SESSION TRANSACTION, which pins too).
 * rwsplit does not replay them: setting one pins the session to the connection that ran it.
 */
const CONNECTION_VALUES = new Set<number>([
  KW.TIMESTAMP,
  KW.INSERT_ID,
  KW.LAST_INSERT_ID,
  KW.IDENTITY,
  KW.RAND_SEED1,
  KW.RAND_SEED2,
  KW.TX_ISOLATION,
  KW.TX_READ_ONLY,
  KW.TRANSACTION_ISOLATION,
  KW.TRANSACTION_READ_ONLY,
]);

/** One assignment; returns 0 (session), 1 (global: a write), -1 (not understood). */
function assignment(scan: StatementScan): number {
  const lex = scan.lex;
  let global = false;
  switch (scan.word()) {
    case KW.GLOBAL:
    case KW.PERSIST:
    case KW.PERSIST_ONLY:
      global = true;
      lex.next();
      break;
    case KW.SESSION:
    case KW.LOCAL:
      lex.next();
      break;
  }
  let name = 0;
  const type = lex.type;
  if (type === Tok.USER_VAR) {
    scan.lo |= F.USER_VAR_WRITE;
  } else if (type === Tok.SYS_VAR) {
    if (lex.scope === Scope.GLOBAL) global = true;
    name = lex.kw;
  } else if (type === Tok.WORD && !lex.qualified) {
    const first = lex.buf[lex.start]!;
    if (first >= 0x30 && first <= 0x39) return -1; // a number is no variable name
    switch (lex.kw) {
      case KW.NAMES:
      case KW.CHARSET:
      case KW.CHARACTER: // CHARACTER SET cs
        scan.lo |= F.SET_NAMES;
        skipValue(scan);
        return 0;
      case KW.TRANSACTION:
        // TRANSACTION ISOLATION LEVEL x, READ ONLY: its commas are not assignment separators.
        scan.lo |= F.SET_TRANSACTION;
        scan.skip();
        return global ? 1 : 0;
      case KW.PASSWORD:
        scan.skip();
        return 1;
    }
    name = lex.kw;
  } else if (type !== Tok.QUOTED_IDENT) {
    return -1;
  }
  if (type !== Tok.USER_VAR && !global) {
    scan.lo |= F.SET_VAR;
    if (CONNECTION_VALUES.has(name)) scan.lo |= F.SESSION_STATE;
  }
  lex.next();
  // A structured variable name: keycache1.key_buffer_size = ...
  while (scan.isPunct(DOT)) {
    lex.next();
    if (lex.type !== Tok.WORD && lex.type !== Tok.QUOTED_IDENT) return -1;
    name = 0;
    lex.next();
  }
  if (!scan.isPunct(EQ) && !scan.isPunct(ASSIGN)) return -1;
  lex.next();
  value(scan, name === KW.AUTOCOMMIT && !global);
  return global ? 1 : 0;
}

/** A value, up to the next top-level comma; for autocommit, sets AUTOCOMMIT_ON or _OFF. */
function value(scan: StatementScan, autocommit: boolean): void {
  const lex = scan.lex;
  scan.resetTokens();
  let tokens = 0;
  let on = -1;
  while (!scan.atEnd() && !(scan.depth === 0 && scan.isPunct(COMMA))) {
    if (autocommit && tokens === 0) on = booleanValue(scan);
    tokens++;
    scan.visit();
    lex.next();
  }
  scan.flushVar();
  if (autocommit) {
    // Anything but a plain ON/OFF (an expression, a variable) counts as OFF: pinning is the safe side.
    scan.lo |= tokens === 1 && on === 1 ? F.AUTOCOMMIT_ON : F.AUTOCOMMIT_OFF;
  }
}

function skipValue(scan: StatementScan): void {
  while (!scan.atEnd() && !scan.isPunct(COMMA)) scan.lex.next();
}

/** 1 for 1/ON/TRUE/DEFAULT (autocommit's default is ON), 0 for 0/OFF/FALSE (also quoted), else -1. */
function booleanValue(scan: StatementScan): number {
  const lex = scan.lex;
  let s = lex.start;
  let e = lex.tokEnd;
  if (lex.type === Tok.STRING) {
    s++;
    e--;
  } else if (lex.type !== Tok.WORD) return -1;
  const buf = lex.buf;
  if (e - s === 1) return buf[s] === 0x31 ? 1 : buf[s] === 0x30 ? 0 : -1;
  const kw = lex.type === Tok.WORD ? lex.kw : keywordAt(buf, s, e);
  if (kw === KW.ON || kw === KW.TRUE || kw === KW.DEFAULT) return 1;
  if (kw === KW.OFF || kw === KW.FALSE) return 0;
  return -1;
}

/** SET STATEMENT a = e [, ...] FOR stmt (MariaDB): the settings last for stmt only. */
function setStatementFor(scan: StatementScan, body: () => number): number {
  const lex = scan.lex;
  scan.hi |= H_SET_STATEMENT;
  scan.resetTokens();
  for (lex.next(); !scan.atEnd(); lex.next()) {
    if (scan.depth === 0 && scan.isWord(KW.FOR)) {
      lex.next();
      scan.resetTokens();
      return body();
    }
    scan.visit();
  }
  return scan.unknown();
}
