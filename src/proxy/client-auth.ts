import { type KeyObject, timingSafeEqual } from "node:crypto";
import { CLIENT_ERRORS, type ClientErrorSpec } from "../errors.js";
import {
  CACHING_SHA2_PLUGIN,
  decryptSha2Password,
  SHA2_FAST_AUTH_SUCCESS,
  SHA2_PERFORM_FULL_AUTH,
  SHA2_REQUEST_PUBLIC_KEY,
  verifySha2Fast,
} from "../protocol/auth/caching-sha2.js";
import { NATIVE_PASSWORD_PLUGIN, verifyNative } from "../protocol/auth/native-password.js";
import { newScramble } from "../protocol/auth/scramble.js";
import { Capability, offeredCapabilities } from "../protocol/constants/capabilities.js";
import { DEFAULT_COLLATION } from "../protocol/constants/charsets.js";
import { ServerStatus } from "../protocol/constants/server-status.js";
import type { Packet } from "../protocol/framing.js";
import { encodeAuthMoreData, encodeAuthSwitchRequest } from "../protocol/packets/auth-switch-request.js";
import { decodeHandshakeResponse41 } from "../protocol/packets/handshake-response41.js";
import { encodeHandshakeV10 } from "../protocol/packets/handshake-v10.js";
import { isSslRequest } from "../protocol/packets/ssl-request.js";
import type { ProxyContext } from "./context.js";
import type { AccountRefusal, ProxyUser } from "./user-directory.js";

const NATIVE = NATIVE_PASSWORD_PLUGIN;
const SHA2 = CACHING_SHA2_PLUGIN;

/**
 * The plugin HandshakeV10 announces. mysql_native_password rather than MySQL 8's
 * caching_sha2_password: every client speaks it in one round trip without TLS or RSA, it lets
 * the proxy learn SHA1(password) for users configured by `*HEX` hash, and clients that prefer
 * caching_sha2 are moved to it with one AuthSwitchRequest (see `onHandshakeResponse`).
 */
const GREETING_PLUGIN: string = NATIVE;

/** Length of a caching_sha2_password scramble response (SHA-256 digest). */
const SHA2_TOKEN_LENGTH = 32;

/** Client authentication phases (explicit states, STYLE.md principle 4). */
const AuthPhase = {
  AWAIT_RESPONSE: 1,
  /** AuthSwitchRequest(mysql_native_password) sent: the 20-byte token comes next. */
  AWAIT_NATIVE_SWITCH: 2,
  /** AuthSwitchRequest(caching_sha2_password) sent: the 32-byte token comes next. */
  AWAIT_SHA2_TOKEN: 3,
  /** perform_full_authentication sent: clear password (TLS), request_public_key or RSA. */
  AWAIT_SHA2_FULL: 4,
  /** Public key sent: the RSA-encrypted password comes next. */
  AWAIT_SHA2_RSA: 5,
  DONE: 6,
  /**
   * Server accounts: reloading them (unknown name, wrong password) or looking the client's host
   * name up. The client waits for our answer meanwhile; an AuthSwitchRequest ends the wait.
   */
  RESOLVING: 7,
} as const;
type AuthPhase = (typeof AuthPhase)[keyof typeof AuthPhase];

/** The compressed protocol the client asked for at login (frames start after the login OK). */
export type CompressionRequest = { algorithm: "zlib" } | { algorithm: "zstd"; level: number };

export interface AuthResult {
  user: ProxyUser;
  /** CLIENT_COMPRESS (zlib) or CLIENT_ZSTD_COMPRESSION_ALGORITHM, else null. */
  compression: CompressionRequest | null;
  capabilities: number;
  /** MariaDB's extended capabilities both sides have (MariadbCapability); 0 in front of MySQL. */
  mariadbCapabilities: number;
  collation: number;
  schema: string | null;
  /** Sequence id for the final OK. */
  okSeq: number;
}

export type AuthStep =
  | { kind: "continue" }
  | { kind: "start-tls" }
  | { kind: "done"; result: AuthResult }
  | { kind: "fail"; error: ClientErrorSpec; seq: number };

export interface AuthIo {
  write(bytes: Buffer): void;
  readonly secure: boolean;
  readonly remoteHost: string;
}

