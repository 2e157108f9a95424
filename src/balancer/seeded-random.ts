/**
 * A seeded uniform [0, 1) generator (mulberry32: a 32-bit state advanced by a Weyl increment
 * 0x6D2B79F5, then mixed) so that balancer tests and load simulations replay the same picks.
 * Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
