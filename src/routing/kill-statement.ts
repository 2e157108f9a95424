import { KW, LOWER } from "./keywords.js";
import { Lexer, Tok } from "./lexer.js";

/**
 * What a KILL statement asks for, read from COM_QUERY bytes. MariaDB's grammar ("KILL [HARD | SOFT]
 * [CONNECTION | QUERY [ID]] [thread_id | USER user_name | query_id]"; MySQL has the
 * `KILL [CONNECTION | QUERY] processlist_id` subset). The server takes any expression as the id;
 * rwsplit takes a plain decimal number only, because the number is one of *rwsplit's* connection
 * ids and is never sent to a server as it is.
 *
 * Only called for payloads the classifier flagged KILL (or whose embedded SQL is checked with
 * `embedsKill`): nothing here is on the path of other statements.
 */
export type KillScope = "connection" | "query";

export type KillStatement =
  /** KILL [HARD|SOFT] [CONNECTION|QUERY] <n>, and COM_PROCESS_KILL (always CONNECTION). */
  | { kind: "thread"; scope: KillScope; id: number; idText: string }
  /** KILL [HARD|SOFT] QUERY ID <query_id>: a query id belongs to one server. */
  | { kind: "query-id" }
  /** KILL [HARD|SOFT] [CONNECTION|QUERY] USER <name>. */
  | { kind: "user" }
  /** KILL [HARD|SOFT] [CONNECTION|QUERY] CONNECTION_ID(): the issuing connection itself. */
  | { kind: "own"; scope: KillScope }
  /** An id that is not a plain number: an expression, a variable, a string. */
  | { kind: "expression" }
  /** KILL together with other statements in one COM_QUERY (multi-statements). */
  | { kind: "multi" }
  /** Not a complete KILL: `KILL`, `KILL QUERY`. */
  | { kind: "syntax" };

const lexer = new Lexer();

/** Parses the single KILL statement in buf[start, end) (a COM_QUERY payload past its command byte). */
export function parseKill(buf: Uint8Array, start = 0, end = buf.length): KillStatement {
  const lex = lexer;
  lex.reset(buf, start, end);
  lex.next();
  skipSemicolons(lex);
  if (!isKeyword(lex, KW.KILL)) return { kind: "multi" };
  lex.next();
  if (isWord(lex, "hard") || isWord(lex, "soft")) lex.next();
  let scope: KillScope = "connection";
  if (isWord(lex, "connection")) {
    lex.next();
  } else if (isWord(lex, "query")) {
    scope = "query";
    lex.next();
    if (isWord(lex, "id")) {
      // `KILL QUERY ID` alone would be a kill of a column named id: the server says 1064 too.
      lex.next();
      return atStatementEnd(lex) ? { kind: "syntax" } : finish(lex, { kind: "query-id" });
    }
  }
  if (atStatementEnd(lex)) return { kind: "syntax" };
  if (isWord(lex, "user")) {
    lex.next();
    return atStatementEnd(lex) ? finish(lex, { kind: "syntax" }) : finish(lex, { kind: "user" });
  }
  if (isWord(lex, "connection_id")) {
    // CONNECTION_ID() alone is the issuing connection; anything more an expression.
    return finish(lex, emptyCall(lex) ? { kind: "own", scope } : { kind: "expression" });
  }
  const idText = decimal(lex);
  if (idText === null) return finish(lex, { kind: "expression" });
  lex.next();
  if (!atStatementEnd(lex)) return finish(lex, { kind: "expression" });
  return finish(lex, { kind: "thread", scope, id: Number(idText), idText });
}

/** COM_PROCESS_KILL: int<1> 0x0c, int<4> connection id. The server treats it as KILL CONNECTION. */
export function processKill(payload: Uint8Array): KillStatement | null {
  if (payload.length < 5) return null;
  const id = (payload[1]! | (payload[2]! << 8) | (payload[3]! << 16) | (payload[4]! << 24)) >>> 0;
  return { kind: "thread", scope: "connection", id, idText: String(id) };
}

/**
 * Whether a `PREPARE s FROM '...'` or `EXECUTE IMMEDIATE '...'` (payload flagged PREPARE_SQL or
 * EXECUTE_SQL) carries a KILL in its string literal: the server would run it with the client's
 * number as a server thread id. `FROM @var` cannot be seen into, and is not caught.
 */
export function embedsKill(buf: Uint8Array, start = 0, end = buf.length): boolean {
  const lex = lexer;
  lex.reset(buf, start, end);
  const literals: number[] = [];
  let afterFrom = false;
  for (lex.next(); lex.type !== Tok.EOF; lex.next()) {
    // PREPARE name FROM 'sql' | EXECUTE IMMEDIATE 'sql': only a literal right there is SQL.
    if (afterFrom && lex.type === Tok.STRING && lex.tokEnd - lex.start >= 2) {
      literals.push(lex.start + 1, lex.tokEnd - 1);
    }
    afterFrom = isWord(lex, "from") || isWord(lex, "immediate");
  }
  for (let i = 0; i < literals.length; i += 2) {
    lex.reset(buf, literals[i]!, literals[i + 1]!);
    lex.next();
    if (isKeyword(lex, KW.KILL)) return true;
  }
  return false;
}

/** `stmt`, once the rest of this statement is skipped, if no other statement follows it. */
function finish(lex: Lexer, stmt: KillStatement): KillStatement {
  while (!atStatementEnd(lex)) lex.next();
  skipSemicolons(lex);
  if (lex.error) return { kind: "syntax" };
  return lex.type === Tok.EOF ? stmt : { kind: "multi" };
}

function skipSemicolons(lex: Lexer): void {
  while (lex.type === Tok.PUNCT && lex.ch === 0x3b) lex.next();
}

function atStatementEnd(lex: Lexer): boolean {
  return lex.type === Tok.EOF || (lex.type === Tok.PUNCT && lex.ch === 0x3b);
}

function isPunct(lex: Lexer, ch: number): boolean {
  return lex.type === Tok.PUNCT && lex.ch === ch;
}

function isKeyword(lex: Lexer, kw: number): boolean {
  return lex.type === Tok.WORD && lex.kw === kw && !lex.qualified;
}

/** The current token is the bare word `text` (lowercase ASCII), in any case. */
function isWord(lex: Lexer, text: string): boolean {
  if (lex.type !== Tok.WORD || lex.qualified || lex.tokEnd - lex.start !== text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (LOWER[lex.buf[lex.start + i]!] !== text.charCodeAt(i)) return false;
  }
  return true;
}

/** Moves past a function name and its `()`: whether they are all the statement holds. */
function emptyCall(lex: Lexer): boolean {
  lex.next();
  if (!isPunct(lex, 0x28)) return false;
  lex.next();
  if (!isPunct(lex, 0x29)) return false;
  lex.next();
  return atStatementEnd(lex);
}

/** The current token's text when it is a decimal integer literal (`12`, not `0x0c` or `1e3`). */
function decimal(lex: Lexer): string | null {
  if (lex.type !== Tok.WORD || lex.qualified) return null;
  let text = "";
  for (let i = lex.start; i < lex.tokEnd; i++) {
    const b = lex.buf[i]!;
    if (b < 0x30 || b > 0x39) return null;
    text += String.fromCharCode(b);
  }
  return text;
}
