import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nativeHash, nativeToken, nativeTokenFromStage1 } from "../../src/protocol/auth/native-password.js";
import { newScramble } from "../../src/protocol/auth/scramble.js";
import { ASSUMED_MARIADB, Capability } from "../../src/protocol/constants/capabilities.js";
import type { Packet } from "../../src/protocol/framing.js";
import { decodeAuthSwitchRequest } from "../../src/protocol/packets/auth-switch-request.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";
import type { AccountSnapshot } from "../../src/proxy/accounts/account-loader.js";
import {
  type AccountContext,
  fromGlobalPriv,
  type ServerAccount,
} from "../../src/proxy/accounts/account-record.js";
import { HostNames, type NameResolver } from "../../src/proxy/accounts/host-names.js";
import { type AuthStep, ClientAuth } from "../../src/proxy/client-auth.js";
import type { ProxyContext } from "../../src/proxy/context.js";
import { UserDirectory } from "../../src/proxy/user-directory.js";

/**
 * Server accounts (auth.from_backend) through the client side of authentication: the token a
 * client computes from its password is checked against the hash from mysql.global_priv, and
 * SHA1(password) recovered from it logs in to the backends. No sockets: packets in, packets out.
 */

const CTX: AccountContext = { nowSec: 2_000_000_000, defaultPasswordLifetimeDays: 0 };
const sha1 = (b: Buffer | string) => createHash("sha1").update(b).digest();

/** An account as mysql.global_priv holds it after CREATE USER user@host IDENTIFIED BY password. */
function account(user: string, host: string, password: string, extra = ""): ServerAccount {
  const priv = `{"plugin":"mysql_native_password","authentication_string":"${nativeHash(password)}","password_last_changed":1${extra}}`;
  return fromGlobalPriv(user, host, priv, CTX)!;
}

function snapshot(accounts: ServerAccount[], resolveNames = false): AccountSnapshot {
  return { accounts, resolveNames, source: "mysql.global_priv" };
}

/** A directory whose "primary" is `accounts`: each refresh reads the array as it is then. */
function directory(
  accounts: ServerAccount[],
  opts: {
    configured?: { name: string; password: string }[];
    resolver?: NameResolver;
    resolveNames?: boolean;
  } = {},
) {
  let refreshes = 0;
  const resolver: NameResolver = opts.resolver ?? {
    reverse: async () => "",
    forward: async () => [],
  };
  const users: UserDirectory = new UserDirectory(opts.configured ?? [], {
    refresher: {
      refreshSoon: async () => {
        refreshes++;
        users.setServerAccounts(snapshot([...accounts], opts.resolveNames));
      },
    },
    hostNames: new HostNames(60_000, 1000, resolver),
  });
  users.setServerAccounts(snapshot([...accounts], opts.resolveNames));
  return { users, refreshes: () => refreshes };
}

const flush = () => new Promise((r) => setImmediate(r));

/** One client's login, driven packet by packet. */
class Login {
  readonly written: Buffer[] = [];
  readonly auth: ClientAuth;
  scramble: Buffer;

  constructor(users: UserDirectory, remoteHost = "10.0.0.7") {
    const ctx = {
      users,
      tls: null,
      serverVersion: () => "10.11.19-MariaDB",
      serverProtocol: () => ASSUMED_MARIADB,
    } as unknown as ProxyContext;
    this.auth = new ClientAuth(ctx, { write: (b) => this.written.push(b), secure: false, remoteHost }, 1);
    this.scramble = decodeHandshakeV10(this.auth.greeting().subarray(4)).scramble;
  }

  respond(user: string, password: string, plugin = "mysql_native_password"): AuthStep {
    const caps = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;
    const frame = encodeHandshakeResponse41(1, {
      capabilities: caps,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      username: user,
      authResponse:
        plugin === "mysql_native_password" ? nativeToken(password, this.scramble) : Buffer.alloc(0),
      database: null,
      authPlugin: plugin,
      attributes: {},
    });
    return this.auth.onPacket(packet(1, frame.subarray(4)));
  }

  /** The AuthSwitchRequest the proxy wrote last: its plugin, and its scramble becomes ours. */
  switched(): string {
    const last = this.written.at(-1)!;
    const sw = decodeAuthSwitchRequest(last.subarray(4));
    this.scramble = sw.data.subarray(0, 20);
    return sw.plugin;
  }

  answer(password: string): AuthStep {
    const seq = this.written.at(-1)![3]! + 1;
    return this.auth.onPacket(packet(seq, nativeToken(password, this.scramble)));
  }
}

