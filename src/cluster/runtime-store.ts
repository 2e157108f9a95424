import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  applyChange,
  EMPTY_RECORD,
  type InstanceReport,
  type RuntimeOp,
  type RuntimeRecord,
} from "./runtime-record.js";

/**
 * Where an instance's runtime changes are shared (runtime-record.ts): in Redis for a fleet
 * (redis-runtime-store.ts), in this process alone otherwise (`LocalRuntimeStore`).
 *
 * Contract, as for the HA coordinator: once `start()` resolved no method throws, and each settles
 * within the store's operation timeout; an unreachable store answers `null` and says so in
 * `health()`, and the instance goes on alone with what it knows.
 */
export interface RuntimeStore {
  readonly instanceId: string;
  /** Reads the shared record (or starts from an empty one). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The latest record known. */
  current(): RuntimeRecord;
  /** A newer record, from another instance (or this one's own change coming back). */
  onChange(cb: (r: RuntimeRecord) => void): () => void;
  /**
   * Applies `op` to the shared record (version + 1) and announces it; the new record, or null
   * when the store could not be reached (the change then holds for this instance only).
   */
  change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null>;
  /** This instance's state, for the others' view (kept fresh by the store). */
  report(r: Omit<InstanceReport, "instance" | "at">): void;
  /** The fleet's last reports (this instance's included), freshest first. */
  instances(): InstanceReport[];
  health(): { shared: "redis" | "local"; connected: boolean; lastError: string | null };
}

/** host:pid:random, readable in logs and in `by`. */
export function runtimeInstanceId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
}

/** One instance on its own: the record lives in this process. */
export class LocalRuntimeStore implements RuntimeStore {
  readonly instanceId: string;
  #record: RuntimeRecord = EMPTY_RECORD;
  #report: InstanceReport | null = null;
  readonly #listeners = new Set<(r: RuntimeRecord) => void>();

  constructor(instanceId = runtimeInstanceId()) {
    this.instanceId = instanceId;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  current(): RuntimeRecord {
    return this.#record;
  }

  onChange(cb: (r: RuntimeRecord) => void): () => void {
    this.#listeners.add(cb);
    return () => {
      this.#listeners.delete(cb);
    };
  }

  async change(op: RuntimeOp, who: string): Promise<RuntimeRecord> {
    this.#record = applyChange(this.#record, op, { instance: this.instanceId, who, at: Date.now() });
    return this.#record;
  }

  report(r: Omit<InstanceReport, "instance" | "at">): void {
    this.#report = { ...r, instance: this.instanceId, at: Date.now() };
  }

  instances(): InstanceReport[] {
    return this.#report === null ? [] : [this.#report];
  }

  health() {
    return { shared: "local" as const, connected: true, lastError: null };
  }
}
