import {
  constants,
  createHash,
  type KeyObject,
  privateDecrypt,
  publicEncrypt,
  timingSafeEqual,
} from "node:crypto";

function sha256(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

function xorRepeat(a: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ key[i % key.length]!;
  return out;
}

/** Client token: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function sha2Token(password: string, scramble: Buffer): Buffer {
  if (password.length === 0) return Buffer.alloc(0);
  const s1 = sha256(Buffer.from(password, "utf8"));
  const s3 = sha256(sha256(s1), scramble.subarray(0, 20));
  return xorRepeat(s1, s3);
}

/** Server fast path: the proxy knows the plaintext, so the "cache" check is a recomputation. */
export function verifySha2Fast(password: string, scramble: Buffer, token: Buffer): boolean {
  const want = sha2Token(password, scramble);
  return want.length === token.length && (want.length === 0 || timingSafeEqual(want, token));
}

/** Full authentication without TLS: RSA-OAEP of (password + NUL) XOR scramble. */
export function encryptSha2Password(password: string, publicKeyPem: string, scramble: Buffer): Buffer {
  const plain = xorRepeat(Buffer.from(`${password}\0`, "utf8"), scramble.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}

export function decryptSha2Password(
  encrypted: Buffer,
  privateKey: KeyObject | string,
  scramble: Buffer,
): string {
  const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, encrypted);
  const pw = xorRepeat(plain, scramble.subarray(0, 20));
  const end = pw.indexOf(0);
  return pw.subarray(0, end < 0 ? pw.length : end).toString("utf8");
}
