import pino, { type Logger } from "pino";
import type { BackendConfig, Config } from "../config/types.js";
import { type CheckSession, initCheckSession, runBackendCheck } from "./backend-check.js";
import { MonitorConnection } from "./connection.js";
import { HeartbeatWriter } from "./heartbeat.js";
import { downObservation, observe } from "./observation.js";
import { Periodic } from "./periodic.js";
import type { BackendObservation, BackendRole } from "./types.js";

/**
 * The backend monitor: one loop per backend, each with its own connection as the monitor user,
 * checking every `monitor.intervalMs` (never overlapping, each bounded by `monitor.timeoutMs`),
 * plus the heartbeat writer on the primary. Every check ends in one `BackendObservation`, passed
 * to `onObservation` and kept for `snapshot()`. A config reload adds and removes loops
 * (`addBackend`, `removeBackend`); the others carry on untouched.
 */

export interface MonitorConfig {
  backends: Config["backends"];
  monitor: Config["monitor"];
}

export interface MonitorOptions {
  logger?: Logger;
  onObservation?: (o: BackendObservation) => void;
}

interface Loop {
  backend: BackendConfig;
  role: BackendRole;
  conn: MonitorConnection<CheckSession>;
  periodic: Periodic;
  last: BackendObservation;
}

export class Monitor {
  readonly #cfg: MonitorConfig;
  readonly #logger: Logger;
  readonly #onObservation: ((o: BackendObservation) => void) | undefined;
  #writer: HeartbeatWriter | null;
  #loops: Loop[];
  readonly #stopping: Promise<void>[] = [];
  #started = false;

  constructor(cfg: MonitorConfig, opts: MonitorOptions = {}) {
    this.#cfg = cfg;
    this.#logger = (opts.logger ?? pino({ level: "silent" })).child({ component: "monitor" });
    this.#onObservation = opts.onObservation;
    const primary = cfg.backends.primary;
    this.#writer = this.#heartbeatWriter(primary);
    this.#loops = [
      this.#loop(primary, "primary"),
      ...cfg.backends.replicas.map((r) => this.#loop(r, "replica")),
    ];
  }

  #loop(backend: BackendConfig, role: BackendRole): Loop {
    const { user, password, timeoutMs, intervalMs } = this.#cfg.monitor;
    const target = { host: backend.host, port: backend.port, user, password };
    const loop: Loop = {
      backend,
      role,
      conn: new MonitorConnection(target, timeoutMs, initCheckSession),
      periodic: new Periodic(intervalMs, () => this.#check(loop)),
      last: downObservation(backend.name, role, "not checked yet"),
    };
    return loop;
  }

