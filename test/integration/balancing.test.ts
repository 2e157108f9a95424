import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BackendStatus } from "../../src/admin/status.js";
import type { Config } from "../../src/config/types.js";
import { type HeldReplica, holdReplicaBehind, type Wave, waveDelayAt } from "../helpers/lag.js";
import { parsePrometheusText } from "../helpers/prom-parse.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #6 acceptance: lag-weighted balancing through the real proxy against the real sandbox.
// Replica A (replica1, weight 3) replicates directly; replica B (replica2, weight 1) replicates
// through a delay line (test/helpers/lag.ts) that holds it at a chosen lag. Where the reads went
// is counted twice, by `SELECT @@port` per read and by rwsplit_queries_total, and the two must
// agree. The tests share one sandbox and proxy and run in order.

const LAG: Config["lag"] = {
  softMs: 500,
  maxMs: 3000,
  readmitBelowMs: 2000,
  readmitChecks: 3,
  minServing: 0,
};
/** monitor.intervalMs: one lag observation per replica this often. */
const CHECK_MS = 500;
/** monitor.heartbeat.intervalMs: the measured lag is the delay plus up to this much. */
const HEARTBEAT_MS = 250;
const WEIGHT_A = 3;
const WEIGHT_B = 1;
/** Client connections reading at once: enough for the picker's in-flight counts to matter. */
const CONNS = 8;
const READS = 10_000;
/** The delay line's delay for "~1.5 s behind": the measured lag adds the heartbeat's age (0..250 ms). */
const HOLD_MS = 1375;
/** Shares must be within ±10 % of the expected share (relative, per replica). */
const TOLERANCE = 0.1;

let sb: TestSandbox;
let proxy: TestApp;
let held: HeldReplica;
let base: string;
let portA: number;
let portB: number;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The weight formula of issue #6, written out here rather than imported so that the test checks
 * the proxy against the specification: full weight up to lag.soft, falling linearly to 0 at
 * lag.max, never below the 0.01 floor while eligible.
 */
function expectedWeight(weight: number, lagMs: number): number {
  const f =
    lagMs <= LAG.softMs ? 1 : lagMs >= LAG.maxMs ? 0 : 1 - (lagMs - LAG.softMs) / (LAG.maxMs - LAG.softMs);
  return weight * Math.max(f, 0.01);
}

interface Sample {
  /** performance.now() when the answer arrived. */
  t: number;
  a: BackendStatus;
  b: BackendStatus;
}

async function backends(): Promise<{ a: BackendStatus; b: BackendStatus }> {
  const res = await fetch(`${base}/backends`);
  const list = ((await res.json()) as { backends: BackendStatus[] }).backends;
  return { a: list.find((x) => x.name === "replica1")!, b: list.find((x) => x.name === "replica2")! };
}

/** Polls /backends every `periodMs` until stopped; `onSample` may look at each sample as it comes. */
function sampleBackends(periodMs = 50, onSample?: (s: Sample) => void) {
  const samples: Sample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const s = { ...(await backends()), t: performance.now() };
      samples.push(s);
      onSample?.(s);
      await sleep(periodMs);
    }
  })();
  return {
    samples,
    async stop(): Promise<Sample[]> {
      running = false;
      await done;
      return samples;
    },
  };
}

async function waitFor(what: string, ok: (s: { a: BackendStatus; b: BackendStatus }) => boolean, ms: number) {
  const start = performance.now();
  for (;;) {
    const s = await backends();
    if (ok(s)) return { ...s, waited: performance.now() - start };
    if (performance.now() - start > ms)
      throw new Error(`${what}: not within ${ms} ms; replica2: ${JSON.stringify(s.b)}`);
    await sleep(50);
  }
}

interface Read {
  /** performance.now() when the client sent it. */
  t: number;
  port: number;
}

/**
 * `conns` client connections through the proxy read `SELECT @@port` back to back, until `reads`
 * reads are done or `until()` says stop; returns every read with where it ran.
 */