/**
 * The server side of the connection phase: greeting, optional SSLRequest, HandshakeResponse41,
 * then mysql_native_password or caching_sha2_password.
 *
 * A client whose plugin differs from the greeting's has nothing usable in its auth response:
 * libmariadb's and libmysqlclient's `run_plugin_auth` drop data "prepared for a different
 * plugin", so the plugin's first `read_packet` sends an empty response and waits. The server
 * then restarts authentication with an AuthSwitchRequest carrying a fresh scramble, as MySQL 8
 * does (`send_plugin_request_packet`):
 *
 *   C→S HandshakeResponse41  plugin=caching_sha2_password, auth_response=""
 *   S→C AuthSwitchRequest    0xFE "caching_sha2_password\0" scramble<20> 0x00
 *   C→S token<32>            SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble)
 *   S→C AuthMoreData         0x01 0x03 (fast_auth_success) then OK, or
 *                            0x01 0x04 (perform_full_authentication), then
 *     over TLS:  C→S "password\0"                                      S→C OK | ERR
 *     plain TCP: C→S 0x02  S→C 0x01 + PEM public key  C→S RSA-OAEP(...)  S→C OK | ERR
 *
 * libmariadb's caching_sha2 plugin insists on exactly 21 bytes (scramble + NUL) in its first
 * packet and answers anything else with CR_SERVER_HANDSHAKE_ERR (2012 "Error in server
 * handshake"): an AuthMoreData at that point, or a switch without the trailing NUL, fails.
 * It also expects the fast-auth result as a 1-byte AuthMoreData before the OK, even over TLS.
 */
