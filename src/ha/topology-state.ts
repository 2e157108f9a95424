import type { Logger } from "pino";
import { RwsplitError } from "../errors.js";
import { copyRecord, type TopologyRecord } from "./topology-record.js";

/**
 * An instance's local copy of the topology record and its change listeners. The only way in is
 * `adopt`, which takes a record only if its generation is above the current one: a stale store
 * read, a late pub/sub message or a replayed publish can never move an instance backwards.
 */
export class TopologyState {
  #current: TopologyRecord | null = null;
  readonly #listeners = new Set<(t: TopologyRecord) => void>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  get started(): boolean {
    return this.#current !== null;
  }

  /** The record to start from; listeners are not called (nothing changed yet from their view). */
  init(record: TopologyRecord): void {
    this.#current = copyRecord(record);
  }

  /** The latest known record (a copy). Throws only when used before `start()`, a programming error. */
  current(): TopologyRecord {
    if (this.#current === null) throw new RwsplitError("INTERNAL", "fleet coordinator used before start()");
    return copyRecord(this.#current);
  }

  /** The current generation, or -1 before `init`. */
  generation(): number {
    return this.#current?.generation ?? -1;
  }

  /**
   * Takes `record` if it is newer, then tells every listener; true when taken. `sameGeneration`
   * also takes a differing record of the current generation: only for a coordinator's first read
   * of the store, whose record outranks the `initial` it was started with.
   */
  adopt(record: TopologyRecord, opts: { sameGeneration?: boolean } = {}): boolean {
    const cur = this.#current;
    if (cur !== null && record.generation < cur.generation) return false;
    if (cur !== null && record.generation === cur.generation) {
      if (!opts.sameGeneration || JSON.stringify(cur) === JSON.stringify(record)) return false;
    }
    this.#current = copyRecord(record);
    for (const cb of [...this.#listeners]) {
      try {
        cb(copyRecord(record));
      } catch (err) {
        // A listener's bug must not stop the others from learning the new primary.
        this.#logger.error({ err, generation: record.generation }, "topology change listener threw");
      }
    }
    return true;
  }

  onChange(cb: (t: TopologyRecord) => void): () => void {
    this.#listeners.add(cb);
    return () => {
      this.#listeners.delete(cb);
    };
  }
}
