import { randomBytes } from "node:crypto";

/** Length of the auth-plugin-data nonce (8 bytes in HandshakeV10 part 1 + 12 in part 2). */
export const SCRAMBLE_LENGTH = 20;

const FIRST = 0x21; // '!'
const LAST = 0x7e; // '~'
const DOLLAR = 0x24;
const RANGE = LAST - FIRST + 1; // 94
// Largest multiple of 94 below 256: bytes at or above it are redrawn so every character is
// equally likely (a plain `% 94` would favour the first 68 characters).
const UNBIASED_LIMIT = 256 - (256 % RANGE);

/**
 * A fresh 20-byte nonce for HandshakeV10 / AuthSwitchRequest.
 *
 * Servers disagree on the alphabet: MySQL's `generate_user_salt()` takes random bytes `& 0x7f`
 * and bumps `'\0'` and `'$'` by one (so 1..127, no NUL, no '$': the nonce doubles as the
 * `$A$005$salt` field of caching_sha2 hashes), MariaDB's `create_random_string()` draws printable
 * ASCII 33..126. We use the intersection, printable ASCII without '$': never NUL (part 2 is sent
 * NUL-terminated, and clients stop reading at the first NUL) and valid in every character set.
 */
export function newScramble(): Buffer {
  const out = Buffer.allocUnsafe(SCRAMBLE_LENGTH);
  let n = 0;
  while (n < SCRAMBLE_LENGTH) {
    for (const b of randomBytes(SCRAMBLE_LENGTH * 2)) {
      if (b >= UNBIASED_LIMIT) continue;
      const c = FIRST + (b % RANGE);
      if (c === DOLLAR) continue;
      out[n++] = c;
      if (n === SCRAMBLE_LENGTH) break;
    }
  }
  return out;
}

/** Alias under the name the design notes use. */
export const scramble = newScramble;
