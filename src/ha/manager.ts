import type { Logger } from "pino";
import type { BackendConfig, Config } from "../config/types.js";
import type { BackendObservation } from "../monitor/types.js";
import { assessPrimary, type DetectorState, INITIAL_DETECTOR_STATE } from "./detector.js";
import { type BackendPosition, type Discovery, discoverTopology } from "./discovery.js";
import type { Coordinator, Lease, TopologyRecord } from "./fleet.js";
import type { TopologyView } from "./topology-view.js";

/**
 * High availability: watches the primary, promotes a replica when it fails (failover), moves the
 * primary on request (switchover), and turns a fenced old primary back into a replica (rejoin).
 *
 * Every topology change runs under the coordinator's lease (a Redis lock with a fencing token
 * when a fleet shares Redis, an in-process one otherwise) and ends by publishing the next
 * topology record, generation + 1. Every instance, the one that did the work included, applies
 * a topology only from the coordinator (`onChange`), so a fleet converges on the same record.
 */

export interface NodeRef {
  name: string;
  host: string;
  port: number;
}

/** The MariaDB operations a topology change is made of (src/ha/replication-ops.ts, adapted in app.ts). */
export interface HaOps {
  /** The replica that received the most, ties by priority; with the positions read, for the record. */
  chooseCandidate(replicas: NodeRef[]): Promise<{ name: string | null; reason: string }>;
  /** Waits until `node` applied everything its IO thread received. */
  waitApplied(node: NodeRef, waitMs: number): Promise<void>;
  /** STOP SLAVE, RESET SLAVE ALL, read_only=OFF, semi-sync master settings. */
  promote(node: NodeRef): Promise<void>;
  /** Replicate from `primary` (MASTER_USE_GTID=slave_pos) and check the IO thread connects. */
  repoint(node: NodeRef, primary: NodeRef): Promise<void>;
  setReadOnly(node: NodeRef, on: boolean): Promise<void>;
  /** `@@gtid_binlog_pos` of `node`. */
  binlogPos(node: NodeRef): Promise<string>;
  waitForGtid(node: NodeRef, pos: string, waitMs: number): Promise<void>;
  /** Make a former primary a replica of `primary`; throws on a diverged history. */
  demote(node: NodeRef, primary: NodeRef): Promise<void>;
  checkDiverged(node: NodeRef, primary: NodeRef): Promise<{ diverged: boolean; detail: string }>;
}

/** What the manager drives in the proxy. */
export interface HaTarget {
  /** Applies a topology to the data path, the monitor and the balancer. */
  apply(t: TopologyView): void;
  holdWrites(): void;
  releaseWrites(): void;
  /** Sessions with a statement running or a transaction open on the primary. */
  primaryWork(): number;
  /** Checks `backend` now instead of at the monitor's next interval (Monitor.checkNow). */
  recheck?(backend: string): void;
}

export type ChangeKind = "failover" | "switchover" | "rejoin";

export interface ChangeReport {
  kind: ChangeKind;
  ok: boolean;
  from: string;
  to: string | null;
  generation: number | null;
  startedAt: string;
  durationMs: number;
  /** For a failover: from the primary's first failed check to the new primary taking writes. */
  sinceDownMs: number | null;
  steps: string[];
  /** Replicas that could not be repointed (excluded: they replicate from nobody). */
  excluded: { name: string; error: string }[];
  error: string | null;
}

export class HaError extends Error {
  constructor(
    message: string,
    /** HTTP status for the admin API: 400 bad request, 409 conflict, 500 failed midway. */
    readonly status: 400 | 409 | 500 | 503,
  ) {
    super(message);
    this.name = "HaError";
  }
}

/** Someone else is changing the topology: not a failure of ours. */
export class LeaseHeldError extends HaError {
  constructor(message: string) {
    super(message, 409);
    this.name = "LeaseHeldError";
  }
}

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
  now?: () => number;
}

const LEASE_TTL_MS = 60_000;
const HISTORY = 20;
/** Data-path failures come in bursts (every client at once): at most one extra check per this. */
const RECHECK_GAP_MS = 50;
/** A discovery that could not publish (the lock is held, or Redis is away) is tried again, backing off to this. */
const DISCOVERY_RETRY_MAX_MS = 30_000;

export class HaManager {
  readonly #o: HaManagerOptions;
  readonly #backends: Map<string, BackendConfig>;
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
  #discovery: Discovery | null = null;
  #discoveryRetry: { timer: NodeJS.Timeout | null; delayMs: number } = { timer: null, delayMs: 1000 };

