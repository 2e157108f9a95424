import { RwsplitError } from "../errors.js";

/**
 * Requests over an IPC channel, matched to their answers by id. A request not answered within
 * its timeout (a worker that died or hangs) rejects: nothing waits on another process forever.
 */
export class PendingRequests {
  #next = 1;
  readonly #pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }
  >();

  /** Sends with `send(id)` and resolves with the answer's value. */
  request<T>(send: (id: number) => boolean, timeoutMs: number, what: string): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new RwsplitError("WORKER_UNAVAILABLE", `${what}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      let sent = false;
      try {
        sent = send(id);
      } catch {
        sent = false;
      }
      if (!sent) this.#settle(id, false, undefined, `${what}: the process is gone`);
    });
  }

  /** An answer came (`res` message). */
  answer(id: number, ok: boolean, value: unknown, error: string | undefined): void {
    this.#settle(id, ok, value, error ?? "failed");
  }

  /** The other side is gone: every open request fails. */
  failAll(why: string): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, false, undefined, why);
  }

  #settle(id: number, ok: boolean, value: unknown, error: string): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (ok) p.resolve(value);
    else p.reject(new RwsplitError("WORKER_UNAVAILABLE", error));
  }
}
