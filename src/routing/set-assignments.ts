import { KW } from "./keywords.js";
import { ASSIGN, Lexer, Scope, Tok } from "./lexer.js";

/**
 * The session variables a SET statement assigns, by name, with the value when it is a plain
 * literal. The classifier (set-statement.ts) decides routing without building strings; this
 * second look is for the session, and only for statements the classifier flagged SET_VAR or
 * SET_NAMES: which variables to read back when the server's session tracker did not report them
 * (MariaDB reports no change for the bare `@@x = v` form, nor collation_connection after
 * `SET NAMES ... COLLATE`), and the client's own `session_track_*` settings, which rwsplit keeps
 * instead of letting them change the backend connection's tracking.
 *
 *   SET [SESSION|LOCAL] name = v, @@[session.|local.]name = v, NAMES cs [COLLATE c],
 *       CHARACTER SET cs, CHARSET cs, @user = v, GLOBAL name = v, TRANSACTION ...
 */

export interface SetAssignment {
  /** Lowercase variable name. */
  name: string;
  /** The value when it is one literal token (a string unquoted, a word or number as written), else null. */
  literal: string | null;
}

export interface SetAssignments {
  /** Session variables assigned, in order (SET NAMES and CHARACTER SET name the four they set). */
  session: SetAssignment[];
  /** The statement also assigns user variables, global variables or transaction characteristics. */
  other: boolean;
}

/** What SET NAMES / SET CHARACTER SET change. */
export const CHARSET_VARIABLES = [
  "character_set_client",
  "character_set_results",
  "character_set_connection",
  "collation_connection",
] as const;

const COMMA = 0x2c;
const EQ = 0x3d;
const DOT = 0x2e;
const SEMI = 0x3b;
const LPAREN = 0x28;
const RPAREN = 0x29;

/** Parses SET's assignments in buf[start, end) (the COM_QUERY payload past the command byte). */
export function setAssignments(buf: Uint8Array, start: number, end: number): SetAssignments | null {
  const lex = new Lexer();
  lex.reset(buf, start, end);
  lex.next();
  if (lex.type !== Tok.WORD || lex.kw !== KW.SET) return null;
  lex.next();
  const out: SetAssignments = { session: [], other: false };
  for (;;) {
    if (!assignment(lex, buf, out)) return null;
    if (atEnd(lex)) return out;
    if (!isPunct(lex, COMMA)) return null;
    lex.next();
  }
}

function assignment(lex: Lexer, buf: Uint8Array, out: SetAssignments): boolean {
  let global = false;
  if (lex.type === Tok.WORD && !lex.qualified) {
    switch (lex.kw) {
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
      case KW.NAMES:
      case KW.CHARSET:
      case KW.CHARACTER:
        for (const name of CHARSET_VARIABLES) out.session.push({ name, literal: null });
        skipValue(lex);
        return true;
      case KW.TRANSACTION:
        out.other = true;
        skipValue(lex, true);
        return true;
    }
  }
  let name: string | null;
  if (lex.type === Tok.USER_VAR) {
    out.other = true;
    name = null;
  } else if (lex.type === Tok.SYS_VAR) {
    if (lex.scope === Scope.GLOBAL) global = true;
    name = sysVarName(buf, lex.start, lex.tokEnd);
  } else if (lex.type === Tok.WORD || lex.type === Tok.QUOTED_IDENT) {
    name = text(buf, lex.start, lex.tokEnd);
  } else {
    return false;
  }
  lex.next();
  // A structured variable name (keycache1.key_buffer_size): not a session variable we replay.
  if (isPunct(lex, DOT)) {
    name = null;
    while (isPunct(lex, DOT)) {
      lex.next();
      lex.next();
    }
  }
  if (!isPunct(lex, EQ) && !isPunct(lex, ASSIGN)) return false;
  lex.next();
  const type: number = lex.type;
  const start = lex.start;
  const tokEnd = lex.tokEnd;
  const tokens = skipValue(lex);
  let literal: string | null = null;
  if (tokens === 1 && type === Tok.STRING) literal = unquote(buf, start, tokEnd);
  else if (tokens === 1 && type === Tok.WORD) literal = text(buf, start, tokEnd);
  if (global) out.other = true;
  else if (name !== null) out.session.push({ name, literal });
  return true;
}

/**
 * Skips to the next top-level comma (or, for TRANSACTION, to the end: its commas are its own);
 * returns how many tokens the value had.
 */
function skipValue(lex: Lexer, toEnd = false): number {
  let depth = 0;
  let tokens = 0;
  while (!atEnd(lex)) {
    if (lex.type === Tok.PUNCT) {
      if (lex.ch === LPAREN) depth++;
      else if (lex.ch === RPAREN) depth--;
      else if (lex.ch === COMMA && depth === 0 && !toEnd) return tokens;
    }
    tokens++;
    lex.next();
  }
  return tokens;
}

/** `@@[session.|local.|global.]name` → name (lowercase, backticks removed). */
function sysVarName(buf: Uint8Array, start: number, end: number): string {
  const raw = text(buf, start + 2, end);
  const dot = raw.indexOf(".");
  const scope = dot > 0 ? raw.slice(0, dot) : "";
  const bare = scope === "session" || scope === "local" || scope === "global" ? raw.slice(dot + 1) : raw;
  return bare.replace(/^`|`$/g, "");
}

function text(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString("utf8")
    .replace(/^`|`$/g, "")
    .toLowerCase();
}

/** A quoted string's value: quotes removed, doubled quotes and backslash escapes undone. */
function unquote(buf: Uint8Array, start: number, end: number): string {
  const raw = Buffer.from(buf.buffer, buf.byteOffset + start + 1, Math.max(0, end - start - 2)).toString(
    "utf8",
  );
  const q = String.fromCharCode(buf[start]!);
  return raw
    .replaceAll(q + q, q)
    .replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c === "0" ? "\0" : c));
}

/** The current token is this punctuation (a function: the lexer's fields change under TypeScript's feet). */
function isPunct(lex: Lexer, ch: number): boolean {
  return lex.type === Tok.PUNCT && lex.ch === ch;
}

function atEnd(lex: Lexer): boolean {
  return lex.type === Tok.EOF || isPunct(lex, SEMI);
}
