import { timingSafeEqual } from "node:crypto";
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
import { Capability, PROXY_SERVER_CAPABILITIES } from "../protocol/constants/capabilities.js";
import { DEFAULT_COLLATION } from "../protocol/constants/charsets.js";
import { ServerStatus } from "../protocol/constants/server-status.js";
import type { Packet } from "../protocol/framing.js";
import { encodeAuthMoreData, encodeAuthSwitchRequest } from "../protocol/packets/auth-switch-request.js";
import { decodeHandshakeResponse41 } from "../protocol/packets/handshake-response41.js";
import { encodeHandshakeV10 } from "../protocol/packets/handshake-v10.js";
import { isSslRequest } from "../protocol/packets/ssl-request.js";
import type { ProxyContext } from "./context.js";
import type { ProxyUser } from "./user-directory.js";

const NATIVE = NATIVE_PASSWORD_PLUGIN;
const SHA2 = CACHING_SHA2_PLUGIN;

/** Client authentication phases (explicit states, STYLE.md principle 4). */
const AuthPhase = {
  AWAIT_RESPONSE: 1,
  AWAIT_NATIVE_SWITCH: 2,
  AWAIT_SHA2_FULL: 3,
  AWAIT_SHA2_RSA: 4,
  AWAIT_SHA2_SWITCH: 5,
  DONE: 6,
} as const;
type AuthPhase = (typeof AuthPhase)[keyof typeof AuthPhase];

export interface AuthResult {
  user: ProxyUser;
  capabilities: number;
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
 * then mysql_native_password (with AuthSwitchRequest when the client answered with another
 * plugin) or caching_sha2_password (fast path when cached, full authentication over TLS or with
 * the RSA public key otherwise, as MySQL 8 does).
 */
export class ClientAuth {
  private phase: AuthPhase = AuthPhase.AWAIT_RESPONSE;
  private scramble: Buffer = newScramble();
  private user: ProxyUser | null = null;
  private username = "";
  private capabilities = 0;
  private collation: number = DEFAULT_COLLATION;
  private schema: string | null = null;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly io: AuthIo,
    private readonly connectionId: number,
  ) {}

  greeting(): Buffer {
    const caps = PROXY_SERVER_CAPABILITIES | (this.ctx.tls ? Capability.SSL : 0);
    return encodeHandshakeV10(0, {
      serverVersion: this.ctx.serverVersion(),
      connectionId: this.connectionId,
      scramble: this.scramble,
      capabilities: caps >>> 0,
      characterSet: DEFAULT_COLLATION,
      status: ServerStatus.AUTOCOMMIT,
      authPlugin: NATIVE,
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
      case AuthPhase.AWAIT_SHA2_SWITCH:
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
    this.capabilities = hr.capabilities & (PROXY_SERVER_CAPABILITIES | Capability.SSL);
    this.collation = hr.characterSet || DEFAULT_COLLATION;
    this.username = hr.username;
    this.user = this.ctx.users.get(hr.username) ?? null;
    this.schema = hr.database ?? this.user?.defaultSchema ?? null;
    const plugin = hr.authPlugin || NATIVE;
    if (this.user === null) return this.denied(seq, hr.authResponse.length > 0);
    if (plugin === NATIVE) return this.checkNative(hr.authResponse, seq);
    if (plugin === SHA2 && this.user.password !== null) {
      if (this.ctx.users.sha2Cached(this.user.name)) {
        if (!verifySha2Fast(this.user.password, this.scramble, hr.authResponse))
          return this.denied(seq, true);
        this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_FAST_AUTH_SUCCESS])));
        return this.done(seq + 1);
      }
      this.phase = AuthPhase.AWAIT_SHA2_FULL;
      this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_PERFORM_FULL_AUTH])));
      return { kind: "continue" };
    }
    // Any other plugin (or caching_sha2 for a user known only by a native hash): switch.
    this.scramble = newScramble();
    this.phase = AuthPhase.AWAIT_NATIVE_SWITCH;
    this.io.write(encodeAuthSwitchRequest(seq, { plugin: NATIVE, data: this.scramble }));
    return { kind: "continue" };
  }

  /** caching_sha2_password: the fast path when the user is cached, full authentication otherwise. */
  private checkSha2(token: Buffer, seq: number): AuthStep {
    const user = this.user!;
    if (this.ctx.users.sha2Cached(user.name)) {
      if (!verifySha2Fast(user.password ?? "", this.scramble, token)) return this.denied(seq, true);
      this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_FAST_AUTH_SUCCESS])));
      return this.done(seq + 1);
    }
    this.phase = AuthPhase.AWAIT_SHA2_FULL;
    this.io.write(encodeAuthMoreData(seq, Buffer.from([SHA2_PERFORM_FULL_AUTH])));
    return { kind: "continue" };
  }

  private checkNative(token: Buffer, seq: number): AuthStep {
    const user = this.user!;
    if (token.length === 0) {
      return user.password === "" ? this.done(seq) : this.denied(seq, false);
    }
    const stage1 = verifyNative(user.stage2, this.scramble, token);
    if (stage1 === null) return this.denied(seq, true);
    this.ctx.users.learnStage1(user, stage1);
    return this.done(seq);
  }

  private onSha2Full(payload: Buffer, seq: number): AuthStep {
    const user = this.user!;
    if (payload.length === 1 && payload[0] === SHA2_REQUEST_PUBLIC_KEY) {
      if (!this.ctx.tls) return this.fail(CLIENT_ERRORS.secureTransportRequired(), seq);
      this.phase = AuthPhase.AWAIT_SHA2_RSA;
      this.io.write(encodeAuthMoreData(seq, Buffer.from(this.ctx.tls.rsaPublicKeyPem)));
      return { kind: "continue" };
    }
    if (!this.io.secure) return this.fail(CLIENT_ERRORS.secureTransportRequired(), seq);
    // Over TLS the client sends the password in clear, NUL-terminated.
    const end = payload.indexOf(0);
    const given = payload.subarray(0, end < 0 ? payload.length : end);
    return this.checkPlain(user, given, seq);
  }

  private onSha2Rsa(payload: Buffer, seq: number): AuthStep {
    const user = this.user!;
    let plain: string;
    try {
      plain = decryptSha2Password(payload, this.ctx.tls!.rsaPrivateKey, this.scramble);
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
        capabilities: this.capabilities,
        collation: this.collation,
        schema: this.schema,
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

  /** Re-authentication for COM_CHANGE_USER (same scramble as the greeting, as servers do). */
  changeUser(username: string, token: Buffer, plugin: string, seq: number): AuthStep {
    this.username = username;
    this.user = this.ctx.users.get(username) ?? null;
    if (this.user === null) return this.denied(seq, token.length > 0);
    this.phase = AuthPhase.AWAIT_NATIVE_SWITCH;
    if (plugin === "" || plugin === NATIVE) return this.checkNative(token, seq);
    this.scramble = newScramble();
    this.io.write(encodeAuthSwitchRequest(seq, { plugin: NATIVE, data: this.scramble }));
    return { kind: "continue" };
  }
}
