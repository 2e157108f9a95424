import { hintBodyStart, parseHintPairs, type RouteHint } from "./hints.js";
import { FNV_OFFSET, FNV_PRIME, IDENT, KW, keywordAt, keywordId, LOWER } from "./keywords.js";

/**
 * A tiny SQL lexer over the bytes of a COM_QUERY payload, for the classifier's one linear pass.
 * It allocates nothing per token: the current token is a set of fields on the lexer (type, byte
 * range, keyword id), and keywords are recognised by a hash of their lowercased bytes computed
 * while scanning, then checked byte by byte.
 *
 * Rules (MariaDB "Comment Syntax", MySQL "Comments" and "String Literals"):
 * - whitespace and comments are skipped: `# ...` and `-- ...` to end of line (`--` only when
 *   followed by whitespace/a control character or the end: `1--1` is arithmetic), `/* ... *\/`;
 * - executable comments `/*! ... *\/`, `/*!50001 ... *\/`, `/*M! ... *\/`, `/*M!100100 ... *\/`
 *   hold real SQL: their opener (and version number) and closer are skipped, the body is lexed;
 * - `'...'` and `"..."` with backslash escapes and doubled quotes, `` `...` `` with doubled
 *   backticks. (With sql_mode NO_BACKSLASH_ESCAPES a string ending in `\` looks unterminated to
 *   us, which classifies as write: the safe side.)
 * - `/* rwsplit: ... *\/` and `-- rwsplit: ...` comments are parsed into `hint`.
 * Bytes are latin1; every keyword is ASCII, and bytes >= 0x80 are identifier characters.
 */

export const Tok = {
  EOF: 0,
  /** Unquoted identifier, keyword or number. */
  WORD: 1,
  /** `` `name` `` */
  QUOTED_IDENT: 2,
  /** `'...'` or `"..."` */
  STRING: 3,
  /** `@name`, `@'name'`, `` @`name` `` */
  USER_VAR: 4,
  /** `@@name`, `@@session.name`, `@@global.name` (`kw` is the name's keyword id, `scope` the scope). */
  SYS_VAR: 5,
  /** One punctuation byte in `ch`, or `:=` as ASSIGN. */
  PUNCT: 6,
} as const;

/** `ch` of the `:=` token. */
export const ASSIGN = 0x100;

/** `scope` of a SYS_VAR token. */
export const Scope = { NONE: 0, SESSION: 1, GLOBAL: 2 } as const;

const EMPTY = new Uint8Array(0);

export class Lexer {
  buf: Uint8Array = EMPTY;
  /** Next byte to read. */
  pos = 0;
  end = 0;
  /** Current token. */
  type: number = Tok.EOF;
  start = 0;
  tokEnd = 0;
  /** Keyword id of a WORD (or of a SYS_VAR's name); 0 when none. */
  kw = 0;
  /** PUNCT byte, or ASSIGN. */
  ch = 0;
  /** SYS_VAR scope. */
  scope: number = Scope.NONE;
  /** The token follows a `.`: a qualified name's part, never a keyword (`t.update`). */
  qualified = false;
  /** An unterminated quote, comment or executable comment was found. */
  error = false;
  /** Merged routing hints seen so far (comments anywhere, including after the current token). */
  hint: RouteHint | null = null;
  /**
   * Words are looked up as keywords (`kw`). Off for a walk that never reads `kw` (the digest):
   * the tokens are the same, without hashing every word and probing the keyword table.
   */
  keywords = true;
  private inExec = false;
  /** Position of the next backslash at or after the last search (-1: none left, -2: not searched). */
  private nextBackslash = -2;

  reset(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.type = Tok.EOF;
    this.start = this.tokEnd = start;
    this.kw = this.ch = 0;
    this.scope = Scope.NONE;
    this.qualified = this.error = this.inExec = false;
    this.hint = null;
    this.nextBackslash = -2;
  }

