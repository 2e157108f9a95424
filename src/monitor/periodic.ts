/**
 * Runs an async task every `periodMs`, never two at once: the next run is scheduled when the
 * current one settles, `periodMs` after it started (or at once if it took longer). A slow or dead
 * backend therefore delays its own checks instead of stacking them up.
 */
export class Periodic {
  readonly #periodMs: number;
  readonly #task: () => Promise<void>;
  #timer: NodeJS.Timeout | null = null;
  #inFlight: Promise<void> | null = null;
  #stopped = true;

  constructor(periodMs: number, task: () => Promise<void>) {
    this.#periodMs = periodMs;
    this.#task = task;
  }

  /** Starts with an immediate run; a no-op when already running. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    if (!this.#inFlight) this.#schedule(0);
  }

  /**
   * Runs the task now rather than at its next time, and counts the period from this run. A no-op
   * (false) while a run is in flight, whose result is as fresh as a new one would be, and when
   * stopped.
   */
  trigger(): boolean {
    if (this.#stopped || this.#inFlight) return false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#run();
    return true;
  }

  /** Cancels the next run and waits for the current one (the task bounds its own duration). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#inFlight;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#run();
    }, delayMs);
  }

  #run(): void {
    const started = performance.now();
    this.#inFlight = this.#task()
      // The task reports its own failures; a throw must not end the loop.
      .catch(() => {})
      .finally(() => {
        this.#inFlight = null;
        if (!this.#stopped) this.#schedule(Math.max(0, this.#periodMs - (performance.now() - started)));
      });
  }
}
