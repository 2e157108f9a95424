import type { Duplex } from "node:stream";
import { type Progress, type Recorded, StressConnection, type Target } from "./client.js";
import * as cmd from "./commands.js";
import { normaliseResponse } from "./normalise.js";
import { ClientPlan, type Epoch, type PlanOptions, type Step } from "./plan.js";
import { randomBytes } from "./rng.js";
import type { ResponseKind } from "./wire.js";

/**
 * Runs the stress plan: each client sends every step to the primary directly, then through the
 * proxy, with the same reader, and compares the two responses byte for byte.
 *
 * A stall is a proxy response that stops: nothing arrives for `stallMs` while the client is
 * ready to read, counting from no earlier than the time the direct response took in all (the
 * server may need that long for its first byte), or one that takes a minute longer than the
 * direct one. A response that completes but `stallMs` later than the direct one is "late": it
 * is counted and the worst is reported, but on a shared 2-core machine under load it is not a
 * failure (a stuck relay never completes; a loaded one does).
 *
 * What may differ is in normalise.ts, with the reasons: the statement id of COM_STMT_PREPARE_OK
 * (and in ERR messages), the value of `last_gtid` in session-state information, and the flags a
 * COM_PING's OK inherits from the connection's previous statement. Connection ids differ too, but
 * only the greeting carries them, and no statement selects CONNECTION_ID(). Everything else must
 * be identical: sequence ids, status flags, warnings, session-state information (both sides are
 * plain clients with the server's default tracking: the proxy answers each client per its own,
 * #12), and how rows over 16 MiB are split into packets.
 */

export interface StressOptions {
  seed: number;
  clients: number;
  /** Steps per client; Infinity to run for `durationMs`. */
  stepsPerClient: number;
  durationMs: number;
  plan: PlanOptions;
  /** Silence from the proxy while the client reads that makes a stall; also the "late" margin. */
  stallMs: number;
  proxy: Target;
  direct: Target;
  /**
   * The in-process proxy's accept path (ProxyServer's private `accept`), for epochs that reach it
   * through a congested stream; without it every epoch uses TCP.
   */
  accept?: (s: Duplex) => void;
  /** Stop at the first failure (the suite), or count failures and go on with a new epoch (the bench). */
  failFast: boolean;
  /** The proxy's state (sessions, backend connections, pause flags), for a stall report. */
  state?: () => Promise<unknown>;
  log?: (line: string) => void;
  /** How often `log` gets a progress line (default 10 s). */
  tickMs?: number;
  /** Polled between steps: true ends the run (Ctrl-C). */
  stop?: () => boolean;
}

export interface Failure {
  kind: "stall" | "mismatch" | "error";
  client: number;
  epoch: number;
  /** Index of the step in its epoch. */
  step: number;
  what: string;
  message: string;
  /** The epoch's steps up to this one (the last few), to read what led there. */
  before: string[];
  state?: unknown;
}

export interface StressStats {
  seed: number;
  clients: number;
  seconds: number;
  epochs: number;
  pooledEpochs: number;
  pinnedEpochs: number;
  /** Epochs whose proxy connection was a congested in-process stream. */
  streamEpochs: number;
  /** Steps run on both sides (commands with and without a response). */
  steps: number;
  /** Responses compared. */
  responses: number;
  bytesDirect: number;
  bytesProxy: number;
  /** Largest response compared. */
  largestResponse: number;
  /** Largest (proxy ms − direct ms) over all responses, and where. */
  maxOverMs: number;
  maxOverWhat: string;
  /** Largest proxy / direct time ratio among responses the direct side took ≥ 100 ms for. */
  maxRatio: number;
  /** Responses that completed more than stallMs after the direct one took. */
  late: number;
  stalls: number;
  mismatches: number;
  errors: number;
  /** The first failures in full (at most 20). */
  failures: Failure[];
  /** Responses and bytes by reader. */
  readers: Record<string, { responses: number; bytes: number }>;
  /** Steps by command. */
  ops: Record<string, number>;
}

class StepFailure extends Error {
  constructor(
    readonly kind: Failure["kind"],
    message: string,
    readonly state?: unknown,
  ) {
    super(message);
  }
}

const describeReader = (r: Step["reader"]) =>
  r.kind === "fast"
    ? "fast"
    : r.kind === "slow"
      ? `slow ${r.bytesPerMs} B/ms`
      : r.kind === "burst"
        ? `burst ${r.pauseMs} ms every ${r.everyBytes} B, ${r.pauses}×`
        : `late ${r.pauseMs} ms`;

