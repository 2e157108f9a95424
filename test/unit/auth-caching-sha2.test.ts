import { constants, createHash, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RwsplitError } from "../../src/errors.js";
import {
  CACHING_SHA2_PLUGIN,
  decryptSha2Password,
  encryptSha2Password,
  parseSha2ClearPassword,
  SHA2_FAST_AUTH_SUCCESS,
  SHA2_PERFORM_FULL_AUTH,
  SHA2_REQUEST_PUBLIC_KEY,
  sha2Token,
  supportedPlugins,
  verifySha2Fast,
} from "../../src/protocol/auth/caching-sha2.js";
import { NATIVE_PASSWORD_PLUGIN, nativeHash } from "../../src/protocol/auth/native-password.js";
import { newScramble } from "../../src/protocol/auth/scramble.js";

const sha256 = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

const SCRAMBLE = Buffer.from("0123456789abcdefghij");

// Tokens for SCRAMBLE, cross-checked once against mysql2's client
// (lib/auth_plugins/caching_sha2_password.js calculateToken).
const VECTORS = [
  { password: "secret", token: "7e4adda2f2d5ef09b4147518becb0cee2939376203650a8c2bb2815959364bd0" },
  { password: "password", token: "20f074817578f967c4f3f5e882e7babcc397d12e3d5894a1e304cf2eaebdc850" },
];

// One 2048-bit key for the file: generation costs ~100-300 ms.
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PUBLIC_PEM = publicKey.export({ type: "spki", format: "pem" }).toString();
const PRIVATE_PEM = privateKey.export({ type: "pkcs8", format: "pem" }).toString();

describe("caching_sha2_password token", () => {
  it.each(VECTORS)("token for '$password' matches the known vector", ({ password, token }) => {
    expect(sha2Token(password, SCRAMBLE).toString("hex")).toBe(token);
  });

  it("is SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble), step by step", () => {
    const s1 = sha256("secret");
    const mask = sha256(sha256(s1), SCRAMBLE);
    const want = Buffer.from(s1.map((b, i) => b ^ mask[i]!));
    expect(sha2Token("secret", SCRAMBLE).equals(want)).toBe(true);
    // The other concatenation order gives something else: the order matters.
    const reversed = sha256(SCRAMBLE, sha256(s1));
    expect(sha2Token("secret", SCRAMBLE).equals(Buffer.from(s1.map((b, i) => b ^ reversed[i]!)))).toBe(false);
  });

  it("fast path round trip; wrong password, other scramble or short token fail", () => {
    const s = newScramble();
    expect(verifySha2Fast("secret", s, sha2Token("secret", s))).toBe(true);
    expect(verifySha2Fast("secret", s, sha2Token("Secret", s))).toBe(false);
    expect(verifySha2Fast("secret", s, sha2Token("secret", newScramble()))).toBe(false);
    expect(verifySha2Fast("secret", s, sha2Token("secret", s).subarray(0, 31))).toBe(false);
    expect(verifySha2Fast("secret", s, Buffer.alloc(0))).toBe(false);
  });

  it("empty password: empty token, accepted only for an empty password", () => {
    expect(sha2Token("", SCRAMBLE).length).toBe(0);
    expect(verifySha2Fast("", SCRAMBLE, Buffer.alloc(0))).toBe(true);
    expect(verifySha2Fast("", SCRAMBLE, sha2Token("x", SCRAMBLE))).toBe(false);
  });
});

describe("caching_sha2_password full authentication", () => {
  it("uses the one-byte messages of the MySQL protocol", () => {
    expect([SHA2_REQUEST_PUBLIC_KEY, SHA2_FAST_AUTH_SUCCESS, SHA2_PERFORM_FULL_AUTH]).toEqual([2, 3, 4]);
  });

  it.each(["secret", "", "pässwörd-ünïcode", "a".repeat(60)])("RSA round trip of %j", (password) => {
    const s = newScramble();
    const enc = encryptSha2Password(password, PUBLIC_PEM, s);
    expect(enc.length).toBe(256);
    expect(decryptSha2Password(enc, privateKey, s)).toBe(password);
    expect(decryptSha2Password(enc, PRIVATE_PEM, s)).toBe(password);
  });

  it("the plaintext under RSA is (password NUL) XOR scramble repeated", () => {
    const pw = "a-password-longer-than-twenty-bytes";
    const enc = encryptSha2Password(pw, PUBLIC_PEM, SCRAMBLE);
    // Decrypt with the primitive only (OAEP, SHA-1) to look at the raw plaintext.
    const raw = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" },
      enc,
    );
    const want = Buffer.from(`${pw}\0`).map((b, i) => b ^ SCRAMBLE[i % 20]!);
    expect(raw.equals(Buffer.from(want))).toBe(true);
  });

  it("a different scramble yields a different password (never the right one)", () => {
    const enc = encryptSha2Password("secret", PUBLIC_PEM, SCRAMBLE);
    expect(decryptSha2Password(enc, privateKey, newScramble())).not.toBe("secret");
  });

  it("garbage or another key's ciphertext is a PROTOCOL_VIOLATION", () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;
    const enc = encryptSha2Password("secret", other, SCRAMBLE);
    expect(() => decryptSha2Password(enc, privateKey, SCRAMBLE)).toThrow(RwsplitError);
    try {
      decryptSha2Password(Buffer.alloc(256, 7), privateKey, SCRAMBLE);
      expect.unreachable();
    } catch (err) {
      expect((err as RwsplitError).code).toBe("PROTOCOL_VIOLATION");
    }
  });

  it("parses the clear-text packet sent over TLS", () => {
    expect(parseSha2ClearPassword(Buffer.from("secret\0"))).toBe("secret");
    expect(parseSha2ClearPassword(Buffer.from("secret"))).toBe("secret");
    expect(parseSha2ClearPassword(Buffer.from("\0"))).toBe("");
  });
});

describe("supportedPlugins", () => {
  it("plaintext allows both; a native hash only mysql_native_password", () => {
    expect(supportedPlugins("secret")).toEqual([CACHING_SHA2_PLUGIN, NATIVE_PASSWORD_PLUGIN]);
    expect(supportedPlugins("")).toEqual([CACHING_SHA2_PLUGIN, NATIVE_PASSWORD_PLUGIN]);
    expect(supportedPlugins(nativeHash("secret"))).toEqual([NATIVE_PASSWORD_PLUGIN]);
  });
});
