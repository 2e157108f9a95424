import type { Logger } from "pino";
import { errorText } from "./change-steps.js";
import type { Coordinator } from "./coordinator.js";
import { type BackendPosition, type Discovery, discoverTopology } from "./discovery.js";

/** A discovery that could not publish (the lock is held, or Redis is away) is tried again, backing off to this. */
const RETRY_MAX_MS = 30_000;
const RETRY_FIRST_MS = 1000;

/** What the discovery needs from the manager (manager.ts). */
export interface DiscoveryHost {
  coordinator: Coordinator;
  /** Every backend's replication state (discovery.ts `readBackendPositions`). */
  readPositions: () => Promise<BackendPosition[]>;
  /** The fleet still shares only the config's guess (generation 1, "initial") and the manager runs. */
  pending(): boolean;
  /** The primary of the topology in force. */
  primary(): string;
  /** No topology change of this instance holds the lease now. */
  idle(): boolean;
  /** Apply the coordinator's current record (after publishing it). */
  adopt(): void;
  leaseTtlMs: number;
  log: Logger;
}

/**
 * Topology discovery at start (discovery.ts): while the fleet shares nothing but this config's
 * guess (generation 1, "initial"), ask the servers who is primary, and publish what they say as
 * generation 2 ("discovered") under the lease, so every instance of a fleet adopts one answer.
 * The lease also serializes instances starting together: the second one finds generation 2.
 * A discovery that cannot publish is retried, backing off up to 30 s. Never throws; what it saw
 * is logged, and kept (`last`) for /topology.
 */
export class StartupDiscovery {
  /** What the latest discovery found; null before one read the servers. */
  last: Discovery | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delayMs = RETRY_FIRST_MS;

  constructor(private readonly host: DiscoveryHost) {}

  async run(): Promise<void> {
    this.#timer = null;
    const h = this.host;
    if (!h.pending()) return;
    let d: Discovery;
    try {
      d = discoverTopology(await h.readPositions(), h.primary());
    } catch (e) {
      h.log.error({ err: errorText(e) }, "topology discovery could not read the backends");
      return;
    }
    this.last = d;
    const log = { outcome: d.outcome, primary: d.primary, fenced: d.fenced, seen: d.seen };
    if (d.outcome === "configured") h.log.info(log, `topology discovery: ${d.reason}`);
    else if (d.outcome === "ambiguous") h.log.warn(log, `topology discovery is inconclusive: ${d.reason}`);
    else h.log.warn(log, `topology discovery: primary ${d.primary}: ${d.reason}`);
    if (d.outcome !== "discovered" || !h.pending()) return;
    const lease = h.idle() ? await h.coordinator.tryAcquire(h.leaseTtlMs) : null;
    let published = false;
    if (lease !== null) {
      try {
        // Another instance may have published while we read the servers.
        if (!h.pending()) return;
        published = await h.coordinator.publish(lease, {
          generation: 2,
          primary: d.primary,
          fenced: d.fenced,
          reason: "discovered",
        });
      } finally {
        await h.coordinator.release(lease).catch(() => {});
      }
    }
    if (published) {
      h.adopt();
      return;
    }
    if (!h.pending()) return;
    const delay = this.#delayMs;
    this.#delayMs = Math.min(delay * 2, RETRY_MAX_MS);
    h.log.warn(
      { coordinator: h.coordinator.health(), retryInMs: delay },
      `could not publish the discovered topology (the topology lock is held, or ${h.coordinator.health().backend} is unreachable): routing to the configured primary ${h.primary()} meanwhile`,
    );
    this.#timer = setTimeout(() => void this.run(), delay);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
