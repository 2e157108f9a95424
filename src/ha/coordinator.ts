import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Lease, TopologyProposal, TopologyRecord } from "./topology-record.js";

/**
 * What a failover controller needs from the fleet: a shared record of who is primary, a lock so
 * that exactly one instance promotes, and a way to learn what the others decided.
 *
 * Contract for every implementation: no method throws into its caller once `start()` resolved,
 * and every method settles within the coordinator's operation timeout. A store that cannot be
 * reached is `null` / `false` plus `health().lastError`, never a hang; `current()` keeps the last
 * record known, so routing carries on against it.
 */
export interface Coordinator {
  readonly instanceId: string;
  /**
   * Connects. If the store holds no record, stores `initial` (its generation as given); if it holds
   * one, adopts it. Resolves even when the store cannot be reached (the instance then runs on
   * `initial` and resyncs once the store answers); rejects only on an invalid `initial`.
   */
  start(initial: TopologyRecord): Promise<void>;
  /** Stops polling and disconnects; `current()` keeps answering. Leases are not released. */
  stop(): Promise<void>;
  /** Latest known record (a local copy, never blocks). */
  current(): TopologyRecord;
  /**
   * Called when a newer generation is seen (from another instance or this one's own publish), and
   * when the first read of the store replaces a differing `initial` of the same generation.
   */
  onChange(cb: (t: TopologyRecord) => void): () => void;
  /** The failover lock; null if held by another or the store is unreachable. */
  tryAcquire(ttlMs: number): Promise<Lease | null>;
  /** Extends the lease if still held; on success `lease.expiresAt` is moved forward in place. */
  renew(lease: Lease, ttlMs: number): Promise<boolean>;
  /**
   * Writes `next` under the lease: succeeds only if the lease is still held (checked atomically
   * with the write) and `next.generation === stored.generation + 1`. On success the new record is
   * `current()` and listeners have been called before this resolves.
   */
  publish(lease: Lease, next: TopologyProposal): Promise<boolean>;
  /** Gives the lock up if still held by this lease; a no-op otherwise. */
  release(lease: Lease): Promise<void>;
  health(): CoordinatorHealth;
}

export interface CoordinatorHealth {
  backend: "redis" | "local";
  connected: boolean;
  lastError: string | null;
}

/** host:pid:random — unique per process, and readable in a record's `by` and in logs. */
export function defaultInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}
