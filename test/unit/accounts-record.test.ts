import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  type AccountContext,
  fromGlobalPriv,
  fromMysqlUser,
  nativeStage2,
} from "../../src/proxy/accounts/account-record.js";

/**
 * mysql.global_priv rows as MariaDB 10.11.19 stored them for the statements in each comment
 * (captured from the sandbox), and MySQL 8 mysql.user rows.
 */

const NOW = 1_796_581_100;
const CTX: AccountContext = { nowSec: NOW, defaultPasswordLifetimeDays: 0 };
const HASH_X = "*B69027D44F6E5EDC07F1AEAD1477967B16F28227"; // PASSWORD('x')

const sha1 = (b: Buffer | string) => createHash("sha1").update(b).digest();
const stage2Of = (pw: string) => sha1(sha1(pw));

describe("fromGlobalPriv", () => {
  it("a mysql_native_password account (IDENTIFIED BY 'x')", () => {
    const a = fromGlobalPriv(
      "n1",
      "%",
      `{"access":0,"version_id":101119,"plugin":"mysql_native_password","authentication_string":"${HASH_X}","password_last_changed":1796581002}`,
      CTX,
    );
    expect(a).toEqual({
      user: "n1",
      host: "%",
      auth: { kind: "native", stage2: stage2Of("x") },
      locked: false,
      passwordExpired: false,
      requiresTls: false,
    });
  });

  it("accepts the Priv column already parsed (mysql2 decodes JSON columns)", () => {
    const a = fromGlobalPriv(
      "n1",
      "%",
      { plugin: "mysql_native_password", authentication_string: HASH_X, password_last_changed: 1 },
      CTX,
    );
    expect(a?.auth).toEqual({ kind: "native", stage2: stage2Of("x") });
  });

  it("no password: the stage2 of the empty password (CREATE USER nopw)", () => {
    const a = fromGlobalPriv(
      "nopw",
      "%",
      '{"access":0,"plugin":"mysql_native_password","authentication_string":"","password_last_changed":1796581002}',
      CTX,
    );
    expect(a?.auth).toEqual({ kind: "native", stage2: stage2Of("") });
  });

  it.each([
    [
      "ACCOUNT LOCK",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","account_locked":true,"password_last_changed":1796581002}`,
      { locked: true, passwordExpired: false, requiresTls: false },
    ],
    [
      "PASSWORD EXPIRE (last changed 0)",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","password_last_changed":0,"password_lifetime":-1}`,
      { locked: false, passwordExpired: true, requiresTls: false },
    ],
    [
      "PASSWORD EXPIRE INTERVAL 30 DAY, changed 1 day ago",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","password_last_changed":${NOW - 86_400},"password_lifetime":30}`,
      { locked: false, passwordExpired: false, requiresTls: false },
    ],
    [
      "PASSWORD EXPIRE INTERVAL 1 DAY, changed 2 days ago",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","password_last_changed":${NOW - 2 * 86_400},"password_lifetime":1}`,
      { locked: false, passwordExpired: true, requiresTls: false },
    ],
    [
      "REQUIRE SSL",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","ssl_type":1,"ssl_cipher":"","x509_issuer":"","x509_subject":"","password_last_changed":1796581119}`,
      { locked: false, passwordExpired: false, requiresTls: true },
    ],
    [
      "REQUIRE X509",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","ssl_type":2,"password_last_changed":1796581119}`,
      { locked: false, passwordExpired: false, requiresTls: true },
    ],
    [
      "the mariadb.sys account (locked, no password, last changed 0)",
      '{"access":0,"plugin":"mysql_native_password","authentication_string":"","account_locked":true,"password_last_changed":0}',
      { locked: true, passwordExpired: true, requiresTls: false },
    ],
  ])("%s", (_what, priv, want) => {
    expect(fromGlobalPriv("u", "%", priv, CTX)).toMatchObject(want);
  });

  it("the global default_password_lifetime applies when the account has none (or -1)", () => {
    const changed = NOW - 10 * 86_400;
    const priv = (extra: string) =>
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","password_last_changed":${changed}${extra}}`;
    const ctx5 = { ...CTX, defaultPasswordLifetimeDays: 5 };
    expect(fromGlobalPriv("u", "%", priv(""), ctx5)?.passwordExpired).toBe(true);
    expect(fromGlobalPriv("u", "%", priv(',"password_lifetime":-1'), ctx5)?.passwordExpired).toBe(true);
    // PASSWORD EXPIRE NEVER (0) and a longer own lifetime win over the default.
    expect(fromGlobalPriv("u", "%", priv(',"password_lifetime":0'), ctx5)?.passwordExpired).toBe(false);
    expect(fromGlobalPriv("u", "%", priv(',"password_lifetime":30'), ctx5)?.passwordExpired).toBe(false);
    expect(fromGlobalPriv("u", "%", priv(""), CTX)?.passwordExpired).toBe(false);
  });

  it("ed25519 only: unsupported, naming the plugin", () => {
    const a = fromGlobalPriv(
      "ed",
      "%",
      '{"access":0,"plugin":"ed25519","authentication_string":"LIEvGDGjHTmKyz3peLRjPqahOct5n6/BQCNm1bOvot4","password_last_changed":1796581002}',
      CTX,
    );
    expect(a?.auth).toEqual({ kind: "unsupported", plugins: ["ed25519"] });
  });

  it("IDENTIFIED VIA ed25519 ... OR mysql_native_password ...: the native method is used", () => {
    // auth_or lists the methods in order; {} stands for the top-level plugin.
    const a = fromGlobalPriv(
      "or1",
      "%",
      `{"plugin":"mysql_native_password","authentication_string":"${HASH_X}","auth_or":[{"plugin":"ed25519","authentication_string":"Gv2JI8Env2fd5YGonZ082tX3UAW+yJYldOlj4R1bfK4"},{}],"password_last_changed":1796581002}`,
      CTX,
    );
    expect(a?.auth).toEqual({ kind: "native", stage2: stage2Of("x") });
  });

  it("root@localhost of mariadb-install-db: 'invalid' native hash OR unix_socket is unsupported", () => {
    const a = fromGlobalPriv(
      "root",
      "localhost",
      '{"access":18446744073709551615,"plugin":"mysql_native_password","authentication_string":"invalid","auth_or":[{},{"plugin":"unix_socket"}]}',
      CTX,
    );
    expect(a?.auth).toEqual({ kind: "unsupported", plugins: ["unix_socket"] });
    // No password_last_changed at all: not expired.
    expect(a?.passwordExpired).toBe(false);
  });

  it("roles, anonymous accounts and unreadable documents are not login accounts", () => {
    expect(fromGlobalPriv("r1", "", '{"access":0,"version_id":101119,"is_role":true}', CTX)).toBeNull();
    expect(
      fromGlobalPriv("", "localhost", '{"plugin":"mysql_native_password","authentication_string":""}', CTX),
    ).toBeNull();
    expect(fromGlobalPriv("u", "%", "{not json", CTX)).toBeNull();
    expect(fromGlobalPriv("u", "%", "[1,2]", CTX)).toBeNull();
  });

  it("the user name may arrive as bytes (binary column)", () => {
    const a = fromGlobalPriv(Buffer.from("bin"), "%", `{"authentication_string":"${HASH_X}"}`, CTX);
    expect(a?.user).toBe("bin");
    // No plugin key: mysql_native_password, as the server assumes.
    expect(a?.auth.kind).toBe("native");
  });
});

