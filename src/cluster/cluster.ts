import type { Logger } from "pino";
import { Balancer } from "../balancer/balancer.js";
import { LagTracker } from "../balancer/lag-state.js";
import type { LagPolicy } from "../balancer/types.js";
import type { BackendConfig, Config } from "../config/types.js";
import { RuntimeChangeError, RwsplitError } from "../errors.js";
import type { EventFeed } from "../events/feed.js";
import type { TopologyView } from "../ha/topology-view.js";
import type { Metrics } from "../metrics/registry.js";
import type { Monitor, MonitorConfig, MonitorOptions } from "../monitor/monitor.js";
import type { BackendObservation, BackendRole } from "../monitor/types.js";
import { BalancedPicker } from "../proxy/balanced-picker.js";
import { Upstreams } from "../proxy/upstreams.js";
import { type DrainPurpose, type DrainState, startDrain, stepDrain, undrainRefusal } from "./drain.js";

/**
 * The backends a running proxy serves from, and every part that has one entry per backend: the
 * pools (Upstreams), the monitor's loops, the lag-weighted balancer and its picker, the lag
 * policy's memory. Backends come and go here only: at start (the config), by a reload (`add`,
 * `remove`) and by maintenance (`drain`, `undrain`); the topology (failover, switchover, rejoin)
 * says which of them is primary (`applyTopology`).
 *
 * A removed or drained backend is drained first (drain.ts): no new reads from the moment it is
 * asked; reads in flight and sessions pinned to it finish, up to `drain_timeout`; a drained
 * backend's connections close as they are given back. A removed one is then forgotten: its
 * pool closed, its monitor loop stopped, its series gone from the metrics.
 */

/** The monitor as the cluster and the control plane use it (its loops and checks: monitor.ts). */
export type BackendMonitor = Pick<
  Monitor,
  | "start"
  | "stop"
  | "addBackend"
  | "removeBackend"
  | "setTopology"
  | "checkNow"
  | "observation"
  | "snapshot"
  | "primaryReachable"
>;

/**
 * A follower's monitor: it checks nothing (the supervisor's observations come in through
 * `observe`), and its process never loads the monitor's code or mysql2.
 */
const NOT_MONITORED: BackendMonitor = {
  start() {},
  stop: async () => {},
  addBackend() {},
  removeBackend: async () => {},
  setTopology() {},
  checkNow: () => false,
  observation: () => undefined,
  snapshot: () => [],
  primaryReachable: () => false,
};

export interface ClusterOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  events: EventFeed;
  /** Each monitor observation, once the cluster took it (the HA manager's detector). */
  onObservation?(o: BackendObservation): void;
  /**
   * A worker process's cluster (src/workers/worker.ts): fed the supervisor's observations, it
   * logs its balancer's transitions at debug only; the supervisor logs and counts them once.
   */
  follower?: boolean;
  /** The monitor's class (monitor.ts Monitor); required unless `follower`, which has none. */
  monitor?: new (
    cfg: MonitorConfig,
    opts: MonitorOptions,
  ) => BackendMonitor;
}

/** How often drains look at what still runs on their backend. */
const DRAIN_TICK_MS = 100;