  /** Advances to the next token and returns its type. */
  next(): number {
    const qualified = this.type === Tok.PUNCT && this.ch === 0x2e; // '.'
    const prevType = this.type;
    const prevEnd = this.tokEnd;
    this.skipSpaceAndComments();
    const buf = this.buf;
    const p = this.pos;
    this.start = p;
    this.kw = 0;
    this.qualified = qualified;
    if (p >= this.end) {
      if (this.inExec) this.error = true;
      this.tokEnd = p;
      return this.emit(Tok.EOF);
    }
    const b = buf[p]!;
    if (IDENT[b]) {
      this.kw = this.word(p);
      return this.emit(Tok.WORD);
    }
    switch (b) {
      case 0x27: // '
      case 0x22: // "
        this.quoted(p, b, true);
        return this.emit(Tok.STRING);
      case 0x60: // `
        this.quoted(p, b, false);
        return this.emit(Tok.QUOTED_IDENT);
      case 0x40: // @
        return this.at(p, prevType, prevEnd);
      case 0x3a: // ':'
        if (p + 1 < this.end && buf[p + 1] === 0x3d) {
          this.pos = this.tokEnd = p + 2;
          this.ch = ASSIGN;
          return this.emit(Tok.PUNCT);
        }
        break;
    }
    this.pos = this.tokEnd = p + 1;
    this.ch = b;
    return this.emit(Tok.PUNCT);
  }

  private emit(type: number): number {
    this.type = type;
    return type;
  }

  /** Scans an identifier-like run from p; returns its keyword id. */
  private word(p: number): number {
    const buf = this.buf;
    const end = this.end;
    let q = p;
    const first = buf[p]!;
    if (first >= 0x30 && first <= 0x39) {
      // A number (or an identifier starting with a digit): never a keyword, no hash needed. Bulk
      // INSERTs are mostly these.
      while (q < end && IDENT[buf[q]!]) q++;
      this.pos = this.tokEnd = q;
      return 0;
    }
    if (!this.keywords) {
      while (q < end && IDENT[buf[q]!]) q++;
      this.pos = this.tokEnd = q;
      return 0;
    }
    let h = FNV_OFFSET;
    while (q < end && IDENT[buf[q]!]) {
      h = Math.imul(h ^ LOWER[buf[q]!]!, FNV_PRIME);
      q++;
    }
    this.pos = this.tokEnd = q;
    return keywordId(buf, p, q, h);
  }

  /**
   * Scans a quoted string/identifier starting at the quote byte p. Jumps from quote to quote with
   * indexOf (memchr speed: a multi-megabyte string literal costs microseconds, not a byte loop),
   * stopping at backslashes only where one comes before the next quote.
   */
  private quoted(p: number, quote: number, backslash: boolean): void {
    const buf = this.buf;
    const end = this.end;
    let q = p + 1;
    for (;;) {
      let close = buf.indexOf(quote, q);
      if (close < 0 || close >= end) close = -1;
      if (backslash) {
        let bs = this.nextBackslash;
        if (bs !== -1 && bs < q) {
          bs = buf.indexOf(0x5c, q);
          this.nextBackslash = bs;
        }
        if (bs !== -1 && bs < end && (close === -1 || bs < close)) {
          q = bs + 2;
          continue;
        }
      }
      if (close === -1) {
        this.error = true;
        q = end;
        break;
      }
      if (close + 1 < end && buf[close + 1] === quote) {
        q = close + 2;
        continue;
      }
      q = close + 1;
      break;
    }
    this.pos = this.tokEnd = Math.min(q, end);
  }

