import mysql from "mysql2/promise";

/**
 * Client load for failover tests: writers insert numbered rows (autocommit) and record each
 * acknowledged number; readers run point reads and record every success and failure with its
 * time. Numbers are never retried: a write whose answer was lost may or may not have committed,
 * and must not be duplicated by the test itself.
 */

export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface Failure {
  at: number;
  message: string;
}

abstract class Loop {
  readonly failures: Failure[] = [];
  readonly okTimes: number[] = [];
  #running = false;
  #loops: Promise<void>[] = [];

  constructor(
    protected readonly target: Target,
    private readonly workers: number,
  ) {}

  protected abstract step(c: mysql.Connection, worker: number): Promise<void>;

  start(): this {
    this.#running = true;
    for (let w = 0; w < this.workers; w++) this.#loops.push(this.#run(w));
    return this;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  /** The first success at or after `t` (ms since the epoch), or null. */
  firstOkAfter(t: number): number | null {
    return this.okTimes.find((x) => x >= t) ?? null;
  }

  /**
   * When service resumed after an outage that began at `t`: the success that ends the longest
   * gap between successes from `t` on (answers already on their way at `t` do not count).
   */
  resumedAfter(t: number): number | null {
    const ts = this.okTimes.filter((x) => x >= t);
    let best: number | null = null;
    let gap = -1;
    let prev = t;
    for (const x of ts) {
      if (x - prev > gap) {
        gap = x - prev;
        best = x;
      }
      prev = x;
    }
    return best;
  }

  /** The longest time between two successes in [from, to]. */
  maxGap(from: number, to: number): number {
    const ts = this.okTimes.filter((x) => x >= from && x <= to);
    let gap = 0;
    let prev = from;
    for (const t of ts) {
      gap = Math.max(gap, t - prev);
      prev = t;
    }
    return Math.max(gap, to - prev);
  }

  async #run(worker: number): Promise<void> {
    let c: mysql.Connection | null = null;
    while (this.#running) {
      try {
        c ??= await mysql.createConnection({ ...this.target, connectTimeout: 5000 });
        await this.step(c, worker);
      } catch (e) {
        this.failures.push({ at: Date.now(), message: (e as Error).message });
        // A fatal error closed the connection: open a new one. Others keep it.
        if ((e as { fatal?: boolean }).fatal && c !== null) {
          c.destroy();
          c = null;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await c?.end().catch(() => {});
  }
}

export class WriteLoad extends Loop {
  /** Numbers whose INSERT was acknowledged. */
  readonly acked: number[] = [];
  #next: number;

  /** `first`: the first number; give concurrent loads disjoint ranges. */
  constructor(target: Target, workers: number, first = 1) {
    super(target, workers);
    this.#next = first;
  }

  protected async step(c: mysql.Connection): Promise<void> {
    const n = this.#next++;
    await c.query("INSERT INTO ids (n) VALUES (?)", [n]);
    this.acked.push(n);
    this.okTimes.push(Date.now());
  }
}

export class ReadLoad extends Loop {
  protected async step(c: mysql.Connection): Promise<void> {
    await c.query("SELECT COUNT(*) AS c FROM ids WHERE n < 10");
    this.okTimes.push(Date.now());
  }
}
