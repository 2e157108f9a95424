import type { Config } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import type { TopologyView } from "../ha/topology-view.js";
import type { BackendEndpoint } from "./backend-connection.js";
import type { Connector } from "./backend-login.js";
import { BackendPool, type PoolOptions } from "./backend-pool.js";
import { ServerGlobals } from "./server-globals.js";

/** What a read needs from the replica it runs on. */
export interface ReplicaRequest {
  /** Skip replicas lagging more than this (a max_lag hint). */
  maxLagMs: number | null;
  /** Only replicas that have applied this GTID position (read-your-writes), or null. */
  minGtid: string | null;
  /** A replica that just failed this statement (retry elsewhere). */
  exclude: string | null;
  /** The session's user: replicas whose pool is exhausted for this user are skipped. */
  user: string | null;
}

export type { TopologyView };

export type ReplicaChoice = { pool: BackendPool } | { pool: null; reason: string };

/**
 * Chooses the replica for a read. The lag-aware balancer implements it once the monitor runs;
 * without one, replicas take turns and the ones marked down are skipped.
 */
export interface ReplicaPicker {
  pick(req: ReplicaRequest): ReplicaChoice;
  /** A read on this replica finished (in-flight accounting). */
  done(pool: BackendPool): void;
  /** A statement failed on this replica because the backend is unreachable: stop using it now. */
  markDown(pool: BackendPool, reason: string): void;
  /**
   * No replica has applied `req.minGtid` as far as the monitor saw: the one to wait on for it
   * (MASTER_GTID_WAIT, up to `waitMs`), counted in flight like `pick`; null pool when none is
   * likely to have it in time. Pickers without GTID positions leave it out (the primary serves).
   */
  pickToWait?(req: ReplicaRequest, waitMs: number): ReplicaChoice;
  /** A wait on this replica timed out or failed: not again before the monitor checks it again. */
  waitFailed?(pool: BackendPool): void;
  /** A wait on this replica returned: it has applied `gtid` (later reads needing no more go there). */
  waitSucceeded?(pool: BackendPool, gtid: string): void;
}

/**
 * The backend pools the proxy routes to: one pool per configured backend, kept whatever role the
 * backend plays, until a config reload removes the backend (`add`, `remove`; src/cluster). The
 * primary takes writes; replicas serve reads chosen by the picker; fenced backends (old
 * primaries) get nothing. A failover or switchover calls `setTopology`: sessions read `primary`
 * per statement, so nothing else changes.
 *
 * While a topology change is being made, `holdWrites()` makes statements bound for the primary
 * wait (`writesReady`) instead of reaching a primary that is going away.
 */
export class Upstreams {
  primary: BackendPool;
  replicas: BackendPool[];
  picker: ReplicaPicker;
  generation = 0;
  /** The generation of the servers' session globals new sessions log in with. */
  readonly globals = new ServerGlobals();
  fenced: readonly string[] = [];
  readonly #pools: Map<string, BackendPool>;
  /** Shared by every pool, so a reload's new `pool.*` values reach them all (`setPoolOptions`). */
  readonly #poolOptions: PoolOptions;
  readonly #connector: Connector | undefined;
  #hold: { promise: Promise<void>; release: () => void; since: number } | null = null;
  readonly #changeWaiters = new Set<() => void>();

