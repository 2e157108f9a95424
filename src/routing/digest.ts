import { digit, introducer, numberEnd, unaryAfterWord } from "./digest-literals.js";
import { Lexer, Tok } from "./lexer.js";

/**
 * Statement digests: a statement's shape, with every literal folded to `?`, and a 64-bit hash of
 * that shape, so that `SELECT c FROM t WHERE id = 42` and `SELECT c FROM t WHERE id=7` count as
 * one statement (ProxySQL's `stats_mysql_query_digest`, MySQL's
 * `events_statements_summary_by_digest`).
 *
 * The same lexer as the classifier (lexer.ts) walks the bytes once; no string is built for the
 * hash. The normalised text is built by a second walk (`digestText`), only the first time a
 * digest is seen. Rules, and where they differ from MySQL's digest:
 * - whitespace and comments are dropped (routing hints too); executable comments' bodies count;
 * - string literals (`'...'`, `"..."`, `x'..'`, `b'..'`, `N'..'`, `_utf8mb4'..'`), numbers
 *   (`42`, `-1.5e-3`, `.5`, `0x1F`, `0b101`) and placeholders (`?`) become `?`; a `-` or `+`
 *   in front of a number is part of it where it cannot be a binary operator (after `(`, `,`, an
 *   operator, or words such as WHERE, AND, SELECT, BETWEEN): `a = -1` and `a = 1` are one shape,
 *   `a - 1` keeps its minus;
 * - a parenthesised list of only literals is `(?)`, whatever its length (`IN (1)`,
 *   `IN (1, 2, 3)`, `VALUES (1, 'a')` all fold; MySQL keeps `IN (?)` apart from `IN (...)`);
 * - a group repeated after a comma is dropped: `VALUES (1, NOW()), (2, NOW())` is
 *   `VALUES (?, NOW())`, `VALUES (1,2),(3,4)` is `VALUES (?)`;
 * - words keep their case (as ProxySQL's default): `select` and `SELECT` are two shapes;
 *   `` `t` `` and `t` are one;
 * - NULL, TRUE and FALSE stay words (`IS NULL` is shape); the empty statement has a digest too;
 * - `;` between statements counts (a multi-statement is one digest), trailing ones do not.
 * The text keeps single spaces where the statement had any whitespace between two tokens.
 */

/** The normalised text is cut here (the hash covers the whole statement). */
export const DIGEST_TEXT_MAX = 2048;

/** A 64-bit digest as two unsigned 32-bit halves. */
export interface DigestValue {
  hi: number;
  lo: number;
}

const MAX_DEPTH = 32;
const P1 = 0x01000193; // FNV-1a prime
const P2 = 0x5bd1e995; // MurmurHash2's m
const SEED_A = 0x811c9dc5 | 0;
const SEED_B = 0x2f6b7e29;
const SEED_GROUP_A = 0x3a8f05c5;
const SEED_GROUP_B = 0x7e1b2a47;

// Mixed in before each token, so that token boundaries and kinds count.
const M_WORD = 0x101;
const M_LIT = 0x102;
const M_PUNCT = 0x103;
const M_VAR = 0x104;
const M_GROUP = 0x105;
const M_CLOSE = 0x106;

// What the previous emitted token was (unary signs and `.5` look at it).
const C_NONE = 0;
const C_WORD = 1;
const C_LIT = 2;
const C_PUNCT = 3;
const C_CLOSE = 4;
const C_VAR = 5;

const SEMI = 0x3b;
const COMMA = 0x2c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const DOT = 0x2e;
const MINUS = 0x2d;
const PLUS = 0x2b;
const QMARK = 0x3f;

const decoder = new TextDecoder("utf-8");

