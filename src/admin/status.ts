/**
 * What the admin app reads from the running proxy. The proxy implements `StatusSource`; the admin
 * app only calls it per request (no caching), so `/readyz`, `/backends` and `/metrics` always agree
 * with what the router sees at that moment (STYLE.md principle 7: the live state is inspectable).
 */
import type { LagState } from "../balancer/lag-state.js";
import type { DigestListing, DigestSort } from "../digests/store.js";
import type { RwsplitEvent } from "../events/feed.js";

/** One backend as `/backends` shows it. Nothing here may hold a credential. */
export interface BackendStatus {
  /** Stable name from the config (default "host:port"), the same as the `backend` metric label. */
  name: string;
  /** `fenced`: a former primary, never used until rejoined. */
  role: "primary" | "replica" | "fenced";
  host: string;
  port: number;
  /** The last health check connected and answered in time. */
  up: boolean;
  /** `@@read_only`; null while down or before the first check. */
  readOnly: boolean | null;
  /** Replication lag; null when unknown (down, replication stopped) and for the primary. */
  lagMs: number | null;
  lagSource: "heartbeat" | "seconds_behind_master" | null;
  /** Configured weight. */
  weight: number;
  /** Weight after the lag policy (full up to lag.softMs, tapering to 0 at lag.maxMs). */
  effectiveWeight: number;
  /** The balancer may pick it for reads right now. */
  eligible: boolean;
  /** Why it is not eligible ("down", "lag 3400 ms > max 3000 ms", "readmitting 1/3", ...); null when eligible. */
  reason: string | null;
  /** Statements running on it now. */
  inFlight: number;
  pool: {
    open: number;
    idle: number;
    busy: number;
    waiting: number;
    max: number;
    /**
     * Prepared statements open on the server through rwsplit's connections; of those, the ones
     * cached (held by no client statement); how many a connection may cache now; the server's
     * max_prepared_stmt_count as rwsplit last learned it.
     */
    statements?: { prepared: number; cached: number; cachePerConnection: number; serverLimit: number | null };
  };
  lastError: string | null;
  /** ISO 8601 time of the last finished check; null before the first. */
  lastCheckAt: string | null;
  /** MariaDB `gtid_current_pos` (else `gtid_slave_pos`) at the last check; null when down or unknown. */
  gtidPosition: string | null;
  /**
   * A replica's lag policy state (src/balancer/lag-state.ts): its last lag while it replicated,
   * since when its IO thread has been retrying, whether it serves on that remembered lag
   * (orphaned), and the lag the balancer used. Null for the primary, fenced backends, and before
   * the first check.
   */
  lagPolicy: LagState | null;
  /**
   * Taken out of service (`rwsplit drain`, or removed from the config by a reload): no new
   * reads; `draining` while statements and pinned sessions on it finish, then `drained`. Null
   * while it serves.
   */
  drain?: DrainStatus | null;
}

/** A backend's drain (src/cluster/drain.ts), as `/backends` shows it. */
export interface DrainStatus {
  state: "draining" | "drained";
  /** maintenance: `rwsplit drain` (undone by `rwsplit undrain`); removal: the config no longer lists it. */
  purpose: "maintenance" | "removal";
  since: string;
  /** When what is still open on it is closed (drain_timeout). */
  deadline: string;
  drainedAt: string | null;
  /** Drained by the deadline: connections still in use were closed. */
  forced: boolean;
}

/** Read-your-writes as `/backends` shows it (routing.consistency). */
export interface ConsistencyStatus {
  scope: "user" | "session" | "eventual" | "primary";
  windowMs: number;
  waitMs: number;
  /** user: "redis" while users' last writes are shared through redis.url; "local": this instance's own. */
  shared: "redis" | "local";
  /** Why sharing through Redis fails now; null when it works or is not configured. */
  lastError: string | null;
  /** user: users whose last write still counts. */
  users: number;
  /** user: records dropped to stay within the bound while they still counted. */
  evicted: number;
}

export interface StatusSource {
  /** The client listener is bound and accepting. */
  listening(): boolean;
  /** The last primary health check succeeded (writes can be served). */
  primaryReachable(): boolean;
  backends(): BackendStatus[];
  /** The replication topology as the monitor sees it (shape owned by the monitor); shown at `/topology`. */
  topology?(): unknown;
  /** Client sessions: user, schema, tracked variables, and why a session is pinned; at `/sessions`. */
  sessions?(): unknown;
  /** Query digests, at `/digests` and on the status page. */
  digests?: {
    /** Worker processes answer asynchronously (their listings merged). */
    list(sort: DigestSort, limit: number): DigestListing | Promise<DigestListing>;
    reset(): void;
    /** The top statements by total time as last gathered, where `list` is asynchronous (the status page). */
    recent?(): DigestListing | null;
  };
  /** Recent events (exclusions, failovers, ...), newest first; at `/events` and on the status page. */
  events?: { list(limit: number, afterId: number): RwsplitEvent[] };
  /** Read-your-writes: its scope, and how user records are kept; at `/backends` under `consistency`. */
  consistency?(): ConsistencyStatus;
  /** Statements finished so far by kind (the status page's reads and writes per second). */
  statementKinds?(): { read: number; write: number; session: number };
  /** Backups, their schedule and the binlog archive (src/backup/jobs.ts); shown at `/backups`. */
  backups?(): Promise<unknown>;
  /**
   * Topology changes (POST /switchover, /rejoin, /failover). Each resolves with a report of the
   * steps taken, or rejects with an error carrying an HTTP `status` (400, 409, 500, 503).
   */
  control?: {
    switchover(to: string): Promise<unknown>;
    rejoin(name: string): Promise<unknown>;
    failover(): Promise<unknown>;
  };
  /**
   * Changes while running (issue #18): POST /config/reload, /backends/NAME/drain and /undrain,
   * GET /config (also under `config` at /backends). `who` says who asked, for the log. Refusals
   * reject with an error carrying an HTTP `status` (404, 409); a reload whose file has problems
   * resolves with `ok: false` and them.
   */
  runtime?: {
    reload(who: string): Promise<{ ok: boolean }>;
    drain(name: string, who: string): Promise<unknown>;
    undrain(name: string, who: string): Promise<unknown>;
    status(): unknown;
  };
}
