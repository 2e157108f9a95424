import { servingWeight } from "./lag-weight.js";
import type { LagPolicy, WeighInput, WeightedReplica } from "./types.js";

/**
 * Effective weights over all replicas: configured weight × lag factor for eligible ones, 0 for
 * the rest (lag-weight.ts has the formula and its floor).
 *
 * lag.minServing (Vitess's min_number_serving_vttablets): when fewer than N replicas are
 * eligible, the best of the excluded ones are kept serving anyway, so that a lag spike on every
 * replica does not push the whole read load onto the primary (or fail it) at once. "Best" means
 * least lag among those the last check saw up and replicating with known lag and that no
 * statement has failed on since; a down replica or one with unknown lag is never re-admitted this
 * way, whatever N says. Ties keep config order. Such a replica is eligible with its reason saying
 * why ("min_serving 2: lag 3400ms > max 3000ms"); past maxMs it gets the floor factor 0.01, so
 * fresher replicas still take nearly all reads while any exist.
 *
 * Example, minServing 2, lags (r1 100, r2 3400, r3 5000, r4 down): r1 is eligible by itself,
 * r2 joins it by min_serving; r3 stays out (not needed), r4 stays out (down).
 *
 * A drained replica (`rwsplit drain`, or removed from the config) gets nothing, and min_serving
 * never brings it back: the operator took it out on purpose.
 */
/** The reason a drained replica shows (/backends, "no replica eligible: ..."). */
export const DRAINED = "drained: no new reads (rwsplit undrain puts it back)";

export function computeWeights(replicas: readonly WeighInput[], lag: LagPolicy): WeightedReplica[] {
  const out: WeightedReplica[] = replicas.map((r) =>
    r.drained === true
      ? { name: r.name, eligible: false, reason: DRAINED, effectiveWeight: 0 }
      : {
          name: r.name,
          eligible: r.state.eligible,
          reason: r.state.eligible ? null : r.state.reason,
          effectiveWeight: r.state.eligible ? servingWeight(r.weight, lagOf(r), lag) : 0,
        },
  );
  const eligibleCount = out.filter((r) => r.eligible).length;
  const missing = lag.minServing - eligibleCount;
  if (missing <= 0) return out;
  const spares = replicas
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => !r.drained && !r.state.eligible && r.state.usable && r.state.lagMs !== null)
    .sort((a, b) => lagOf(a.r) - lagOf(b.r) || a.i - b.i)
    .slice(0, missing);
  for (const { r, i } of spares) {
    out[i] = {
      name: r.name,
      eligible: true,
      reason: `min_serving ${lag.minServing}: ${r.state.reason ?? "excluded"}`,
      effectiveWeight: servingWeight(r.weight, lagOf(r), lag),
    };
  }
  return out;
}

function lagOf(r: WeighInput): number {
  return r.state.lagMs ?? Number.POSITIVE_INFINITY;
}