  /** `@`: a user variable, a system variable, or the `@` of `'user'@'host'`. */
  private at(p: number, prevType: number, prevEnd: number): number {
    const buf = this.buf;
    const end = this.end;
    const next = p + 1 < end ? buf[p + 1]! : -1;
    if (next === 0x40) {
      this.sysVar(p + 2);
      return this.emit(Tok.SYS_VAR);
    }
    // `'u'@'h'`, `` `u`@`h` ``, u@h: an account name in GRANT/CREATE USER, not a variable.
    const glued =
      prevEnd === p && (prevType === Tok.WORD || prevType === Tok.STRING || prevType === Tok.QUOTED_IDENT);
    if (!glued && next >= 0 && IDENT[next]) {
      this.word(p + 1);
      return this.emit(Tok.USER_VAR);
    }
    if (!glued && (next === 0x27 || next === 0x22 || next === 0x60)) {
      this.quoted(p + 1, next, next !== 0x60);
      return this.emit(Tok.USER_VAR);
    }
    this.pos = this.tokEnd = p + 1;
    this.ch = 0x40;
    return this.emit(Tok.PUNCT);
  }

  /** `@@[global.|session.|local.]name` from p (just past `@@`). */
  private sysVar(p: number): void {
    const buf = this.buf;
    this.scope = Scope.NONE;
    if (p < this.end && buf[p] === 0x60) {
      this.quoted(p, 0x60, false);
      this.kw = 0;
      return;
    }
    let kw = this.word(p);
    if (this.pos < this.end && buf[this.pos] === 0x2e) {
      const first = this.pos;
      // A scope prefix is one of these words; anything else is a structured name (a.b) we keep whole.
      const scopeLen = first - p;
      const scope = scopeOf(buf, p, scopeLen);
      if (scope !== Scope.NONE) {
        this.scope = scope;
        if (first + 1 < this.end && buf[first + 1] === 0x60) {
          this.quoted(first + 1, 0x60, false);
          kw = 0;
        } else kw = this.word(first + 1);
      }
    }
    this.kw = kw;
  }

  private skipSpaceAndComments(): void {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    while (p < end) {
      const b = buf[p]!;
      if (b <= 0x20) {
        p++;
      } else if (
        b === 0x23 ||
        (b === 0x2d && p + 1 < end && buf[p + 1] === 0x2d && (p + 2 >= end || buf[p + 2]! <= 0x20))
      ) {
        // '#' or '-- ' to end of line
        const body = b === 0x23 ? p + 1 : p + 2;
        let q = body;
        while (q < end && buf[q] !== 0x0a) q++;
        this.maybeHint(body, q);
        p = q;
      } else if (b === 0x2f && buf[p + 1] === 0x2a && p + 1 < end) {
        // '/*'
        const c2 = p + 2 < end ? buf[p + 2] : -1;
        if (c2 === 0x21 || (c2 === 0x4d && p + 3 < end && buf[p + 3] === 0x21)) {
          // '/*!' or '/*M!': the body is SQL; skip the version number.
          p += c2 === 0x21 ? 3 : 4;
          while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39) p++;
          this.inExec = true;
          continue;
        }
        let q = p + 2;
        while (q + 1 < end && !(buf[q] === 0x2a && buf[q + 1] === 0x2f)) q++;
        if (q + 1 >= end) {
          this.error = true;
          p = end;
          break;
        }
        this.maybeHint(p + 2, q);
        p = q + 2;
      } else if (b === 0x2a && this.inExec && buf[p + 1] === 0x2f && p + 1 < end) {
        this.inExec = false;
        p += 2;
      } else break;
    }
    this.pos = p;
  }

  private maybeHint(start: number, end: number): void {
    const body = hintBodyStart(this.buf, start, end);
    if (body < 0) return;
    const hint: RouteHint = {};
    if (parseHintPairs(this.buf, body, end, hint)) this.hint = { ...this.hint, ...hint };
  }
}

function scopeOf(buf: Uint8Array, p: number, len: number): number {
  const kw = keywordAt(buf, p, p + len);
  if (kw === KW.GLOBAL) return Scope.GLOBAL;
  if (kw === KW.SESSION || kw === KW.LOCAL) return Scope.SESSION;
  return Scope.NONE;
}
