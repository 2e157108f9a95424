import {
  applyChange,
  EMPTY_RECORD,
  type InstanceReport,
  type RuntimeOp,
  type RuntimeRecord,
} from "../cluster/runtime-record.js";
import type { RuntimeStore } from "../cluster/runtime-store.js";

/**
 * The supervisor's runtime store (local, or Redis's for a fleet) with every change passed on to
 * the workers (`relay`): its own (a reload, a drain) and the fleet's.
 *
 * The workers follow a record of their own, numbered here: the fleet's records as they come, and
 * this instance's changes that the fleet store could not take (Redis down), which hold for this
 * instance and so for every one of its workers until the fleet's next record, as they do for the
 * supervisor (cluster/reload.ts). A fleet record's new reloads are added to the workers' count, so
 * a reload made while Redis was down does not hide the fleet's next one.
 */
export class RelayingRuntimeStore implements RuntimeStore {
  readonly #inner: RuntimeStore;
  readonly #relay: (r: RuntimeRecord) => void;
  /** The fleet's last record passed on. */
  #fleet: RuntimeRecord = EMPTY_RECORD;
  /** What the workers hold. */
  #workers: RuntimeRecord = EMPTY_RECORD;

  constructor(inner: RuntimeStore, relay: (r: RuntimeRecord) => void) {
    this.#inner = inner;
    this.#relay = relay;
  }

  get instanceId(): string {
    return this.#inner.instanceId;
  }

  async start(): Promise<void> {
    await this.#inner.start();
    this.#fleet = this.#workers = this.#inner.current();
    this.#inner.onChange((r) => this.#fromFleet(r));
  }

  stop(): Promise<void> {
    return this.#inner.stop();
  }

  current(): RuntimeRecord {
    return this.#inner.current();
  }

  /** The record a worker starts with. */
  forWorkers(): RuntimeRecord {
    return this.#workers;
  }

  onChange(cb: (r: RuntimeRecord) => void): () => void {
    return this.#inner.onChange(cb);
  }

  async change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    const r = await this.#inner.change(op, who);
    if (r !== null) this.#fromFleet(r);
    // Unshared (Redis down), the change still holds for this instance, and so for its workers.
    else this.#pass(applyChange(this.#workers, op, { instance: this.instanceId, who, at: Date.now() }));
    return r;
  }

  report(r: Omit<InstanceReport, "instance" | "at">): void {
    this.#inner.report(r);
  }

  instances(): InstanceReport[] {
    return this.#inner.instances();
  }

  health() {
    return this.#inner.health();
  }

  /** A fleet record (another instance's change, or this one's, maybe twice: answer and echo). */
  #fromFleet(r: RuntimeRecord): void {
    if (r.version <= this.#fleet.version) return;
    const reloads = this.#workers.reloads + Math.max(0, r.reloads - this.#fleet.reloads);
    this.#fleet = r;
    this.#pass({ ...r, version: this.#workers.version + 1, reloads });
  }

  #pass(r: RuntimeRecord): void {
    this.#workers = r;
    this.#relay(r);
  }
}
