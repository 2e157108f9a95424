import type { Connection } from "mysql2/promise";
import type { Logger } from "pino";
import { ERRNO, serverErrno } from "../../errors.js";
import { type AccountContext, fromGlobalPriv, fromMysqlUser, type ServerAccount } from "./account-record.js";

/**
 * Reads the primary's accounts (auth.from_backend) with its own account, never a client's:
 * at start, every `refreshIntervalMs`, and on demand (`refreshSoon`: an unknown user name or a
 * wrong password), at most once per `refreshMinGapMs` however many logins ask. Every login that
 * asks waits for a load that *starts* after it asked, so an account created a moment ago is
 * found, and the primary sees at most one load per gap.
 *
 * A failed load keeps the accounts of the last good one and is logged (without the query's
 * rows: hashes never reach a log).
 */

export interface AccountSnapshot {
  accounts: ServerAccount[];
  /** skip_name_resolve=OFF: the server matches host-name accounts, so rwsplit does too. */
  resolveNames: boolean;
  /** Where they came from: "mysql.global_priv" (MariaDB 10.4+) or "mysql.user" (MySQL). */
  source: string;
}

export interface LoaderEndpoint {
  name: string;
  host: string;
  port: number;
}

export type FetchAccounts = (
  endpoint: LoaderEndpoint,
  credentials: { user: string; password: string },
  timeoutMs: number,
) => Promise<AccountSnapshot>;

export interface AccountLoaderOptions {
  /** The current primary (it moves on failover). */
  primary: () => LoaderEndpoint;
  credentials: { user: string; password: string };
  refreshIntervalMs: number;
  refreshMinGapMs: number;
  /** Deadline for one load: connect, both queries. */
  timeoutMs: number;
  logger: Logger;
  onLoad: (snapshot: AccountSnapshot) => void;
  /** The query, replaceable in tests. */
  fetch?: FetchAccounts;
}

export class AccountLoader {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private lastStart = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private sleeping: { timer: NodeJS.Timeout; wake: () => void } | null = null;
  private stopped = false;
  private failing = false;
  /** Loads done (successful or not), for tests and /sessions-like views. */
  loads = 0;
  lastError: string | null = null;
  lastLoadedAt: number | null = null;

  constructor(private readonly opts: AccountLoaderOptions) {}

  /** The first load (a failure is logged, not thrown: logins retry it), then the periodic timer. */
  async start(): Promise<void> {
    await this.load();
    this.timer = setInterval(() => {
      if (this.running === null && this.next === null) void this.load();
    }, this.opts.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.sleeping !== null) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.wake();
    }
  }

  /**
   * A load that starts after this call, no sooner than `refreshMinGapMs` after the previous one
   * started; callers meanwhile share it. Never rejects.
   */
  refreshSoon(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.next !== null) return this.next;
    const after = this.running ?? Promise.resolve();
    const next = after.then(async () => {
      const wait = this.lastStart + this.opts.refreshMinGapMs - Date.now();
      if (wait > 0 && !this.stopped) await this.sleep(wait);
      this.next = null;
      if (!this.stopped) await this.load();
    });
    this.next = next;
    return next;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.sleeping = null;
        resolve();
      };
      this.sleeping = { timer: setTimeout(wake, ms), wake };
    });
  }

  private load(): Promise<void> {
    this.lastStart = Date.now();
    const run = this.fetchOnce().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  private async fetchOnce(): Promise<void> {
    const endpoint = this.opts.primary();
    const fetch = this.opts.fetch ?? fetchAccounts;
    try {
      const snapshot = await fetch(endpoint, this.opts.credentials, this.opts.timeoutMs);
      this.loads++;
      this.lastError = null;
      this.lastLoadedAt = Date.now();
      this.opts.onLoad(snapshot);
      const log = { backend: endpoint.name, accounts: snapshot.accounts.length, source: snapshot.source };
      if (this.failing) this.opts.logger.info(log, "server accounts loaded again");
      else this.opts.logger.debug(log, "server accounts loaded");
      this.failing = false;
    } catch (e) {
      this.loads++;
      const message = explain(e, this.opts.credentials.user);
      this.lastError = message;
      // Once per failure streak at warn; a primary that stays away is already reported elsewhere.
      const level = this.failing ? "debug" : "warn";
      this.opts.logger[level](
        { backend: endpoint.name, err: message },
        "could not load accounts from the primary (auth.from_backend); keeping the last ones loaded",
      );
      this.failing = true;
    }
  }
}