class DigestScanner {
  private readonly lex = new Lexer();
  private buf: Uint8Array = new Uint8Array(0);
  private end = 0;
  /** Hash lanes of the innermost open group (or of the statement at depth 0). */
  private a = 0;
  private b = 0;
  private depth = 0;
  /** `(` beyond MAX_DEPTH: hashed as plain punctuation, and so are their `)`. */
  private overflow = 0;
  private readonly savedA = new Int32Array(MAX_DEPTH + 1);
  private readonly savedB = new Int32Array(MAX_DEPTH + 1);
  /** Per depth: only literals and commas so far, and at least one literal. */
  private readonly litOnly = new Uint8Array(MAX_DEPTH + 1);
  private readonly hasLit = new Uint8Array(MAX_DEPTH + 1);
  /** Per depth: 1 = the last token was a group, 2 = a group then a comma. */
  private readonly rep = new Uint8Array(MAX_DEPTH + 1);
  private readonly repA = new Int32Array(MAX_DEPTH + 1);
  private readonly repB = new Int32Array(MAX_DEPTH + 1);
  /** Per depth: the lanes (and text length) before that comma, to drop a repeated group with it. */
  private readonly commaA = new Int32Array(MAX_DEPTH + 1);
  private readonly commaB = new Int32Array(MAX_DEPTH + 1);
  private readonly commaParts = new Int32Array(MAX_DEPTH + 1);
  private readonly openParts = new Int32Array(MAX_DEPTH + 1);
  private prev = C_NONE;
  private prevStart = 0;
  private prevEnd = 0;
  /** Text mode: the normalised text so far, one part per token; null when only hashing. */
  private parts: string[] | null = null;
  hi = 0;
  lo = 0;

  constructor() {
    // Nothing here reads keyword ids (unary signs look at the words' bytes, digest-literals.ts).
    this.lex.keywords = false;
  }

  run(buf: Uint8Array, start: number, end: number, text: boolean): void {
    const lex = this.lex;
    lex.reset(buf, start, end);
    this.buf = buf;
    this.end = end;
    this.a = SEED_A;
    this.b = SEED_B;
    this.depth = this.overflow = 0;
    this.litOnly[0] = this.hasLit[0] = this.rep[0] = 0;
    this.prev = C_NONE;
    this.prevStart = this.prevEnd = start;
    this.parts = text ? [] : null;
    let semi = false;
    /** Where a unary sign started (-1: none pending). */
    let sign = -1;
    let signCh = 0;
    /** Where the last token started: each one starts past it. */
    let last = start - 1;
    for (;;) {
      const t = lex.next();
      if (t === Tok.EOF) break;
      const from = lex.start;
      // A token at or before the last one means this scanner moved the lexer back, and would lex
      // the statement again for ever on the event loop every session shares (`.5a` once did):
      // the digest ends here instead.
      if (from <= last) break;
      last = from;
      if (t === Tok.PUNCT && lex.ch === SEMI) {
        if (this.prev !== C_NONE) semi = true;
        continue;
      }
      if (semi) {
        semi = false;
        this.punct(SEMI, this.prevEnd, this.prevEnd + 1);
      }
      if (sign >= 0) {
        // A `-`/`+` that may be a number's: the number decides.
        const numeric = (t === Tok.WORD && digit(buf[from])) || (t === Tok.PUNCT && lex.ch === DOT);
        const e = numeric ? numberEnd(buf, from, end) : -1;
        const at = sign;
        sign = -1;
        if (e >= 0) {
          lex.pos = lex.tokEnd = e;
          lex.ch = 0;
          this.literal(at, e);
          continue;
        }
        this.punct(signCh, at, at + 1);
      }
      switch (t) {
        case Tok.WORD: {
          const tokEnd = lex.tokEnd;
          if (digit(buf[from])) {
            const e = numberEnd(buf, from, end);
            if (e >= 0) {
              lex.pos = lex.tokEnd = e;
              this.literal(from, e);
              break;
            }
          } else if (
            tokEnd < end &&
            (buf[tokEnd] === 0x27 || buf[tokEnd] === 0x22) &&
            introducer(buf, from, tokEnd)
          ) {
            // x'1F', b'01', N'text', _utf8mb4'text': one literal.
            lex.next();
            this.literal(from, lex.tokEnd);
            break;
          }
          this.word(from, tokEnd, from, tokEnd);
          break;
        }
        case Tok.QUOTED_IDENT:
          // `t` hashes as t.
          this.word(from + 1, Math.max(from + 1, lex.tokEnd - 1), from, lex.tokEnd);
          break;
        case Tok.STRING:
          this.literal(from, lex.tokEnd);
          break;
        case Tok.USER_VAR:
        case Tok.SYS_VAR:
          this.variable(from, lex.tokEnd);
          break;
        default: {
          const ch = lex.ch;
          // `.5`: a number; `.5a` is none (numberEnd -1): a `.`, then the word `5a`.
          const fraction =
            ch === DOT && digit(buf[from + 1]) && !this.qualifies(from) ? numberEnd(buf, from, end) : -1;
          if (ch === LPAREN) this.open(from);
          else if (ch === RPAREN) this.close(from);
          else if (ch === COMMA) this.comma(from);
          else if (ch === QMARK) this.literal(from, from + 1);
          else if (fraction >= 0) {
            lex.pos = lex.tokEnd = fraction;
            lex.ch = 0;
            this.literal(from, fraction);
          } else if ((ch === MINUS || ch === PLUS) && this.unaryHere() && this.numberFollows(lex.pos)) {
            sign = from;
            signCh = ch;
          } else this.punct(ch, from, lex.tokEnd);
        }
      }
    }
    if (sign >= 0) this.punct(signCh, sign, sign + 1);
    while (this.depth > 0) this.close(this.end);
    this.hi = fmix(this.a) >>> 0;
    this.lo = fmix(this.b ^ Math.imul(this.a, 0x9e3779b1)) >>> 0;
  }