export class ClientAuth {
  private phase: AuthPhase = AuthPhase.AWAIT_RESPONSE;
  /** Printable ASCII, as a string: a pooled 20-byte Buffer would pin an 8 KiB slab per session. */
  private scrambleText: string = newScramble().toString("latin1");
  private user: ProxyUser | null = null;
  /** A server account found, whose plugin no proxy can relay: refused once the client answers. */
  private unsupported: { user: string; host: string; plugins: readonly string[] } | null = null;
  /** The server accounts were reloaded during this authentication (at most once). */
  private refreshed = false;
  /** An AuthSwitchRequest was sent during this authentication (clients accept one). */
  private switched = false;
  private clientPlugin: string = NATIVE;
  private username = "";
  private capabilities = 0;
  private mariadbCapabilities = 0;
  private compression: CompressionRequest | null = null;
  /** What the greeting offered: the primary's flavour, as of this connection's start. */
  private readonly offered: { capabilities: number; extended: number };
  private collation: number = DEFAULT_COLLATION;
  private schema: string | null = null;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly io: AuthIo,
    private readonly connectionId: number,
  ) {
    this.offered = offeredCapabilities(ctx.serverProtocol());
  }

  private scramble(): Buffer {
    return Buffer.from(this.scrambleText, "latin1");
  }

  /**
   * HandshakeV10 as the primary would send it: its version, MySQL's capabilities in front of
   * MySQL, MariaDB's (CLIENT_MYSQL clear, extended capabilities) in front of MariaDB.
   */
  greeting(): Buffer {
    const caps = this.offered.capabilities | (this.ctx.tls ? Capability.SSL : 0);
    return encodeHandshakeV10(0, {
      serverVersion: this.ctx.serverVersion(),
      connectionId: this.connectionId,
      scramble: this.scramble(),
      capabilities: caps >>> 0,
      mariadbCapabilities: this.offered.extended,
      characterSet: DEFAULT_COLLATION,
      status: ServerStatus.AUTOCOMMIT,
      authPlugin: GREETING_PLUGIN,
    });
  }

  onPacket(pkt: Packet): AuthStep {
    const seq = pkt.lastSeq + 1;
    switch (this.phase) {
      case AuthPhase.AWAIT_RESPONSE:
        if (isSslRequest(pkt.payload)) {
          if (!this.ctx.tls)
            return this.fail(CLIENT_ERRORS.handshakeError("TLS is not enabled (tls.enabled)"), seq);
          return { kind: "start-tls" };
        }
        return this.onHandshakeResponse(pkt, seq);
      case AuthPhase.AWAIT_NATIVE_SWITCH:
        return this.checkNative(pkt.payload, seq);
      case AuthPhase.AWAIT_SHA2_TOKEN:
        return this.checkSha2(pkt.payload, seq);
      case AuthPhase.AWAIT_SHA2_FULL:
        return this.onSha2Full(pkt.payload, seq);
      case AuthPhase.AWAIT_SHA2_RSA:
        return this.onSha2Rsa(pkt.payload, seq);
      default:
        return this.fail(CLIENT_ERRORS.handshakeError("unexpected packet after authentication"), seq);
    }
  }

  private onHandshakeResponse(pkt: Packet, seq: number): AuthStep {
    let hr: ReturnType<typeof decodeHandshakeResponse41>;
    try {
      hr = decodeHandshakeResponse41(pkt.payload);
    } catch (e) {
      return this.fail(
        CLIENT_ERRORS.handshakeError(`unreadable HandshakeResponse41: ${(e as Error).message}`),
        seq,
      );
    }
    if (!(hr.capabilities & Capability.PROTOCOL_41)) {
      return this.fail(
        CLIENT_ERRORS.handshakeError("the client must support CLIENT_PROTOCOL_41 (MySQL 4.1+)"),
        seq,
      );
    }
    this.capabilities = hr.capabilities & (this.offered.capabilities | Capability.SSL);
    this.mariadbCapabilities = (hr.mariadbCapabilities ?? 0) & this.offered.extended;
    // Taken whatever the greeting offered: mysqlnd sets CLIENT_COMPRESS unasked and compresses.
    if (hr.capabilities & Capability.COMPRESS) this.compression = { algorithm: "zlib" };
    else if (hr.capabilities & Capability.ZSTD_COMPRESSION_ALGORITHM)
      this.compression = { algorithm: "zstd", level: hr.zstdLevel ?? 3 };
    this.collation = hr.characterSet || DEFAULT_COLLATION;
    this.username = hr.username;
    this.schema = hr.database;
    // Without CLIENT_PLUGIN_AUTH there is no plugin name: 4.1 clients speak native.
    const plugin = hr.authPlugin || NATIVE;
    // The constants rather than the decoded copies: this is kept for the session's life.
    this.clientPlugin = plugin === NATIVE ? NATIVE : plugin === SHA2 ? SHA2 : plugin;
    const waiting = this.findUser();
    if (waiting !== null) return this.switchWhenFound(waiting, seq);
    if (plugin === GREETING_PLUGIN) return this.checkToken(plugin, hr.authResponse, seq);
    // Unknown users are switched too, and refused after their answer: the refusal then says
    // whether a password was used, and does not tell which user names exist.
    return this.switchTo(this.pluginFor(plugin), seq);
  }

  /**
   * Looks `username` up: sets `user` / `unsupported` and returns null, or returns what to wait
   * for first (a reload of the server accounts for an unknown name, the client's host name).
   */
  private findUser(): Promise<void> | null {
    const r = this.ctx.users.lookup(this.username, this.io.remoteHost, !this.refreshed);
    this.user = null;
    this.unsupported = null;
    switch (r.kind) {
      case "wait":
        if (r.refresh) this.refreshed = true;
        return r.ready;
      case "user":
        this.user = r.user;
        return null;
      case "unsupported":
        this.unsupported = r;
        return null;
      case "unknown":
        return null;
    }
  }

  /**
   * Waits (the client is waiting for our answer too), looks the user up again, then restarts
   * the exchange with an AuthSwitchRequest and a fresh scramble: the token the client sent
   * first was for a user we could not check yet. Bounded: a reload happens once per
   * authentication, and host names are cached.
   */
  private switchWhenFound(waiting: Promise<void>, seq: number, rounds = 0): AuthStep {
    this.phase = AuthPhase.RESOLVING;
    void waiting.then(() => {
      if (this.phase !== AuthPhase.RESOLVING) return;
      const again = rounds < 3 ? this.findUser() : null;
      if (again !== null) {
        this.switchWhenFound(again, seq, rounds + 1);
        return;
      }
      this.switchTo(this.pluginFor(this.clientPlugin), seq);
    });
    return { kind: "continue" };
  }

  /**
   * The plugin to move a client to: caching_sha2 when it asked for it and the proxy can finish
   * a full authentication (it knows the plaintext, and has TLS or the RSA key pair, which come
   * together); mysql_native_password otherwise, which every client library carries built in.
   */
  private pluginFor(clientPlugin: string): string {
    const canSha2 =
      (this.user === null && this.unsupported === null) ||
      (this.user !== null && this.user.password !== null && this.ctx.tls !== null);
    return clientPlugin === SHA2 && canSha2 ? SHA2 : NATIVE;
  }

  /** AuthSwitchRequest with a fresh scramble (the encoder appends the NUL clients expect). */
  private switchTo(plugin: string, seq: number): AuthStep {
    this.switched = true;
    this.scrambleText = newScramble().toString("latin1");
    this.phase = plugin === SHA2 ? AuthPhase.AWAIT_SHA2_TOKEN : AuthPhase.AWAIT_NATIVE_SWITCH;
    this.io.write(encodeAuthSwitchRequest(seq, { plugin, data: this.scramble() }));
    return { kind: "continue" };
  }

  private checkToken(plugin: string, token: Buffer, seq: number): AuthStep {
    return plugin === SHA2 ? this.checkSha2(token, seq) : this.checkNative(token, seq);
  }

  /**
   * caching_sha2_password's first answer. Like MySQL's `caching_sha2_password_authenticate`:
   * an empty answer means "no password"; otherwise the fast path (0x03) when the user completed
   * a full authentication since the proxy started, full authentication (0x04) when not.
   */
  private checkSha2(token: Buffer, seq: number): AuthStep {
    if (this.unsupported !== null) return this.notRelayable(seq);
    const user = this.user;
    if (user === null || user.password === null) return this.denied(seq, token.length > 0);
    if (token.length === 0) return user.password === "" ? this.done(seq) : this.denied(seq, false);
    if (token.length !== SHA2_TOKEN_LENGTH) return this.denied(seq, true);
    if (this.ctx.users.sha2Cached(user.name)) {
      // The proxy holds the plaintext, so a mismatch is a wrong password, not a stale cache
      // entry: refuse now rather than ask for the password again as MySQL does.
      if (!verifySha2Fast(user.password, this.scramble(), token)) return this.denied(seq, true);
      this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_FAST_AUTH_SUCCESS])));
      return this.done(seq + 1);
    }
    this.phase = AuthPhase.AWAIT_SHA2_FULL;
    this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_PERFORM_FULL_AUTH])));
    return { kind: "continue" };
  }

  /**
   * An empty token is how clients send an empty password; verifyNative accepts it exactly for
   * the stage2 of an empty password (configured "" or a server account without password).
   */
  private checkNative(token: Buffer, seq: number): AuthStep {
    if (this.unsupported !== null) return this.notRelayable(seq);
    const user = this.user;
    if (user === null) return this.denied(seq, token.length > 0);
    const stage1 = verifyNative(user.stage2, this.scramble(), token);
    if (stage1 === null) return this.wrongPassword(user, seq, token.length > 0);
    if (user.refusal !== null) return this.fail(this.refusalError(user, user.refusal), seq);
    this.ctx.users.learnStage1(user, stage1);
    return this.done(seq);
  }

  /**
   * A server account's password may have changed since the last load: reload (once, rate
   * limited by the loader) and ask the client again when nothing was switched yet in this
   * exchange; otherwise refuse now and let the reload serve the client's next attempt.
   */
  private wrongPassword(user: ProxyUser, seq: number, usingPassword: boolean): AuthStep {
    if (user.host !== null && !this.refreshed) {
      const reload = this.ctx.users.refresh();
      if (reload !== null) {
        this.refreshed = true;
        if (!this.switched) return this.switchWhenFound(reload, seq);
      }
    }
    return this.denied(seq, usingPassword);
  }

  private refusalError(user: ProxyUser, refusal: AccountRefusal): ClientErrorSpec {
    switch (refusal) {
      case "locked":
        return CLIENT_ERRORS.accountLocked();
      case "expired":
        return CLIENT_ERRORS.passwordExpired();
      case "tls":
        return CLIENT_ERRORS.accountRequiresTls(user.name, user.host ?? "%");
    }
  }

  private notRelayable(seq: number): AuthStep {
    const a = this.unsupported!;
    return this.fail(CLIENT_ERRORS.authPluginNotRelayable(a.user, a.host, a.plugins), seq);
  }

  /**
   * After perform_full_authentication. Over TLS the client sends `password NUL` in clear; on
   * plain TCP it sends 0x02 (request_public_key), or the RSA ciphertext straight away when it
   * was given the key file (`--server-public-key-path`). A clear password on plain TCP is
   * refused: a client that believes the link is secure when it is not must not be rewarded.
   */
  private onSha2Full(payload: Buffer, seq: number): AuthStep {
    const user = this.user!;
    if (this.io.secure) return this.checkPlain(user, clearPassword(payload), seq);
    const tls = this.ctx.tls;
    if (tls === null) return this.fail(CLIENT_ERRORS.secureTransportRequired(), seq);
    if (payload.length === 1 && payload[0] === SHA2_REQUEST_PUBLIC_KEY) {
      this.phase = AuthPhase.AWAIT_SHA2_RSA;
      this.io.write(encodeAuthMoreData(seq, Buffer.from(tls.rsaPublicKeyPem)));
      return { kind: "continue" };
    }
    if (payload.length === rsaCipherLength(tls.rsaPrivateKey)) return this.onSha2Rsa(payload, seq);
    return this.fail(CLIENT_ERRORS.secureTransportRequired(), seq);
  }

  private onSha2Rsa(payload: Buffer, seq: number): AuthStep {
    const user = this.user!;
    let plain: string;
    try {
      plain = decryptSha2Password(payload, this.ctx.tls!.rsaPrivateKey, this.scramble());
    } catch {
      return this.denied(seq, true);
    }
    return this.checkPlain(user, Buffer.from(plain, "utf8"), seq);
  }

  private checkPlain(user: ProxyUser, given: Buffer, seq: number): AuthStep {
    const want = Buffer.from(user.password ?? "", "utf8");
    if (given.length !== want.length || !timingSafeEqual(given, want)) return this.denied(seq, true);
    this.ctx.users.rememberSha2(user.name);
    return this.done(seq);
  }

  private done(okSeq: number): AuthStep {
    this.phase = AuthPhase.DONE;
    return {
      kind: "done",
      result: {
        user: this.user!,
        compression: this.compression,
        capabilities: this.capabilities,
        mariadbCapabilities: this.mariadbCapabilities,
        collation: this.collation,
        schema: this.schema ?? this.user!.defaultSchema,
        okSeq,
      },
    };
  }

  private denied(seq: number, usingPassword: boolean): AuthStep {
    return this.fail(CLIENT_ERRORS.accessDenied(this.username, this.io.remoteHost, usingPassword), seq);
  }

  private fail(error: ClientErrorSpec, seq: number): AuthStep {
    this.phase = AuthPhase.DONE;
    return { kind: "fail", error, seq };
  }

  /**
   * Re-authentication for COM_CHANGE_USER. Native clients compute their token against the
   * scramble of the last exchange (the greeting's or the last AuthSwitchRequest's, which they
   * kept); other plugins send nothing useful first (libmariadb's plugin sends an empty response
   * as for a login), so they get the same AuthSwitchRequest as a login.
   */
  changeUser(username: string, token: Buffer, plugin: string, seq: number): AuthStep {
    this.username = username;
    this.schema = null;
    this.refreshed = false;
    this.switched = false;
    this.clientPlugin = plugin || NATIVE;
    const waiting = this.findUser();
    if (waiting !== null) return this.switchWhenFound(waiting, seq);
    if (plugin === "" || plugin === NATIVE) return this.checkNative(token, seq);
    return this.switchTo(this.pluginFor(plugin), seq);
  }
}

/** The clear-text full-auth packet: `password NUL` (the NUL is optional on the wire). */
function clearPassword(payload: Buffer): Buffer {
  const end = payload.indexOf(0);
  return payload.subarray(0, end < 0 ? payload.length : end);
}

/** RSA-OAEP ciphertext length: the modulus size in bytes (256 for RSA-2048). */
function rsaCipherLength(key: KeyObject): number {
  return Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
}
