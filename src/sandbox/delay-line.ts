import net from "node:net";
import { RwsplitError } from "../errors.js";
import { connectNode } from "./node.js";
import type { SandboxNode } from "./types.js";

/**
 * Holding a sandbox replica at a chosen replication lag, steadily, with millisecond resolution
 * (used by the balancing tests and the benchmark's stale-read phase).
 *
 *   await using held = await holdReplicaBehind(sb.primary, sb.replicas[1]!);
 *   held.setDelay(1400);          // every binlog byte reaches the replica 1.4 s late
 *   await held.wave({ lowMs: 2300, highMs: 3700, periodMs: 6000, durationMs: 30_000 });
 *
 * How: the replica's IO thread is re-pointed (CHANGE MASTER TO MASTER_HOST/MASTER_PORT, keeping
 * MASTER_USE_GTID=slave_pos) at a TCP "delay line" in the test process that relays the primary's
 * binlog stream to it `delayMs` late and the replica's replies (semi-sync ACKs) at once. Both
 * replication threads keep running and the SQL thread applies each event as soon as it arrives,
 * so the heartbeat lag the monitor measures is the delay plus the heartbeat's own age when it
 * was sent (0..250 ms at the monitor's 250 ms period): a steady band, not a sawtooth.
 *
 * Why not the other ways to make a replica lag (measured or read from the server's source):
 * - `CHANGE MASTER TO MASTER_DELAY = n` takes whole seconds and the SQL thread compares the
 *   events' whole-second timestamps with `my_time(0)` and sleeps whole seconds
 *   (sql_delay_event()): every heartbeat of second s is applied at once at s + n + phase, so a
 *   250 ms heartbeat sees a 1 s sawtooth whose mean depends on two unknown phases. Measured
 *   here with MASTER_DELAY = 2: 2030, 2530, 2030, 2530 ms from one 500 ms check to the next, a
 *   lag factor jumping by 0.2 every check. The delay line at 1400 ms: 1522..1526 ms.
 * - Toggling `STOP SLAVE SQL_THREAD` / `START SLAVE SQL_THREAD`: while stopped the monitor sees
 *   Slave_SQL_Running=No, and the balancer excludes the replica outright ("replication
 *   stopped") instead of weighting it down; and the lag is a sawtooth from 0 anyway.
 * - `FLUSH TABLES WITH READ LOCK` windows on the replica: the SQL thread blocks and then catches
 *   up at once, a sawtooth from 0 to the window length.
 *
 * Changing the delay moves the lag: a shorter delay releases what is now due at once (the lag
 * drops with it); a longer one holds the stream, so the lag grows at most 1 ms per ms (a wave
 * steeper than that is followed with a delay). Order is kept: every byte waits the same current
 * delay, so the queue stays in arrival order.
 */

// Node 20.4+ defines it; older runtimes need it for `await using` to find the disposer.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for("Symbol.asyncDispose");

export interface Endpoint {
  host: string;
  port: number;
}

interface Held {
  at: number;
  data: Buffer;
}

/** One relayed connection: upstream (the primary) bytes are queued, downstream bytes pass through. */
class DelayedPipe {
  private readonly queue: Held[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly line: DelayLine,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
  ) {
    upstream.on("data", (data: Buffer) => {
      this.queue.push({ at: performance.now(), data });
      if (this.queue.length - this.head === 1) this.schedule();
    });
    client.on("data", (data: Buffer) => upstream.write(data));
    const close = () => this.close();
    for (const s of [client, upstream]) {
      s.on("error", close);
      s.on("close", close);
    }
  }

  /** Writes everything now due, then sleeps until the next chunk is. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const now = performance.now();
    const delay = this.line.delayMs;
    while (this.head < this.queue.length) {
      const h = this.queue[this.head]!;
      if (h.at + delay > now) break;
      this.client.write(h.data);
      this.queue[this.head] = undefined as unknown as Held;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.schedule();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.client.destroy();
    this.upstream.destroy();
    this.line.forget(this);
  }

  private schedule(): void {
    if (this.timer !== null || this.head >= this.queue.length) return;
    const due = this.queue[this.head]!.at + this.line.delayMs - performance.now();
    this.timer = setTimeout(() => this.flush(), Math.max(0, due));
  }
}

/** A TCP relay on 127.0.0.1 that delivers what `target` sends `delayMs` late. */
export class DelayLine {
  private readonly pipes = new Set<DelayedPipe>();
  private delay: number;

  private constructor(
    private readonly server: net.Server,
    readonly target: Endpoint,
    delayMs: number,
  ) {
    this.delay = delayMs;
    server.on("connection", (client) => {
      client.setNoDelay(true);
      const upstream = net.connect({ host: target.host, port: target.port });
      upstream.setNoDelay(true);
      this.pipes.add(new DelayedPipe(this, client, upstream));
    });
  }

