import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { RwsplitError } from "../../src/errors.js";
import {
  isNativeHash,
  nativeHash,
  nativeToken,
  nativeTokenFromStage1,
  parseNativeHash,
  verifyNative,
} from "../../src/protocol/auth/native-password.js";
import { newScramble, SCRAMBLE_LENGTH, scramble } from "../../src/protocol/auth/scramble.js";

const sha1 = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
};

const SCRAMBLE = Buffer.from("0123456789abcdefghij");

// Tokens for SCRAMBLE, cross-checked once against mysql2's client (lib/auth_41.js calculateToken).
const VECTORS = [
  {
    password: "secret",
    hash: "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7",
    token: "f5cac3f3b3df2133feb57db682c71e6ed433a988",
  },
  {
    password: "password",
    hash: "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
    token: "a41b086992be108194f80bdc922a1af85d38a142",
  },
];

describe("scramble", () => {
  it("is 20 bytes of printable ASCII without NUL or '$'", () => {
    for (let i = 0; i < 500; i++) {
      const s = newScramble();
      expect(s.length).toBe(SCRAMBLE_LENGTH);
      for (const b of s) {
        expect(b).toBeGreaterThanOrEqual(0x21);
        expect(b).toBeLessThanOrEqual(0x7e);
        expect(b).not.toBe(0x24);
      }
    }
  });

  it("differs between calls and is exported under both names", () => {
    expect(newScramble().equals(newScramble())).toBe(false);
    expect(scramble().length).toBe(SCRAMBLE_LENGTH);
  });
});

describe("mysql_native_password", () => {
  it.each(VECTORS)("PASSWORD('$password') is the well-known hash", ({ password, hash }) => {
    expect(nativeHash(password)).toBe(hash);
    expect(isNativeHash(hash)).toBe(true);
  });

  it.each(VECTORS)("token for '$password' matches the known vector", ({ password, token }) => {
    expect(nativeToken(password, SCRAMBLE).toString("hex")).toBe(token);
    expect(nativeToken(Buffer.from(password), SCRAMBLE).toString("hex")).toBe(token);
  });

  it("token is SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))), step by step", () => {
    const stage1 = sha1("secret");
    const mask = sha1(SCRAMBLE, sha1(stage1));
    const want = Buffer.from(stage1.map((b, i) => b ^ mask[i]!));
    expect(nativeToken("secret", SCRAMBLE).equals(want)).toBe(true);
  });

  it("ignores a trailing NUL after the 20-byte scramble", () => {
    const withNul = Buffer.concat([SCRAMBLE, Buffer.from([0])]);
    expect(nativeToken("secret", withNul).toString("hex")).toBe(VECTORS[0]!.token);
  });

  it("empty password sends an empty response, accepted only for an empty-password account", () => {
    expect(nativeToken("", SCRAMBLE).length).toBe(0);
    const emptyStage2 = parseNativeHash(nativeHash(""));
    expect(verifyNative(emptyStage2, SCRAMBLE, Buffer.alloc(0))?.equals(sha1(""))).toBe(true);
    expect(verifyNative(parseNativeHash(VECTORS[0]!.hash), SCRAMBLE, Buffer.alloc(0))).toBeNull();
    expect(nativeTokenFromStage1(sha1(""), emptyStage2, SCRAMBLE).length).toBe(0);
  });

  it("server verification round trip returns stage1", () => {
    for (let i = 0; i < 20; i++) {
      const s = newScramble();
      const stage2 = parseNativeHash(nativeHash("secret"));
      const stage1 = verifyNative(stage2, s, nativeToken("secret", s));
      expect(stage1?.equals(sha1("secret"))).toBe(true);
    }
  });

  it("wrong password, truncated or foreign-scramble token → null", () => {
    const stage2 = parseNativeHash(VECTORS[0]!.hash);
    expect(verifyNative(stage2, SCRAMBLE, nativeToken("Secret", SCRAMBLE))).toBeNull();
    expect(verifyNative(stage2, SCRAMBLE, nativeToken("secret", SCRAMBLE).subarray(0, 19))).toBeNull();
    expect(verifyNative(stage2, newScramble(), nativeToken("secret", SCRAMBLE))).toBeNull();
    expect(verifyNative(Buffer.alloc(5), SCRAMBLE, nativeToken("secret", SCRAMBLE))).toBeNull();
  });

  it("stage1 learnt from a client login logs in to a backend knowing only the hash", () => {
    const stage2 = parseNativeHash(VECTORS[1]!.hash);
    const stage1 = verifyNative(stage2, SCRAMBLE, nativeToken("password", SCRAMBLE))!;
    const backendScramble = newScramble();
    const viaStage1 = nativeTokenFromStage1(stage1, stage2, backendScramble);
    expect(viaStage1.equals(nativeToken("password", backendScramble))).toBe(true);
    expect(verifyNative(stage2, backendScramble, viaStage1)).not.toBeNull();
  });

  it("parses hashes in either case", () => {
    const upper = parseNativeHash(VECTORS[0]!.hash);
    expect(upper.toString("hex")).toBe(VECTORS[0]!.hash.slice(1).toLowerCase());
    expect(parseNativeHash(VECTORS[0]!.hash.toLowerCase()).equals(upper)).toBe(true);
  });

  it.each([
    ["no star", "14E65567ABDB5135D0CFD9A70B3032C179A49EE7"],
    ["too short", "*14E65567ABDB5135D0CFD9A70B3032C179A49EE"],
    ["too long", "*14E65567ABDB5135D0CFD9A70B3032C179A49EE70"],
    ["not hex", "*14E65567ABDB5135D0CFD9A70B3032C179A49EEZ"],
    ["plaintext", "secret"],
    ["empty", ""],
  ])("rejects a malformed hash (%s) with CONFIG_INVALID", (_name, hash) => {
    expect(isNativeHash(hash)).toBe(false);
    expect(() => parseNativeHash(hash)).toThrow(RwsplitError);
    expect(() => parseNativeHash(hash)).toThrow(/40 hex digits/);
    try {
      parseNativeHash(hash);
    } catch (err) {
      expect((err as RwsplitError).code).toBe("CONFIG_INVALID");
    }
  });
});
