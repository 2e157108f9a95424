import net from "node:net";
import type { Logger } from "pino";
import type { Config } from "../config/types.js";
import { CLIENT_ERRORS, ERRNO } from "../errors.js";
import { ASSUMED_MARIADB, Capability, type ServerProtocol } from "../protocol/constants/capabilities.js";
import { encodeErr } from "../protocol/packets/err.js";
import { AccountLoader } from "./accounts/account-loader.js";
import { HostNames } from "./accounts/host-names.js";
import { connectBackend } from "./backend-login.js";
import { UserWriteLog } from "./consistency/user-write-log.js";
import type { ProxyContext, SessionHooks, SessionPeers, TlsContext } from "./context.js";
import { MARIADB_DEFAULTS, readServerDefaults, type ServerDefaults } from "./server-defaults.js";
import { ClientSession } from "./session/client-session.js";
import { idleLimitMs } from "./session/idle-timeout.js";
import { NodeTransport } from "./session/node-transport.js";
import { Upstreams } from "./upstreams.js";
import { UserDirectory } from "./user-directory.js";

export interface ProxyServerOptions {
  config: Config;
  logger: Logger;
  tls: TlsContext | null;
  hooks?: SessionHooks;
  /** Upstreams to use instead of building them from config (tests, failover). */
  upstreams?: Upstreams;
  /**
   * routing.consistency: user — each user's last write, shared through Redis by app.ts when
   * configured; by default one of this process's own.
   */
  userWrites?: UserWriteLog;
  /** The first connection id to announce (worker processes take disjoint ranges); default 1. */
  firstConnectionId?: number;
  /** The other processes' sessions (worker processes): KILL of an id this one does not hold. */
  peers?: SessionPeers;
}

const NO_HOOKS: SessionHooks = { onStatement() {}, onClientError() {} };

/** What rwsplit calls itself until the primary tells us its version. */
const FALLBACK_VERSION = "5.5.5-10.11.0-MariaDB-rwsplit";

/**
 * The client-facing TCP server: accepts connections up to limits.max_client_connections, runs a
 * ClientSession for each, and drains on shutdown (stop accepting, let statements finish, close).
 */
export class ProxyServer {
  readonly upstreams: Upstreams;
  readonly users: UserDirectory;
  /** auth.from_backend: loads the primary's accounts into `users`. */
  readonly accounts: AccountLoader | null = null;
  /** routing.consistency: user — each user's last write; null for the other scopes. */
  readonly userWrites: UserWriteLog | null;
  private readonly server: net.Server;
  /** Live sessions by connection id (the id each one's handshake announced): KILL finds them here. */
  private readonly sessions = new Map<number, ClientSession>();
  private nextConnectionId: number;
  private draining = false;
  private listening = false;
  private serverVersion = FALLBACK_VERSION;
  /** The primary's protocol as its greeting at start said; MariaDB until it answered. */
  private serverProtocol: ServerProtocol = ASSUMED_MARIADB;
  private serverDefaults: ServerDefaults = MARIADB_DEFAULTS;
  private readonly ctx: ProxyContext;
  /** The stall watchdog's timer (issue #19), while listening. */
  private watchdog: NodeJS.Timeout | null = null;
  /** The config now: the one it started with, then each reload's (`setConfig`). */
  private config: Config;

  constructor(private readonly opts: ProxyServerOptions) {
    this.config = opts.config;
    this.nextConnectionId = opts.firstConnectionId ?? 1;
    this.upstreams = opts.upstreams ?? new Upstreams(opts.config);
    const fromBackend = opts.config.accountsFromBackend;
    if (fromBackend !== undefined) {
      const timeoutMs = opts.config.pool.connectTimeoutMs;
      this.accounts = new AccountLoader({
        primary: () => this.upstreams.primary.endpoint,
        credentials: { user: fromBackend.user, password: fromBackend.password },
        refreshIntervalMs: fromBackend.refreshIntervalMs,
        refreshMinGapMs: fromBackend.refreshMinGapMs,
        timeoutMs,
        logger: opts.logger,
        onLoad: (snapshot) => this.users.setServerAccounts(snapshot),
      });
    }
    this.users = new UserDirectory(
      opts.config.users,
      this.accounts === null
        ? null
        : {
            refresher: this.accounts,
            hostNames: new HostNames(fromBackend!.refreshIntervalMs, opts.config.pool.connectTimeoutMs),
          },
    );
    const routing = opts.config.routing;
    this.userWrites =
      routing.consistency === "user"
        ? (opts.userWrites ?? new UserWriteLog(routing.consistencyWindowMs))
        : null;
    const server = this;
    this.ctx = {
      ...(this.userWrites === null ? {} : { userWrites: this.userWrites }),
      // Read per statement by the sessions, so a reload's routing and failover values apply at once.
      get config() {
        return server.config;
      },
      users: this.users,
      upstreams: this.upstreams,
      tls: opts.tls,
      logger: opts.logger,
      hooks: opts.hooks ?? NO_HOOKS,
      serverVersion: () => this.serverVersion,
      serverProtocol: () => this.serverProtocol,
      serverDefaults: () => this.serverDefaults,
      nextConnectionId: () => this.nextConnectionId++,
      session: (id) => this.sessions.get(id),
      ...(opts.peers === undefined ? {} : { peers: opts.peers }),
      draining: () => this.draining,
    };
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /**
   * A reload's config (the live keys changed; src/config/diff.ts keeps the others as they were):
   * routing, limits and failover values apply from each session's next statement, users from the
   * next login (`users.setConfigured`, by the caller).
   */
  setConfig(config: Config): void {
    this.config = config;
  }

  get clientCount(): number {
    return this.sessions.size;
  }

  isListening(): boolean {
    return this.listening && !this.draining;
  }

  /** Sessions with a statement running on the primary or a transaction open there. */
  primaryWork(): number {
    const primary = this.upstreams.primary;
    let n = 0;
    for (const s of this.sessions.values()) if (s.busyOn(primary)) n++;
    return n;
  }

  sessionsInfo(): Record<string, unknown>[] {
    return [...this.sessions.values()].map((s) => s.describe());
  }

  async start(): Promise<{ host: string; port: number }> {
    await this.learnServerVersion();
    await this.accounts?.start();
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host, port }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.listening = true;
    this.watchdog = setInterval(() => this.sweep(), Math.min(1000, this.config.limits.relayStallWarnMs));
    this.watchdog.unref();
    const addr = this.server.address() as net.AddressInfo;
    this.opts.logger.info({ host: addr.address, port: addr.port }, "rwsplit listening for MySQL clients");
    return { host: addr.address, port: addr.port };
  }

