/**
 * The keywords the classifier looks at, recognised on bytes: the lexer hashes each word's
 * lowercased bytes (FNV-1a) while scanning it, looks the hash up here, then compares bytes.
 * Only words that change a routing decision are listed; any other word is just an identifier.
 */

// biome-ignore format: a table reads better packed
const WORDS = [
  // statement verbs
  "select", "with", "values", "table", "show", "describe", "desc", "explain", "help", "do", "set",
  "use", "begin", "start", "commit", "rollback", "savepoint", "release", "xa", "lock", "unlock",
  "create", "drop", "prepare", "execute", "deallocate", "call", "kill", "flush", "handler", "load",
  "analyze", "get", "insert", "update", "delete", "replace", "truncate", "alter", "rename", "grant",
  "revoke", "optimize", "repair", "check", "checksum", "install", "uninstall", "reset", "purge",
  "change", "stop", "shutdown", "restart", "binlog", "cache", "signal", "resignal", "backup",
  "clone", "import",
  // words after the verb
  "work", "transaction", "read", "only", "write", "consistent", "snapshot", "not", "and", "chain",
  "no", "to", "temporary", "or", "for", "share", "in", "mode", "into", "next", "previous", "value",
  "names", "character", "charset", "global", "session", "local", "persist", "persist_only",
  "password", "role", "default", "statement", "tables", "immediate", "data", "xml", "warnings",
  "errors", "count", "profile", "profiles", "master", "slave", "replica", "replicas", "binary",
  "processlist", "full", "as", "export", "diagnostics", "sql_calc_found_rows", "on", "off", "true",
  "false", "index", "from", "dual",
  // functions that tie a statement to one server or connection
  "last_insert_id", "found_rows", "row_count", "get_lock", "release_lock", "release_all_locks",
  "is_used_lock", "is_free_lock", "nextval", "lastval", "setval", "currval", "connection_id",
  // system variables with routing consequences
  "autocommit", "identity", "warning_count", "error_count", "read_only", "super_read_only",
  "innodb_read_only", "session_track_system_variables", "session_track_schema",
  "session_track_state_change", "session_track_transaction_info", "variables", "timestamp",
  "insert_id", "rand_seed1", "rand_seed2", "tx_isolation", "tx_read_only", "transaction_isolation",
  "transaction_read_only",
] as const;

type Word = (typeof WORDS)[number];

/** Keyword ids, 1-based; 0 means "not a keyword". */
export const KW = Object.fromEntries(WORDS.map((w, i) => [w.toUpperCase(), i + 1])) as {
  readonly [K in Word as Uppercase<K>]: number;
};

/** One more than the largest keyword id: the size of a table indexed by keyword id. */
export const KW_COUNT = WORDS.length + 1;

/** 256-entry ASCII lowercase table. */
export const LOWER = new Uint8Array(256);
/** Identifier bytes: [A-Za-z0-9_$] and everything >= 0x80 (multi-byte characters). */
export const IDENT = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  LOWER[b] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
  const letter = (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a;
  IDENT[b] = letter || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x24 || b >= 0x80 ? 1 : 0;
}

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

const KW_BYTES: Uint8Array[] = [new Uint8Array(0)];
// Open addressing with linear probing over typed arrays: cheaper per lookup than a Map, and
// most words are not keywords and stop at the first empty slot.
const SLOTS = 1024;
const MASK = SLOTS - 1;
const SLOT_ID = new Uint16Array(SLOTS);
const SLOT_HASH = new Int32Array(SLOTS);
for (const w of WORDS) {
  const bytes = Uint8Array.from(w, (c) => c.charCodeAt(0));
  let h = FNV_OFFSET;
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME);
  let slot = h & MASK;
  while (SLOT_ID[slot] !== 0) slot = (slot + 1) & MASK;
  SLOT_ID[slot] = KW_BYTES.length;
  SLOT_HASH[slot] = h;
  KW_BYTES.push(bytes);
}
const MAX_LEN = Math.max(...WORDS.map((w) => w.length));

/** Keyword id of buf[start, end), whose lowercased FNV-1a hash is `hash`; 0 when not a keyword. */
export function keywordId(buf: Uint8Array, start: number, end: number, hash: number): number {
  const len = end - start;
  if (len > MAX_LEN) return 0;
  for (let slot = hash & MASK; ; slot = (slot + 1) & MASK) {
    const id = SLOT_ID[slot]!;
    if (id === 0) return 0;
    if (SLOT_HASH[slot] !== hash) continue;
    const kw = KW_BYTES[id]!;
    if (kw.length !== len) continue;
    let i = 0;
    while (i < len && LOWER[buf[start + i]!] === kw[i]) i++;
    if (i === len) return id;
  }
}

/** Keyword id of buf[start, end) (hashing it here). */
export function keywordAt(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ LOWER[buf[i]!]!, FNV_PRIME);
  return keywordId(buf, start, end, h);
}