export class Cluster {
  readonly upstreams: Upstreams;
  readonly monitor: BackendMonitor;
  /** Latest observation per backend name. */
  readonly latest = new Map<string, BackendObservation>();
  #backends: BackendConfig[];
  #lagPolicy: LagPolicy;
  #drainTimeoutMs: number;
  #balancer: Balancer;
  #picker!: BalancedPicker;
  readonly #lag = new LagTracker();
  readonly #drains = new Map<string, DrainState>();
  readonly #o: ClusterOptions;
  readonly #log: Logger;
  /** What a caught-up replica's lag may read: one heartbeat period, or Seconds_Behind_Master's 1 s. */
  readonly #lagResolutionMs: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: ClusterOptions) {
    const { config } = o;
    this.#o = o;
    this.#log = o.logger.child({ component: "cluster" });
    this.#backends = [config.backends.primary, ...config.backends.replicas];
    this.#lagPolicy = config.lag;
    this.#drainTimeoutMs = config.drainTimeoutMs;
    const hb = config.monitor.heartbeat;
    this.#lagResolutionMs = hb.enabled ? hb.intervalMs : 1000;
    this.upstreams = new Upstreams(config);
    for (const pool of this.upstreams.pools.values()) o.metrics.countBytes(pool.endpoint.name, pool.bytes);
    if (o.follower === true) this.monitor = NOT_MONITORED;
    else if (o.monitor === undefined)
      throw new RwsplitError("INTERNAL", "a cluster that is not a follower needs its monitor");
    else
      this.monitor = new o.monitor(
        { backends: config.backends, monitor: config.monitor },
        { logger: o.logger, onObservation: (obs) => this.#observe(obs) },
      );
    this.#balancer = this.#build({ replay: true });
    o.metrics.runtime.watchDrains(() =>
      [...this.#drains].map(([backend, d]) => ({ backend, state: d.phase })),
    );
  }

  start(): void {
    this.monitor.start();
    this.#timer ??= setInterval(() => this.#tick(), DRAIN_TICK_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.monitor.stop();
  }

  get balancer(): Balancer {
    return this.#balancer;
  }

  /** The configured backends, in config order (removed ones until their drain ends). */
  backends(): readonly BackendConfig[] {
    return this.#backends;
  }

  backend(name: string): BackendConfig | undefined {
    return this.#backends.find((b) => b.name === name);
  }

  roleOf(name: string): BackendRole {
    const up = this.upstreams;
    return name === up.primary.endpoint.name ? "primary" : up.fenced.includes(name) ? "fenced" : "replica";
  }

  /** The drain of `name`, or undefined while it serves. */
  drainOf(name: string): DrainState | undefined {
    return this.#drains.get(name);
  }

  /** Backends drained (or draining) for maintenance or removal: not promoted, not switched over to. */
  isDrained(name: string): boolean {
    return this.#drains.has(name);
  }

  /** Lag policy state of `name` for /backends (null for backends it has not seen). */
  lagStateOf(name: string) {
    return this.#lag.stateOf(name);
  }

  /** Failover, switchover or rejoin: a new primary, fenced nodes, replicas; the lag memory restarts. */
  applyTopology(t: TopologyView): void {
    this.upstreams.setTopology(t);
    this.monitor.setTopology(t.primary, t.fenced);
    const drain = this.#drains.get(t.primary);
    if (drain !== undefined) {
      // Writes must go somewhere: the new primary serves, whatever its drain said.
      this.#drains.delete(t.primary);
      this.#poolOf(t.primary)?.setDraining(false);
      this.#log.warn(
        { backend: t.primary, purpose: drain.purpose },
        "a drained backend became the primary: its drain is cancelled",
      );
    }
    this.#lag.clear();
    this.#balancer = this.#build({ replay: true });
    this.#o.metrics.topologyGeneration(t.generation);
  }

