import {
  EMPTY_RECORD,
  type InstanceReport,
  type RuntimeOp,
  type RuntimeRecord,
} from "../cluster/runtime-record.js";
import type { RuntimeStore } from "../cluster/runtime-store.js";

/**
 * A worker process's runtime store: the supervisor's records, as it relays them (messages.ts,
 * `record`). A worker makes no runtime change of its own (reloads, drains and the admin API are
 * the supervisor's); it follows: a record with more reloads makes it re-read the config file, as
 * another instance of a fleet does, and its drains are applied here too (cluster/reload.ts).
 */
export class FollowerRuntimeStore implements RuntimeStore {
  readonly instanceId: string;
  #record: RuntimeRecord;
  readonly #listeners = new Set<(r: RuntimeRecord) => void>();

  constructor(instanceId: string, initial: RuntimeRecord = EMPTY_RECORD) {
    this.instanceId = instanceId;
    this.#record = initial;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.#listeners.clear();
  }

  current(): RuntimeRecord {
    return this.#record;
  }

  /** The supervisor's newer record. */
  receive(r: RuntimeRecord): void {
    if (r.version <= this.#record.version) return;
    this.#record = r;
    for (const cb of this.#listeners) cb(r);
  }

  onChange(cb: (r: RuntimeRecord) => void): () => void {
    this.#listeners.add(cb);
    return () => {
      this.#listeners.delete(cb);
    };
  }

  async change(_op: RuntimeOp, _who: string): Promise<RuntimeRecord | null> {
    // Never called: a worker's runtime control only follows (see the class comment).
    return null;
  }

  report(_r: Omit<InstanceReport, "instance" | "at">): void {}

  instances(): InstanceReport[] {
    return [];
  }

  health() {
    return { shared: "local" as const, connected: true, lastError: null };
  }
}