async function readLoad(opts: { conns: number; reads?: number; until?: () => boolean }): Promise<Read[]> {
  const clients = await Promise.all(
    Array.from({ length: opts.conns }, () =>
      mysql.createConnection({ host: proxy.host, port: proxy.port, user: "app", password: "app-pass" }),
    ),
  );
  const out: Read[] = [];
  let left = opts.reads ?? Number.POSITIVE_INFINITY;
  try {
    await Promise.all(
      clients.map(async (c) => {
        while (left > 0 && !(opts.until?.() ?? false)) {
          left--;
          const t = performance.now();
          const [rows] = await c.query("SELECT @@port AS p");
          out.push({ t, port: Number((rows as { p: number }[])[0]!.p) });
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  }
  return out;
}

/** rwsplit_queries_total{route="replica"} per backend, summed over reasons. */
async function replicaReads(): Promise<Record<string, number>> {
  const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  const out: Record<string, number> = {};
  for (const s of families.get("rwsplit_queries_total")?.samples ?? []) {
    if (s.labels.route !== "replica") continue;
    out[s.labels.backend!] = (out[s.labels.backend!] ?? 0) + s.value;
  }
  return out;
}

/** rwsplit_balancer_transitions_total for replica2, by the state it went to. */
async function transitionsOfB(): Promise<{ serving: number; excluded: number; total: number }> {
  const families = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
  let serving = 0;
  let excluded = 0;
  for (const s of families.get("rwsplit_balancer_transitions_total")?.samples ?? []) {
    if (s.labels.backend !== "replica2") continue;
    if (s.labels.to === "serving") serving += s.value;
    else if (s.labels.to === "excluded") excluded += s.value;
  }
  return { serving, excluded, total: serving + excluded };
}

function shareOfB(reads: readonly Read[]): number {
  return reads.filter((r) => r.port === portB).length / reads.length;
}

/** The expected share of B over a run: the mean of wB / (wA + wB) over the lags /backends showed. */
function expectedShareOfB(samples: readonly Sample[]): number {
  const shares = samples.map((s) => {
    const wa = expectedWeight(WEIGHT_A, s.a.lagMs!);
    const wb = expectedWeight(WEIGHT_B, s.b.lagMs!);
    return wb / (wa + wb);
  });
  return shares.reduce((x, y) => x + y, 0) / shares.length;
}

function stats(xs: readonly number[]) {
  const sorted = [...xs].sort((x, y) => x - y);
  const mean = xs.reduce((x, y) => x + y, 0) / xs.length;
  return { min: sorted[0]!, max: sorted.at(-1)!, mean };
}

/** Client-side counts and /metrics deltas describe the same reads. */
async function measured(run: () => Promise<Read[]>) {
  const before = await replicaReads();
  const reads = await run();
  const after = await replicaReads();
  const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  const onA = reads.filter((r) => r.port === portA).length;
  const onB = reads.filter((r) => r.port === portB).length;
  expect(onA + onB, "every read ran on a replica").toBe(reads.length);
  expect({ replica1: delta("replica1"), replica2: delta("replica2") }).toEqual({
    replica1: onA,
    replica2: onB,
  });
  return reads;
}

type Phase = "serving" | "excluded";

/**
 * The most eligibility transitions the hysteresis allows while the delay line follows `wave`,
 * for a replica that starts in `start`. Transitions alternate. An exclusion needs one check with
 * lag > lag.max; the measured lag is the delay plus the heartbeat's age (0..HEARTBEAT_MS, and
 * another period of slack for a busy event loop), so only a delay above max - 2 × HEARTBEAT_MS
 * can cause one. A re-admission needs lag.readmitChecks consecutive checks with lag <
 * lag.readmitBelow, CHECK_MS apart, and the lag is never below the delay, so only a stretch of
 * at least (readmitChecks - 1) × CHECK_MS with the delay below readmitBelow can cause one. Taking
 * each transition as early as the wave allows gives the longest alternating sequence.
 */
function hysteresisBound(wave: Wave, start: Phase): number {
  let phase = start;
  let count = 0;
  let lowSince: number | null = null;
  for (let t = 0; t <= wave.durationMs; t += 10) {
    const delay = waveDelayAt(wave, t);
    if (phase === "serving") {
      if (delay > LAG.maxMs - 2 * HEARTBEAT_MS) {
        phase = "excluded";
        count++;
      }
    } else if (delay < LAG.readmitBelowMs) {
      lowSince ??= t;
      if (t - lowSince >= (LAG.readmitChecks - 1) * CHECK_MS) {
        phase = "serving";
        count++;
        lowSince = null;
      }
    } else {
      lowSince = null;
    }
  }
  return count;
}

/**
 * The admission rule replayed over the lags the monitor reported, written from the
 * specification (not src/balancer/eligibility.ts): out at once above lag.max, back in after
 * lag.readmitChecks consecutive checks below lag.readmitBelow.
 */
function replayTransitions(lags: readonly number[], start: Phase): number {
  let phase = start;
  let below = 0;
  let count = 0;
  for (const lag of lags) {
    if (lag > LAG.maxMs) {
      if (phase === "serving") count++;
      phase = "excluded";
      below = 0;
    } else if (phase === "excluded") {
      below = lag < LAG.readmitBelowMs ? below + 1 : 0;
      if (below >= LAG.readmitChecks) {
        phase = "serving";
        below = 0;
        count++;
      }
    }
  }
  return count;
}

/** How often a single threshold at lag.max (no hysteresis) would have flipped over these lags. */
function thresholdCrossings(lags: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < lags.length; i++) if (lags[i - 1]! > LAG.maxMs !== lags[i]! > LAG.maxMs) n++;
  return n;
}

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  const cfg = testConfig(sb.primary, sb.replicas, { lag: LAG });
  cfg.admin = { listen: { host: "127.0.0.1", port: 0 }, enabled: true };
  cfg.backends.replicas[0]!.weight = WEIGHT_A;
  cfg.backends.replicas[1]!.weight = WEIGHT_B;
  expect(cfg.monitor.intervalMs).toBe(CHECK_MS);
  expect(cfg.monitor.heartbeat.intervalMs).toBe(HEARTBEAT_MS);
  [portA, portB] = [sb.replicas[0]!.port, sb.replicas[1]!.port];
  held = await holdReplicaBehind(sb.primary, sb.replicas[1]!, 0);
  proxy = await startApp(cfg);
  base = `http://127.0.0.1:${proxy.app.adminListen!.port}`;
  await waitFor(
    "both replicas eligible with heartbeat lag",
    ({ a, b }) => [a, b].every((x) => x.eligible && x.lagSource === "heartbeat" && x.lagMs! < LAG.softMs),
    20_000,
  );
});

afterAll(async () => {
  await proxy?.close();
  await held?.release().catch(() => {});
  await sb?.down();
});

describe("lag-weighted balancing (issue #6)", () => {
  // The picker is weighted power-of-two-choices over reads in flight. With replicas equally fast
  // the expected share is the weight share at any concurrency: pick.ts's dead band keeps the
  // in-flight comparison from reacting to the one or two reads a few clients keep in flight.
  // Without it (the first version), 8 connections gave B 30-39 % instead of 25 %, and B held
  // 1.5 s behind 27.6 % instead of 16.8 %.
  // Not tested at 32 connections: on this 2-core machine the proxy, the clients and both servers
  // then saturate the CPU (a trivial read takes 10-30 ms), and the in-flight comparison also
  // reacts, as it should, to whichever replica the scheduler slows down at the moment, so the
  // share is no longer the weight share alone (measured 25.0-28.2 %).
  test("no lag: reads split 3:1 as the weights say, at 1, 4 and 8 concurrent connections", async () => {
    const results: string[] = [];
    for (const conns of [1, 4, CONNS]) {
      const sampler = sampleBackends();
      const reads = await measured(() => readLoad({ conns, reads: READS }));
      const samples = await sampler.stop();
      // "No lag": both at or below lag.soft nearly all the time (a busy machine may delay a
      // heartbeat now and then), so the expectation is the weights' 25 %.
      const expectedB = expectedShareOfB(samples);
      expect(expectedB).toBeGreaterThan(0.245);
      const b = shareOfB(reads);
      results.push(
        `${conns} conns: B ${(b * 100).toFixed(1)} % (expected ${(expectedB * 100).toFixed(1)} %)`,
      );
      expect(Math.abs(b - expectedB), results.at(-1)).toBeLessThanOrEqual(TOLERANCE * expectedB);
      expect(Math.abs(1 - b - (1 - expectedB))).toBeLessThanOrEqual(TOLERANCE * (1 - expectedB));
    }
    console.log(`no lag, ${READS} reads each: ${results.join("; ")}`);
  });

  test("B held ~1.5 s behind: its share falls as the weight formula says for the lag the proxy measured", async () => {
    held.setDelay(HOLD_MS);
    // Two monitor observations in a row in the band: the lag has settled where the delay holds it.
    const inBand = new Set<string>();
    await waitFor(
      "replica2 lag around 1.5 s",
      ({ b }) => {
        if (b.lagMs! > 1300 && b.lagMs! < 1800) inBand.add(b.lastCheckAt!);
        else inBand.clear();
        return inBand.size >= 2;
      },
      10_000,
    );
    const sampler = sampleBackends();
    const reads = await measured(() => readLoad({ conns: CONNS, reads: READS }));
    const samples = await sampler.stop();
    const lagB = stats(samples.map((s) => s.b.lagMs!));
    for (const s of samples) {
      expect(s.b.eligible).toBe(true);
      // The proxy's own effective weights are the formula applied to the lag it measured.
      expect(s.a.effectiveWeight).toBeCloseTo(expectedWeight(WEIGHT_A, s.a.lagMs!), 9);
      expect(s.b.effectiveWeight).toBeCloseTo(expectedWeight(WEIGHT_B, s.b.lagMs!), 9);
    }
    const expectedB = expectedShareOfB(samples);
    const b = shareOfB(reads);
    console.log(
      `B held behind (delay ${HOLD_MS} ms): lag ${lagB.min.toFixed(0)}..${lagB.max.toFixed(0)} ms (mean ${lagB.mean.toFixed(0)}) over ${samples.length} samples; ` +
        `B ${(b * 100).toFixed(1)} % of ${reads.length} reads, expected ${(expectedB * 100).toFixed(1)} %`,
    );
    expect(lagB.min).toBeGreaterThan(1200);
    expect(lagB.max).toBeLessThan(1900);
    expect(Math.abs(b - expectedB)).toBeLessThanOrEqual(TOLERANCE * expectedB);
    expect(Math.abs(1 - b - (1 - expectedB))).toBeLessThanOrEqual(TOLERANCE * (1 - expectedB));
  });

  test("past lag.max B gets no reads within 1 s of /backends first showing it; caught up, re-admitted once", async () => {
    const before = await transitionsOfB();
    let overAt: number | null = null;
    let stopAt = Number.POSITIVE_INFINITY;
    const sampler = sampleBackends(25, (s) => {
      if (overAt === null && s.b.lagMs !== null && s.b.lagMs > LAG.maxMs) {
        overAt = s.t;
        stopAt = s.t + 2500;
      }
    });
    // The lag grows from ~1.5 s at 1 ms per ms: past 3 s about 1.5 s from now.
    held.setDelay(4500);
    const deadline = performance.now() + 10_000;
    const reads = await measured(() =>
      readLoad({ conns: CONNS, until: () => performance.now() > Math.min(stopAt, deadline) }),
    );
    const samples = await sampler.stop();
    expect(overAt, "/backends never showed replica2 past lag.max").not.toBeNull();
    const t0 = overAt!;
    const lastOnB = Math.max(...reads.filter((r) => r.port === portB).map((r) => r.t));
    const lateOnB = reads.filter((r) => r.port === portB && r.t > t0 + 1000).length;
    const after = reads.filter((r) => r.t > t0);
    console.log(
      `past max: last read on B sent ${(lastOnB - t0).toFixed(0)} ms after /backends first showed lag > ${LAG.maxMs} ms; ` +
        `${after.length} reads sent after that, ${after.filter((r) => r.port === portB).length} on B`,
    );
    expect(lateOnB).toBe(0);
    const over = samples.filter((s) => s.t >= t0);
    for (const s of over) {
      expect(s.b).toMatchObject({ eligible: false, effectiveWeight: 0 });
      expect(s.b.reason).toMatch(/^lag \d+ms > max 3000ms$|re-admit below/);
    }
    expect(await transitionsOfB()).toEqual({
      ...before,
      excluded: before.excluded + 1,
      total: before.total + 1,
    });

    // Caught up: back in after lag.readmitChecks checks below lag.readmitBelow, exactly once.
    held.setDelay(0);
    const back = await waitFor("replica2 re-admitted", ({ b }) => b.eligible, 3 * CHECK_MS + 3000);
    console.log(`caught up: re-admitted ${back.waited.toFixed(0)} ms after the delay line was emptied`);
    await sleep(2 * CHECK_MS);
    expect(await transitionsOfB()).toEqual({
      serving: before.serving + 1,
      excluded: before.excluded + 1,
      total: before.total + 2,
    });
  });

  test("60 s of lag oscillating around the thresholds: no more transitions than the hysteresis allows", async () => {
    // Phase 1, around lag.max and never below lag.readmitBelow: the flapping case (ProxySQL
    // #3340). Excluded at the first crest, and no trough can re-admit it: at most 1 transition,
    // where a single threshold at lag.max would flip at every crossing (about 10).
    const phase1: Wave = { lowMs: 2300, highMs: 3700, periodMs: 6000, durationMs: 30_000 };
    // Phase 2, through both thresholds, 3 periods from a trough: at most one re-admission per
    // trough (4, counting both ends) and one exclusion per crest (3) = 7.
    const phase2: Wave = { lowMs: 500, highMs: 3500, periodMs: 10_000, durationMs: 30_000 };
    const bound1 = hysteresisBound(phase1, "serving");
    const bound2 = hysteresisBound(phase2, "excluded");
    expect([bound1, bound2]).toEqual([1, 7]);

    // Start on the wave: serving, at its low point.
    held.setDelay(phase1.lowMs);
    await waitFor(
      "replica2 at the wave's low point",
      ({ b }) => b.eligible && b.lagMs! >= phase1.lowMs,
      10_000,
    );
    // Every monitor observation of B, once each (keyed by its check time), tagged with the phase.
    let phase = 1;
    const seen = new Map<string, { phase: number; lagMs: number; at: number }>();
    const sampler = sampleBackends(50, (s) => {
      if (s.b.lastCheckAt !== null && !seen.has(s.b.lastCheckAt))
        seen.set(s.b.lastCheckAt, { phase, lagMs: s.b.lagMs!, at: Date.parse(s.b.lastCheckAt) });
    });
    const t0 = await transitionsOfB();
    await held.wave(phase1);
    const t1 = await transitionsOfB();
    phase = 2;
    await held.wave(phase2);
    const t2 = await transitionsOfB();
    await sampler.stop();

    const obs = [...seen.values()];
    const lags = (p: number) => obs.filter((o) => o.phase === p).map((o) => o.lagMs);
    const in1 = t1.total - t0.total;
    const in2 = t2.total - t1.total;
    const replay1 = replayTransitions(lags(1), "serving");
    const replay2 = replayTransitions(lags(2), "excluded");
    const lag1 = stats(lags(1));
    const lag2 = stats(lags(2));
    console.log(
      `oscillation: phase 1 lag ${lag1.min.toFixed(0)}..${lag1.max.toFixed(0)} ms, ${in1} transition(s) ` +
        `(bound ${bound1}, replay ${replay1}, a single threshold: ${thresholdCrossings(lags(1))}); ` +
        `phase 2 lag ${lag2.min.toFixed(0)}..${lag2.max.toFixed(0)} ms, ${in2} transitions ` +
        `(bound ${bound2}, replay ${replay2}, a single threshold: ${thresholdCrossings(lags(2))}); ` +
        `${obs.length} observations`,
    );
    expect(in1).toBeLessThanOrEqual(bound1);
    expect(in2).toBeLessThanOrEqual(bound2);
    expect(t2.total - t0.total).toBeLessThanOrEqual(bound1 + bound2);
    // It did oscillate: excluded in phase 1 and never back; in and out again in phase 2.
    expect(t1.excluded - t0.excluded).toBe(1);
    expect(t1.serving - t0.serving).toBe(0);
    expect(lag1.min).toBeGreaterThanOrEqual(LAG.readmitBelowMs);
    expect(thresholdCrossings(lags(1))).toBeGreaterThanOrEqual(8);
    expect(in2).toBeGreaterThanOrEqual(4);
    // The proxy did what the rule says for the lags it measured, when no observation was missed.
    const gaps = obs.slice(1).map((o, i) => o.at - obs[i]!.at);
    if (Math.max(...gaps) < 2 * CHECK_MS) expect([in1, in2]).toEqual([replay1, replay2]);
    else console.log(`an observation was missed (gap ${Math.max(...gaps)} ms): replay not compared`);

    // Caught up: serving again, with at most the one re-admission that takes.
    held.setDelay(0);
    await waitFor("replica2 serving", ({ b }) => b.eligible && b.lagMs! < LAG.softMs, 3 * CHECK_MS + 3000);
    await sleep(2 * CHECK_MS);
    const t3 = await transitionsOfB();
    expect(t3.excluded).toBe(t2.excluded);
    // The first observation's unchecked -> serving counts too: excluded now iff the counts are equal.
    const excludedAtEnd = t2.serving === t2.excluded;
    expect(t3.serving - t2.serving).toBe(excludedAtEnd ? 1 : 0);
  }, 120_000);
});
