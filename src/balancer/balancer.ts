import { admittingState, initialState, markDown, observeReplica } from "./eligibility.js";
import { PickTable, pickIndex } from "./pick.js";
import type {
  EligibilityState,
  LagPolicy,
  ReplicaObservation,
  ReplicaSnapshot,
  TransitionEvent,
  WeightedReplica,
} from "./types.js";
import { computeWeights } from "./weights.js";

/** A replica as configured (backends.replicas[]): its stable name and relative weight. */
export interface BalancerReplica {
  name: string;
  weight: number;
}

/** What one read asks of the replica it runs on. */
export interface PickOptions {
  /** A max_lag query hint: skip replicas whose last measured lag is above it. */
  maxLagMs?: number | null;
  /** A replica that just failed this statement: retry on another one. */
  exclude?: string | null;
  /**
   * Why this replica cannot serve this read although the balancer would use it (e.g. it has not
   * applied the session's last write yet), or null when it can. Called only for candidates.
   */
  reject?: ((name: string) => string | null) | null;
}

export type PickResult = { readonly backend: string } | { readonly backend: null; readonly reason: string };

export interface BalancerOptions {
  /** Uniform [0, 1); default Math.random. Tests pass seededRandom(seed). */
  random?: () => number;
  /**
   * The replica's pool is full (no connection free and none may be opened): skip it. `index`: its
   * place in the list the balancer was built with (`replicaNames()`), to find it without a lookup.
   */
  isExhausted?: (name: string, index: number) => boolean;
  onTransition?: ((event: TransitionEvent) => void) | null;
  /**
   * The balancer this one replaces (replicas added or removed by a config reload): each replica
   * it knew keeps its state, transition count, reads in flight and drain, so nothing is
   * re-admitted or forgotten by the rebuild.
   */
  from?: Balancer;
  /** Replicas added to a running proxy: they start excluded and serve once re-admitted (admittingState). */
  admitting?: ReadonlySet<string>;
  /** Replicas drained (no reads), besides those carried over from `from`. */
  drained?: ReadonlySet<string>;
}

/** What a replacing balancer takes over of one replica (BalancerOptions.from). */
interface Carried {
  state: EligibilityState;
  transitions: number;
  inFlight: number;
  drained: boolean;
}

// Why a replica was not allowed in a pick, kept per index so that the failure reason is built
// only when a pick fails (the hot path stays allocation-free).
const OK = 0;
const INELIGIBLE = 1;
const EXCLUDED = 2;
const TOO_LAGGED = 3;
const EXHAUSTED = 4;
const REJECTED = 5;

/**
 * The lag-weighted balancer over the configured replicas: the monitor feeds it observations, the
 * router asks it for a replica, `/backends` and the metrics read its snapshot.
 *
 * In-flight accounting: a successful `pickReplica` counts the read as in flight on the chosen
 * replica; the caller calls `release(name)` exactly once when that statement finishes, fails or
 * is abandoned (also before retrying elsewhere with `exclude`). Pool exhaustion is asked of the
 * pool through `isExhausted` at pick time.
 *
 * Transitions: after every `observe`/`markDown` the effective eligibility (after lag.minServing)
 * of every replica is compared with the previous one, and `onTransition` fires once per change,
 * after all state is updated. The same count is in `snapshot()`.
 *
 * It never answers "no replica" without saying why: the reason names every replica and what kept
 * it out ("no replica eligible: r1 down, r2 replication stopped: lag unknown").
 */
export class Balancer {
  onTransition: ((event: TransitionEvent) => void) | null;

  private readonly replicas: BalancerReplica[];
  private readonly index = new Map<string, number>();
  /** 1 where the replica is drained (setDrained): weighed as ineligible. */
  private readonly drained: Uint8Array;
  private readonly states: EligibilityState[];
  private weighted: WeightedReplica[];
  private readonly transitions: number[];
  private readonly table: PickTable;
  private readonly why: Uint8Array;
  /** One frozen answer per replica, so that a successful pick allocates nothing. */
  private readonly choices: PickResult[];
  private readonly random: () => number;
  private readonly isExhausted: ((name: string, index: number) => boolean) | null;