  text(): string {
    const s = this.parts!.join("");
    this.parts = null;
    return s.length > DIGEST_TEXT_MAX ? `${s.slice(0, DIGEST_TEXT_MAX - 1)}…` : s;
  }

  private mix(m: number): void {
    this.a = Math.imul(this.a ^ m, P1);
    const b = Math.imul(this.b ^ m, P2);
    this.b = b ^ (b >>> 13);
  }

  private mixBytes(from: number, to: number): void {
    const buf = this.buf;
    let a = this.a;
    let b = this.b;
    for (let i = from; i < to; i++) {
      const x = buf[i]!;
      a = Math.imul(a ^ x, P1);
      b = Math.imul(b ^ x, P2);
      b ^= b >>> 13;
    }
    this.a = a;
    this.b = b;
  }

  /** Appends a token's text: with one space before it when the statement had a gap there. */
  private put(s: string, from: number): void {
    const parts = this.parts;
    if (parts === null) return;
    parts.push(parts.length > 0 && from > this.prevEnd ? ` ${s}` : s);
  }

  private emitted(cat: number, from: number, to: number): void {
    this.prev = cat;
    this.prevStart = from;
    this.prevEnd = to;
  }

  private literal(from: number, to: number): void {
    const d = this.depth;
    this.hasLit[d] = 1;
    this.rep[d] = 0;
    this.mix(M_LIT);
    this.put("?", from);
    this.emitted(C_LIT, from, to);
  }

  /** A word hashed from [hashFrom, hashTo), shown as [from, to). */
  private word(hashFrom: number, hashTo: number, from: number, to: number): void {
    const d = this.depth;
    this.litOnly[d] = 0;
    this.rep[d] = 0;
    this.mix(M_WORD);
    this.mixBytes(hashFrom, hashTo);
    if (this.parts !== null) this.put(decoder.decode(this.buf.subarray(from, to)), from);
    this.emitted(C_WORD, hashFrom, hashTo);
    this.prevEnd = to;
  }

  private variable(from: number, to: number): void {
    const d = this.depth;
    this.litOnly[d] = 0;
    this.rep[d] = 0;
    this.mix(M_VAR);
    this.mixBytes(from, to);
    if (this.parts !== null) this.put(decoder.decode(this.buf.subarray(from, to)), from);
    this.emitted(C_VAR, from, to);
  }

  private punct(ch: number, from: number, to: number): void {
    const d = this.depth;
    this.litOnly[d] = 0;
    this.rep[d] = 0;
    this.mix(M_PUNCT ^ (ch << 9));
    if (this.parts !== null) this.put(ch === 0x100 ? ":=" : String.fromCharCode(ch), from);
    this.emitted(C_PUNCT, from, to);
  }

  private comma(from: number): void {
    const d = this.depth;
    if (this.rep[d] === 1) {
      this.rep[d] = 2;
      this.commaA[d] = this.a;
      this.commaB[d] = this.b;
      this.commaParts[d] = this.parts?.length ?? 0;
    } else this.rep[d] = 0;
    this.mix(M_PUNCT ^ (COMMA << 9));
    this.put(",", from);
    this.emitted(C_PUNCT, from, from + 1);
  }