  constructor(o: HaManagerOptions) {
    this.#o = o;
    const { primary, replicas } = o.config.backends;
    this.#backends = new Map([primary, ...replicas].map((b) => [b.name, b]));
    this.#log = o.logger.child({ component: "ha" });
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
    } else {
      await this.#discover();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#discoveryRetry.timer !== null) clearTimeout(this.#discoveryRetry.timer);
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
      discovery: this.#discovery,
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
          if (e instanceof LeaseHeldError) this.#log.info(e.message);
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
      const ops = this.#ops();
      r.steps.push(`primary ${t.primary} failed: ${why}`);
      this.#o.target.holdWrites();
      r.steps.push("holding new writes");
      const replicas = this.#replicaNames(t).map((n) => this.#node(n));
      const choice = await ops.chooseCandidate(replicas);
      if (choice.name === null) throw new HaError(`no replica can be promoted: ${choice.reason}`, 503);
      const candidate = this.#node(choice.name);
      r.to = candidate.name;
      r.steps.push(`candidate ${candidate.name}: ${choice.reason}`);
      await ops.waitApplied(candidate, this.#o.config.failover.catchUpMs);
      r.steps.push(`${candidate.name} applied its relay log`);
      await ops.promote(candidate);
      r.steps.push(`${candidate.name} promoted (replication reset, read_only=OFF)`);
      await this.#repointOthers(replicas, candidate, r);
      const next = { primary: candidate.name, fenced: [...t.fenced, t.primary], reason: "failover" };
      await this.#publish(lease, t, next, r);
      r.sinceDownMs = downSince === null ? null : this.#now() - downSince;
    });
  }

  /** Planned move of the primary to `to` (a replica). Clients outside transactions see a pause. */
  async switchover(to: string): Promise<ChangeReport> {
    const t = this.topology();
    const target = this.#backends.get(to);
    if (target === undefined) {
      throw new HaError(
        `unknown backend "${to}": expected one of ${[...this.#backends.keys()].join(", ")}`,
        400,
      );
    }
    if (to === t.primary) throw new HaError(`${to} is already the primary`, 400);
    if (t.fenced.includes(to)) throw new HaError(`${to} is fenced (a former primary): rejoin it first`, 409);
    const obs = this.#o.observation(to);
    if (!obs?.up || obs.replicating !== true) {
      throw new HaError(`${to} is not a healthy replica (${obs?.lastError ?? "not replicating"})`, 409);
    }
    return this.#change("switchover", t.primary, to, async (lease, r) => {
      const ops = this.#ops();
      const old = this.#node(t.primary);
      const next = this.#node(to);
      this.#o.target.holdWrites();
      r.steps.push("holding new writes");
      const drained = await this.#waitPrimaryIdle(this.#o.config.failover.switchoverTimeoutMs);
      r.steps.push(
        drained === 0
          ? "no statement or transaction left on the primary"
          : `${drained} session(s) still busy on the primary after ${this.#o.config.failover.switchoverTimeoutMs} ms: their transactions will be lost`,
      );
      await ops.setReadOnly(old, true);
      r.steps.push(`${old.name} read_only=ON`);
      let promoted = false;
      try {
        const pos = await ops.binlogPos(old);
        await ops.waitForGtid(next, pos, this.#o.config.failover.catchUpMs);
        r.steps.push(`${next.name} caught up to ${pos}`);
        await ops.promote(next);
        promoted = true;
        r.steps.push(`${next.name} promoted`);
      } finally {
        if (!promoted) {
          await ops.setReadOnly(old, false).catch((e) => {
            r.steps.push(`could not set ${old.name} read_only=OFF again: ${String(e)}`);
          });
          r.steps.push(`switchover abandoned: ${old.name} stays primary`);
        }
      }
      const others = this.#replicaNames(t)
        .filter((n) => n !== to)
        .map((n) => this.#node(n));
      await this.#repointOthers(others, next, r);
      let fenced = t.fenced;
      try {
        await ops.demote(old, next);
        r.steps.push(`${old.name} is now a replica of ${next.name}`);
      } catch (e) {
        fenced = [...fenced, old.name];
        r.steps.push(`${old.name} could not be made a replica (${errorText(e)}): fenced`);
      }
      await this.#publish(lease, t, { primary: to, fenced, reason: "switchover" }, r);
    });
  }

  /** Makes a fenced former primary a replica of the current primary, after checking its history. */
  async rejoin(name: string): Promise<ChangeReport> {
    const t = this.topology();
    if (!this.#backends.has(name)) {
      throw new HaError(
        `unknown backend "${name}": expected one of ${[...this.#backends.keys()].join(", ")}`,
        400,
      );
    }
    if (name === t.primary) throw new HaError(`${name} is the primary`, 400);
    return this.#change("rejoin", name, t.primary, async (lease, r) => {
      const ops = this.#ops();
      const node = this.#node(name);
      const primary = this.#node(t.primary);
      const d = await ops.checkDiverged(node, primary);
      r.steps.push(d.detail);
      if (d.diverged) {
        throw new HaError(
          `${name} has transactions ${primary.name} does not have (diverged): ${d.detail}. Restore it from a backup of ${primary.name} (or discard those transactions), then rejoin`,
          409,
        );
      }
      await ops.demote(node, primary);
      r.steps.push(`${name} replicates from ${primary.name}`);
      await this.#publish(
        lease,
        t,
        { primary: t.primary, fenced: t.fenced.filter((n) => n !== name), reason: "rejoin" },
        r,
      );
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Topology discovery (discovery.ts): while the fleet shares nothing but this config's guess
   * (generation 1, "initial"), ask the servers who is primary, and publish what they say as
   * generation 2 ("discovered") under the lease, so every instance of a fleet adopts one answer.
   * The lease also serializes instances starting together: the second one finds generation 2.
   * Never throws; what it saw is logged, and kept for /topology.
   */
  async #discover(): Promise<void> {
    this.#discoveryRetry.timer = null;
    const pending = () => {
      const t = this.topology();
      return !this.#stopped && t.generation === 1 && t.reason === "initial";
    };
    const read = this.#o.readPositions;
    if (read === undefined || !pending()) return;
    let d: Discovery;
    try {
      d = discoverTopology(await read(), this.topology().primary);
    } catch (e) {
      this.#log.error({ err: errorText(e) }, "topology discovery could not read the backends");
      return;
    }
    this.#discovery = d;
    const log = { outcome: d.outcome, primary: d.primary, fenced: d.fenced, seen: d.seen };
    if (d.outcome === "configured") this.#log.info(log, `topology discovery: ${d.reason}`);
    else if (d.outcome === "ambiguous")
      this.#log.warn(log, `topology discovery is inconclusive: ${d.reason}`);
    else this.#log.warn(log, `topology discovery: primary ${d.primary}: ${d.reason}`);
    if (d.outcome !== "discovered" || !pending()) return;
    const lease = this.#busy === null ? await this.#o.coordinator.tryAcquire(LEASE_TTL_MS) : null;
    let published = false;
    if (lease !== null) {
      try {
        // Another instance may have published while we read the servers.
        if (!pending()) return;
        published = await this.#o.coordinator.publish(lease, {
          generation: 2,
          primary: d.primary,
          fenced: d.fenced,
          reason: "discovered",
        });
      } finally {
        await this.#o.coordinator.release(lease).catch(() => {});
      }
    }
    if (published) {
      this.#adopt(this.#o.coordinator.current());
      return;
    }
    if (!pending()) return;
    const delay = this.#discoveryRetry.delayMs;
    this.#discoveryRetry.delayMs = Math.min(delay * 2, DISCOVERY_RETRY_MAX_MS);
    this.#log.warn(
      { coordinator: this.#o.coordinator.health(), retryInMs: delay },
      `could not publish the discovered topology (the topology lock is held, or ${this.#o.coordinator.health().backend} is unreachable): routing to the configured primary ${this.topology().primary} meanwhile`,
    );
    this.#discoveryRetry.timer = setTimeout(() => void this.#discover(), delay);
    this.#discoveryRetry.timer.unref();
  }

  async #change(
    kind: ChangeKind,
    from: string,
    to: string | null,
    work: (lease: Lease, r: ChangeReport) => Promise<void>,
  ): Promise<ChangeReport> {
    if (this.#o.ops === null) {
      throw new HaError("failover.user is not configured: rwsplit cannot change the topology", 409);
    }
    if (this.#busy !== null) throw new HaError(`a ${this.#busy} is already running`, 409);
    this.#busy = kind;
    const started = this.#now();
    let lease: Lease | null = null;
    try {
      lease = await this.#o.coordinator.tryAcquire(LEASE_TTL_MS);
    } finally {
      if (lease === null) this.#busy = null;
    }
    if (lease === null) {
      throw new LeaseHeldError(
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
        throw new HaError(`the topology changed meanwhile (generation ${now.generation}); nothing done`, 409);
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

  async #repointOthers(replicas: NodeRef[], primary: NodeRef, r: ChangeReport): Promise<void> {
    const others = replicas.filter((n) => n.name !== primary.name);
    const results = await Promise.allSettled(others.map((n) => this.#ops().repoint(n, primary)));
    results.forEach((res, i) => {
      const n = others[i]!;
      if (res.status === "fulfilled") r.steps.push(`${n.name} replicates from ${primary.name}`);
      else {
        r.excluded.push({ name: n.name, error: errorText(res.reason) });
        r.steps.push(`${n.name} could not be repointed: ${errorText(res.reason)}`);
      }
    });
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
        `could not publish generation ${generation} (lease lost or the store is unreachable); the servers were changed: check /backends and the other instances`,
        500,
      );
    }
    r.generation = generation;
    r.steps.push(`generation ${generation} published: primary ${next.primary}`);
    // Our own publish comes back through onChange too; adopting it now makes writes flow at once.
    this.#adopt(this.#o.coordinator.current());
  }

  #adopt(t: TopologyRecord): void {
    if (t.generation <= this.#applied) return;
    const unknown = [t.primary, ...t.fenced].filter((n) => !this.#backends.has(n));
    if (unknown.length > 0) {
      this.#log.error(
        { topology: t },
        `topology names backends not in this config: ${unknown.join(", ")}; ignored`,
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

  async #waitPrimaryIdle(timeoutMs: number): Promise<number> {
    const deadline = this.#now() + timeoutMs;
    for (;;) {
      const n = this.#o.target.primaryWork();
      if (n === 0 || this.#now() >= deadline) return n;
      await new Promise((r) => setTimeout(r, 20));
    }
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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
