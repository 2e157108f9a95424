import nodeCluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";
import { AggregatorRegistry } from "prom-client";
import type { BackendStatus } from "../admin/status.js";
import type { RuntimeRecord } from "../cluster/runtime-record.js";
import type { Config } from "../config/types.js";
import type { DataPlane } from "../control-plane.js";
import type { StatementKinds } from "../data-path.js";
import { mergeDigestListings } from "../digests/merge.js";
import type { DigestListing, DigestSort } from "../digests/store.js";
import { RwsplitError } from "../errors.js";
import type { TopologyView } from "../ha/topology-view.js";
import { DATA_PATH_FAMILIES, type Metrics, type RemoteTotals } from "../metrics/registry.js";
import type { BackendObservation } from "../monitor/types.js";
import type { SharingStatus } from "../proxy/consistency/user-write-log.js";
import type { TlsPem } from "../proxy/tls-material.js";
import { mergeSharing, sumPools, sumTotals, withPoolCounts } from "./aggregate.js";
import {
  type FromWorker,
  isOurs,
  type KillAnswer,
  TAG,
  type ToWorker,
  type WorkerQuery,
  type WorkerStats,
} from "./messages.js";
import { type MetricsJson, RetiredWorkers } from "./retired.js";
import { PendingRequests } from "./rpc.js";
import { WORKER_INCARNATION_ENV, WORKER_SLOT_ENV } from "./worker.js";

/** How long the supervisor waits for a worker's answer (/sessions, /metrics, a KILL). */
const ANSWER_TIMEOUT_MS = 3000;
/** How long a worker may take from fork to listening. */
const START_TIMEOUT_MS = 60_000;
/** A worker that dies is started again after this (doubling while it keeps dying young, up to 5 s). */
const RESTART_DELAY_MS = 100;

interface Slot {
  index: number;
  worker: Worker | null;
  incarnation: number;
  ready: boolean;
  startedAt: number;
  restartDelayMs: number;
  stats: WorkerStats | null;
  /** Sessions busy on the primary as last reported; null: not reported since writes were held. */
  primaryWork: number | null;
  /** Its answer to the last /metrics scrape: kept in the totals when it dies (retired.ts). */
  lastMetrics: MetricsJson | null;
}

export interface WorkerPoolOptions {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  /** The topology, the latest observations and the runtime record, for a worker that starts. */
  topology(): TopologyView;
  observations(): BackendObservation[];
  record(): RuntimeRecord;
  onBackendFailure(backend: string): void;
  /** With tls.enabled: the certificate and keys every worker presents. */
  tls: TlsPem | null;
}

/**
 * The supervisor's side of `serve --workers N` (node:cluster): forks N worker processes
 * (worker.ts) that share the listen port (the supervisor accepts and hands connections out round
 * robin), feeds each one what decides routing, restarts one that dies (only its own clients lose
 * their connection), and answers for all of them as the control plane's DataPlane: sessions,
 * primary work, metrics, digests and pool counts are the workers' together.
 */
export class WorkerPool implements DataPlane {
  readonly #o: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #slots: Slot[];
  readonly #requests = new PendingRequests();
  #incarnations = 0;
  #writesHeld = false;
  #stopping = false;
  #listen: { host: string; port: number } | null = null;
  readonly #retired = new RetiredWorkers();

