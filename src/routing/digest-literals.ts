import { IDENT, LOWER } from "./keywords.js";

/**
 * Byte-level recognisers for the literals the digest folds (digest.ts), beyond what the lexer
 * tells apart: numbers (the lexer sees `1.5e-3` as a word, a dot, a word, a minus and a word),
 * introduced strings (`x'1F'`, `_utf8mb4'text'`), and the words after which a sign belongs to
 * the number that follows (MySQL "Number Literals", "Hexadecimal Literals", "Bit-Value
 * Literals", "Character Set Introducers").
 */

const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;

export function digit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function hexDigit(b: number): boolean {
  const l = b | 0x20;
  return digit(b) || (l >= 0x61 && l <= 0x66);
}

/**
 * Where the number starting at p ends (p at a digit or at a `.` before one), or -1 when the
 * word is an identifier that starts with digits (`1abc`, MySQL allows those).
 */
export function numberEnd(buf: Uint8Array, p: number, end: number): number {
  let q = p;
  const x = q + 1 < end ? buf[q + 1]! | 0x20 : 0;
  if (buf[q] === 0x30 && (x === 0x78 || x === 0x62)) {
    // 0x1F, 0b101
    q += 2;
    const start = q;
    while (q < end && (x === 0x78 ? hexDigit(buf[q]!) : buf[q] === 0x30 || buf[q] === 0x31)) q++;
    if (q === start || (q < end && IDENT[buf[q]!])) return -1;
    return q;
  }
  while (q < end && digit(buf[q])) q++;
  // `1.5`, `1.`, `.5`; not `1.x` (that is no number either, but no business of ours).
  if (q < end && buf[q] === DOT && (q + 1 >= end || !IDENT[buf[q + 1]!] || digit(buf[q + 1]))) {
    q++;
    while (q < end && digit(buf[q])) q++;
  }
  if (q < end && (buf[q]! | 0x20) === 0x65) {
    let r = q + 1;
    if (r < end && (buf[r] === PLUS || buf[r] === MINUS)) r++;
    if (r < end && digit(buf[r])) {
      q = r;
      while (q < end && digit(buf[q])) q++;
    }
  }
  if (q === p || (q < end && IDENT[buf[q]!])) return -1;
  return q;
}

/** Words after which `-1` is a negative number, not a subtraction (lowercase). */
const UNARY_AFTER = [
  "select",
  "where",
  "and",
  "or",
  "not",
  "xor",
  "between",
  "like",
  "rlike",
  "regexp",
  "when",
  "then",
  "else",
  "case",
  "return",
  "set",
  "limit",
  "offset",
  "interval",
  "on",
  "having",
  "div",
  "mod",
  "by",
  "values",
  "value",
  "default",
  "is",
  "in",
].map((w) => Uint8Array.from(w, (c) => c.charCodeAt(0)));

export function unaryAfterWord(buf: Uint8Array, start: number, end: number): boolean {
  const len = end - start;
  for (const w of UNARY_AFTER) {
    if (w.length !== len) continue;
    let i = 0;
    while (i < len && LOWER[buf[start + i]!] === w[i]) i++;
    if (i === len) return true;
  }
  return false;
}

/** x'..', b'..', n'..' (any case) and _charset'..'. */
export function introducer(buf: Uint8Array, from: number, to: number): boolean {
  if (buf[from] === 0x5f) return to - from > 1;
  if (to - from !== 1) return false;
  const l = buf[from]! | 0x20;
  return l === 0x78 || l === 0x62 || l === 0x6e;
}