  constructor(
    replicas: readonly BalancerReplica[],
    private lag: LagPolicy,
    options: BalancerOptions = {},
  ) {
    this.replicas = replicas.map((r) => ({ name: r.name, weight: r.weight }));
    this.replicas.forEach((r, i) => {
      this.index.set(r.name, i);
    });
    const carried = this.replicas.map((r) => options.from?.carry(r.name));
    const fresh = (name: string) => (options.admitting?.has(name) ? admittingState() : initialState());
    this.states = this.replicas.map((r, i) => carried[i]?.state ?? fresh(r.name));
    this.transitions = this.replicas.map((_, i) => carried[i]?.transitions ?? 0);
    this.drained = Uint8Array.from(this.replicas, (r, i) =>
      carried[i]?.drained || options.drained?.has(r.name) ? 1 : 0,
    );
    this.table = new PickTable(this.replicas.map((r) => r.name));
    carried.forEach((c, i) => {
      if (c !== undefined) this.table.inFlight[i] = c.inFlight;
    });
    this.why = new Uint8Array(this.replicas.length);
    this.choices = this.replicas.map((r) => Object.freeze({ backend: r.name }));
    this.random = options.random ?? Math.random;
    this.isExhausted = options.isExhausted ?? null;
    this.onTransition = options.onTransition ?? null;
    this.weighted = this.weigh();
  }

  /** A monitor observation of replica `name` (other names, e.g. the primary's, are ignored). */
  observe(name: string, observation: ReplicaObservation, now: number): void {
    const i = this.index.get(name);
    if (i === undefined) return;
    this.apply(i, observeReplica(this.states[i]!, observation, this.lag), now);
  }

  /** A statement on `name` failed because the backend is unreachable: stop using it now. */
  markDown(name: string, reason: string, now: number): void {
    const i = this.index.get(name);
    if (i === undefined) return;
    this.apply(i, markDown(this.states[i]!, reason), now);
  }

  /** Chooses a replica for one read and counts it in flight there; see the class comment. */
  pickReplica(opts?: PickOptions): PickResult {
    const t = this.table;
    const maxLag = opts?.maxLagMs ?? null;
    const exclude = opts?.exclude ?? null;
    const reject = opts?.reject ?? null;
    for (let i = 0; i < t.size; i++) {
      const w = this.weighted[i]!;
      const name = t.names[i]!;
      const lagMs = this.states[i]!.lagMs;
      let why = OK;
      if (!w.eligible || !(w.effectiveWeight > 0)) why = INELIGIBLE;
      else if (name === exclude) why = EXCLUDED;
      else if (maxLag !== null && (lagMs === null || lagMs > maxLag)) why = TOO_LAGGED;
      else if (this.isExhausted?.(name, i)) why = EXHAUSTED;
      else if (reject !== null && reject(name) !== null) why = REJECTED;
      this.why[i] = why;
      t.allowed[i] = why === OK ? 1 : 0;
    }
    const i = pickIndex(t, this.random);
    if (i >= 0) {
      t.inFlight[i]! += 1;
      return this.choices[i]!;
    }
    return { backend: null, reason: this.noReplicaReason(maxLag, reject) };
  }

  /** The read counted by `pickReplica` on `name` is over. */
  release(name: string): void {
    const i = this.index.get(name);
    if (i === undefined) return;
    const t = this.table;
    if (t.inFlight[i]! > 0) t.inFlight[i]! -= 1;
  }

  /** The replicas' names, in the order it was built with (isExhausted's `index`). */
  replicaNames(): readonly string[] {
    return this.table.names;
  }

  /** The balancer's view of every replica, in config order (for /backends and the metrics). */
  snapshot(): ReplicaSnapshot[] {
    return this.replicas.map((r, i) => {
      const s = this.states[i]!;
      const w = this.weighted[i]!;
      return {
        name: r.name,
        phase: s.phase,
        eligible: w.eligible,
        reason: w.reason,
        lagMs: s.lagMs,
        weight: r.weight,
        effectiveWeight: w.effectiveWeight,
        inFlight: this.table.inFlight[i]!,
        transitions: this.transitions[i]!,
        observedAt: s.at,
      };
    });
  }

