import type { Logger } from "pino";
import type { BackendConfig, Config } from "../config/types.js";
import { HaError } from "../errors.js";
import type { BackendObservation } from "../monitor/types.js";
import {
  checkRejoin,
  checkSwitchover,
  errorText,
  failoverSteps,
  rejoinSteps,
  type StepContext,
  switchoverSteps,
} from "./change-steps.js";
import type { ChangeKind, ChangeReport, HaOps, HaTarget, NodeRef } from "./change-types.js";
import { assessPrimary, type DetectorState, INITIAL_DETECTOR_STATE } from "./detector.js";
import type { BackendPosition } from "./discovery.js";
import type { Coordinator, Lease, TopologyRecord } from "./fleet.js";
import { StartupDiscovery } from "./startup-discovery.js";

/**
 * High availability: watches the primary, promotes a replica when it fails (failover), moves the
 * primary on request (switchover), and turns a fenced old primary back into a replica (rejoin).
 *
 * Every topology change runs under the coordinator's lease (a Redis lock with a fencing token
 * when a fleet shares Redis, an in-process one otherwise) and ends by publishing the next
 * topology record, generation + 1. Every instance, the one that did the work included, applies
 * a topology only from the coordinator (`onChange`), so a fleet converges on the same record.
 * The steps of each change are in change-steps.ts; its vocabulary in change-types.ts.
 */

export type { ChangeKind, ChangeReport, HaOps, HaTarget, NodeRef } from "./change-types.js";

export interface HaManagerOptions {
  config: Config;
  coordinator: Coordinator;
  /** Absent when `failover.admin` is not configured: no topology change is possible. */
  ops: HaOps | null;
  target: HaTarget;
  observation(name: string): BackendObservation | undefined;
  logger: Logger;
  onChange?(report: ChangeReport): void;
  onTopology?(t: TopologyRecord): void;
  /**
   * Every backend's replication state (discovery.ts `readBackendPositions`), read at start when
   * the fleet shares no record yet. Absent, or without `ops`: the configured primary is taken as is.
   */
  readPositions?: () => Promise<BackendPosition[]>;
  /**
   * Backends drained for maintenance or removal (src/cluster): not chosen for promotion while
   * another replica can be, and refused as a switchover target.
   */
  drained?(name: string): boolean;
  now?: () => number;
}

const LEASE_TTL_MS = 60_000;
const HISTORY = 20;
/** Data-path failures come in bursts (every client at once): at most one extra check per this. */
const RECHECK_GAP_MS = 50;

export class HaManager {
  readonly #o: HaManagerOptions;
  #backends: Map<string, BackendConfig>;
  readonly #log: Logger;
  #detector: DetectorState = INITIAL_DETECTOR_STATE;
  #verdictReason = "not checked yet";
  #busy: ChangeKind | null = null;
  #applied = -1;
  #unsubscribe: (() => void) | null = null;
  readonly #history: ChangeReport[] = [];
  /** Fenced nodes we already set read_only on since they came back. */
  readonly #guarded = new Set<string>();
  #stopped = false;
  #nextAttemptAt = 0;
  /** The applied topology's primary: compared on the data path's failure hook without a copy. */
  #primary = "";
  #lastRecheckAt = 0;
  #discovery: StartupDiscovery | null = null;

  constructor(o: HaManagerOptions) {
    this.#o = o;
    const { primary, replicas } = o.config.backends;
    this.#backends = new Map([primary, ...replicas].map((b) => [b.name, b]));
    this.#log = o.logger.child({ component: "ha" });
  }