  /** A backend added by a reload: monitored at once, serving reads once the balancer re-admits it. */
  add(b: BackendConfig): void {
    const known = this.backend(b.name);
    if (known !== undefined) {
      // Listed again while its removal drains: same server, it simply stays.
      if (this.#drains.get(b.name)?.purpose !== "removal") return;
      if (known.host !== b.host || known.port !== b.port) {
        throw new RuntimeChangeError(
          "CHANGE_REFUSED",
          `${b.name} is still draining from its removal at its old address: reload again once it is gone from /backends`,
        );
      }
      this.#drains.delete(b.name);
      this.#poolOf(b.name)?.setDraining(false);
      this.#replace(b.name, () => b);
      this.#balancer.setDrained(b.name, false, Date.now());
      this.#balancer.setWeight(b.name, b.weight, Date.now());
      return;
    }
    this.#backends = [...this.#backends, b];
    const pool = this.upstreams.add(b);
    this.#o.metrics.countBytes(b.name, pool.bytes);
    this.monitor.addBackend(b, this.roleOf(b.name));
    this.#balancer = this.#build({ from: this.#balancer, admitting: new Set([b.name]) });
  }

  /** A backend the config no longer lists: drained, then forgotten (see the class comment). */
  remove(name: string): void {
    if (this.backend(name) === undefined) return;
    if (name === this.upstreams.primary.endpoint.name)
      throw new RuntimeChangeError("CHANGE_REFUSED", `${name} is the primary: switch over first`);
    this.#startDrain(name, "removal");
  }

  /** Maintenance: no new reads on replica `name`; see the class comment. */
  drain(name: string): DrainState {
    this.#known(name);
    if (name === this.upstreams.primary.endpoint.name) {
      throw new RuntimeChangeError(
        "CHANGE_REFUSED",
        `${name} is the primary: a primary cannot be drained; move the primary first (rwsplit switchover --to <replica>), then drain ${name}`,
      );
    }
    return this.#startDrain(name, "maintenance");
  }

  /** Back in service after a maintenance drain; false when it was not drained. */
  undrain(name: string): boolean {
    this.#known(name);
    const d = this.#drains.get(name);
    const refusal = undrainRefusal(d, name);
    if (refusal !== null) throw new RuntimeChangeError("CHANGE_REFUSED", refusal);
    if (d === undefined) return false;
    this.#drains.delete(name);
    this.#poolOf(name)?.setDraining(false);
    this.#balancer.setDrained(name, false, Date.now());
    return true;
  }

  setWeight(name: string, weight: number): void {
    this.#replace(name, (b) => ({ ...b, weight }));
    this.#balancer.setWeight(name, weight, Date.now());
  }

  setPriority(name: string, priority: number): void {
    this.#replace(name, (b) => ({ ...b, priority }));
  }

  setLagPolicy(lag: LagPolicy): void {
    this.#lagPolicy = lag;
    this.#balancer.setPolicy(lag, Date.now());
  }

  setDrainTimeout(ms: number): void {
    this.#drainTimeoutMs = ms;
  }

  // ---- internals -----------------------------------------------------------------------------

  #known(name: string): void {
    if (this.backend(name) !== undefined) return;
    const known = this.#backends.map((b) => b.name).join(", ");
    throw new RuntimeChangeError("CHANGE_UNKNOWN_BACKEND", `no backend "${name}": this proxy has ${known}`);
  }

