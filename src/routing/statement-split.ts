import { KW } from "./keywords.js";
import { Lexer, Tok } from "./lexer.js";

const SEMI = 0x3b;
const LPAREN = 0x28;
const RPAREN = 0x29;

/**
 * The statements of a multi-statement COM_QUERY, as [start, end) byte ranges of `buf` (without
 * their `;`), split at the top-level semicolons the lexer sees (none inside strings, comments or
 * parentheses). Null when a part is a compound statement (BEGIN NOT ATOMIC ... END, CREATE
 * PROCEDURE/FUNCTION/TRIGGER/EVENT with a body): its own semicolons cannot be told apart here.
 */
export function splitStatements(buf: Uint8Array, start: number, end: number): [number, number][] | null {
  const lex = new Lexer();
  lex.reset(buf, start, end);
  const parts: [number, number][] = [];
  let partStart = -1;
  let partEnd = -1;
  let depth = 0;
  let first = 0;
  for (lex.next(); lex.type !== Tok.EOF; lex.next()) {
    if (lex.type === Tok.PUNCT && lex.ch === SEMI && depth === 0) {
      if (partStart >= 0) parts.push([partStart, partEnd]);
      partStart = -1;
      first = 0;
      continue;
    }
    if (partStart < 0) {
      partStart = lex.start;
      first = lex.type === Tok.WORD ? lex.kw : 0;
    } else if (lex.type === Tok.WORD && lex.kw === KW.BEGIN && (first === KW.CREATE || first === KW.BEGIN)) {
      return null;
    } else if (first === KW.BEGIN && lex.type === Tok.WORD && lex.kw === KW.NOT) {
      return null;
    }
    if (lex.type === Tok.PUNCT) {
      if (lex.ch === LPAREN) depth++;
      else if (lex.ch === RPAREN && depth > 0) depth--;
    }
    partEnd = lex.tokEnd;
  }
  if (lex.error) return null;
  if (partStart >= 0) parts.push([partStart, partEnd]);
  return parts;
}
