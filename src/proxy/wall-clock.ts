/**
 * `Date.now()` from a `performance.now()` reading the caller already made. A statement reads the
 * clock at its start and at its end for its duration; the same two readings give the wall-clock
 * times its idle bookkeeping needs (the pool's ping after idle, the connection's last use, the
 * session's wait_timeout, the digests' last seen). A clock read costs ~45 ns on the 2-core dev
 * machine; a statement made four.
 *
 * The two clocks run at the same rate (NTP slews both); only a step of the system clock parts
 * them. The offset between them is read again once a second has passed since it was last read
 * (at most one pair of reads a second), so a step reaches these timestamps within a second: the
 * timeouts they serve count seconds. Otherwise the result is Date.now()'s, or up to a millisecond
 * behind it (never ahead: an idle time comes out no longer than Date.now() would make it).
 */
let offset = Date.now() - performance.now();
let offsetReadAt = performance.now();

/** The wall-clock ms (as `Date.now()`) of the moment `performance.now()` returned `perfMs`. */
export function wallMs(perfMs: number): number {
  if (perfMs - offsetReadAt >= 1000) {
    const wall = Date.now(); // first: the offset may come out short, never long
    offsetReadAt = performance.now();
    offset = wall - offsetReadAt;
  }
  return Math.floor(perfMs + offset);
}
