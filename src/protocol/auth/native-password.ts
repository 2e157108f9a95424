import { createHash, timingSafeEqual } from "node:crypto";
import { RwsplitError } from "../../errors.js";
import { SCRAMBLE_LENGTH } from "./scramble.js";

/**
 * mysql_native_password ("4.1 authentication"), both sides.
 *
 *   stage1 = SHA1(password)
 *   stage2 = SHA1(stage1)                      -- what the server stores; PASSWORD() is '*' + HEX
 *   token  = stage1 XOR SHA1(scramble || stage2) -- what the client sends (20 bytes)
 *
 * The server recovers stage1 = token XOR SHA1(scramble || stage2) and accepts when
 * SHA1(stage1) == stage2 (`check_scramble()` in MySQL's password.cc). That recovery is what lets
 * the proxy, configured only with a `*HEX` hash, learn stage1 from a client's login and then log in
 * to backends as that user (`nativeTokenFromStage1`).
 *
 * An empty password is special on the wire: clients send an empty auth response rather than a
 * token, and servers accept an empty response only for accounts without a password.
 */

export const NATIVE_PASSWORD_PLUGIN = "mysql_native_password";

const NATIVE_HASH_RE = /^\*[0-9a-fA-F]{40}$/;

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Only the first 20 bytes are the nonce (some peers send part 2's trailing NUL along). */
function nonce(scramble: Buffer): Buffer {
  return scramble.subarray(0, SCRAMBLE_LENGTH);
}

/** SHA1("") and SHA1(SHA1("")): how an empty password looks as stage1 / stage2. */
const EMPTY_STAGE1 = sha1(Buffer.alloc(0));
const EMPTY_STAGE2 = sha1(EMPTY_STAGE1);

/** Client side: the auth response for `password` against the server's scramble. */
export function nativeToken(password: string | Buffer, scramble: Buffer): Buffer {
  const pw = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  if (pw.length === 0) return Buffer.alloc(0);
  const stage1 = sha1(pw);
  return nativeTokenFromStage1(stage1, sha1(stage1), scramble);
}

/**
 * Client side from stage1 (learnt from a client's login when only the hash is configured).
 * stage1 == SHA1("") means the password is empty, which is sent as an empty response.
 */
export function nativeTokenFromStage1(stage1: Buffer, stage2: Buffer, scramble: Buffer): Buffer {
  if (stage1.equals(EMPTY_STAGE1)) return Buffer.alloc(0);
  return xor(stage1, sha1(nonce(scramble), stage2));
}

/** `*` + uppercase hex of SHA1(SHA1(password)), as MySQL/MariaDB `PASSWORD()` returns. */
export function nativeHash(password: string | Buffer): string {
  const pw = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  return `*${sha1(sha1(pw)).toString("hex").toUpperCase()}`;
}

/** True for a `*` + 40 hex digits string (a configured hash rather than a plaintext password). */
export function isNativeHash(s: string): boolean {
  return NATIVE_HASH_RE.test(s);
}

/** `*HEX` (either case) → the 20-byte stage2. */
export function parseNativeHash(hash: string): Buffer {
  if (!isNativeHash(hash))
    throw new RwsplitError(
      "CONFIG_INVALID",
      `not a mysql_native_password hash: expected '*' followed by 40 hex digits (what PASSWORD() returns), got ${hash.length} characters`,
    );
  return Buffer.from(hash.slice(1), "hex");
}

/**
 * Server side: checks a client's token against the stored stage2. Returns stage1 (SHA1 of the
 * password, usable with `nativeTokenFromStage1`) on success, null on a wrong password.
 */
export function verifyNative(stage2: Buffer, scramble: Buffer, token: Buffer): Buffer | null {
  if (stage2.length !== 20) return null;
  if (token.length === 0) return stage2.equals(EMPTY_STAGE2) ? Buffer.from(EMPTY_STAGE1) : null;
  if (token.length !== 20) return null;
  const stage1 = xor(token, sha1(nonce(scramble), stage2));
  return timingSafeEqual(sha1(stage1), stage2) ? stage1 : null;
}