  constructor(config: Config, connector?: Connector) {
    this.#poolOptions = { ...config.pool };
    this.#connector = connector;
    const all = [config.backends.primary, ...config.backends.replicas].map((b) => this.#pool(b));
    this.#pools = new Map(all.map((p) => [p.endpoint.name, p]));
    this.primary = all[0]!;
    this.replicas = all.slice(1);
    this.picker = new RoundRobinPicker(() => this.replicas);
  }

  #pool(b: BackendEndpoint): BackendPool {
    return new BackendPool({ name: b.name, host: b.host, port: b.port }, this.#poolOptions, this.#connector);
  }

  /** Every backend's pool, by name. */
  get pools(): ReadonlyMap<string, BackendPool> {
    return this.#pools;
  }

  all(): BackendPool[] {
    return [...this.#pools.values()];
  }

  /** A backend added by a reload: a replica (or fenced, if the topology says so) from now on. */
  add(b: BackendEndpoint): BackendPool {
    const known = this.#pools.get(b.name);
    if (known !== undefined) return known;
    const pool = this.#pool(b);
    this.#pools.set(b.name, pool);
    this.#rebuildReplicas();
    return pool;
  }

  /**
   * A backend removed by a reload, once drained: its pool closes (whatever is still open on it
   * is destroyed) and it is forgotten. The primary cannot be removed.
   */
  remove(name: string): void {
    const pool = this.#pools.get(name);
    if (pool === undefined) return;
    if (pool === this.primary) throw new RwsplitError("INTERNAL", `cannot remove the primary "${name}"`);
    this.#pools.delete(name);
    this.#rebuildReplicas();
    pool.destroyAll();
  }

  /** New `pool.*` values: every pool reads them from its next use. */
  setPoolOptions(p: PoolOptions): void {
    Object.assign(this.#poolOptions, p);
  }

  #rebuildReplicas(): void {
    this.replicas = this.all().filter((p) => p !== this.primary && !this.fenced.includes(p.endpoint.name));
  }

  /** The current topology. */
  topology(): TopologyView {
    return { generation: this.generation, primary: this.primary.endpoint.name, fenced: this.fenced };
  }

  /**
   * Makes `t` the topology: writes go to `t.primary` from the next statement, replicas are every
   * other backend that is not fenced. Unknown names are refused (the config names every backend).
   */
  setTopology(t: TopologyView): void {
    const primary = this.#pools.get(t.primary);
    if (primary === undefined)
      throw new RwsplitError("INTERNAL", `unknown backend "${t.primary}" for primary`);
    this.primary = primary;
    this.fenced = [...t.fenced];
    this.#rebuildReplicas();
    this.generation = t.generation;
    for (const wake of this.#changeWaiters) wake();
  }

  /** Statements bound for the primary wait from now until `releaseWrites()`. */
  holdWrites(): void {
    if (this.#hold !== null) return;
    let release = () => {};
    const promise = new Promise<void>((r) => {
      release = r;
    });
    this.#hold = { promise, release, since: Date.now() };
  }

  releaseWrites(): void {
    const h = this.#hold;
    this.#hold = null;
    h?.release();
  }

  /** Whether writes are held; the hot path checks this before anything else. */
  get writesHeld(): boolean {
    return this.#hold !== null;
  }

  /** Resolves when writes are no longer held; false if `timeoutMs` passed first. */
  async writesReady(timeoutMs: number): Promise<boolean> {
    const h = this.#hold;
    if (h === null) return true;
    return waitOrTimeout(h.promise, timeoutMs);
  }

  /** Resolves true at the next `setTopology`, false after `timeoutMs`. */
  async topologyChange(timeoutMs: number): Promise<boolean> {
    let wake = () => {};
    const changed = new Promise<void>((r) => {
      wake = r;
    });
    this.#changeWaiters.add(wake);
    try {
      return await waitOrTimeout(changed, timeoutMs);
    } finally {
      this.#changeWaiters.delete(wake);
    }
  }

  close(): void {
    this.releaseWrites();
    for (const p of this.all()) p.close();
  }

  destroyAll(): void {
    for (const p of this.all()) p.destroyAll();
  }
}

async function waitOrTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The picker without a monitor: take turns, skip replicas marked down for a few seconds. */
export class RoundRobinPicker implements ReplicaPicker {
  private next = 0;
  private readonly downUntil = new Map<BackendPool, number>();

  constructor(private readonly members: () => readonly BackendPool[]) {}

  pick(req: ReplicaRequest): ReplicaChoice {
    if (req.minGtid !== null) return { pool: null, reason: "no monitor: replica GTID positions unknown" };
    const now = Date.now();
    const replicas = this.members();
    for (let i = 0; i < replicas.length; i++) {
      const pool = replicas[(this.next + i) % replicas.length]!;
      if ((this.downUntil.get(pool) ?? 0) > now || pool.endpoint.name === req.exclude) continue;
      this.next = (this.next + i + 1) % replicas.length;
      return { pool };
    }
    return {
      pool: null,
      reason: replicas.length === 0 ? "no replicas configured" : "no replica available",
    };
  }

  done(): void {}

  markDown(pool: BackendPool): void {
    this.downUntil.set(pool, Date.now() + 5000);
  }
}