  /**
   * A replica drained (true) gets no reads from now on, whatever its state; undrained (false), it
   * serves again as its state allows (the monitor kept checking it meanwhile).
   */
  setDrained(name: string, drained: boolean, now: number): void {
    const i = this.index.get(name);
    if (i === undefined || (this.drained[i] === 1) === drained) return;
    this.drained[i] = drained ? 1 : 0;
    this.reweigh(now, i);
  }

  /** A new configured weight (backends.replicas[].weight, by a reload). */
  setWeight(name: string, weight: number, now: number): void {
    const i = this.index.get(name);
    if (i === undefined || this.replicas[i]!.weight === weight) return;
    this.replicas[i]!.weight = weight;
    this.reweigh(now, i);
  }

  /**
   * New lag thresholds (`lag.*`, by a reload): weights are recomputed at once; admission follows
   * them from each replica's next observation.
   */
  setPolicy(lag: LagPolicy, now: number): void {
    this.lag = lag;
    this.reweigh(now, -1);
  }

  /** What a balancer replacing this one takes over of `name` (BalancerOptions.from). */
  carry(name: string): Carried | undefined {
    const i = this.index.get(name);
    if (i === undefined) return undefined;
    return {
      state: this.states[i]!,
      transitions: this.transitions[i]!,
      inFlight: this.table.inFlight[i]!,
      drained: this.drained[i] === 1,
    };
  }

  /** The admission state machine's own state (before lag.minServing); for tests and debugging. */
  stateOf(name: string): EligibilityState | undefined {
    const i = this.index.get(name);
    return i === undefined ? undefined : this.states[i];
  }

  private apply(i: number, next: EligibilityState, now: number): void {
    if (next === this.states[i]) return; // a stale observation changed nothing
    this.states[i] = next;
    this.reweigh(now, i);
  }

  /** Weighs again and reports each change of effective eligibility, replica `i` first (-1: none first). */
  private reweigh(now: number, i: number): void {
    const before = this.weighted;
    this.weighted = this.weigh();
    // The replica observed first, then any whose min_serving stand-in role it changed.
    const events: TransitionEvent[] = [];
    for (let k = i < 0 ? 0 : -1; k < this.weighted.length; k++) {
      const j = k < 0 ? i : k;
      if (k === i) continue;
      const w = this.weighted[j]!;
      if (w.eligible === before[j]!.eligible) continue;
      this.transitions[j]! += 1;
      const to = w.eligible ? "serving" : "excluded";
      events.push({ name: w.name, to, reason: w.reason, lagMs: this.states[j]!.lagMs, at: now });
    }
    for (const e of events) this.onTransition?.(e);
  }

  private weigh(): WeightedReplica[] {
    const weighted = computeWeights(
      this.replicas.map((r, i) => ({
        name: r.name,
        weight: r.weight,
        state: this.states[i]!,
        drained: this.drained[i] === 1,
      })),
      this.lag,
    );
    weighted.forEach((w, i) => {
      this.table.weights[i] = w.effectiveWeight;
    });
    return weighted;
  }

  /** Cold path: the failure reason, from the per-replica verdicts of the pick that just failed. */
  private noReplicaReason(maxLag: number | null, reject: ((name: string) => string | null) | null): string {
    if (this.replicas.length === 0) return "no replicas configured";
    const parts = this.replicas.map((r, i) => {
      const lagMs = this.states[i]!.lagMs;
      switch (this.why[i]) {
        case INELIGIBLE:
          return `${r.name} ${this.weighted[i]!.reason ?? "weight 0"}`;
        case EXCLUDED:
          return `${r.name} already tried`;
        case TOO_LAGGED:
          return `${r.name} lag ${lagMs === null ? "unknown" : `${Math.round(lagMs)}ms`} > max_lag ${maxLag}ms`;
        case EXHAUSTED:
          return `${r.name} pool full`;
        case REJECTED:
          return `${r.name} ${reject?.(r.name) ?? "rejected"}`;
        default:
          return `${r.name} not drawn`;
      }
    });
    return `no replica eligible: ${parts.join(", ")}`;
  }
}