function packet(seq: number, payload: Buffer): Packet {
  return { seq, lastSeq: seq, payload, frame: null };
}

function errno(step: AuthStep): number | string {
  if (step.kind === "fail") return step.error.errno;
  return step.kind;
}

describe("mysql_native_password with only the server's hash", () => {
  it("verifies the client's token and recovers SHA1(password), which logs in to backends", () => {
    const { users } = directory([account("alice", "%", "s3cret")]);
    const login = new Login(users);
    const step = login.respond("alice", "s3cret");
    expect(step.kind).toBe("done");
    if (step.kind !== "done") return;
    const creds = users.credentials(step.result.user);
    expect(creds).toMatchObject({ user: "alice", password: null });
    expect(creds.stage1).toEqual(sha1("s3cret"));
    // What the proxy sends a backend equals what a client knowing the password would send.
    const backendScramble = newScramble();
    expect(nativeTokenFromStage1(creds.stage1!, creds.stage2!, backendScramble)).toEqual(
      nativeToken("s3cret", backendScramble),
    );
  });

  it("an account without password logs in with an empty token", () => {
    const { users } = directory([
      fromGlobalPriv("nopw", "%", '{"plugin":"mysql_native_password","authentication_string":""}', CTX)!,
    ]);
    const step = new Login(users).respond("nopw", "");
    expect(step.kind).toBe("done");
    // ... and the empty password is relayed as an empty response.
    if (step.kind === "done") {
      const c = users.credentials(step.result.user);
      expect(nativeTokenFromStage1(c.stage1!, c.stage2!, newScramble())).toEqual(Buffer.alloc(0));
    }
  });

  it("a wrong password is 1045 once a reload shows the same hash (asked again once)", async () => {
    const { users, refreshes } = directory([account("alice", "%", "s3cret")]);
    const login = new Login(users);
    expect(login.respond("alice", "nope")).toEqual({ kind: "continue" });
    await flush();
    expect(refreshes()).toBe(1);
    expect(login.switched()).toBe("mysql_native_password");
    const step = login.answer("nope");
    expect(step.kind === "fail" && step.error.message).toBe(
      "Access denied for user 'alice'@'10.0.0.7' (using password: YES)",
    );
  });

  it("a password changed on the server since the last load: reload, ask again, log in", async () => {
    const accounts = [account("alice", "%", "old-pw")];
    const { users } = directory(accounts);
    accounts[0] = account("alice", "%", "new-pw");
    const login = new Login(users);
    expect(login.respond("alice", "new-pw").kind).toBe("continue");
    await flush();
    login.switched();
    const step = login.answer("new-pw");
    expect(step.kind).toBe("done");
    // The old password no longer logs in.
    expect(errno(new Login(users).respond("alice", "old-pw"))).toBe("continue");
  });
});

describe("accounts not known yet", () => {
  it("an unknown name reloads the accounts, then the login continues with a fresh scramble", async () => {
    const accounts: ServerAccount[] = [];
    const { users, refreshes } = directory(accounts);
    accounts.push(account("bob", "%", "pw"));
    const login = new Login(users);
    const first = login.scramble;
    expect(login.respond("bob", "pw")).toEqual({ kind: "continue" });
    expect(login.written).toHaveLength(0);
    await flush();
    expect(refreshes()).toBe(1);
    expect(login.switched()).toBe("mysql_native_password");
    expect(login.scramble.equals(first)).toBe(false);
    expect(login.answer("pw").kind).toBe("done");
  });

  it("a name the server does not have either is refused after its answer, with one reload", async () => {
    const { users, refreshes } = directory([]);
    const login = new Login(users);
    login.respond("ghost", "pw");
    await flush();
    login.switched();
    expect(errno(login.answer("pw"))).toBe(1045);
    expect(refreshes()).toBe(1);
  });

  it("a configured user wins over the server's account of that name, without any reload", () => {
    const { users, refreshes } = directory([account("app", "%", "server-pw")], {
      configured: [{ name: "app", password: "config-pw" }],
    });
    expect(new Login(users).respond("app", "config-pw").kind).toBe("done");
    expect(refreshes()).toBe(0);
  });
});