  constructor(n: number, o: WorkerPoolOptions) {
    this.#o = o;
    this.#log = o.logger.child({ component: "workers" });
    this.#slots = Array.from({ length: n }, (_, index) => ({
      index,
      worker: null,
      incarnation: 0,
      ready: false,
      startedAt: 0,
      restartDelayMs: RESTART_DELAY_MS,
      stats: null,
      primaryWork: 0,
      lastMetrics: null,
    }));
    o.metrics.useRemoteTotals(() => this.#totals());
    o.metrics.renderWith(() => this.#renderMetrics());
  }

  /** Forks the workers (the same command line, `serve ...`) and resolves once all listen. */
  async start(): Promise<{ host: string; port: number }> {
    nodeCluster.setupPrimary({ serialization: "advanced" });
    await Promise.all(this.#slots.map((s) => this.#fork(s)));
    this.#log.info({ workers: this.#slots.length, ...this.#listen }, "worker processes serving");
    return this.#listen!;
  }

  isListening(): boolean {
    return !this.#stopping && this.#slots.some((s) => s.ready);
  }

  // ---- what the control plane drives -------------------------------------------------------

  observation(o: BackendObservation): void {
    this.#broadcast({ t: TAG, k: "observation", o });
  }

  topologyApplied(t: TopologyView): void {
    this.#broadcast({ t: TAG, k: "topology", topology: t });
  }

  holdWrites(): void {
    this.#writesHeld = true;
    // Unknown until each worker reports after taking the hold (worker.ts reports at once).
    for (const s of this.#slots) s.primaryWork = null;
    this.#broadcast({ t: TAG, k: "hold" });
  }

  releaseWrites(): void {
    this.#writesHeld = false;
    this.#broadcast({ t: TAG, k: "release" });
  }

  primaryWork(): number {
    // A worker that has not reported since the hold (or is starting) counts as busy.
    return this.#slots.reduce((n, s) => n + (s.primaryWork ?? 1), 0);
  }

  /** A runtime record (reload, drain): each worker applies it as a fleet instance would. */
  record(r: RuntimeRecord): void {
    this.#broadcast({ t: TAG, k: "record", record: r });
  }

  /** The workers re-read the config themselves when a record says so (follower-store.ts). */
  readonly reloadTarget = { setConfig() {}, users: { setConfigured() {} } };

  // ---- what the admin app reads ------------------------------------------------------------

  async sessions(): Promise<unknown[]> {
    const lists = await this.#askAll<unknown[]>({ op: "sessions" });
    return lists.flat();
  }

  statementKinds(): StatementKinds {
    const k = { ...this.#retired.stats.kinds };
    for (const s of this.#slots) {
      if (s.stats === null) continue;
      k.read += s.stats.kinds.read;
      k.write += s.stats.kinds.write;
      k.session += s.stats.kinds.session;
    }
    return k;
  }

  userWrites(): SharingStatus | null {
    return mergeSharing(this.#stats());
  }

  /** /backends with the workers' pools and in-flight statements in place of the supervisor's own. */
  withPools(backends: BackendStatus[]): BackendStatus[] {
    return withPoolCounts(backends, sumPools(this.#stats()));
  }

  readonly digests = {
    list: async (sort: DigestSort, limit: number): Promise<DigestListing> => {
      const max = this.#o.config.digests.max;
      const lists = await this.#askAll<DigestListing>({ op: "digests", sort, limit: Math.max(max, 1) });
      return mergeDigestListings(lists, sort, limit, max);
    },
    reset: (): void => {
      void this.#askAll({ op: "digests-reset" });
    },
    // The status page's top statements, each time it asks: the listing gathered last time, and a
    // new gathering of each worker's top 10 started (one at a time), so workers list their digests
    // only while someone reads them, as the single process does.
    recent: (): DigestListing | null => {
      const max = this.#o.config.digests.max;
      if (max <= 0) return null;
      if (!this.#gatheringRecent) {
        this.#gatheringRecent = true;
        void this.#askAll<DigestListing>({ op: "digests", sort: "total_time", limit: 10 })
          .then((lists) => {
            this.#recentDigests = mergeDigestListings(lists, "total_time", 10, max);
          })
          .finally(() => {
            this.#gatheringRecent = false;
          });
      }
      return this.#recentDigests;
    },
  };
  #recentDigests: DigestListing | null = null;
  #gatheringRecent = false;

  // ---- stopping ----------------------------------------------------------------------------

  /** SIGTERM: every worker drains (no new clients, statements finish up to `timeoutMs`) and exits. */
  async drain(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    const exits = this.#slots.flatMap((s) => {
      const w = s.worker;
      if (w === null || w.isDead()) return [];
      return [
        new Promise<void>((resolve) => {
          w.once("exit", () => resolve());
          const sent = this.#send(w, { t: TAG, k: "drain", timeoutMs });
          if (!sent) w.process.kill("SIGTERM");
        }),
      ];
    });
    // A worker that does not exit in time is killed: stopping never hangs on one.
    const deadline = setTimeout(() => {
      for (const s of this.#slots)
        if (s.worker !== null && !s.worker.isDead()) s.worker.process.kill("SIGKILL");
    }, timeoutMs + 5000);
    await Promise.all(exits);
    clearTimeout(deadline);
    this.#requests.failAll("the workers stopped");
  }

  close(): Promise<void> {
    return this.drain(0);
  }

  // ---- internals ---------------------------------------------------------------------------

  #fork(s: Slot): Promise<void> {
    const incarnation = (this.#incarnations % 254) + 1;
    this.#incarnations++;
    s.incarnation = incarnation;
    s.ready = false;
    s.stats = null;
    s.lastMetrics = null;
    s.primaryWork = this.#writesHeld ? null : 0;
    s.startedAt = Date.now();
    const w = nodeCluster.fork({
      [WORKER_SLOT_ENV]: String(s.index),
      [WORKER_INCARNATION_ENV]: String(incarnation),
    });
    s.worker = w;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new RwsplitError(
            "WORKER_UNAVAILABLE",
            `worker ${s.index} did not start listening within ${START_TIMEOUT_MS} ms`,
          ),
        );
      }, START_TIMEOUT_MS);
      w.on("message", (m: unknown) => {
        if (!isOurs(m)) return;
        const msg = m as FromWorker;
        if (msg.k === "hello") {
          this.#send(w, {
            t: TAG,
            k: "init",
            topology: this.#o.topology(),
            observations: this.#o.observations(),
            record: this.#o.record(),
            writesHeld: this.#writesHeld,
            tls: this.#o.tls,
          });
        }
        if (msg.k === "ready") {
          clearTimeout(timer);
          s.ready = true;
          this.#listen ??= msg.listen;
          resolve();
        }
        this.#onMessage(s, w, msg);
      });
      w.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (s.worker !== w) return;
        s.ready = false;
        // Its counts so far stay in the totals: counters never go back.
        this.#retired.retire(s.stats, s.lastMetrics);
        s.stats = null;
        s.lastMetrics = null;
        s.worker = null;
        if (this.#stopping) return;
        if (!s.startedAt || Date.now() - s.startedAt > 10_000) s.restartDelayMs = RESTART_DELAY_MS;
        else s.restartDelayMs = Math.min(s.restartDelayMs * 2, 5000);
        this.#log.error(
          { worker: s.index, pid: w.process.pid, code, signal, restartInMs: s.restartDelayMs },
          "a worker process exited: starting it again (its clients lost their connections)",
        );
        reject(
          new RwsplitError(
            "WORKER_UNAVAILABLE",
            `worker ${s.index} exited (code ${code}, signal ${signal}) before listening`,
          ),
        );
        setTimeout(() => {
          if (this.#stopping) return;
          this.#fork(s).catch((e: unknown) =>
            this.#log.error(
              { worker: s.index, err: (e as Error).message },
              "a worker could not be started again",
            ),
          );
        }, s.restartDelayMs).unref();
      });
    });
  }

  #onMessage(s: Slot, w: Worker, m: FromWorker): void {
    switch (m.k) {
      case "stats":
        s.stats = m.stats;
        if (!this.#writesHeld) s.primaryWork = m.stats.primaryWork;
        break;
      case "primary-work":
        s.primaryWork = m.n;
        break;
      case "backend-failure":
        this.#o.onBackendFailure(m.backend);
        break;
      case "user-writes":
        for (const o of this.#slots) {
          if (o !== s && o.worker !== null)
            this.#send(o.worker, { t: TAG, k: "user-writes", writes: m.writes, ttlMs: m.ttlMs });
        }
        break;
      case "req":
        // A KILL of a session this worker does not hold: the worker that holds it answers.
        this.#killElsewhere(s, m.q.stmt, m.q.issuer).then(
          (value) => this.#send(w, { t: TAG, k: "res", id: m.id, ok: true, value }),
          (e: unknown) =>
            this.#send(w, { t: TAG, k: "res", id: m.id, ok: false, error: (e as Error).message }),
        );
        break;
      case "res":
        this.#requests.answer(m.id, m.ok, m.value, m.error);
        break;
      case "ready":
      case "hello":
        break;
    }
  }

  async #killElsewhere(
    from: Slot,
    stmt: Extract<WorkerQuery, { op: "kill" }>["stmt"],
    issuer: { id: number; user: string },
  ): Promise<KillAnswer> {
    const others = this.#slots.filter((s) => s !== from && s.ready && s.worker !== null);
    const answers = await Promise.all(
      others.map((s) => this.#ask<KillAnswer>(s.worker!, { op: "kill", stmt, issuer }).catch(() => null)),
    );
    return answers.find((a) => a !== null) ?? null;
  }

  #ask<T>(w: Worker, q: WorkerQuery): Promise<T> {
    return this.#requests.request<T>(
      (id) => this.#send(w, { t: TAG, k: "req", id, q }),
      ANSWER_TIMEOUT_MS,
      `worker ${q.op}`,
    );
  }

  /**
   * Every ready worker's answer; a worker that fails to answer is left out (and logged).
   * `onAnswer` sees each answer with its slot, while that worker is still the slot's.
   */
  async #askAll<T>(q: WorkerQuery, onAnswer?: (s: Slot, v: T) => void): Promise<T[]> {
    const ready = this.#slots.filter((s) => s.ready && s.worker !== null);
    const answers = await Promise.all(
      ready.map((s) => {
        const w = s.worker!;
        return this.#ask<T>(w, q).then(
          (v) => {
            if (s.worker === w) onAnswer?.(s, v);
            return [v];
          },
          (e: unknown) => {
            this.#log.warn(
              { worker: s.index, op: q.op, err: (e as Error).message },
              "a worker did not answer",
            );
            return [] as T[];
          },
        );
      }),
    );
    return answers.flat();
  }

  #broadcast(m: ToWorker): void {
    for (const s of this.#slots) if (s.worker !== null) this.#send(s.worker, m);
  }

  #send(w: Worker, m: ToWorker): boolean {
    if (w.isDead() || !w.isConnected()) return false;
    try {
      return w.send(m);
    } catch {
      return false;
    }
  }

  #stats(): WorkerStats[] {
    return this.#slots.flatMap((s) => (s.stats === null ? [] : [s.stats]));
  }

  #totals(): RemoteTotals {
    return sumTotals([...this.#stats(), this.#retired.stats]);
  }

  /** The supervisor's own families (monitor, HA, reloads, backups) and the workers' data path, summed. */
  async #renderMetrics(): Promise<string> {
    const own = (await this.#o.metrics.registry.getMetricsAsJSON()).filter(
      (m) => !DATA_PATH_FAMILIES.has(m.name),
    );
    const workers = await this.#askAll<MetricsJson>({ op: "metrics" }, (s, m) => {
      s.lastMetrics = m;
    });
    const retired = await this.#retired.metrics();
    return AggregatorRegistry.aggregate([own, ...workers, retired] as Parameters<
      typeof AggregatorRegistry.aggregate
    >[0]).metrics();
  }
}