  private open(from: number): void {
    if (this.depth >= MAX_DEPTH) {
      this.overflow++;
      this.punct(LPAREN, from, from + 1);
      return;
    }
    const d = this.depth;
    this.savedA[d] = this.a;
    this.savedB[d] = this.b;
    this.openParts[d] = this.parts?.length ?? 0;
    this.put("(", from);
    const inner = d + 1;
    this.depth = inner;
    this.litOnly[inner] = 1;
    this.hasLit[inner] = 0;
    this.rep[inner] = 0;
    this.a = SEED_GROUP_A;
    this.b = SEED_GROUP_B;
    this.emitted(C_PUNCT, from, from + 1);
  }

  private close(from: number): void {
    if (this.overflow > 0 || this.depth === 0) {
      if (this.overflow > 0) this.overflow--;
      this.punct(RPAREN, from, from + 1);
      this.prev = C_CLOSE;
      return;
    }
    const inner = this.depth;
    const literal = this.litOnly[inner] === 1 && this.hasLit[inner] === 1;
    let ga: number;
    let gb: number;
    if (literal) {
      ga = SEED_GROUP_A ^ 0x5f3759df;
      gb = SEED_GROUP_B ^ 0x1b873593;
    } else {
      this.mix(M_CLOSE);
      ga = this.a;
      gb = this.b;
    }
    const d = inner - 1;
    this.depth = d;
    this.a = this.savedA[d]!;
    this.b = this.savedB[d]!;
    const parts = this.parts;
    if (parts !== null) {
      if (literal) {
        const open = parts[this.openParts[d]!]!;
        parts.length = this.openParts[d]!;
        parts.push(`${open}?)`);
      } else this.put(")", from);
    }
    this.litOnly[d] = 0;
    if (this.rep[d] === 2 && this.repA[d] === ga && this.repB[d] === gb) {
      // `, (same group)` again: dropped, comma and all.
      this.a = this.commaA[d]!;
      this.b = this.commaB[d]!;
      if (parts !== null) parts.length = this.commaParts[d]!;
    } else {
      this.mix(M_GROUP);
      this.mix(ga);
      this.mix(gb);
      this.repA[d] = ga;
      this.repB[d] = gb;
    }
    this.rep[d] = 1;
    this.emitted(C_CLOSE, from, from + 1);
  }

  /** A `.` glued to a name or `)` before it qualifies (`t.5col`), it does not start `.5`. */
  private qualifies(dot: number): boolean {
    return this.prevEnd === dot && (this.prev === C_WORD || this.prev === C_CLOSE || this.prev === C_VAR);
  }

  /** A sign here would be unary: nothing before it, an operator or `(` `,`, or a word like WHERE. */
  private unaryHere(): boolean {
    const p = this.prev;
    if (p === C_NONE || p === C_PUNCT) return true;
    return p === C_WORD && unaryAfterWord(this.buf, this.prevStart, this.prevEnd);
  }

  private numberFollows(p: number): boolean {
    const buf = this.buf;
    let q = p;
    while (q < this.end && buf[q]! <= 0x20) q++;
    return digit(buf[q]) || (buf[q] === DOT && digit(buf[q + 1]));
  }
}

/** MurmurHash3's finaliser. */
function fmix(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x;
}

const SCANNER = new DigestScanner();

/**
 * The digest of the statement in sql[start, end) (a COM_QUERY payload after its command byte, or
 * a prepared statement's SQL), written to `out`. Allocates nothing for a plain statement.
 */
export function digestInto(sql: Uint8Array, start: number, end: number, out: DigestValue): void {
  SCANNER.run(sql, start, end, false);
  out.hi = SCANNER.hi;
  out.lo = SCANNER.lo;
}

/** The normalised text of sql[start, end): what the digest hashes, for people to read. */
export function digestText(sql: Uint8Array, start = 0, end = sql.length): string {
  SCANNER.run(sql, start, end, true);
  return SCANNER.text();
}

/** The digest as 16 hex digits (the form endpoints and logs show). */
export function digestHex(hi: number, lo: number): string {
  return hi.toString(16).padStart(8, "0") + lo.toString(16).padStart(8, "0");
}

/** Digest and text of a string (its UTF-8 bytes): for tests and tools. */
export function digestOfString(sql: string): { digest: string; text: string } {
  const bytes = Buffer.from(sql, "utf8");
  const out = { hi: 0, lo: 0 };
  digestInto(bytes, 0, bytes.length, out);
  return { digest: digestHex(out.hi, out.lo), text: digestText(bytes) };
}
