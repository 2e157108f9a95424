/**
 * What the supervising process and its worker processes say to each other (`serve --workers N`).
 * Node's IPC channel carries them with the "advanced" serialization (structured clone), in order
 * per direction. The supervisor runs the monitor, HA, reloads, backups and the admin app once;
 * each worker serves client connections over its own pools and balancer, fed with everything
 * that decides routing (observations, topology, held writes, runtime records) as it happens.
 */
import type { RuntimeRecord } from "../cluster/runtime-record.js";
import type { StatementKinds } from "../data-path.js";
import type { DigestSort } from "../digests/store.js";
import type { TopologyView } from "../ha/topology-view.js";
import type { BackendObservation } from "../monitor/types.js";
import type { KillIssuer } from "../proxy/commands/kill-policy.js";
import type { SharingStatus } from "../proxy/consistency/user-write-log.js";
import type { PeerKillResult, ThreadKill } from "../proxy/context.js";
import type { TlsPem } from "../proxy/tls-material.js";

/** Marks rwsplit's own messages on the channel (prom-client and Node use it too). */
export const TAG = "rwsplit";

/** A worker's pools and in-flight reads per backend, as /backends sums them. */
export interface PoolCounts {
  open: number;
  idle: number;
  busy: number;
  waiting: number;
  inFlight: number;
}

/** What a worker reports every STATS_PERIOD_MS (and the supervisor sums for the status page). */
export interface WorkerStats {
  pools: Record<string, PoolCounts>;
  kinds: StatementKinds;
  clients: number;
  queries: { route: string; backend: string; reason: string; value: number }[];
  errors: { code: string; value: number }[];
  userWrites: SharingStatus | null;
  /** Sessions busy on the primary (a topology change waits for 0). */
  primaryWork: number;
}

/** A report with nothing counted (a worker's state before its first report, without the pools). */
export const NO_STATS: Readonly<WorkerStats> = {
  pools: {},
  kinds: { read: 0, write: 0, session: 0 },
  clients: 0,
  queries: [],
  errors: [],
  userWrites: null,
  primaryWork: 0,
};

export const STATS_PERIOD_MS = 500;

/** Requests the supervisor sends a worker; each is answered with a `res` of the same id. */
export type WorkerQuery =
  | { op: "sessions" }
  | { op: "metrics" }
  | { op: "digests"; sort: DigestSort; limit: number }
  | { op: "digests-reset" }
  | { op: "kill"; stmt: ThreadKill; issuer: KillIssuer };

/** Requests a worker sends the supervisor. */
export type SupervisorQuery = { op: "kill"; stmt: ThreadKill; issuer: KillIssuer };

export type ToWorker =
  | {
      t: typeof TAG;
      k: "init";
      topology: TopologyView;
      observations: BackendObservation[];
      record: RuntimeRecord;
      writesHeld: boolean;
      /** With tls.enabled: the supervisor's certificate and keys, the same in every worker. */
      tls: TlsPem | null;
    }
  | { t: typeof TAG; k: "observation"; o: BackendObservation }
  | { t: typeof TAG; k: "topology"; topology: TopologyView }
  | { t: typeof TAG; k: "hold" }
  | { t: typeof TAG; k: "release" }
  | { t: typeof TAG; k: "record"; record: RuntimeRecord }
  | { t: typeof TAG; k: "user-writes"; writes: [string, string][]; ttlMs: number }
  | { t: typeof TAG; k: "drain"; timeoutMs: number }
  | { t: typeof TAG; k: "req"; id: number; q: WorkerQuery }
  | { t: typeof TAG; k: "res"; id: number; ok: boolean; value?: unknown; error?: string };

export type FromWorker =
  | { t: typeof TAG; k: "hello" }
  | { t: typeof TAG; k: "ready"; listen: { host: string; port: number } }
  | { t: typeof TAG; k: "stats"; stats: WorkerStats }
  | { t: typeof TAG; k: "primary-work"; n: number }
  | { t: typeof TAG; k: "backend-failure"; backend: string }
  | { t: typeof TAG; k: "user-writes"; writes: [string, string][]; ttlMs: number }
  | { t: typeof TAG; k: "req"; id: number; q: SupervisorQuery }
  | { t: typeof TAG; k: "res"; id: number; ok: boolean; value?: unknown; error?: string };

export type KillAnswer = PeerKillResult | null;

export function isOurs(m: unknown): m is { t: typeof TAG; k: string } {
  return typeof m === "object" && m !== null && (m as { t?: unknown }).t === TAG;
}
