import { createHash, timingSafeEqual } from "node:crypto";

function sha1(...parts: Uint8Array[]): Buffer {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i % b.length]!;
  return out;
}

/** Client token: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
export function nativeToken(password: string | Buffer, scramble: Buffer): Buffer {
  const pw = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  if (pw.length === 0) return Buffer.alloc(0);
  const stage1 = sha1(pw);
  return nativeTokenFromStage1(stage1, sha1(stage1), scramble);
}

export function nativeTokenFromStage1(stage1: Buffer, stage2: Buffer, scramble: Buffer): Buffer {
  return xor(stage1, sha1(scramble.subarray(0, 20), stage2));
}

/** `*` + uppercase hex of SHA1(SHA1(password)), as PASSWORD() returns. */
export function nativeHash(password: string): string {
  return `*${sha1(sha1(Buffer.from(password, "utf8")))
    .toString("hex")
    .toUpperCase()}`;
}

export function parseNativeHash(hash: string): Buffer {
  if (!/^\*[0-9a-fA-F]{40}$/.test(hash))
    throw new Error("a native password hash is '*' followed by 40 hex digits");
  return Buffer.from(hash.slice(1), "hex");
}

/** Server side: recovers stage1 from the token and checks it against stage2; null when wrong. */
export function verifyNative(stage2: Buffer, scramble: Buffer, token: Buffer): Buffer | null {
  if (token.length !== 20) return null;
  const stage1 = xor(token, sha1(scramble.subarray(0, 20), stage2));
  return timingSafeEqual(sha1(stage1), stage2) ? stage1 : null;
}
