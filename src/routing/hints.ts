/**
 * Routing hints carried in SQL comments, so an application can override the classifier per query
 * without a proxy-specific protocol:
 *
 *   SELECT ... /* rwsplit: route=primary *\/
 *   SELECT ... /* rwsplit: route=replica, max_lag=500ms *\/
 *   -- rwsplit: max_lag=2s
 *
 * The comment body starts with `rwsplit:` (after optional whitespace, case-insensitive), then
 * `key=value` pairs separated by commas and/or whitespace. Keys:
 * - `route`: `primary` | `replica`
 * - `max_lag` (or `max-lag`): a number with unit `ms` or `s` (a bare number is milliseconds);
 *   only replicas lagging at most this much may serve the read.
 * Unknown keys and bad values are ignored by the classifier; `parseHint` reports them.
 *
 * Parsing works on the bytes of the comment: no string is made unless a caller asks for the
 * list of unknown keys.
 */

export interface RouteHint {
  route?: "primary" | "replica";
  maxLagMs?: number;
}

/** What `parseHint` found, for tests and debug output. */
export interface ParsedHint {
  /** null when the text is not an rwsplit hint or has no usable key. */
  hint: RouteHint | null;
  /** Keys we do not know, in order. */
  unknown: string[];
  /** Known keys with a value we cannot use, as `key=value`. */
  invalid: string[];
}

const PREFIX = bytes("rwsplit");
const KEY_ROUTE = bytes("route");
const KEY_MAX_LAG = bytes("max_lag");
const KEY_MAX_LAG_DASH = bytes("max-lag");
const VAL_PRIMARY = bytes("primary");
const VAL_REPLICA = bytes("replica");

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function isSpace(b: number): boolean {
  return b <= 0x20;
}

function isSeparator(b: number): boolean {
  return b <= 0x20 || b === 0x2c; // whitespace or ','
}

/** ASCII lowercase of one byte. */
function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

function equalsLower(buf: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let i = 0; i < word.length; i++) if (lower(buf[start + i]!) !== word[i]) return false;
  return true;
}

/**
 * Where the key=value pairs start if the comment body [start, end) is an rwsplit hint
 * (`rwsplit:` after optional whitespace), else -1.
 */
export function hintBodyStart(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  while (p < end && isSpace(buf[p]!)) p++;
  if (end - p < PREFIX.length + 1) return -1;
  if (!equalsLower(buf, p, p + PREFIX.length, PREFIX)) return -1;
  p += PREFIX.length;
  while (p < end && isSpace(buf[p]!)) p++;
  return p < end && buf[p] === 0x3a ? p + 1 : -1; // ':'
}

/** `500ms`, `2s`, `1.5s`, `500` (ms) → milliseconds; -1 when not a duration. */
function parseDurationMs(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  let value = 0;
  let digits = 0;
  while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39) {
    value = value * 10 + (buf[p]! - 0x30);
    p++;
    digits++;
  }
  if (p < end && buf[p] === 0x2e) {
    p++;
    let scale = 0.1;
    while (p < end && buf[p]! >= 0x30 && buf[p]! <= 0x39) {
      value += (buf[p]! - 0x30) * scale;
      scale /= 10;
      p++;
      digits++;
    }
  }
  if (digits === 0) return -1;
  const unitLen = end - p;
  if (unitLen === 0) return Math.round(value);
  const u0 = lower(buf[p]!);
  if (unitLen === 2 && u0 === 0x6d && lower(buf[p + 1]!) === 0x73) return Math.round(value); // ms
  if (unitLen === 1 && u0 === 0x73) return Math.round(value * 1000); // s
  return -1;
}

function latin1(buf: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...buf.subarray(start, end));
}

/**
 * Reads the `key=value` pairs in [start, end) into `into` (later keys win). `problems`, when
 * given, collects unknown keys and bad values; without it nothing is allocated.
 * Returns whether any usable key was found.
 */
export function parseHintPairs(
  buf: Uint8Array,
  start: number,
  end: number,
  into: RouteHint,
  problems?: { unknown: string[]; invalid: string[] },
): boolean {
  let found = false;
  let p = start;
  while (p < end) {
    while (p < end && isSeparator(buf[p]!)) p++;
    if (p >= end) break;
    const keyStart = p;
    while (p < end && !isSeparator(buf[p]!) && buf[p] !== 0x3d) p++; // up to '='
    const keyEnd = p;
    while (p < end && isSpace(buf[p]!)) p++;
    let valStart = -1;
    let valEnd = -1;
    if (p < end && buf[p] === 0x3d) {
      p++;
      while (p < end && isSpace(buf[p]!)) p++;
      valStart = p;
      while (p < end && !isSeparator(buf[p]!)) p++;
      valEnd = p;
    }
    const bad = () => problems?.invalid.push(latin1(buf, keyStart, valStart < 0 ? keyEnd : valEnd));
    if (equalsLower(buf, keyStart, keyEnd, KEY_ROUTE)) {
      if (valStart >= 0 && equalsLower(buf, valStart, valEnd, VAL_PRIMARY)) {
        into.route = "primary";
        found = true;
      } else if (valStart >= 0 && equalsLower(buf, valStart, valEnd, VAL_REPLICA)) {
        into.route = "replica";
        found = true;
      } else bad();
    } else if (
      equalsLower(buf, keyStart, keyEnd, KEY_MAX_LAG) ||
      equalsLower(buf, keyStart, keyEnd, KEY_MAX_LAG_DASH)
    ) {
      const ms = valStart >= 0 ? parseDurationMs(buf, valStart, valEnd) : -1;
      if (ms >= 0) {
        into.maxLagMs = ms;
        found = true;
      } else bad();
    } else if (keyEnd > keyStart) {
      problems?.unknown.push(latin1(buf, keyStart, keyEnd).toLowerCase());
    }
  }
  return found;
}

/**
 * Parses one hint comment given as text: `/* rwsplit: ... *\/`, `-- rwsplit: ...`,
 * `# rwsplit: ...` or the bare body `rwsplit: ...`. For tests and debug tools; the classifier
 * reads hints straight from the statement bytes.
 */
export function parseHint(text: string): ParsedHint {
  let body = text.trim();
  if (body.startsWith("/*")) body = body.slice(2, body.endsWith("*/") ? -2 : undefined);
  else if (body.startsWith("--")) body = body.slice(2);
  else if (body.startsWith("#")) body = body.slice(1);
  const buf = Buffer.from(body, "latin1");
  const result: ParsedHint = { hint: null, unknown: [], invalid: [] };
  const p = hintBodyStart(buf, 0, buf.length);
  if (p < 0) return result;
  const hint: RouteHint = {};
  if (parseHintPairs(buf, p, buf.length, hint, result)) result.hint = hint;
  return result;
}
