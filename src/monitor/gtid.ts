/**
 * MariaDB GTID positions, as in `@@gtid_slave_pos`, `@@gtid_current_pos`, `@@gtid_binlog_pos` and
 * Gtid_IO_Pos: a comma-separated list of `domain-server-seq` triples, one per replication domain
 * (MariaDB KB "Global Transaction ID": "0-1-100,1-2-5"; an empty string means no transaction yet).
 * Pure.
 *
 * Within a domain, sequence numbers only grow (gtid_strict_mode enforces it), so "has this server
 * applied that position" is a per-domain comparison of sequence numbers; the server id only tells
 * who wrote the transaction. Sequence numbers are 64-bit unsigned, so they are bigints here.
 */

export interface Gtid {
  /** 32-bit replication domain id. */
  domain: number;
  /** 32-bit server_id of the server that wrote the transaction. */
  server: number;
  /** 64-bit sequence number within the domain. */
  seq: bigint;
}

/** A position: the last GTID of each domain, keyed by domain id. */
export type GtidPosition = ReadonlyMap<number, Gtid>;

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const TRIPLE = /^(\d+)-(\d+)-(\d+)$/;

/** Parses one `domain-server-seq`; null when malformed or out of range. */
export function parseGtid(text: string): Gtid | null {
  const m = TRIPLE.exec(text.trim());
  if (!m) return null;
  const domain = Number(m[1]);
  const server = Number(m[2]);
  const seq = BigInt(m[3]!);
  if (domain > U32_MAX || server > U32_MAX || seq > U64_MAX) return null;
  return { domain, server, seq };
}

/**
 * Parses a position list. Empty or blank text (and SQL NULL) is the empty position; malformed text
 * gives null. MariaDB may break long lists after the commas ("0-1-5,\n1-2-7"), hence the trims.
 * Two entries for one domain (as in @@gtid_binlog_state) keep the higher sequence number.
 */
export function parseGtidPos(text: string | null | undefined): GtidPosition | null {
  const out = new Map<number, Gtid>();
  if (text == null || text.trim() === "") return out;
  for (const part of text.split(",")) {
    const g = parseGtid(part);
    if (!g) return null;
    const prev = out.get(g.domain);
    if (!prev || g.seq > prev.seq) out.set(g.domain, g);
  }
  return out;
}

/**
 * `text` as one GTID when it is exactly what formatGtid would print ("0-1-100": digits, no
 * leading zeros, no spaces, in range), else null (the caller then takes the general parser).
 */
export function canonicalGtid(text: string): Gtid | null {
  const a = text.indexOf("-");
  const b = a < 0 ? -1 : text.indexOf("-", a + 1);
  if (b < 0 || text.indexOf("-", b + 1) >= 0) return null;
  const domain = smallNumber(text, 0, a);
  const server = smallNumber(text, a + 1, b);
  if (domain < 0 || server < 0 || !digits(text, b + 1, text.length)) return null;
  const seq = BigInt(text.slice(b + 1));
  return seq <= U64_MAX ? { domain, server, seq } : null;
}

/** Canonical digits only (no sign, no leading zero unless "0"). */
function digits(text: string, from: number, to: number): boolean {
  if (to <= from || to - from > 20 || (text.charCodeAt(from) === 48 && to - from > 1)) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** A canonical 32-bit unsigned number in text[from, to), or -1. */
function smallNumber(text: string, from: number, to: number): number {
  if (to - from > 10 || !digits(text, from, to)) return -1;
  const n = Number(text.slice(from, to));
  return n <= U32_MAX ? n : -1;
}

export function formatGtid(g: Gtid): string {
  return `${g.domain}-${g.server}-${g.seq}`;
}

/** The canonical text of a position: entries sorted by domain, no spaces. */
export function formatGtidPos(pos: GtidPosition): string {
  return [...pos.values()]
    .sort((a, b) => a.domain - b.domain)
    .map(formatGtid)
    .join(",");
}

/**
 * Whether a server at `have` has applied everything up to `want` (what MASTER_GTID_WAIT(want)
 * waits for): for every domain of `want`, `have` holds that domain at a sequence number at least
 * as high. A domain missing from `have` means nothing of it was applied.
 */
export function gtidCovers(have: GtidPosition, want: GtidPosition): boolean {
  for (const w of want.values()) {
    const h = have.get(w.domain);
    if (!h || h.seq < w.seq) return false;
  }
  return true;
}

/**
 * How position `a` relates to position `b`:
 * - `equal`: same sequence number in every domain (a domain missing on one side counts as 0);
 * - `ahead` / `behind`: `a` covers `b` but not the reverse, or the reverse;
 * - `diverged`: neither covers the other (ahead in one domain, behind in another), or both hold
 *   the same sequence number of a domain from different servers: two histories, which
 *   gtid_strict_mode exists to prevent, and which no amount of waiting resolves.
 */
export function compareGtidPos(a: GtidPosition, b: GtidPosition): "equal" | "ahead" | "behind" | "diverged" {
  let ahead = false;
  let behind = false;
  for (const domain of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(domain);
    const y = b.get(domain);
    const xs = x?.seq ?? 0n;
    const ys = y?.seq ?? 0n;
    if (xs > ys) ahead = true;
    else if (xs < ys) behind = true;
    else if (x && y && x.server !== y.server) return "diverged";
  }
  if (ahead && behind) return "diverged";
  if (ahead) return "ahead";
  if (behind) return "behind";
  return "equal";
}
