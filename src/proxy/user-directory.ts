import { createHash } from "node:crypto";
import type { UserConfig } from "../config/types.js";
import { isNativeHash, parseNativeHash } from "../protocol/auth/native-password.js";
import type { AccountSnapshot } from "./accounts/account-loader.js";
import type { ServerAccount } from "./accounts/account-record.js";
import { AccountTable } from "./accounts/account-table.js";
import type { HostNames } from "./accounts/host-names.js";
import type { BackendCredentials } from "./backend-connection.js";

/** Why a correct password still does not log in (server accounts), as the server would refuse. */
export type AccountRefusal = "locked" | "expired" | "tls";

export interface ProxyUser {
  name: string;
  /** The account's host pattern for accounts loaded from the server; null for configured users. */
  host: string | null;
  /** Plaintext password when configured so; null when only the hash is known. */
  password: string | null;
  /** SHA1(SHA1(password)): what mysql_native_password verification needs. */
  stage2: Buffer;
  /**
   * SHA1(password): known from the start with a plaintext password, learnt at the first
   * successful native login otherwise (the client's token reveals it), needed to log in to
   * backends as this user. Always consistent with `stage2`: a server account whose hash changes
   * is a new ProxyUser, so sessions logged in before keep the stage1 of their own login.
   */
  stage1: Buffer | null;
  defaultSchema: string | null;
  refusal: AccountRefusal | null;
}

export type UserLookup =
  | { kind: "user"; user: ProxyUser }
  /** A server account no proxy can log in as (ed25519, unix_socket, ...): the client is told so. */
  | { kind: "unsupported"; user: string; host: string; plugins: readonly string[] }
  | { kind: "unknown" }
  /** Ask again once `ready` settles; `refresh`: it is a reload of the server accounts. */
  | { kind: "wait"; ready: Promise<void>; refresh: boolean };

/** What the directory needs from the loader of server accounts. */
export interface AccountRefresher {
  refreshSoon(): Promise<void>;
}

/**
 * The users clients may log in as: those configured (`users`), and with `auth.from_backend` the
 * primary's own accounts. A configured name wins over server accounts of that name (its
 * plaintext password also allows caching_sha2_password); other names are looked up among the
 * server accounts by user and client host (accounts/host-pattern.ts).
 */
export class UserDirectory {
  private configured = new Map<string, ProxyUser>();
  /** Users that completed a caching_sha2_password full authentication (the server's "cache"). */
  private readonly sha2Cache = new Set<string>();
  private table: AccountTable | null = null;
  /** Server accounts by 'user'\0'host', kept across reloads while their hash is unchanged. */
  private serverUsers = new Map<string, ProxyUser>();
  /**
   * What backend logins use, one object per user name (the pool key), shared by every session
   * of that name and updated by each native login that proves a newer secret: after a
   * password change, sessions that logged in with the old password keep opening backend
   * connections (the server too keeps a connection that logged in before), once a client has
   * logged in with the new one.
   */
  private readonly backendSecrets = new Map<string, BackendCredentials>();
  /**
   * The same for configured users, following the config: a reload that changes a password
   * updates it in place, so sessions logged in before open their next backend connections with
   * the password the server now wants (rotate it on the server and in the file, then reload).
   */
  private readonly configuredSecrets = new Map<string, BackendCredentials>();

  constructor(
    users: readonly UserConfig[],
    private readonly server: { refresher: AccountRefresher; hostNames: HostNames } | null = null,
  ) {
    this.setConfigured(users);
  }

  /**
   * The configured users (`users`), at start and after a reload: new logins see them at once;
   * sessions logged in before keep going, with the new password for their backend logins.
   */
  setConfigured(users: readonly UserConfig[]): void {
    const next = new Map<string, ProxyUser>();
    for (const u of users) {
      const isHash = isNativeHash(u.password);
      const stage1 = isHash ? null : sha1(Buffer.from(u.password, "utf8"));
      const user: ProxyUser = {
        name: u.name,
        host: null,
        password: isHash ? null : u.password,
        stage2: isHash ? parseNativeHash(u.password) : sha1(stage1!),
        stage1,
        defaultSchema: u.defaultSchema ?? null,
        refusal: null,
      };
      const known = this.configured.get(u.name);
      // Unchanged: keep the object (a hash-only password's SHA1 learnt at a login stays known).
      next.set(
        u.name,
        known?.stage2.equals(user.stage2) ? { ...known, defaultSchema: user.defaultSchema } : user,
      );
      const shared = this.configuredSecrets.get(u.name);
      if (shared !== undefined && !shared.stage2?.equals(user.stage2)) {
        shared.password = user.password;
        shared.stage1 = user.stage1;
        shared.stage2 = user.stage2;
      }
    }
    this.configured = next;
  }

