import { CLIENT_ERRORS, RwsplitError } from "../errors.js";
import {
  type BackendConnection,
  type BackendCredentials,
  type BackendEndpoint,
  BackendState,
  type ByteCounts,
} from "./backend-connection.js";
import { type Connector, connectBackend } from "./backend-login.js";
import { KEPT_FOR_MS, Keep, takeIdle } from "./idle-connections.js";
import { StatementBudget } from "./statement-budget.js";

export interface PoolOptions {
  maxPerBackend: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  pingAfterIdleMs: number;
  acquireTimeoutMs: number;
}

/**
 * What makes two backend connections interchangeable: same user, same wire-format flags (so
 * result bytes can be relayed unchanged), same MariaDB extended capabilities among those that
 * change the wire format, and same handshake collation.
 */
export interface PoolKey {
  user: string;
  wireFlags: number;
  /** MARIADB_WIRE_FORMAT_CAPABILITIES the client negotiated (0 in front of MySQL). */
  mariadbFlags: number;
  collation: number;
  /** The generation of the servers' session globals the session logged in with (server-globals.ts). */
  globals: number;
}

export function poolKeyString(k: PoolKey): string {
  return `${k.user}\u0000${k.wireFlags}\u0000${k.mariadbFlags}\u0000${k.collation}\u0000${k.globals}`;
}

export interface AcquireRequest {
  key: PoolKey;
  keyString: string;
  credentials: BackendCredentials;
  schema: string | null;
}

interface Waiter {
  req: AcquireRequest;
  resolve: (c: BackendConnection) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * SQL run on every new backend connection: MariaDB then reports, in each OK packet, the session
 * variables a statement changed, the schema, and whether other session state (user variables,
 * temporary tables, prepared statements) changed. That is how sessions are tracked.
 */
export const SESSION_TRACK_INIT_SQL =
  "SET SESSION session_track_system_variables='*', session_track_schema=ON, session_track_state_change=ON";

export interface PoolStats {
  open: number;
  idle: number;
  busy: number;
  waiting: number;
  connecting: number;
  max: number;
  statements: StatementStats;
}

/** Prepared statements on this backend's connections (statement-cache.ts). */
export interface StatementStats {
  /** Open on the server through rwsplit's connections. */
  prepared: number;
  /** Of those, the ones no client statement holds. */
  cached: number;
  /** How many unreferenced ones a connection may keep now. */
  cachePerConnection: number;
  /** The server's max_prepared_stmt_count as last learned, or null. */
  serverLimit: number | null;
}

/**
 * The connections to one backend server. Idle connections are kept per PoolKey; the limit counts
 * every connection to this backend of one user (open + connecting). A client that finds none
 * free waits up to `acquireTimeoutMs`, then gets ERR 1040, never a silent hang (ProxySQL #1347).
 */
export class BackendPool {
  private readonly idle = new Map<string, BackendConnection[]>();
  private readonly openByUser = new Map<string, number>();
  /** Connections open or being opened, all users together (the sum of `openByUser`). */
  private openCount = 0;
  private readonly waiters: Waiter[] = [];
  private readonly all = new Set<BackendConnection>();
  private connecting = 0;
  private closed = false;
  /** Draining (src/cluster/drain.ts): connections given back are closed, not kept idle. */
  private draining = false;
  private readonly reaper: NodeJS.Timeout;
  /** Failures to connect, for the monitor and /backends. */
  lastError: string | null = null;
  onConnectError: ((err: RwsplitError) => void) | null = null;
  /** How many unreferenced prepared statements each connection may keep (statement-budget.ts). */
  readonly statementBudget = new StatementBudget({
    takeIdle: () => this.takeIdleWithStatements(),
    giveBack: (conn) => this.release(conn, poolKeyString(conn)),
    trimIdle: () => this.trimIdle(),
  });
  /**
   * The server's `@@global.max_allowed_packet` as the monitor last read it (null before): the
   * primary's bounds the packets a new client session may send (client-session.ts).
   */
  serverMaxAllowedPacket: number | null = null;
  /** Bytes to and from this backend over all its connections (rwsplit_bytes_total{backend}). */
  readonly bytes: ByteCounts = { in: 0, out: 0 };

  constructor(
    readonly endpoint: BackendEndpoint,
    private readonly opts: PoolOptions,
    /** Opens a connection: TCP and login in production, a scripted backend in unit tests. */
    private readonly connect: Connector = connectBackend,
  ) {
    this.reaper = setInterval(() => this.reapIdle(), Math.min(1000, Math.max(100, opts.idleTimeoutMs / 4)));
    this.reaper.unref();
  }

  /**
   * A ready idle connection, synchronously, or null (hot path: no promise). `noSchema`: only a
   * connection with no default database will do (a session without one must not find another
   * session's tables; no command takes a connection's database away).
   */
  tryAcquire(keyString: string, now: number, noSchema = false): BackendConnection | null {
    const list = this.idle.get(keyString);
    if (list === undefined) return null;
    const conn = takeIdle(list, noSchema, now, false);
    if (conn === null) return null;
    if (now - conn.lastUsedAt > this.opts.pingAfterIdleMs) {
      // Long idle: may have been closed by the server's wait_timeout. Checked asynchronously.
      list.push(conn);
      return null;
    }
    conn.state = BackendState.LEASED;
    return conn;
  }

