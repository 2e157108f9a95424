import { canonicalGtid, formatGtidPos, type Gtid, type GtidPosition, parseGtidPos } from "../monitor/gtid.js";

/**
 * Each user's last writes, for read-your-writes across a user's connections
 * (`routing.consistency: user`): every OK packet of a write carries the transaction's GTID in
 * MariaDB's session tracking (`last_gtid`, "domain-server-seq"), and any session of that user then
 * reads, for `window` ms after the user's last write, only where that GTID has been applied.
 * Pure: the caller passes the time.
 *
 * A record is a position, not one GTID: the highest sequence number per replication domain the
 * user's writes reported ("0-1-100,1-2-7" after writes in domains 0 and 1), so that waiting for it
 * waits for every one of them. Within a domain sequence numbers only grow (gtid_strict_mode), so a
 * newer GTID replaces an older one of its domain whatever the order the reports arrive in (two
 * sessions, two rwsplit instances); one of another domain is added beside it.
 *
 * Bounded: at most `maxUsers` records (the least recently written go first when more arrive, each
 * eviction counted), and a record past its time is dropped when looked at or when the oldest
 * records are swept on each write. The Map keeps records in the order they were last written, so
 * the sweep stops at the first live one.
 */

export interface UserWriteRecord {
  /** The highest GTID per domain the user's writes reported. */
  readonly position: GtidPosition;
  /** The position's canonical text, as the picker and MASTER_GTID_WAIT take it. */
  readonly text: string;
  /** When the last write stops counting: the time of the user's last write plus the window. */
  readonly expiresAt: number;
}

export class UserWrites {
  private readonly records = new Map<string, UserWriteRecord>();
  /** Records dropped to stay within maxUsers while they still counted. */
  evicted = 0;
  /** The user merged last: its record, if still held, is the Map's last entry. */
  private lastWriter: string | null = null;

  constructor(
    readonly windowMs: number,
    readonly maxUsers = 100_000,
  ) {}

  /**
   * A session of `user` wrote: its OK reported `gtid` (one GTID, or a position list) at `now`.
   * Returns the user's record after the merge, or null when `gtid` is not a GTID.
   */
  wrote(user: string, gtid: string, now: number): UserWriteRecord | null {
    return this.merge(user, gtid, now + this.windowMs, now);
  }

  /**
   * What another rwsplit instance knows of `user` (through Redis), counting until `expiresAt`:
   * merged into this instance's record, which then counts until the later of the two times.
   */
  learn(user: string, position: string, expiresAt: number, now: number): UserWriteRecord | null {
    if (expiresAt <= now) return this.get(user, now);
    return this.merge(user, position, expiresAt, now);
  }

  /** No user has a record (whether or not it still counts): every `get` answers null. */
  get empty(): boolean {
    return this.records.size === 0;
  }

  /** The user's record while it counts, else null. The hot path: one Map lookup. */
  get(user: string, now: number): UserWriteRecord | null {
    if (this.records.size === 0) return null;
    const r = this.records.get(user);
    if (r === undefined) return null;
    if (r.expiresAt > now) return r;
    this.records.delete(user);
    return null;
  }

  /** Records that still count (sweeps the expired ones first). */
  size(now: number): number {
    for (const [user, r] of this.records) if (r.expiresAt <= now) this.records.delete(user);
    return this.records.size;
  }

  private merge(user: string, gtid: string, expiresAt: number, now: number): UserWriteRecord | null {
    const prev = this.get(user, now);
    let position: GtidPosition;
    let text: string;
    // The usual report: one canonical GTID, in the one domain the user writes to (every write
    // of a session's COMMIT): no regular expression, no list to sort and join.
    const one = canonicalGtid(gtid);
    if (one !== null && (prev === null || (prev.position.size === 1 && prev.position.has(one.domain)))) {
      const had = prev?.position.get(one.domain);
      if (had !== undefined && had.seq >= one.seq) {
        position = prev!.position;
        text = prev!.text;
      } else {
        position = new Map<number, Gtid>().set(one.domain, one);
        text = gtid;
      }
    } else {
      const add = parseGtidPos(gtid);
      if (add === null || add.size === 0) return null;
      position = prev === null ? add : mergePositions(prev.position, add);
      text = prev !== null && position === prev.position ? prev.text : formatGtidPos(position);
    }
    const record: UserWriteRecord = {
      position,
      text,
      expiresAt: prev === null ? expiresAt : Math.max(prev.expiresAt, expiresAt),
    };
    // Delete first: a Map keeps insertion order, so the record moves to the back (newest). The
    // user written last is at the back already (or gone, and set puts it there): no delete.
    if (user !== this.lastWriter) this.records.delete(user);
    this.records.set(user, record);
    this.lastWriter = user;
    this.sweep(now, 2);
    while (this.records.size > this.maxUsers) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
      this.evicted++;
    }
    return record;
  }

  /** Drops expired records from the front (the least recently written), at most `max` of them. */
  private sweep(now: number, max: number): void {
    let n = 0;
    for (const [user, r] of this.records) {
      if (r.expiresAt > now || n >= max) return;
      this.records.delete(user);
      n++;
    }
  }
}

/**
 * `have` with `add` merged in: per domain, the GTID with the higher sequence number. Returns
 * `have` itself when `add` brings nothing newer (no allocation on a repeated report).
 */
export function mergePositions(have: GtidPosition, add: GtidPosition): GtidPosition {
  let out: Map<number, Gtid> | null = null;
  for (const g of add.values()) {
    const h = have.get(g.domain);
    if (h !== undefined && h.seq >= g.seq) continue;
    out ??= new Map(have);
    out.set(g.domain, g);
  }
  return out ?? have;
}

/**
 * The position a read must see (null: none), for the configured scope:
 *   eventual, primary   nothing (the router never asks for a caught-up replica)
 *   session             the session's own last write
 *   user                the session's own last write and its user's record (which includes the
 *                       session's writes while it counts; once it expired, the session still
 *                       sees its own writes, as with `session`)
 */
export function readAfter(
  scope: "user" | "session" | "eventual" | "primary",
  sessionGtid: string | null,
  user: UserWriteRecord | null,
): string | null {
  if (scope === "session") return sessionGtid;
  if (scope !== "user") return null;
  if (user === null) return sessionGtid;
  if (sessionGtid === null) return user.text;
  const own = parseGtidPos(sessionGtid);
  if (own === null) return user.text;
  const merged = mergePositions(user.position, own);
  return merged === user.position ? user.text : formatGtidPos(merged);
}
