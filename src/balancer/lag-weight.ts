import type { LagPolicy } from "./types.js";

/**
 * How replication lag scales a replica's share of reads.
 *
 *   lagFactor(lag) = 1                                      lag <= soft
 *                  = 1 - (lag - soft) / (max - soft)        soft < lag < max
 *                  = 0                                      lag >= max
 *
 * Worked examples with the defaults soft = 500 ms, max = 3000 ms (range 2500 ms):
 *
 *   lag ms   0     500   1000   1500   2000   2500   2975   3000   3400
 *   factor   1     1     0.8    0.6    0.4    0.2    0.01   0      0
 *
 * e.g. lag 1500: 1 - (1500 - 500) / (3000 - 500) = 1 - 1000/2500 = 0.6.
 *
 * Why linear and not a smoother curve (smoothstep, exponential):
 * - Operators and tests can compute a share by hand: two weight-1 replicas at lag 0 and 1500
 *   get 1 and 0.6, i.e. 62.5 % and 37.5 % of the reads.
 * - The slope is the same everywhere, so the monitor's measurement noise (a heartbeat period,
 *   ±250 ms) moves the factor by the same ±0.1 wherever the lag sits; smoothstep is 1.5× as
 *   steep mid-range, which turns the same noise into visibly jumpier shares.
 * - It is already continuous where it matters: the weight reaches 0 at max, so excluding a
 *   replica at max takes away a share that had already drained to nothing: no step in load.
 *
 * A lag below 0 (clocks a few ms apart) counts as 0.
 */
export function lagFactor(lagMs: number, softMs: number, maxMs: number): number {
  if (lagMs <= softMs) return 1;
  if (lagMs >= maxMs) return 0;
  return 1 - (lagMs - softMs) / (maxMs - softMs);
}

/**
 * The least factor an eligible replica gets. Without it a replica in the last 1 % of the range
 * (2975..3000 ms by default), or one kept serving past max by lag.minServing, would be eligible
 * yet never drawn; "eligible" must mean "receives reads". It changes nothing else: where lagFactor
 * is above 0.01 the formula above is exact.
 */
export const MIN_SERVING_FACTOR = 0.01;

/**
 * The weight the picker uses for an eligible replica:
 *   weight × max(lagFactor(lag, soft, max), MIN_SERVING_FACTOR).
 * `lagMs` is the last known lag; an eligible replica always has one (eligibility.ts).
 */
export function servingWeight(weight: number, lagMs: number, lag: LagPolicy): number {
  return weight * Math.max(lagFactor(lagMs, lag.softMs, lag.maxMs), MIN_SERVING_FACTOR);
}