/** Offset of the first differing byte and where it lies, for a mismatch report. */
export function firstDifference(direct: Buffer, proxy: Buffer): string {
  const n = Math.min(direct.length, proxy.length);
  let at = 0;
  // Compare in blocks first: responses are up to tens of MB.
  const block = 65536;
  while (at + block <= n && direct.subarray(at, at + block).equals(proxy.subarray(at, at + block)))
    at += block;
  while (at < n && direct[at] === proxy[at]) at++;
  let packet = 0;
  let start = 0;
  while (start + 4 <= direct.length) {
    const len = direct.readUIntLE(start, 3);
    if (start + 4 + len > at) break;
    start += 4 + len;
    packet++;
  }
  const around = (b: Buffer) => b.subarray(Math.max(0, at - 16), at + 16).toString("hex");
  return (
    `lengths direct ${direct.length}, proxy ${proxy.length}; first difference at byte ${at} ` +
    `(physical packet ${packet}, which starts at ${start}); direct …${around(direct)}…, proxy …${around(proxy)}…`
  );
}

type Side = "d" | "p";

interface SideState {
  conn: StressConnection;
  ids: Map<string, number>;
}

export async function runStress(o: StressOptions): Promise<StressStats> {
  const started = performance.now();
  const stats: StressStats = {
    seed: o.seed,
    clients: o.clients,
    seconds: 0,
    epochs: 0,
    pooledEpochs: 0,
    pinnedEpochs: 0,
    streamEpochs: 0,
    steps: 0,
    responses: 0,
    bytesDirect: 0,
    bytesProxy: 0,
    largestResponse: 0,
    maxOverMs: 0,
    maxOverWhat: "",
    maxRatio: 0,
    late: 0,
    stalls: 0,
    mismatches: 0,
    errors: 0,
    failures: [],
    readers: {},
    ops: {},
  };
  let firstFailure: Failure | null = null;
  const over = () =>
    (o.failFast && firstFailure !== null) ||
    performance.now() - started >= o.durationMs ||
    (o.stop?.() ?? false);

  const record = (f: Failure) => {
    if (f.kind === "stall") stats.stalls++;
    else if (f.kind === "mismatch") stats.mismatches++;
    else stats.errors++;
    if (stats.failures.length < 20) stats.failures.push(f);
    firstFailure ??= f;
    o.log?.(`relay stress: ${f.kind.toUpperCase()}: ${f.message}`);
  };

  async function open(epoch: Epoch, side: Side): Promise<StressConnection> {
    const target = side === "p" ? o.proxy : o.direct;
    const stream = side === "p" && epoch.transport === "stream" && o.accept !== undefined;
    const c = await StressConnection.open(target, {
      deprecateEof: epoch.deprecateEof,
      multiStatements: epoch.multiStatements,
      what: `client ${epoch.client} ${side === "d" ? "direct" : stream ? "via the proxy (stream)" : "via the proxy"}`,
      ...(stream ? { accept: o.accept } : {}),
    });
    return c;
  }

  /**
   * Sends one step on one side; the response, or null for commands without one. The watchdog
   * rejects with `onLate`'s failure when the response stops (see the file comment): silence of
   * `silenceMs` while the reader is not holding, counted from `after` ms at the earliest, or
   * `hardMs` in all.
   */
  async function exec(
    s: SideState,
    side: Side,
    step: Step,
    values: (Buffer | null)[],
    watch: { after: number; silenceMs: number; hardMs: number },
    onLate: (p: Progress, why: string) => Promise<StepFailure>,
  ): Promise<Recorded | null> {
    const a = step.action;
    const id = (stmt: string) => s.ids.get(stmt) ?? 0xffffffff;
    let payload: Buffer;
    let kind: ResponseKind;
    switch (a.op) {
      case "query":
        payload = cmd.query(a.sql.replaceAll("{side}", side));
        kind = "results";
        break;
      case "prepare":
        payload = cmd.prepare(a.sql);
        kind = "prepare";
        break;
      case "execute": {
        const bytes = a.params.map((p, i) => (p.type === "side" ? Buffer.from(side) : values[i]!));
        a.params.forEach((p, i) => {
          if (p.type !== "long") return;
          const data = bytes[i]!;
          let at = 0;
          do {
            s.conn.send(cmd.longData(id(a.stmt), i, data.subarray(at, at + p.chunk)));
            at += p.chunk;
          } while (at < data.length);
        });
        payload = cmd.execute(id(a.stmt), a.params, bytes, a.cursor, a.bindTypes);
        kind = "results";
        break;
      }
      case "fetch":
        payload = cmd.fetch(id(a.stmt), a.rows);
        kind = "fetch";
        break;
      case "reset":
        payload = cmd.reset(id(a.stmt));
        kind = "ok";
        break;
      case "close":
        s.conn.send(cmd.close(id(a.stmt)));
        s.ids.delete(a.stmt);
        return null;
      case "ping":
        payload = cmd.ping();
        kind = "ok";
        break;
      case "initDb":
        payload = cmd.initDb(a.schema);
        kind = "ok";
        break;
    }
    const started = performance.now();
    const response = s.conn.command(payload, kind, step.reader);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      let active = started;
      timer = setInterval(() => {
        const now = performance.now();
        const pr = s.conn.progress();
        if (pr.readerPaused) active = now;
        const quietSince = Math.max(active, now - pr.msSinceLastChunk, started + watch.after);
        let why = "";
        if (now - quietSince > watch.silenceMs) {
          why = `nothing arrived for ${Math.round(now - quietSince)} ms while the client was reading`;
        } else if (now - started > watch.hardMs) {
          why = `not complete after ${Math.round(now - started)} ms`;
        }
        if (why === "") return;
        clearInterval(timer);
        onLate(pr, why).then(reject, reject);
      }, 100);
    });
    try {
      const r = await Promise.race([response, late]);
      if (a.op === "prepare" && r.prepared !== null) s.ids.set(a.stmt, r.prepared.id);
      return r;
    } finally {
      clearInterval(timer);
      response.catch(() => {});
    }
  }

  async function runStep(epoch: Epoch, i: number, d: SideState, p: SideState): Promise<void> {
    const step = epoch.steps[i]!;
    const a = step.action;
    stats.ops[a.op] = (stats.ops[a.op] ?? 0) + 1;
    // Parameter bytes are made once and sent to both sides.
    const values =
      a.op === "execute"
        ? a.params.map((x) => (x.type === "bytes" || x.type === "long" ? randomBytes(x.seed, x.size) : null))
        : [];
    // The statement ids each side used (ERR messages name them).
    const stmtId = (x: SideState) => ("stmt" in a ? (x.ids.get(a.stmt) ?? null) : null);
    const ids = { d: stmtId(d), p: stmtId(p) };
    // A late side is not closed here (that would end its command with "closed" first): the
    // epoch's cleanup closes both connections after the failure is recorded.
    const direct = await exec(
      d,
      "d",
      step,
      values,
      { after: 0, silenceMs: Number.POSITIVE_INFINITY, hardMs: 120_000 },
      async (pr, why) => new StepFailure("error", `the primary's response: ${why} (${JSON.stringify(pr)})`),
    );
    const directMs = direct?.ms ?? 0;
    const proxied = await exec(
      p,
      "p",
      step,
      values,
      { after: directMs, silenceMs: o.stallMs, hardMs: directMs + 60_000 },
      async (pr, why) => {
        const state = await o.state?.().catch((e: Error) => `state unavailable: ${e.message}`);
        return new StepFailure(
          "stall",
          `the proxy's response stalled: ${why}; ${pr.bytes} bytes in ${pr.chunks} chunks so far ` +
            `(the primary answered directly with ${direct?.bytes.length ?? 0} bytes in ${Math.round(directMs)} ms)`,
          state,
        );
      },
    );
    stats.steps++;
    if (direct === null || proxied === null) return;
    stats.responses++;
    stats.bytesDirect += direct.bytes.length;
    stats.bytesProxy += proxied.bytes.length;
    stats.largestResponse = Math.max(stats.largestResponse, direct.bytes.length);
    const rk = step.reader.kind;
    stats.readers[rk] ??= { responses: 0, bytes: 0 };
    const rs = stats.readers[rk];
    rs.responses++;
    rs.bytes += proxied.bytes.length;
    const overMs = proxied.ms - direct.ms;
    if (overMs > stats.maxOverMs) {
      stats.maxOverMs = overMs;
      stats.maxOverWhat = `${step.what} (${direct.bytes.length} B, ${describeReader(step.reader)}): direct ${Math.round(direct.ms)} ms, proxy ${Math.round(proxied.ms)} ms`;
    }
    if (direct.ms >= 100) stats.maxRatio = Math.max(stats.maxRatio, proxied.ms / direct.ms);
    if (overMs > o.stallMs) {
      stats.late++;
      o.log?.(
        `relay stress: late (not a stall): ${step.what} [${describeReader(step.reader)}]: direct ${Math.round(direct.ms)} ms, proxy ${Math.round(proxied.ms)} ms`,
      );
    }
    const notStatement = a.op === "ping" || a.op === "initDb" || a.op === "reset";
    const same = normaliseResponse(direct.bytes, direct.prepared !== null, ids.d, notStatement).equals(
      normaliseResponse(proxied.bytes, proxied.prepared !== null, ids.p, notStatement),
    );
    if (!same) {
      throw new StepFailure("mismatch", `responses differ: ${firstDifference(direct.bytes, proxied.bytes)}`);
    }
  }

  async function runEpoch(epoch: Epoch, stepsLeft: number): Promise<number> {
    stats.epochs++;
    if (epoch.profile === "pooled") stats.pooledEpochs++;
    else stats.pinnedEpochs++;
    if (epoch.transport === "stream" && o.accept) stats.streamEpochs++;
    const d: SideState = { conn: await open(epoch, "d"), ids: new Map() };
    let p: SideState | null = null;
    let i = 0;
    try {
      p = { conn: await open(epoch, "p"), ids: new Map() };
      for (; i < epoch.steps.length && i < stepsLeft && !over(); i++) await runStep(epoch, i, d, p);
      return i;
    } catch (e) {
      const step = epoch.steps[i];
      const f = e instanceof StepFailure ? e : new StepFailure("error", (e as Error).message);
      record({
        kind: f.kind,
        client: epoch.client,
        epoch: epoch.index,
        step: i,
        what: step?.what ?? "login",
        message:
          `seed ${o.seed}, client ${epoch.client}, epoch ${epoch.index} (${epoch.profile}, ${epoch.transport}, ` +
          `${epoch.deprecateEof ? "CLIENT_DEPRECATE_EOF" : "classic EOF"}), step ${i}: ` +
          `${step?.what ?? "login"} [${step ? describeReader(step.reader) : ""}]: ${f.message}. ` +
          `Replay: RWSPLIT_STRESS_SEED=${o.seed}`,
        before: epoch.steps
          .slice(Math.max(0, i - 8), i + 1)
          .map((s, k) => `${i - Math.min(i, 8) + k}: ${s.what} [${describeReader(s.reader)}]`),
        state: f.state,
      });
      return i + 1;
    } finally {
      d.conn.close();
      p?.conn.close();
    }
  }

  async function runClient(client: number): Promise<void> {
    const plan = new ClientPlan(o.seed, client, o.plan);
    let steps = 0;
    while (steps < o.stepsPerClient && !over()) {
      steps += await runEpoch(plan.nextEpoch(), o.stepsPerClient - steps);
    }
  }

  let ticker: NodeJS.Timeout | undefined;
  if (o.log) {
    ticker = setInterval(() => {
      o.log!(
        `relay stress: ${Math.round((performance.now() - started) / 1000)} s, ${stats.steps} steps, ` +
          `${(stats.bytesProxy / 2 ** 20).toFixed(0)} MB relayed, max +${Math.round(stats.maxOverMs)} ms, ` +
          `${stats.stalls} stalls, ${stats.mismatches} mismatches, ${stats.errors} errors`,
      );
    }, o.tickMs ?? 10_000);
    ticker.unref();
  }
  try {
    await Promise.all(Array.from({ length: o.clients }, (_, c) => runClient(c)));
  } finally {
    clearInterval(ticker);
  }
  stats.seconds = (performance.now() - started) / 1000;
  return stats;
}

/** A one-paragraph summary of a run. */
export function summary(s: StressStats): string {
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  return (
    `seed ${s.seed}: ${s.clients} clients, ${s.epochs} sessions (${s.pooledEpochs} pooled, ${s.pinnedEpochs} pinned; ` +
    `${s.streamEpochs} over a congested stream), ` +
    `${s.steps} steps, ${s.responses} responses compared, ${mb(s.bytesProxy)} MB relayed ` +
    `(largest response ${mb(s.largestResponse)} MB) in ${s.seconds.toFixed(1)} s; ` +
    `max slowdown +${Math.round(s.maxOverMs)} ms (${s.maxOverWhat}), max ratio ${s.maxRatio.toFixed(2)}, ` +
    `${s.late} late by over the stall margin; ` +
    `${s.stalls} stalls, ${s.mismatches} mismatches, ${s.errors} errors`
  );
}