  /**
   * A reload changed the config: its backends (added, removed, priorities) and failover timings
   * count from the next change. The accounts stay (createHaOps built them at start).
   */
  setConfig(config: Config): void {
    this.#o.config = config;
    const { primary, replicas } = config.backends;
    this.#backends = new Map([primary, ...replicas].map((b) => [b.name, b]));
    // A record naming a primary this config lacked was ignored: it may be followable now.
    if (this.#unsubscribe !== null) this.#adopt(this.#o.coordinator.current());
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#o.coordinator.onChange((t) => this.#adopt(t));
    const initial: TopologyRecord = {
      generation: 1,
      primary: this.#o.config.backends.primary.name,
      fenced: [],
      reason: "initial",
      by: this.#o.coordinator.instanceId,
      at: this.#now(),
      fencingToken: 0,
    };
    await this.#o.coordinator.start(initial);
    this.#adopt(this.#o.coordinator.current());
    if (this.#o.ops === null) {
      this.#log.warn("failover.user is not set: rwsplit will not fail over, switch over or rejoin");
    } else if (this.#o.readPositions !== undefined) {
      this.#discovery = new StartupDiscovery({
        coordinator: this.#o.coordinator,
        readPositions: this.#o.readPositions,
        pending: () => {
          const t = this.topology();
          return !this.#stopped && t.generation === 1 && t.reason === "initial";
        },
        primary: () => this.topology().primary,
        idle: () => this.#busy === null,
        adopt: () => this.#adopt(this.#o.coordinator.current()),
        leaseTtlMs: LEASE_TTL_MS,
        log: this.#log,
      });
      await this.#discovery.run();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#discovery?.stop();
    this.#unsubscribe?.();
    await this.#o.coordinator.stop();
  }

  topology(): TopologyRecord {
    return this.#o.coordinator.current();
  }