  async acquire(req: AcquireRequest): Promise<BackendConnection> {
    if (this.closed) throw new RwsplitError("SHUTTING_DOWN");
    const list = this.idle.get(req.keyString);
    // Connections kept for another session's next statement are taken only at the limit.
    let kept = false;
    for (;;) {
      const conn = list === undefined ? null : takeIdle(list, req.schema === null, Date.now(), kept);
      if (conn === null) {
        if (kept || this.countFor(req.key.user) < this.opts.maxPerBackend) break;
        kept = true;
        continue;
      }
      conn.state = BackendState.LEASED;
      if (Date.now() - conn.lastUsedAt > this.opts.pingAfterIdleMs) {
        // mysqljs/mysql #1816: a pooled connection killed by wait_timeout must not reach a client.
        try {
          const r = await conn.ping();
          if (r.err) throw new RwsplitError("BACKEND_REFUSED", r.err.message);
        } catch {
          conn.destroy();
          continue;
        }
      }
      return conn;
    }
    if (this.countFor(req.key.user) < this.opts.maxPerBackend) return this.open(req);
    // At the limit: an idle connection of the same user with other wire flags can make room.
    if (this.evictIdleOf(req.key.user)) return this.open(req);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        const spec = CLIENT_ERRORS.poolTimeout(this.endpoint.name, this.opts.acquireTimeoutMs);
        reject(new RwsplitError("POOL_EXHAUSTED", spec.message));
      }, this.opts.acquireTimeoutMs);
      const waiter: Waiter = { req, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }

  private countFor(user: string): number {
    return this.openByUser.get(user) ?? 0;
  }

  private async open(req: AcquireRequest): Promise<BackendConnection> {
    const user = req.key.user;
    this.openByUser.set(user, this.countFor(user) + 1);
    this.openCount++;
    this.connecting++;
    let conn: BackendConnection;
    try {
      conn = await this.connect({
        endpoint: this.endpoint,
        credentials: req.credentials,
        wireFlags: req.key.wireFlags,
        mariadbFlags: req.key.mariadbFlags,
        collation: req.key.collation,
        schema: req.schema,
        connectTimeoutMs: this.opts.connectTimeoutMs,
        initSql: SESSION_TRACK_INIT_SQL,
      });
    } catch (e) {
      this.connecting--;
      this.openByUser.set(user, this.countFor(user) - 1);
      this.openCount--;
      const err = e instanceof RwsplitError ? e : new RwsplitError("BACKEND_CONNECT_FAILED", String(e));
      this.lastError = err.message;
      this.onConnectError?.(err);
      this.serveWaiters();
      throw err;
    }
    this.connecting--;
    this.lastError = null;
    if (this.closed) {
      conn.quit();
      throw new RwsplitError("SHUTTING_DOWN");
    }
    this.all.add(conn);
    conn.globals = req.key.globals;
    conn.statements.budget = this.statementBudget;
    this.statementBudget.setConnections(this.all.size);
    conn.bytes = this.bytes;
    conn.onClosed = (c) => this.forget(c, user);
    conn.state = BackendState.LEASED;
    return conn;
  }

  /**
   * Returns a connection after a statement (ended at `now`); it goes to a waiter first. `keep`:
   * the session may ask about that statement next (idle-connections.ts Keep).
   */
  release(conn: BackendConnection, keyString: string, now = Date.now(), keep: Keep = Keep.NO): void {
    if (conn.state === BackendState.CLOSED) return;
    if (conn.busy) {
      conn.destroy();
      return;
    }
    conn.lastUsedAt = now;
    conn.releases++;
    conn.keptUntil = 0;
    // Statements released while the connection was busy, or a bound that shrank meanwhile.
    conn.statements.trim();
    const w = this.waiters.length > 0 ? this.takeWaiter(keyString, conn.schema === null) : null;
    if (w !== null) {
      conn.state = BackendState.LEASED;
      w.resolve(conn);
      return;
    }
    if (this.closed || this.draining) {
      conn.quit();
      return;
    }
    conn.state = BackendState.IDLE;
    if (keep === Keep.RESERVED) conn.keptUntil = now + KEPT_FOR_MS;
    let list = this.idle.get(keyString);
    if (list === undefined) {
      list = [];
      this.idle.set(keyString, list);
    }
    if (keep !== Keep.NO) list.unshift(conn);
    else list.push(conn);
    if (this.waiters.length > 0) this.serveWaiters();
  }

  /**
   * `conn` leased again, if it is idle and has not been leased since its `releases`-th release
   * (what its last statement left, warnings, row counts, is still there); else null.
   */
  takeBack(
    conn: BackendConnection,
    keyString: string,
    releases: number,
    now: number,
  ): BackendConnection | null {
    if (conn.state !== BackendState.IDLE || conn.releases !== releases) return null;
    if (now - conn.lastUsedAt > this.opts.pingAfterIdleMs) return null;
    const list = this.idle.get(keyString);
    const i = list === undefined ? -1 : list.lastIndexOf(conn);
    if (i < 0) return null;
    list!.splice(i, 1);
    conn.state = BackendState.LEASED;
    conn.keptUntil = 0;
    return conn;
  }