  static async start(target: Endpoint, delayMs = 0): Promise<DelayLine> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    return new DelayLine(server, target, delayMs);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get delayMs(): number {
    return this.delay;
  }

  /** Applies to bytes already queued too: a shorter delay releases what is now due at once. */
  setDelay(ms: number): void {
    this.delay = Math.max(0, ms);
    for (const p of this.pipes) p.flush();
  }

  /** Internal: a pipe that closed. */
  forget(pipe: DelayedPipe): void {
    this.pipes.delete(pipe);
  }

  async close(): Promise<void> {
    for (const p of [...this.pipes]) p.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A triangle wave of delays: `lowMs` at t = 0, `highMs` half a period later, back at a period. */
export interface Wave {
  lowMs: number;
  highMs: number;
  periodMs: number;
  durationMs: number;
  /** How often the delay is updated; default 50 ms. */
  stepMs?: number;
}

/** The delay of `wave` at `t` ms after its start. */
export function waveDelayAt(wave: Wave, t: number): number {
  const phase = (t % wave.periodMs) / wave.periodMs;
  const up = phase < 0.5 ? phase * 2 : 2 - phase * 2;
  return wave.lowMs + (wave.highMs - wave.lowMs) * up;
}

export interface HeldReplica {
  readonly line: DelayLine;
  readonly replica: SandboxNode;
  /** Sets the replication stream's delay (and so the replica's lag, plus the heartbeat's age). */
  setDelay(ms: number): void;
  /**
   * Moves the delay along a triangle wave until `durationMs` has passed (then leaves it at the
   * wave's value there). Rising faster than 1 ms per ms would outrun the lag: rejected.
   */
  wave(wave: Wave): Promise<void>;
  /** Re-points the replica at the primary directly and closes the line; safe to call twice. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function repoint(replica: SandboxNode, to: Endpoint): Promise<void> {
  const c = await connectNode(replica, "root");
  try {
    await c.query("STOP SLAVE");
    await c.query("CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?", [to.host, to.port]);
    await c.query("START SLAVE");
  } finally {
    await c.end();
  }
}

/** Waits until the replica's IO thread is connected (Slave_IO_Running = Yes) and its SQL thread runs. */
async function waitConnected(replica: SandboxNode, timeoutMs: number): Promise<void> {
  const c = await connectNode(replica, "root");
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [rows] = await c.query("SHOW SLAVE STATUS");
      const s = (rows as Record<string, unknown>[])[0];
      if (s?.Slave_IO_Running === "Yes" && s.Slave_SQL_Running === "Yes") return;
      if (Date.now() > deadline) {
        throw new RwsplitError(
          "SANDBOX_FAILED",
          `${replica.name}: replication not running after re-pointing (IO ${s?.Slave_IO_Running}, SQL ${s?.Slave_SQL_Running}, ${s?.Last_IO_Error || s?.Last_SQL_Error || "no error"})`,
        );
      }
      await sleep(50);
    }
  } finally {
    await c.end();
  }
}

/**
 * Puts a delay line (starting at `delayMs`, default 0) between `primary` and `replica` and
 * re-points the replica's replication through it; `release()` undoes both.
 */
export async function holdReplicaBehind(
  primary: Endpoint,
  replica: SandboxNode,
  delayMs = 0,
): Promise<HeldReplica> {
  const line = await DelayLine.start(primary, delayMs);
  try {
    await repoint(replica, { host: "127.0.0.1", port: line.port });
    // The handshake goes through the line too: allow a few delayed round trips.
    await waitConnected(replica, 10_000 + 10 * delayMs);
  } catch (e) {
    await line.close();
    throw e;
  }
  let released = false;
  let waving = false;
  const release = async () => {
    if (released) return;
    released = true;
    await repoint(replica, primary);
    await line.close();
    await waitConnected(replica, 10_000);
  };
  return {
    line,
    replica,
    setDelay: (ms) => line.setDelay(ms),
    async wave(w) {
      const slope = (2 * (w.highMs - w.lowMs)) / w.periodMs;
      if (slope > 1)
        throw new RwsplitError(
          "INTERNAL",
          `wave rises ${slope.toFixed(2)} ms/ms: the lag cannot follow above 1`,
        );
      if (waving) throw new RwsplitError("INTERNAL", "one wave at a time");
      waving = true;
      try {
        const step = w.stepMs ?? 50;
        const start = performance.now();
        for (;;) {
          const t = performance.now() - start;
          if (t >= w.durationMs) break;
          line.setDelay(waveDelayAt(w, t));
          await sleep(Math.min(step, w.durationMs - t));
        }
      } finally {
        waving = false;
      }
    },
    release,
    [Symbol.asyncDispose]: release,
  };
}