/** The load's error, saying which grant is missing when that is the cause. */
function explain(e: unknown, user: string): string {
  const err = e as { errno?: number; message?: string };
  if (err.errno === ERRNO.ER_TABLEACCESS_DENIED_ERROR || err.errno === ERRNO.ER_COLUMNACCESS_DENIED_ERROR) {
    return `${err.message}: grant it with GRANT SELECT ON mysql.global_priv TO '${user}'@'...' (MariaDB 10.4+) or GRANT SELECT ON mysql.user (MySQL)`;
  }
  if (err.errno === ERRNO.ER_BAD_FIELD_ERROR) {
    return `${err.message}: the primary's mysql.user lacks MySQL 5.7+'s columns; accounts are read from mysql.global_priv (MariaDB 10.4+) or mysql.user (MySQL 5.7+)`;
  }
  return err.message ?? String(e);
}

const GLOBAL_PRIV = "SELECT User, Host, Priv FROM mysql.global_priv";
const MYSQL_USER =
  "SELECT User, Host, plugin, authentication_string, account_locked, password_expired, " +
  "UNIX_TIMESTAMP(password_last_changed) AS password_last_changed, password_lifetime, ssl_type FROM mysql.user";
const VARIABLES = "SELECT @@default_password_lifetime AS lifetime, @@skip_name_resolve AS skip_resolve";

type Row = Record<string, unknown>;

/** One short connection: the two server variables, then the accounts. */
export const fetchAccounts: FetchAccounts = async (endpoint, credentials, timeoutMs) => {
  // Loaded here, with auth.from_backend only: a worker process of `--workers N` loads no mysql2.
  const [{ default: mysql }, { MYSQL2_OPTIONS }] = await Promise.all([
    import("mysql2/promise"),
    import("../../mysql-client.js"),
  ]);
  const conn = await mysql.createConnection({
    host: endpoint.host,
    port: endpoint.port,
    user: credentials.user,
    password: credentials.password,
    connectTimeout: timeoutMs,
    supportBigNumbers: true,
    ...MYSQL2_OPTIONS,
  });
  conn.on("error", () => {});
  const query = async (sql: string) => (await conn.query({ sql, timeout: timeoutMs }))[0] as Row[];
  try {
    const vars = (await query(VARIABLES))[0] ?? {};
    const ctx: AccountContext = {
      nowSec: Math.floor(Date.now() / 1000),
      defaultPasswordLifetimeDays: Number(vars.lifetime ?? 0) || 0,
    };
    const resolveNames = Number(vars.skip_resolve ?? 1) === 0;
    let accounts: (ServerAccount | null)[];
    let source = "mysql.global_priv";
    try {
      accounts = (await query(GLOBAL_PRIV)).map((r) => fromGlobalPriv(r.User, r.Host, r.Priv, ctx));
    } catch (e) {
      if (serverErrno(e) !== ERRNO.ER_NO_SUCH_TABLE) throw e;
      source = "mysql.user";
      accounts = (await query(MYSQL_USER)).map((r) => fromMysqlUser(r, ctx));
    }
    return { accounts: accounts.filter((a): a is ServerAccount => a !== null), resolveNames, source };
  } finally {
    await quit(conn, timeoutMs);
  }
};

/** COM_QUIT within the deadline, then the socket closed whatever the server did with it. */
async function quit(conn: Connection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    conn.end().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  conn.destroy();
  (conn as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
}