  /** Whether unknown names are looked up among the primary's accounts (auth.from_backend). */
  get fromBackend(): boolean {
    return this.server !== null;
  }

  /** How many server accounts the last load gave (null before any). */
  get serverAccountCount(): number | null {
    return this.table?.size ?? null;
  }

  /** A new load of server accounts (the loader's onLoad). */
  setServerAccounts(snapshot: AccountSnapshot): void {
    const next = new Map<string, ProxyUser>();
    for (const a of snapshot.accounts) {
      if (a.auth.kind !== "native") continue;
      const key = `${a.user}\u0000${a.host}`;
      const known = this.serverUsers.get(key);
      const user: ProxyUser = known?.stage2.equals(a.auth.stage2)
        ? known
        : {
            name: a.user,
            host: a.host,
            password: null,
            stage2: a.auth.stage2,
            stage1: null,
            defaultSchema: null,
            refusal: null,
          };
      user.refusal = refusalOf(a);
      next.set(key, user);
    }
    this.serverUsers = next;
    this.table = new AccountTable(snapshot.accounts, snapshot.resolveNames);
  }

  /** A configured user by name (no server accounts): KILL's second connection and tests. */
  get(name: string): ProxyUser | undefined {
    return this.configured.get(name);
  }

  /**
   * The account `name` logs in as from `clientIp`. May answer "wait" (look the client's host
   * name up; reload the server accounts for an unknown name when `mayRefresh`): ask again once
   * it settles.
   */
  lookup(name: string, clientIp: string, mayRefresh: boolean): UserLookup {
    const configured = this.configured.get(name);
    if (configured !== undefined) return { kind: "user", user: configured };
    if (this.server === null) return { kind: "unknown" };
    const { refresher, hostNames } = this.server;
    const cached = hostNames.cached(clientIp);
    const client = { ip: clientIp, name: cached ?? null };
    const m = this.table?.match(name, client, cached !== undefined) ?? { kind: "none" as const };
    switch (m.kind) {
      case "need-name":
        return { kind: "wait", ready: hostNames.lookup(clientIp), refresh: false };
      case "none":
        return mayRefresh
          ? { kind: "wait", ready: refresher.refreshSoon(), refresh: true }
          : { kind: "unknown" };
      case "account": {
        const a = m.account;
        if (a.auth.kind === "unsupported") {
          return { kind: "unsupported", user: a.user, host: a.host, plugins: a.auth.plugins };
        }
        const user = this.serverUsers.get(`${a.user}\u0000${a.host}`);
        return user === undefined ? { kind: "unknown" } : { kind: "user", user };
      }
    }
  }

  /** A reload of the server accounts (a wrong password may be a changed one); null without them. */
  refresh(): Promise<void> | null {
    return this.server?.refresher.refreshSoon() ?? null;
  }

  learnStage1(user: ProxyUser, stage1: Buffer): void {
    if (user.stage1 === null) user.stage1 = Buffer.from(stage1);
    if (user.host === null) {
      const shared = this.configuredSecrets.get(user.name);
      if (shared !== undefined && shared.stage1 === null && shared.stage2?.equals(user.stage2))
        shared.stage1 = user.stage1;
      return;
    }
    const shared = this.backendSecrets.get(user.name);
    if (shared !== undefined && user.password === null) {
      shared.stage1 = user.stage1;
      shared.stage2 = user.stage2;
    }
  }

  sha2Cached(name: string): boolean {
    return this.sha2Cache.has(name);
  }

  rememberSha2(name: string): void {
    this.sha2Cache.add(name);
  }

  /** The backend login of `user`'s name: for server accounts a shared object (see backendSecrets). */
  credentials(user: ProxyUser): BackendCredentials {
    if (user.host === null) {
      let shared = this.configuredSecrets.get(user.name);
      if (shared === undefined) {
        shared = { user: user.name, password: user.password, stage1: user.stage1, stage2: user.stage2 };
        this.configuredSecrets.set(user.name, shared);
      } else if (shared.stage1 === null && user.stage1 !== null && shared.stage2?.equals(user.stage2)) {
        shared.stage1 = user.stage1;
      }
      return shared;
    }
    let shared = this.backendSecrets.get(user.name);
    if (shared === undefined) {
      shared = { user: user.name, password: null, stage1: user.stage1, stage2: user.stage2 };
      this.backendSecrets.set(user.name, shared);
    }
    return shared;
  }
}

function refusalOf(a: ServerAccount): AccountRefusal | null {
  if (a.locked) return "locked";
  if (a.passwordExpired) return "expired";
  if (a.requiresTls) return "tls";
  return null;
}

function sha1(b: Buffer): Buffer {
  return createHash("sha1").update(b).digest();
}
