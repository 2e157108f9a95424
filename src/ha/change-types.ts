import type { TopologyView } from "./topology-view.js";

/**
 * The vocabulary of a topology change (failover, switchover, rejoin): the nodes, the MariaDB
 * operations a change is made of, what the change drives in the proxy, and its report.
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
