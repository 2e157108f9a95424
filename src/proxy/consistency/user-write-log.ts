import type { Consistency } from "../../config/types.js";
import { readAfter, type UserWriteRecord, UserWrites } from "../../routing/user-writes.js";

/** How the per-user records are kept, as /backends shows it under `consistency`. */
export interface SharingStatus {
  /** "redis": shared with the other instances on redis.url; "local": this instance's alone. */
  shared: "redis" | "local";
  /** Why sharing is (or last was) failing; null when it works or is not configured. */
  lastError: string | null;
  /** Users whose last write still counts. */
  users: number;
  /** Records dropped to stay within the bound while they still counted. */
  evicted: number;
}

/**
 * The data path's side of `routing.consistency: user`: sessions report their writes here (the
 * GTID each write's OK carried) and ask, per read, whether their user wrote within the window and
 * which position the read must see. One per proxy, shared by all its sessions; this one keeps the
 * records in this process (redis-user-writes.ts shares them between instances).
 */
export class UserWriteLog {
  readonly writes: UserWrites;

  constructor(windowMs: number, maxUsers?: number) {
    this.writes = new UserWrites(windowMs, maxUsers);
  }

  /** A session of `user` wrote; its OK reported `gtid` (`last_gtid`). */
  wrote(user: string, gtid: string): void {
    this.writes.wrote(user, gtid, Date.now());
  }

  /**
   * The user's record while it counts (the hot path: a Map lookup, nothing when nobody wrote).
   * Asked twice per read (the route, then the replica's pick): when nobody wrote, the clock is
   * not read, which costs ~45 ns per read here (Date.now()).
   */
  record(user: string): UserWriteRecord | null {
    return this.writes.empty ? null : this.writes.get(user, Date.now());
  }

  /**
   * A session of `user` is logging in: what to wait for before answering its login (the user's
   * writes through other instances), or null when there is nothing to wait for.
   */
  loggingIn(_user: string): Promise<void> | null {
    return null;
  }

  status(): SharingStatus {
    return {
      shared: "local",
      lastError: null,
      users: this.writes.size(Date.now()),
      evicted: this.writes.evicted,
    };
  }

  start(): void {}

  async stop(): Promise<void> {}
}

/** What the session core asks: the position a read must see, or null (see readAfter). */
export function sessionReadAfter(
  scope: Consistency,
  log: UserWriteLog | undefined,
  user: string | null,
  sessionGtid: string | null,
): string | null {
  const record = scope === "user" && log !== undefined && user !== null ? log.record(user) : null;
  return readAfter(scope, sessionGtid, record);
}
