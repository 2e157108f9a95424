import type { InstanceReport, RuntimeOp, RuntimeRecord } from "../cluster/runtime-record.js";
import type { RuntimeStore } from "../cluster/runtime-store.js";

/**
 * The supervisor's runtime store (local, or Redis's for a fleet) with every record it reaches
 * passed on to the workers (`relay`): its own changes (a reload, a drain) and the fleet's.
 */
export class RelayingRuntimeStore implements RuntimeStore {
  readonly #inner: RuntimeStore;
  readonly #relay: (r: RuntimeRecord) => void;

  constructor(inner: RuntimeStore, relay: (r: RuntimeRecord) => void) {
    this.#inner = inner;
    this.#relay = relay;
  }

  get instanceId(): string {
    return this.#inner.instanceId;
  }

  async start(): Promise<void> {
    await this.#inner.start();
    this.#inner.onChange((r) => this.#relay(r));
  }

  stop(): Promise<void> {
    return this.#inner.stop();
  }

  current(): RuntimeRecord {
    return this.#inner.current();
  }

  onChange(cb: (r: RuntimeRecord) => void): () => void {
    return this.#inner.onChange(cb);
  }

  async change(op: RuntimeOp, who: string): Promise<RuntimeRecord | null> {
    const r = await this.#inner.change(op, who);
    // Unshared (Redis down) the change still holds for this instance, and so for its workers.
    this.#relay(r ?? this.#inner.current());
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
}
