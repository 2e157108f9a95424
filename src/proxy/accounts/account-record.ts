import { createHash } from "node:crypto";
import {
  isNativeHash,
  NATIVE_PASSWORD_PLUGIN,
  parseNativeHash,
} from "../../protocol/auth/native-password.js";

/**
 * One server account as rwsplit sees it, read from the primary's grant tables. Pure: rows in,
 * records out; the loader (account-loader.ts) does the I/O.
 *
 * MariaDB 10.4+ keeps accounts in mysql.global_priv, one JSON document per User/Host:
 *
 *   {"access":0,"version_id":101119,"plugin":"mysql_native_password",
 *    "authentication_string":"*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
 *    "account_locked":true, "password_last_changed":1796581002, "password_lifetime":30,
 *    "ssl_type":1, "auth_or":[{"plugin":"ed25519","authentication_string":"..."},{}],
 *    "is_role":true}
 *
 * - `auth_or` lists the methods of `IDENTIFIED VIA a OR b`, in order; `{}` stands for the
 *   top-level plugin/authentication_string. Without it the top level is the only method.
 * - `password_last_changed: 0` is `PASSWORD EXPIRE`; otherwise the password expires
 *   `password_lifetime` days after it (absent or -1: the global default_password_lifetime; 0:
 *   never).
 * - `ssl_type`: 1 REQUIRE SSL, 2 X509, 3 SPECIFIED (cipher/issuer/subject).
 *
 * MySQL (and MariaDB before 10.4, which rwsplit does not read) keep them as columns of
 * mysql.user: plugin, authentication_string, account_locked 'Y'/'N', password_expired 'Y'/'N',
 * password_last_changed, password_lifetime (NULL: the global default), ssl_type ''/'ANY'/...
 *
 * The only plugin a proxy can verify and relay is mysql_native_password: the stored hash
 * SHA1(SHA1(password)) checks the client's token and recovers SHA1(password), which logs in to
 * the backends (see native-password.ts). Any other plugin is recorded as unsupported, so the
 * client is told why instead of a bare 1045.
 */

export type AccountAuth =
  /** stage2 = SHA1(SHA1(password)); an account without password has SHA1(SHA1("")). */
  | { kind: "native"; stage2: Buffer }
  /** No mysql_native_password method with a usable hash: the plugins the account has. */
  | { kind: "unsupported"; plugins: string[] };

export interface ServerAccount {
  user: string;
  host: string;
  auth: AccountAuth;
  /** ACCOUNT LOCK: the server answers 4151 after a correct password. */
  locked: boolean;
  /** PASSWORD EXPIRE, or older than its lifetime. */
  passwordExpired: boolean;
  /** REQUIRE SSL / X509 / ...: rwsplit logs in to backends without TLS, so it cannot meet it. */
  requiresTls: boolean;
}

/** What expiry depends on besides the account itself. */
export interface AccountContext {
  /** Now, in Unix seconds. */
  nowSec: number;
  /** @@default_password_lifetime, days (0: passwords never expire by age). */
  defaultPasswordLifetimeDays: number;
}

const EMPTY_PASSWORD_STAGE2 = createHash("sha1").update(createHash("sha1").update("").digest()).digest();

const SECONDS_PER_DAY = 86_400;

/** A stored native hash (`*HEX`, or '' for no password) as stage2; null when unusable ('invalid'). */
export function nativeStage2(authString: string): Buffer | null {
  if (authString === "") return Buffer.from(EMPTY_PASSWORD_STAGE2);
  return isNativeHash(authString) ? parseNativeHash(authString) : null;
}

interface Method {
  plugin: string;
  authString: string;
}

/** The first method a proxy can use, in the order the server tries them. */
function chooseAuth(methods: readonly Method[]): AccountAuth {
  for (const m of methods) {
    if (m.plugin !== NATIVE_PASSWORD_PLUGIN) continue;
    const stage2 = nativeStage2(m.authString);
    if (stage2 !== null) return { kind: "native", stage2 };
  }
  const plugins = [...new Set(methods.map((m) => m.plugin).filter((p) => p !== NATIVE_PASSWORD_PLUGIN))];
  return { kind: "unsupported", plugins: plugins.length > 0 ? plugins : [NATIVE_PASSWORD_PLUGIN] };
}

function expired(lastChanged: number | null, lifetimeDays: number | null, ctx: AccountContext): boolean {
  if (lastChanged === 0) return true;
  if (lastChanged === null) return false;
  const days = lifetimeDays === null || lifetimeDays < 0 ? ctx.defaultPasswordLifetimeDays : lifetimeDays;
  return days > 0 && ctx.nowSec - lastChanged > days * SECONDS_PER_DAY;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function num(v: unknown): number | null {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** Anonymous accounts (User '') are not loaded: see the README's "Accounts from the server". */
function loginName(user: unknown): string | null {
  const name = typeof user === "string" ? user : Buffer.isBuffer(user) ? user.toString("utf8") : "";
  return name === "" ? null : name;
}

/**
 * A mysql.global_priv row (MariaDB 10.4+). `priv` is the Priv column, as text or already parsed.
 * Null for rows that are not login accounts (roles, anonymous users) or whose JSON is unreadable.
 */
export function fromGlobalPriv(
  user: unknown,
  host: unknown,
  priv: unknown,
  ctx: AccountContext,
): ServerAccount | null {
  const name = loginName(user);
  if (name === null) return null;
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown =
      typeof priv === "string"
        ? JSON.parse(priv)
        : Buffer.isBuffer(priv)
          ? JSON.parse(priv.toString())
          : priv;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    doc = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  if (doc.is_role === true) return null;
  const top: Method = {
    plugin: str(doc.plugin) || NATIVE_PASSWORD_PLUGIN,
    authString: str(doc.authentication_string),
  };
  const methods: Method[] = Array.isArray(doc.auth_or)
    ? doc.auth_or.map((m: unknown) => {
        const o = (m ?? {}) as Record<string, unknown>;
        return o.plugin === undefined
          ? top
          : { plugin: str(o.plugin), authString: str(o.authentication_string) };
      })
    : [top];
  return {
    user: name,
    host: typeof host === "string" ? host : String(host ?? ""),
    auth: chooseAuth(methods),
    locked: doc.account_locked === true,
    passwordExpired: expired(num(doc.password_last_changed), num(doc.password_lifetime), ctx),
    requiresTls: (num(doc.ssl_type) ?? 0) > 0,
  };
}

/**
 * A mysql.user row of MySQL 5.7/8.0, selected with
 * `UNIX_TIMESTAMP(password_last_changed) AS password_last_changed`.
 */
export function fromMysqlUser(row: Record<string, unknown>, ctx: AccountContext): ServerAccount | null {
  const name = loginName(row.User);
  if (name === null) return null;
  const lastChanged = num(row.password_last_changed);
  return {
    user: name,
    host: str(row.Host),
    auth: chooseAuth([
      { plugin: str(row.plugin) || NATIVE_PASSWORD_PLUGIN, authString: str(row.authentication_string) },
    ]),
    locked: str(row.account_locked).toUpperCase() === "Y",
    passwordExpired:
      str(row.password_expired).toUpperCase() === "Y" ||
      // A NULL/0 timestamp here means "never recorded", not PASSWORD EXPIRE (that is the column above).
      (lastChanged !== null && lastChanged > 0 && expired(lastChanged, num(row.password_lifetime), ctx)),
    requiresTls: str(row.ssl_type) !== "",
  };
}