describe("refusals after a correct password, as the server refuses", () => {
  it.each([
    ["ACCOUNT LOCK", ',"account_locked":true', 4151],
    ["PASSWORD EXPIRE", ',"password_lifetime":1', 1862],
    ["REQUIRE SSL", ',"ssl_type":1', 1045],
  ])("%s", (_what, extra, want) => {
    const { users } = directory([account("carol", "%", "pw", extra)]);
    expect(errno(new Login(users).respond("carol", "pw"))).toBe(want);
  });

  it("a locked account with a wrong password is a plain 1045 (the lock is not revealed)", async () => {
    const { users } = directory([account("carol", "%", "pw", ',"account_locked":true')]);
    const login = new Login(users);
    login.respond("carol", "wrong");
    await flush();
    login.switched();
    expect(errno(login.answer("wrong"))).toBe(1045);
  });

  it("ed25519 cannot be relayed: 1251 saying what to do", () => {
    const ed = fromGlobalPriv("ed", "%", '{"plugin":"ed25519","authentication_string":"LIEv..."}', CTX)!;
    const { users } = directory([ed]);
    const step = new Login(users).respond("ed", "pw");
    expect(errno(step)).toBe(1251);
    expect(step.kind === "fail" && step.error.message).toMatch(
      /account 'ed'@'%' authenticates with ed25519.*OR mysql_native_password/,
    );
  });
});

describe("user@host: the client's address picks the account", () => {
  const accounts = () => [
    account("app", "%", "anywhere-pw"),
    account("app", "10.0.0.%", "lan-pw"),
    account("app", "localhost", "local-pw"),
  ];

  it.each([
    ["10.0.0.7", "lan-pw", "10.0.0.%"],
    ["192.0.2.1", "anywhere-pw", "%"],
    ["127.0.0.1", "local-pw", "localhost"],
  ])("from %s the password is %s (account @'%s')", (ip, password, host) => {
    const { users } = directory(accounts());
    const step = new Login(users, ip).respond("app", password);
    expect(step.kind === "done" && step.result.user.host).toBe(host);
  });

  it("an account for other hosts only is unknown to this client", async () => {
    const { users } = directory([account("lan", "10.0.0.%", "pw")]);
    const login = new Login(users, "192.0.2.1");
    login.respond("lan", "pw");
    await flush();
    login.switched();
    expect(errno(login.answer("pw"))).toBe(1045);
  });

  it("host-name accounts match a name confirmed by a forward lookup, when the server resolves names", async () => {
    const resolver: NameResolver = {
      reverse: async (ip) => (ip === "10.0.0.7" ? "app1.example.com" : "evil.example.com"),
      // evil.example.com's forward zone does not give 10.0.0.9 back: no name for it.
      forward: async (name) => (name === "app1.example.com" ? ["10.0.0.7"] : ["192.0.2.66"]),
    };
    const { users } = directory([account("web", "%.example.com", "pw")], { resolver, resolveNames: true });
    const ok = new Login(users, "10.0.0.7");
    expect(ok.respond("web", "pw").kind).toBe("continue");
    await flush();
    ok.switched();
    expect(ok.answer("pw").kind).toBe("done");
    // Cached now: the next login from there needs no wait.
    expect(new Login(users, "10.0.0.7").respond("web", "pw").kind).toBe("done");
    const spoofed = new Login(users, "10.0.0.9");
    spoofed.respond("web", "pw");
    await flush();
    await flush();
    spoofed.switched();
    expect(errno(spoofed.answer("pw"))).toBe(1045);
  });

  it("host-name accounts never match when the server skips name resolution", () => {
    const { users } = directory([account("web", "%.example.com", "pw"), account("web", "%", "other")], {
      resolveNames: false,
    });
    expect(new Login(users, "10.0.0.7").respond("web", "other").kind).toBe("done");
  });
});

describe("reloads keep what logins taught", () => {
  it("stage1 survives a reload with the same hash and is dropped when the hash changes", () => {
    const accounts = [account("dave", "%", "pw1")];
    const { users } = directory(accounts);
    const first = new Login(users).respond("dave", "pw1");
    if (first.kind !== "done") throw new Error("login failed");
    const before = first.result.user;
    expect(before.stage1).toEqual(sha1("pw1"));
    users.setServerAccounts(snapshot([account("dave", "%", "pw1")]));
    expect(users.lookup("dave", "10.0.0.7", false)).toEqual({ kind: "user", user: before });
    users.setServerAccounts(snapshot([account("dave", "%", "pw2")]));
    const after = users.lookup("dave", "10.0.0.7", false);
    expect(after.kind === "user" && after.user).not.toBe(before);
    expect(after.kind === "user" && after.user.stage1).toBeNull();
    // A session that logged in before keeps its own credentials.
    expect(before.stage1).toEqual(sha1("pw1"));
  });

  it("a dropped account is unknown after the next load", () => {
    const { users } = directory([account("erin", "%", "pw")]);
    users.setServerAccounts(snapshot([]));
    expect(users.lookup("erin", "10.0.0.7", false)).toEqual({ kind: "unknown" });
  });
});