  /** A backend added by a reload: checked from now on, as `role` until the next setTopology. */
  addBackend(backend: BackendConfig, role: BackendRole): void {
    if (this.#loops.some((l) => l.backend.name === backend.name)) return;
    const loop = this.#loop(backend, role);
    this.#loops.push(loop);
    if (this.#started) loop.periodic.start();
  }

  /** A backend removed by a reload: its loop stops (a check in flight finishes) and its connection closes. */
  async removeBackend(name: string): Promise<void> {
    const loop = this.#loops.find((l) => l.backend.name === name);
    if (loop === undefined || loop.role === "primary") return;
    this.#loops = this.#loops.filter((l) => l !== loop);
    await loop.periodic.stop();
    await loop.conn.close();
  }

  #heartbeatWriter(primary: BackendConfig): HeartbeatWriter | null {
    const { user, password, timeoutMs, heartbeat } = this.#cfg.monitor;
    if (!heartbeat.enabled) return null;
    return new HeartbeatWriter(
      { host: primary.host, port: primary.port, user, password },
      {
        schema: heartbeat.schema,
        periodMs: heartbeat.intervalMs,
        timeoutMs,
        logger: this.#logger.child({ backend: primary.name }),
      },
    );
  }

  /**
   * The topology changed (failover, switchover, rejoin): `primary` takes the heartbeat writer and
   * the primary's checks, `fenced` backends are checked but reported as fenced, the rest are
   * replicas. Takes effect from each loop's next check.
   */
  setTopology(primary: string, fenced: readonly string[]): void {
    const current = this.#loops.find((l) => l.role === "primary");
    for (const l of this.#loops) {
      l.role =
        l.backend.name === primary ? "primary" : fenced.includes(l.backend.name) ? "fenced" : "replica";
    }
    if (current?.backend.name === primary) return;
    const old = this.#writer;
    if (old) this.#stopping.push(old.stop());
    const next = this.#loops.find((l) => l.backend.name === primary);
    this.#writer = next ? this.#heartbeatWriter(next.backend) : null;
    if (this.#started) this.#writer?.start();
  }

  /**
   * Checks `name` now instead of at its next interval: the data path just failed to reach it, and
   * the HA detector should not wait up to `monitor.interval` to learn it. False when a check of it
   * is already in flight (its result is as fresh), when the monitor is stopped, or for an unknown name.
   */
  checkNow(name: string): boolean {
    for (const l of this.#loops) if (l.backend.name === name) return l.periodic.trigger();
    return false;
  }

  /** The latest observation of one backend by name. */
  observation(name: string): BackendObservation | undefined {
    return this.#loops.find((l) => l.backend.name === name)?.last;
  }

  start(): void {
    this.#started = true;
    this.#writer?.start();
    for (const l of this.#loops) l.periodic.start();
  }

  /** Stops every loop, waits for checks in flight (each bounded by the timeout), closes the connections. */
  async stop(): Promise<void> {
    this.#started = false;
    await Promise.all([
      this.#writer?.stop(),
      ...this.#stopping,
      ...this.#loops.map(async (l) => {
        await l.periodic.stop();
        await l.conn.close();
      }),
    ]);
  }

  /** The latest observation of every backend, in config order (configured primary first). */
  snapshot(): BackendObservation[] {
    return this.#loops.map((l) => l.last);
  }

  /** Whether the current primary's latest check succeeded (false before the first one). */
  primaryReachable(): boolean {
    const l = this.#loops.find((x) => x.role === "primary");
    return l?.last.up === true && l.last.role === "primary";
  }

  async #check(loop: Loop): Promise<void> {
    const started = performance.now();
    const schema = loop.role === "replica" && this.#writer ? this.#cfg.monitor.heartbeat.schema : null;
    let result = null;
    let error: string | null = null;
    try {
      result = await loop.conn.use((c, session) => runBackendCheck(c, session, schema));
    } catch (e) {
      error = describe(e);
    }
    const obs = observe({
      name: loop.backend.name,
      role: loop.role,
      result,
      error,
      writer: this.#writer?.state() ?? null,
      checkedAt: Date.now(),
      checkDurationMs: performance.now() - started,
    });
    // Removed while this check ran: nothing to report.
    if (!this.#loops.includes(loop)) return;
    this.#logChanges(loop.last, obs);
    loop.last = obs;
    try {
      this.#onObservation?.(obs);
    } catch (e) {
      this.#logger.error({ err: e, backend: obs.name }, "onObservation threw; the monitor carries on");
    }
  }

  /** Logs transitions only, not every check. */
  #logChanges(prev: BackendObservation, next: BackendObservation): void {
    const log = this.#logger.child({ backend: next.name, role: next.role });
    const first = prev.checkedAt === 0;
    if (next.up !== prev.up || (first && !next.up)) {
      if (next.up) log.info("backend up");
      else log.warn({ err: next.lastError }, "backend down");
    }
    if (next.up && prev.up && next.replicating !== prev.replicating) {
      if (next.replicating) log.info("replication running");
      else log.warn({ err: next.lastError }, "replication not running: lag unknown");
    }
    if (next.up && next.lagSource !== prev.lagSource && next.lagSource) {
      log.info({ lagSource: next.lagSource }, "lag source changed");
    }
  }
}

/** Node's connect errors can be AggregateErrors with an empty message (one per address family). */
function describe(e: unknown): string {
  const err = e as { message?: string; code?: string } | null;
  return err?.message || err?.code || String(e);
}