  /** The first waiter this connection can serve (one with a default database, or none: `noSchema`). */
  private takeWaiter(keyString: string, noSchema: boolean): Waiter | null {
    const i = this.waiters.findIndex(
      (w) => w.req.keyString === keyString && (noSchema || w.req.schema !== null),
    );
    if (i < 0) return null;
    const [w] = this.waiters.splice(i, 1);
    clearTimeout(w!.timer);
    return w!;
  }

  /** A waiter whose key has no idle connection: open one if the limit allows, or evict. */
  private serveWaiters(): void {
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i]!;
      const user = w.req.key.user;
      if (this.countFor(user) < this.opts.maxPerBackend || this.evictIdleOf(user)) {
        this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        this.open(w.req).then(w.resolve, w.reject);
        return;
      }
    }
  }

  private evictIdleOf(user: string): boolean {
    for (const list of this.idle.values()) {
      for (let i = 0; i < list.length; i++) {
        const conn = list[i]!;
        if (conn.user === user && conn.state === BackendState.IDLE) {
          list.splice(i, 1);
          conn.quit();
          return true;
        }
      }
    }
    return false;
  }

  private forget(conn: BackendConnection, user: string): void {
    if (!this.all.delete(conn)) return;
    this.openByUser.set(user, this.countFor(user) - 1);
    this.openCount--;
    this.statementBudget.setConnections(this.all.size);
    if (this.waiters.length > 0) this.serveWaiters();
  }

  private reapIdle(): void {
    const now = Date.now();
    for (const list of this.idle.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const conn = list[i]!;
        if (conn.state !== BackendState.IDLE) {
          list.splice(i, 1);
        } else if (now - conn.lastUsedAt > this.opts.idleTimeoutMs) {
          list.splice(i, 1);
          conn.quit();
        }
      }
    }
  }

  /** The idle connections that cache prepared statements, taken out of the pool (leased). */
  private takeIdleWithStatements(): BackendConnection[] {
    const out: BackendConnection[] = [];
    for (const list of this.idle.values()) {
      for (let i = list.length - 1; i >= 0; i--) {
        const conn = list[i]!;
        if (conn.state !== BackendState.IDLE || conn.statements.cached === 0) continue;
        list.splice(i, 1);
        conn.state = BackendState.LEASED;
        out.push(conn);
      }
    }
    return out;
  }

  private trimIdle(): void {
    for (const list of this.idle.values()) {
      for (const conn of list) if (conn.state === BackendState.IDLE) conn.statements.trim();
    }
  }

  /** No connection free and none may be opened for this user: a read should go elsewhere. */
  exhausted(user: string): boolean {
    // Asked per replica per read: no user is at the limit while all of them together are below it.
    if (this.openCount < this.opts.maxPerBackend) return false;
    if (this.countFor(user) < this.opts.maxPerBackend) return false;
    for (const list of this.idle.values()) if (list.length > 0) return false;
    return true;
  }

  stats(): PoolStats {
    let idle = 0;
    for (const list of this.idle.values()) for (const c of list) if (c.state === BackendState.IDLE) idle++;
    let prepared = 0;
    let cached = 0;
    for (const c of this.all) {
      prepared += c.statements.size;
      cached += c.statements.cached;
    }
    const budget = this.statementBudget;
    return {
      open: this.all.size,
      idle,
      busy: this.all.size - idle,
      waiting: this.waiters.length,
      connecting: this.connecting,
      max: this.opts.maxPerBackend,
      statements: {
        prepared,
        cached,
        cachePerConnection: budget.perConnection,
        serverLimit: budget.serverLimit,
      },
    };
  }

  /** Connections open or being opened: what a drain waits for (src/cluster/drain.ts). */
  get connectionCount(): number {
    return this.all.size + this.connecting;
  }

  /**
   * Draining (a backend taken out of service, issue #18): idle connections close now, and each
   * connection given back closes instead of waiting idle, so the pool empties as the statements
   * and pinned sessions using it finish. Off again (undrain): connections are kept as before.
   */
  setDraining(on: boolean): void {
    this.draining = on;
    if (on) for (const list of this.idle.values()) for (const c of list.splice(0)) c.quit();
  }

  /** Destroys every connection, the pool staying usable (a drain's deadline passed). */
  dropAll(): void {
    for (const list of this.idle.values()) list.splice(0);
    for (const c of [...this.all]) c.destroy();
  }

  /** Closes idle connections now, the rest when released; rejects waiters. */
  close(): void {
    this.closed = true;
    clearInterval(this.reaper);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new RwsplitError("SHUTTING_DOWN"));
    }
    for (const list of this.idle.values()) for (const c of list.splice(0)) c.quit();
  }

  /** Destroys every connection (after the drain timeout). */
  destroyAll(): void {
    this.close();
    for (const c of [...this.all]) c.destroy();
  }
}