  /**
   * Clients check the server version for features (and "5.5.5-" tells MySQL clients it is
   * MariaDB): announce the primary's own version string, and offer its protocol's capabilities
   * (MariaDB's extended ones in front of MariaDB). Its defaults for new sessions too.
   */
  private async learnServerVersion(): Promise<void> {
    const { primary } = this.config.backends;
    const configured = this.config.users.find((u) => !u.password.startsWith("*"));
    const loader = this.config.accountsFromBackend;
    const user = configured ?? (loader && { name: loader.user, password: loader.password });
    if (user === undefined) return;
    try {
      const conn = await connectBackend({
        endpoint: primary,
        credentials: { user: user.name, password: user.password, stage1: null, stage2: null },
        wireFlags: 0,
        collation: 45,
        schema: null,
        connectTimeoutMs: this.config.pool.connectTimeoutMs,
      });
      this.serverVersion = conn.serverVersion;
      if (conn.server !== null) this.serverProtocol = conn.server;
      this.serverDefaults = await readServerDefaults(conn);
      conn.quit();
    } catch (e) {
      this.opts.logger.warn(
        { err: (e as Error).message },
        "could not reach the primary at start; announcing a generic MariaDB version",
      );
    }
  }

  private accept(socket: net.Socket): void {
    if (this.draining) {
      socket.end(encodeErr(0, CLIENT_ERRORS.shuttingDown()));
      return;
    }
    const limit = this.config.limits.maxClientConnections;
    if (this.sessions.size >= limit) {
      // ER_CON_COUNT_ERROR in place of the greeting, as the server does.
      socket.on("error", () => {});
      socket.end(encodeErr(0, CLIENT_ERRORS.tooManyConnections(limit)));
      this.opts.hooks?.onClientError(ERRNO.ER_CON_COUNT_ERROR);
      return;
    }
    this.ctx.hooks.onClientConnect?.();
    const session = new ClientSession(new NodeTransport(socket), this.ctx, this.sessionClosed);
    this.sessions.set(session.connectionId, session);
  }

  /** Every session's `onClosed` (one function, not a closure per connection). */
  private readonly sessionClosed = (s: ClientSession): void => {
    if (this.sessions.get(s.connectionId) === s && this.sessions.delete(s.connectionId)) {
      this.ctx.hooks.onClientDisconnect?.();
    }
  };

  /**
   * Stops accepting, lets in-flight statements finish (idle sessions close at once, busy ones
   * after their statement), and after `timeoutMs` closes whatever is left.
   */
  /**
   * Once a second: idle sessions past their wait_timeout are closed, as the server would close
   * them; and the stall watchdog (issue #19): a session whose backend reads are paused while its
   * client can take more is logged once with its state and counted, and its reads resume.
   */
  private sweep(): void {
    const now = Date.now();
    const warnMs = this.config.limits.relayStallWarnMs;
    for (const s of this.sessions.values()) {
      const idle = s.idleSince();
      // As the pool key says: a reset or COM_CHANGE_USER starts wait_timeout from the global one.
      const interactive = ((s.login?.key.wireFlags ?? 0) & Capability.INTERACTIVE) !== 0;
      if (idle !== null && now - idle >= idleLimitMs(s.state.vars, interactive, this.serverDefaults)) {
        s.close();
        this.opts.logger.info(
          { session: s.connectionId, user: s.userName },
          "client connection closed after wait_timeout",
        );
        continue;
      }
      if (!s.checkStall(now, warnMs)) continue;
      this.opts.logger.warn(
        { session: s.describe(), stalledMs: warnMs },
        "relay stalled: backend reads paused while the client could take more; resumed (limits.relay_stall_warn)",
      );
      this.ctx.hooks.onRelayStall?.();
    }
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    this.accounts?.stop();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sessions.values()) if (s.phase === "idle" || s.phase === "auth") s.close();
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of [...this.sessions.values()]) s.close();
    this.upstreams.destroyAll();
    await closed;
    this.listening = false;
  }

  /** The ProxyContext its sessions share (a worker process's KILL from another worker). */
  get context(): ProxyContext {
    return this.ctx;
  }

  /** Immediate stop (tests). */
  async close(): Promise<void> {
    await this.drain(0);
  }
}
