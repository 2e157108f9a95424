import { randomBytes } from "node:crypto";

/** A 20-byte nonce of printable ASCII without NUL (it is sent NUL-terminated in HandshakeV10). */
export function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < 20; i++) b[i] = 0x21 + (b[i]! % 94);
  return b;
}
