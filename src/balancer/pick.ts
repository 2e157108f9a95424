/**
 * Weighted power-of-two-choices over a handful of replicas.
 *
 * Draw two distinct candidates, each with probability proportional to its weight (the second
 * from those left after the first), and take the one with less work per unit of weight
 * (inFlight / weight); on a tie, the first draw. With equal load per unit of weight (e.g. nothing
 * in flight) the first draw always wins, so the share of picks is exactly weight / total weight;
 * under load the second draw steers reads away from a replica that is slower than its weight
 * says, without the herding of "always the least loaded".
 *
 * Worked example: weights a = 3, b = 1, nothing in flight: the first draw is a with probability
 * 3/4, and it wins the tie, so a gets 75 % of the reads. With a running 6 statements and b 1:
 * 6/3 = 2 > 1/1 = 1, so whenever both are drawn b wins.
 *
 * Hot path: `pickIndex` runs per read and allocates nothing. The table keeps the names, weights,
 * in-flight counts and a per-pick mask in typed arrays that live as long as the replica set; the
 * caller rewrites the weights when the monitor changes them and the mask per pick. A cumulative
 * weight array would only help a binary search, which for 2 to 5 replicas is slower than the
 * linear walk, and the mask (exclude, max_lag, pool full) changes the sums on every pick anyway.
 * Measured (Node 20, 5 replicas, 2e7 picks): the only garbage is the two doubles V8 boxes when
 * `random()` is called through a function value; a loop doing nothing but those two calls
 * triggers the same number of young-generation GCs.
 */

export interface Candidate {
  name: string;
  /** Effective weight; 0 or less is never drawn. */
  weight: number;
  /** Statements running on it now. */
  inFlight: number;
  /** Its pool is full: skipped rather than queued behind. */
  exhausted: boolean;
}

/** The reusable structure `pickIndex` reads. One per replica set; entries are by index. */
export class PickTable {
  readonly names: readonly string[];
  /** Effective weights (0 = never drawn). */
  readonly weights: Float64Array;
  readonly inFlight: Float64Array;
  /** 1 = may be drawn in the next pick. The caller sets it before each pick; starts all 1. */
  readonly allowed: Uint8Array;

  constructor(names: readonly string[]) {
    this.names = [...names];
    this.weights = new Float64Array(names.length);
    this.inFlight = new Float64Array(names.length);
    this.allowed = new Uint8Array(names.length).fill(1);
  }

  get size(): number {
    return this.names.length;
  }
}

/** The index of the chosen entry, or -1 when none is allowed with a weight above 0. */
export function pickIndex(t: PickTable, random: () => number): number {
  const w = t.weights;
  let count = 0;
  let total = 0;
  let only = -1;
  for (let i = 0; i < w.length; i++) {
    if (t.allowed[i] === 1 && w[i]! > 0) {
      count += 1;
      total += w[i]!;
      only = i;
    }
  }
  if (count <= 1) return only;
  const a = draw(t, total, -1, random());
  const b = draw(t, total - w[a]!, a, random());
  return t.inFlight[b]! / w[b]! < t.inFlight[a]! / w[a]! ? b : a;
}

/** One draw with probability ∝ weight among the allowed entries other than `skip`. */
function draw(t: PickTable, total: number, skip: number, r: number): number {
  const w = t.weights;
  let x = r * total;
  let last = -1;
  for (let i = 0; i < w.length; i++) {
    if (i === skip || t.allowed[i] !== 1 || !(w[i]! > 0)) continue;
    last = i;
    x -= w[i]!;
    if (x < 0) return i;
  }
  // Only reached when rounding leaves x at 0 for r just below 1.
  return last;
}

/**
 * The same pick from plain objects, skipping exhausted ones. Builds a table per call: for tests
 * and cold paths; the balancer keeps one `PickTable` and calls `pickIndex`.
 */
export function pick(candidates: readonly Candidate[], random: () => number): string | null {
  const t = new PickTable(candidates.map((c) => c.name));
  candidates.forEach((c, i) => {
    t.weights[i] = c.weight;
    t.inFlight[i] = c.inFlight;
    t.allowed[i] = c.exhausted ? 0 : 1;
  });
  const i = pickIndex(t, random);
  return i < 0 ? null : t.names[i]!;
}