describe("fromMysqlUser (MySQL 5.7 / 8.0)", () => {
  const row = (extra: Record<string, unknown>) => ({
    User: "app",
    Host: "%",
    plugin: "mysql_native_password",
    authentication_string: HASH_X,
    account_locked: "N",
    password_expired: "N",
    password_last_changed: NOW - 86_400,
    password_lifetime: null,
    ssl_type: "",
    ...extra,
  });

  it.each([
    ["a native account", {}, { auth: { kind: "native", stage2: stage2Of("x") }, locked: false }],
    ["ACCOUNT LOCK", { account_locked: "Y" }, { locked: true }],
    ["PASSWORD EXPIRE", { password_expired: "Y" }, { passwordExpired: true }],
    ["older than its lifetime", { password_lifetime: 0.5 }, { passwordExpired: true }],
    ["REQUIRE SSL", { ssl_type: "ANY" }, { requiresTls: true }],
    [
      "caching_sha2_password (MySQL 8's default)",
      { plugin: "caching_sha2_password", authentication_string: "$A$005$..." },
      { auth: { kind: "unsupported", plugins: ["caching_sha2_password"] } },
    ],
  ])("%s", (_what, extra, want) => {
    expect(fromMysqlUser(row(extra), CTX)).toMatchObject(want);
  });

  it("anonymous accounts are skipped", () => {
    expect(fromMysqlUser(row({ User: "" }), CTX)).toBeNull();
  });
});

describe("nativeStage2", () => {
  it("reads '*HEX' in either case, '' as the empty password, anything else as unusable", () => {
    expect(nativeStage2(HASH_X)).toEqual(stage2Of("x"));
    expect(nativeStage2(HASH_X.toLowerCase())).toEqual(stage2Of("x"));
    expect(nativeStage2("")).toEqual(stage2Of(""));
    expect(nativeStage2("invalid")).toBeNull();
    expect(nativeStage2("*1234")).toBeNull();
  });
});