  status() {
    const t = this.topology();
    return {
      generation: t.generation,
      primary: t.primary,
      fenced: t.fenced,
      changedBy: t.by,
      changedAt: new Date(t.at).toISOString(),
      reason: t.reason,
      automaticFailover: this.#automatic(),
      state: this.#busy ?? "idle",
      primaryVerdict: this.#verdictReason,
      coordinator: this.#o.coordinator.health(),
      discovery: this.#discovery?.last ?? null,
      history: [...this.#history],
    };
  }

  /**
   * The data path could not connect to `backend` or lost a connection to it. If it is the
   * primary, the monitor checks it now: the first failed check, which starts the detector's
   * clock, then comes within milliseconds of a crash under traffic instead of up to
   * `monitor.interval` later. Cheap and never throws: called from client sessions.
   */
  onBackendFailure(backend: string): void {
    if (this.#stopped || backend !== this.#primary || this.#o.target.recheck === undefined) return;
    const now = this.#now();
    if (now - this.#lastRecheckAt < RECHECK_GAP_MS) return;
    this.#lastRecheckAt = now;
    try {
      this.#o.target.recheck(backend);
    } catch (e) {
      this.#log.error({ err: errorText(e) }, "recheck threw");
    }
  }

  /** Feeds every monitor observation; may start a failover. Never throws. */
  onObservation(o: BackendObservation): void {
    if (this.#stopped) return;
    const t = this.topology();
    if (o.role === "fenced" && o.up && o.readOnly === false) this.#guardFenced(o.name);
    if (o.role === "fenced" && !o.up) this.#guarded.delete(o.name);
    if (o.name !== t.primary || this.#busy !== null) return;
    const replicas = this.#replicaNames(t)
      .map((n) => this.#o.observation(n))
      .filter((x): x is BackendObservation => x !== undefined);
    const a = assessPrimary(this.#detector, o, replicas, this.#now(), this.#o.config.failover.detectMs);
    if (a.verdict !== "healthy" && a.reason !== this.#verdictReason)
      this.#log.warn({ verdict: a.verdict }, a.reason);
    else if (a.verdict === "healthy" && this.#detector.downSince !== null) this.#log.info("primary is back");
    this.#detector = a.state;
    this.#verdictReason = a.reason;
    const now = this.#now();
    if (a.verdict === "failed" && this.#automatic() && now >= this.#nextAttemptAt) {
      // After a failed attempt, wait one detection period before the next.
      this.#nextAttemptAt = now + this.#o.config.failover.detectMs;
      void this.failover(a.reason).then(
        () => {
          this.#nextAttemptAt = 0;
        },
        (e) => {
          if (e instanceof HaError && e.code === "HA_LEASE_HELD") this.#log.info(e.message);
          else this.#log.error({ err: errorText(e) }, "failover failed; retrying after failover.detect");
        },
      );
    }
  }

  /** Promotes the best replica after the primary failed. */
  async failover(why: string): Promise<ChangeReport> {
    const t = this.topology();
    const downSince = this.#detector.downSince;
    return this.#change("failover", t.primary, null, async (lease, r) => {
      await failoverSteps(this.#steps(lease, t, r), why, r);
      r.sinceDownMs = downSince === null ? null : this.#now() - downSince;
    });
  }

  /** Planned move of the primary to `to` (a replica). Clients outside transactions see a pause. */
  async switchover(to: string): Promise<ChangeReport> {
    const t = this.topology();
    checkSwitchover(this.#backends, t, to, this.#o.observation(to));
    if (this.#o.drained?.(to))
      throw new HaError("HA_CONFLICT", `${to} is drained: undrain it first (rwsplit undrain ${to})`);
    return this.#change("switchover", t.primary, to, (lease, r) =>
      switchoverSteps(this.#steps(lease, t, r), to, r),
    );
  }

  /** Makes a fenced former primary a replica of the current primary, after checking its history. */
  async rejoin(name: string): Promise<ChangeReport> {
    const t = this.topology();
    checkRejoin(this.#backends, t, name);
    return this.#change("rejoin", name, t.primary, (lease, r) =>
      rejoinSteps(this.#steps(lease, t, r), name, r),
    );
  }

  // ---- internals -----------------------------------------------------------------------------

  async #change(
    kind: ChangeKind,
    from: string,
    to: string | null,
    work: (lease: Lease, r: ChangeReport) => Promise<void>,
  ): Promise<ChangeReport> {
    if (this.#o.ops === null) {
      throw new HaError(
        "HA_NOT_CONFIGURED",
        "failover.user is not configured: rwsplit cannot change the topology",
      );
    }
    if (this.#busy !== null) throw new HaError("HA_BUSY", `a ${this.#busy} is already running`);
    this.#busy = kind;
    const started = this.#now();
    let lease: Lease | null = null;
    try {
      lease = await this.#o.coordinator.tryAcquire(LEASE_TTL_MS);
    } finally {
      if (lease === null) this.#busy = null;
    }
    if (lease === null) {
      throw new HaError(
        "HA_LEASE_HELD",
        `another rwsplit instance holds the topology lock (or ${this.#o.coordinator.health().backend} is unreachable); it will publish the change`,
      );
    }
    const r: ChangeReport = {
      kind,
      ok: false,
      from,
      to,
      generation: null,
      startedAt: new Date(started).toISOString(),
      durationMs: 0,
      sinceDownMs: null,
      steps: [],
      excluded: [],
      error: null,
    };
    try {
      const now = this.#o.coordinator.current();
      if (now.generation !== this.#applied || (kind === "failover" && now.primary !== from)) {
        throw new HaError(
          "HA_CONFLICT",
          `the topology changed meanwhile (generation ${now.generation}); nothing done`,
        );
      }
      await work(lease, r);
      r.ok = true;
    } catch (e) {
      r.error = errorText(e);
      throw e;
    } finally {
      this.#o.target.releaseWrites();
      await this.#o.coordinator.release(lease).catch(() => {});
      r.durationMs = this.#now() - started;
      this.#busy = null;
      this.#record(r);
    }
    return r;
  }

  #record(r: ChangeReport): void {
    this.#history.unshift(r);
    this.#history.length = Math.min(this.#history.length, HISTORY);
    const log = { kind: r.kind, from: r.from, to: r.to, durationMs: r.durationMs, steps: r.steps };
    if (r.ok) this.#log.warn({ ...log, generation: r.generation, excluded: r.excluded }, `${r.kind} done`);
    else this.#log.error({ ...log, err: r.error }, `${r.kind} failed`);
    try {
      this.#o.onChange?.(r);
    } catch (e) {
      this.#log.error({ err: e }, "onChange threw");
    }
  }

  async #publish(
    lease: Lease,
    prev: TopologyRecord,
    next: { primary: string; fenced: string[]; reason: string },
    r: ChangeReport,
  ): Promise<void> {
    const generation = prev.generation + 1;
    const ok = await this.#o.coordinator.publish(lease, { generation, ...next });
    if (!ok) {
      throw new HaError(
        "HA_PUBLISH_FAILED",
        `could not publish generation ${generation} (lease lost or the store is unreachable); the servers were changed: check /backends and the other instances`,
      );
    }
    r.generation = generation;
    r.steps.push(`generation ${generation} published: primary ${next.primary}`);
    // Our own publish comes back through onChange too; adopting it now makes writes flow at once.
    this.#adopt(this.#o.coordinator.current());
  }

  #adopt(t: TopologyRecord): void {
    if (t.generation <= this.#applied) return;
    // A fenced backend this config no longer lists (removed by a reload) is simply not used; a
    // primary it does not list cannot be followed.
    if (!this.#backends.has(t.primary)) {
      this.#log.error(
        { topology: t },
        `topology names a primary not in this config: ${t.primary}; ignored (add it to the file and reload)`,
      );
      return;
    }
    const first = this.#applied < 0;
    this.#applied = t.generation;
    this.#primary = t.primary;
    this.#detector = INITIAL_DETECTOR_STATE;
    this.#o.target.apply({ generation: t.generation, primary: t.primary, fenced: t.fenced });
    if (!first || t.generation > 1) {
      this.#log.warn(
        { generation: t.generation, primary: t.primary, fenced: t.fenced, by: t.by, reason: t.reason },
        "topology changed",
      );
    }
    this.#o.onTopology?.(t);
  }

  /** What a change's steps (change-steps.ts) use, for the change from `t` under `lease`. */
  #steps(lease: Lease, t: TopologyRecord, r: ChangeReport): StepContext {
    return {
      ops: this.#ops(),
      target: this.#o.target,
      failover: this.#o.config.failover,
      topology: t,
      replicas: this.#replicaNames(t).map((n) => this.#node(n)),
      candidates: this.#candidates(t).map((n) => this.#node(n)),
      node: (name) => this.#node(name),
      publish: (next) => this.#publish(lease, t, next, r),
      now: () => this.#now(),
    };
  }

  /** A fenced former primary came back writable: make it read_only so nobody else writes there. */
  #guardFenced(name: string): void {
    if (this.#guarded.has(name) || this.#o.ops === null) return;
    this.#guarded.add(name);
    this.#o.ops.setReadOnly(this.#node(name), true).then(
      () => this.#log.warn({ backend: name }, "fenced former primary came back writable: set read_only=ON"),
      (e) => {
        this.#guarded.delete(name);
        this.#log.error({ backend: name, err: e }, "could not set read_only=ON on a fenced former primary");
      },
    );
  }

  #replicaNames(t: TopologyRecord): string[] {
    return [...this.#backends.keys()].filter((n) => n !== t.primary && !t.fenced.includes(n));
  }

  /** The replicas a failover may promote: the undrained ones, or all when every one is drained. */
  #candidates(t: TopologyRecord): string[] {
    const all = this.#replicaNames(t);
    const ready = all.filter((n) => !this.#o.drained?.(n));
    return ready.length > 0 ? ready : all;
  }

  #node(name: string): NodeRef {
    const b = this.#backends.get(name)!;
    return { name: b.name, host: b.host, port: b.port };
  }

  #ops(): HaOps {
    return this.#o.ops!;
  }

  #automatic(): boolean {
    return this.#o.config.failover.automatic && this.#o.ops !== null;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }
}
