import pino, { type Logger } from "pino";
import { RwsplitError } from "../errors.js";
import { type Coordinator, type CoordinatorHealth, defaultInstanceId } from "./coordinator.js";
import {
  type Lease,
  parseTopologyProposal,
  parseTopologyRecord,
  type TopologyProposal,
  type TopologyRecord,
} from "./topology-record.js";
import { TopologyState } from "./topology-state.js";

export interface LocalCoordinatorOptions {
  instanceId?: string;
  logger?: Logger;
  /** The clock leases expire by; tests pass their own. */
  now?: () => number;
}

interface HeldLock {
  token: number;
  instance: string;
  expiresAt: number;
}

/**
 * The coordinator of an instance that runs alone (no Redis configured): the same contract as
 * `RedisCoordinator`, with the lock, the fencing counter and the record held in this process.
 * The lock still matters here: two failover attempts inside one process (say, a monitor tick and an
 * admin-triggered switchover) must not both promote.
 */
export class LocalCoordinator implements Coordinator {
  readonly instanceId: string;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #state: TopologyState;
  #lock: HeldLock | null = null;
  /** The last fencing token granted; never reused, and kept above any token in the record. */
  #lastToken = 0;

  constructor(opts: LocalCoordinatorOptions = {}) {
    this.instanceId = opts.instanceId ?? defaultInstanceId();
    this.#logger = (opts.logger ?? pino({ level: "silent" })).child({ component: "fleet", backend: "local" });
    this.#now = opts.now ?? Date.now;
    this.#state = new TopologyState(this.#logger);
  }

  async start(initial: TopologyRecord): Promise<void> {
    const parsed = parseTopologyRecord(initial);
    if (!parsed.ok) throw new RwsplitError("INTERNAL", `invalid initial topology record: ${parsed.error}`);
    // A restart of a stopped coordinator keeps what it learned: it is its own store.
    if (!this.#state.started) this.#state.init(parsed.value);
    else this.#state.adopt(parsed.value);
    this.#lastToken = Math.max(this.#lastToken, this.#state.current().fencingToken);
  }

  async stop(): Promise<void> {}

  current(): TopologyRecord {
    return this.#state.current();
  }

  onChange(cb: (t: TopologyRecord) => void): () => void {
    return this.#state.onChange(cb);
  }

  async tryAcquire(ttlMs: number): Promise<Lease | null> {
    if (!(ttlMs > 0)) return null;
    const now = this.#now();
    if (this.#lock !== null && this.#lock.expiresAt > now) return null;
    this.#lastToken += 1;
    this.#lock = { token: this.#lastToken, instance: this.instanceId, expiresAt: now + ttlMs };
    return { ...this.#lock };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    if (!(ttlMs > 0) || !this.#holds(lease)) return false;
    const expiresAt = this.#now() + ttlMs;
    this.#lock!.expiresAt = expiresAt;
    lease.expiresAt = expiresAt;
    return true;
  }

  async publish(lease: Lease, next: TopologyProposal): Promise<boolean> {
    if (!this.#holds(lease)) return false;
    const proposal = parseTopologyProposal(next);
    if (!proposal.ok) {
      this.#logger.error({ error: proposal.error }, "refusing to publish an invalid topology record");
      return false;
    }
    if (proposal.value.generation !== this.#state.generation() + 1) return false;
    return this.#state.adopt({
      ...proposal.value,
      fencingToken: lease.token,
      by: this.instanceId,
      at: Date.now(),
    });
  }

  async release(lease: Lease): Promise<void> {
    if (this.#holds(lease)) this.#lock = null;
  }

  health(): CoordinatorHealth {
    return { backend: "local", connected: true, lastError: null };
  }

  #holds(lease: Lease): boolean {
    const l = this.#lock;
    return (
      l !== null &&
      l.token === lease.token &&
      l.instance === lease.instance &&
      l.expiresAt > this.#now() &&
      this.#state.started
    );
  }
}
