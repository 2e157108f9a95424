import {
  constants,
  createHash,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  timingSafeEqual,
} from "node:crypto";
import { RwsplitError } from "../../errors.js";
import { isNativeHash, NATIVE_PASSWORD_PLUGIN } from "./native-password.js";
import { SCRAMBLE_LENGTH } from "./scramble.js";

/**
 * caching_sha2_password (MySQL 8's default plugin), server side for clients; the proxy never
 * speaks it to MariaDB backends.
 *
 * Exchange after HandshakeResponse41 (or AuthSwitchResponse) carries the 32-byte token:
 *   server → AuthMoreData `0x01 0x03`  fast_auth_success (then OK), or
 *   server → AuthMoreData `0x01 0x04`  perform_full_authentication, and the client sends either
 *     - `password NUL` in clear when the channel is TLS (or a Unix socket), or
 *     - `0x02` request_public_key; server → `0x01` + PEM public key; client → RSA-OAEP
 *       (PKCS#1 OAEP, SHA-1/MGF1-SHA-1: OpenSSL's RSA_PKCS1_OAEP_PADDING) of
 *       (`password NUL` XOR scramble repeated).
 *
 * MySQL's "cache" holds SHA256(SHA256(password)) of users who completed a full authentication.
 * The proxy knows plaintext passwords from config, so the fast path can always be checked by
 * recomputation. A user configured only with a `*HEX` native hash cannot be checked this way at
 * all (neither the fast path nor the full path can be compared with SHA1(SHA1(pw))), so the
 * server must move such clients to mysql_native_password with an AuthSwitchRequest:
 * `supportedPlugins()` says which plugins a configured user can use.
 */

export const CACHING_SHA2_PLUGIN = "caching_sha2_password";

/** Status byte of AuthMoreData (Protocol::AuthMoreData) that wraps the messages below. */
export const AUTH_MORE_DATA = 0x01;
/** Client → server, after perform_full_authentication on a plain connection. */
export const SHA2_REQUEST_PUBLIC_KEY = 0x02;
/** Server → client inside AuthMoreData: the token matched the cache; an OK follows. */
export const SHA2_FAST_AUTH_SUCCESS = 0x03;
/** Server → client inside AuthMoreData: send the password (clear over TLS, else RSA). */
export const SHA2_PERFORM_FULL_AUTH = 0x04;

export type AuthPluginName = typeof CACHING_SHA2_PLUGIN | typeof NATIVE_PASSWORD_PLUGIN;

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** out[i] = a[i] XOR key[i mod key.length] (MySQL's `xor_string`). */
function xorRepeat(a: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ key[i % key.length]!;
  return out;
}

function nonce(scramble: Buffer): Buffer {
  return scramble.subarray(0, SCRAMBLE_LENGTH);
}

/**
 * Plugins a configured user can authenticate with: a plaintext password allows both; a `*HEX`
 * native hash allows only mysql_native_password (switch caching_sha2 clients to it).
 */
export function supportedPlugins(configuredPassword: string): readonly AuthPluginName[] {
  return isNativeHash(configuredPassword)
    ? [NATIVE_PASSWORD_PLUGIN]
    : [CACHING_SHA2_PLUGIN, NATIVE_PASSWORD_PLUGIN];
}

/**
 * Client token: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble). The digest comes first
 * and the nonce second (MySQL `generate_sha2_scramble`, mysql2 `calculateToken`), the reverse of
 * mysql_native_password. An empty password is sent as an empty response.
 */
export function sha2Token(password: string, scramble: Buffer): Buffer {
  if (password.length === 0) return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, "utf8"));
  const stage3 = sha256(sha256(stage1), nonce(scramble));
  return xorRepeat(stage1, stage3);
}

/** Server fast path: the proxy knows the plaintext, so the "cache" check is a recomputation. */
export function verifySha2Fast(password: string, scramble: Buffer, token: Buffer): boolean {
  const want = sha2Token(password, scramble);
  if (want.length !== token.length) return false;
  return want.length === 0 || timingSafeEqual(want, token);
}

/** The clear-text full-auth packet (`password NUL`, only acceptable over TLS) → the password. */
export function parseSha2ClearPassword(payload: Buffer): string {
  const end = payload.indexOf(0);
  return payload.subarray(0, end < 0 ? payload.length : end).toString("utf8");
}

/** Client side of full authentication without TLS (the proxy only needs it in tests). */
export function encryptSha2Password(
  password: string,
  publicKeyPem: string | KeyObject,
  scramble: Buffer,
): Buffer {
  const plain = xorRepeat(Buffer.from(`${password}\0`, "utf8"), nonce(scramble));
  return publicEncrypt(
    { key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
    plain,
  );
}

/**
 * Server side of full authentication without TLS: RSA-OAEP decrypt, XOR with the scramble,
 * cut at the NUL. Throws RwsplitError("PROTOCOL_VIOLATION") when the ciphertext does not decrypt
 * with our key (wrong key cached by the client, or garbage).
 */
export function decryptSha2Password(
  encrypted: Buffer,
  privateKey: KeyObject | string,
  scramble: Buffer,
): string {
  let plain: Buffer;
  try {
    plain = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      encrypted,
    );
  } catch (err) {
    throw new RwsplitError(
      "PROTOCOL_VIOLATION",
      "caching_sha2_password: the RSA-encrypted password does not decrypt with the proxy's key",
      { cause: err },
    );
  }
  return parseSha2ClearPassword(xorRepeat(plain, nonce(scramble)));
}