  #replace(name: string, f: (b: BackendConfig) => BackendConfig): void {
    this.#backends = this.#backends.map((b) => (b.name === name ? f(b) : b));
  }

  #poolOf(name: string) {
    return this.upstreams.pools.get(name);
  }

  #startDrain(name: string, purpose: DrainPurpose): DrainState {
    const now = Date.now();
    const prev = this.#drains.get(name);
    const next = startDrain(prev, purpose, now, this.#drainTimeoutMs);
    this.#drains.set(name, next);
    if (prev === undefined) {
      this.#poolOf(name)?.setDraining(true);
      this.#balancer.setDrained(name, true, now);
    }
    return next;
  }

  /** Each drain looks at what still runs on its backend (see drain.ts). */
  #tick(): void {
    const now = Date.now();
    for (const [name, s] of this.#drains) {
      const pool = this.#poolOf(name);
      const load = {
        inFlight: this.#balancer.carry(name)?.inFlight ?? 0,
        connections: pool?.connectionCount ?? 0,
      };
      const step = stepDrain(s, load, now);
      if (step.state !== s) {
        this.#drains.set(name, step.state);
        const log = { backend: name, purpose: s.purpose, afterMs: now - s.since, forced: step.state.forced };
        if (step.state.forced)
          this.#log.warn(log, "drain_timeout passed: closing what is left on the backend");
        else this.#log.info(log, "backend drained");
        this.#o.events.push({
          kind: "drain",
          level: step.state.forced ? "warn" : "info",
          backend: name,
          message: `${name} drained after ${now - s.since} ms${step.state.forced ? " (closed at drain_timeout)" : ""}`,
        });
      }
      if (step.close) pool?.dropAll();
      if (step.remove) {
        this.#forget(name).catch((e: unknown) =>
          this.#log.error({ backend: name, err: (e as Error).message }, "removing a drained backend failed"),
        );
      }
    }
  }

  /** A removed backend, drained: its pool, monitor loop, balancer entry and metrics go. */
  async #forget(name: string): Promise<void> {
    // First: its loop leaves the monitor now (a check in flight then reports nothing).
    const stopped = this.monitor.removeBackend(name);
    this.#drains.delete(name);
    this.#backends = this.#backends.filter((b) => b.name !== name);
    this.upstreams.remove(name);
    this.upstreams.globals.forget(name);
    this.#balancer = this.#build({ from: this.#balancer });
    this.latest.delete(name);
    this.#o.metrics.forgetBackend(name);
    this.#log.info({ backend: name }, "backend removed: pool closed, no longer monitored");
    this.#o.events.push({
      kind: "backend-removed",
      backend: name,
      message: `${name} removed from the cluster`,
    });
    await stopped;
  }

  /**
   * An observation from elsewhere: a worker process's cluster is not monitored itself and takes
   * the supervisor's observations here (src/workers/worker.ts).
   */
  observe(o: BackendObservation): void {
    this.#observe(o);
  }

  #observe(o: BackendObservation): void {
    this.latest.set(o.name, o);
    // Sessions that log in after a SET GLOBAL lease connections that copied the new values.
    this.upstreams.globals.observe(o.name, o.globals);
    // The cache of prepared statements follows the server's max_prepared_stmt_count.
    if (o.maxPreparedStmtCount !== null)
      this.#poolOf(o.name)?.statementBudget.setServerLimit(o.maxPreparedStmtCount);
    // So does the largest client packet a session takes, the primary's max_allowed_packet.
    const pool = o.maxAllowedPacket === null ? undefined : this.#poolOf(o.name);
    if (pool !== undefined) pool.serverMaxAllowedPacket = o.maxAllowedPacket;
    if (o.role === "replica") this.#feed(this.#balancer, o);
    this.#o.onObservation?.(o);
  }

  #feed(b: Balancer, o: BackendObservation): void {
    const primary = this.latest.get(this.upstreams.primary.endpoint.name);
    b.observe(o.name, this.#lag.observe(o.name, o, primary), Date.now());
  }

  /**
   * The balancer over the current replicas, and its picker for the data path. After a topology
   * change it starts over and replays the latest observations (`replay`); after a member was
   * added or removed it takes over the previous one's state (`from`).
   */
  #build(opts: { replay?: boolean; from?: Balancer; admitting?: ReadonlySet<string> }): Balancer {
    const members = new Set(this.upstreams.replicas.map((p) => p.endpoint.name));
    const { metrics, events, logger } = this.#o;
    const b = new Balancer(
      this.#backends.filter((x) => members.has(x.name)),
      this.#lagPolicy,
      {
        // Cheap on the hot path: counts, no allocation; per user (pool limits are per user).
        isExhausted: (_name, i) => this.#picker.exhausted(i),
        // Logged once per transition, never silently (ProxySQL #3340: no flapping unnoticed).
        onTransition: (t) => {
          if (this.#o.follower === true) {
            logger.debug({ backend: t.name, to: t.to, reason: t.reason }, "replica eligibility changed");
            return;
          }
          // Excluded is what an operator must see; serving again (and at start) is good news.
          const level = t.to === "serving" ? "info" : "warn";
          logger[level](
            { backend: t.name, to: t.to, reason: t.reason, lagMs: t.lagMs },
            "replica eligibility changed",
          );
          metrics.balancerTransition(t.name, t.to);
          events.push({
            kind: t.to === "excluded" ? "exclusion" : "readmission",
            level: t.to === "excluded" ? "warn" : "info",
            backend: t.name,
            message:
              t.to === "excluded"
                ? `${t.name} excluded from reads: ${t.reason ?? "unknown reason"}`
                : `${t.name} serving reads${t.lagMs === null ? "" : ` (lag ${Math.round(t.lagMs)} ms)`}`,
            at: t.at,
          });
        },
        ...(opts.from === undefined ? {} : { from: opts.from }),
        ...(opts.admitting === undefined ? {} : { admitting: opts.admitting }),
        drained: new Set(this.#drains.keys()),
      },
    );
    if (opts.replay) {
      for (const name of members) {
        const o = this.latest.get(name);
        if (o !== undefined && o.checkedAt > 0) this.#feed(b, { ...o, role: "replica" });
      }
    }
    this.#picker = new BalancedPicker(this.upstreams.replicas, b, () => this.latest, this.#lagResolutionMs);
    this.upstreams.picker = this.#picker;
    return b;
  }
}
