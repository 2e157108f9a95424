import { execFile } from "node:child_process";
import type { Duplex } from "node:stream";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import pino from "pino";
import { type Rwsplit, startRwsplit } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { type SandboxInfo, waitForReplicas } from "../../src/sandbox/cluster.js";
import { installRelayProbe, type RelayCounters, watchdogStalls } from "./probe.js";
import { runStress, type StressStats } from "./runner.js";
import { STRESS_SERVER_SETTINGS, setupStressSchema } from "./setup.js";

/**
 * The bench's long stress run (`npm run bench -- --only stress`): the suite's generator and
 * comparison (test/integration/relay-stress.test.ts) for minutes instead of steps, with more
 * clients. rwsplit runs in the bench's own process here, not as a child: the relay probe can only
 * instrument the proxy in-process, and so can the clients that reach it through an always
 * congested stream (a third of the sessions). Failures are counted, not fatal: each one ends its
 * session and the client starts a new one.
 */

export interface StressRun {
  settings: { minutes: number; clients: number; maxBytes: number; stallMs: number; seed: number };
  stats: StressStats;
  counters: RelayCounters;
  /** Stalls rwsplit's own watchdog reported and resumed (null: a tree without it). */
  watchdogStalls: number | null;
  /** The command that replays the run's statements. */
  replay: string;
}

export interface StressPhaseOptions {
  sb: SandboxInfo;
  minutes: number;
  clients: number;
  seed: number;
  onProgress?: (fraction: number) => void;
  stop?: () => boolean;
}

const exec = promisify(execFile);

/** `ss` lines of the TCP connections on these ports: the kernel's Recv-Q / Send-Q of each side. */
export async function socketQueues(ports: readonly number[]): Promise<string[]> {
  try {
    const { stdout } = await exec("ss", ["-tnH"]);
    return stdout
      .split("\n")
      .filter((l) => ports.some((p) => l.includes(`:${p} `) || l.endsWith(`:${p}`)))
      .map((l) => l.replace(/\s+/g, " ").trim());
  } catch (e) {
    return [`ss failed: ${(e as Error).message}`];
  }
}

export async function stressPhase(o: StressPhaseOptions): Promise<StressRun> {
  const { sb } = o;
  const { app, root, monitor } = sb.credentials;
  const nodes = [sb.primary, ...sb.replicas];
  for (const n of nodes) {
    const c = await mysql.createConnection({
      host: n.host,
      port: n.port,
      user: root.user,
      password: root.password,
    });
    for (const sql of STRESS_SERVER_SETTINGS) await c.query(sql);
    await c.end();
  }
  const c = await mysql.createConnection({
    host: sb.primary.host,
    port: sb.primary.port,
    user: app.user,
    password: app.password,
    database: "app",
  });
  await setupStressSchema(c);
  await c.end();
  await waitForReplicas(sb);

  const probe = installRelayProbe();
  const config = loadConfig({
    env: { RWSPLIT__TLS__ENABLED: "false", RWSPLIT__ADMIN__ENABLED: "false" },
    flags: {
      listen: "127.0.0.1:0",
      primary: `${sb.primary.host}:${sb.primary.port}`,
      replica: sb.replicas.map((r) => `${r.host}:${r.port}`),
      user: [`${app.user}:${app.password}`],
      monitorUser: `${monitor.user}:${monitor.password}`,
      logLevel: "error",
    },
  });
  const rw: Rwsplit = await startRwsplit(config, pino({ level: "error" }, pino.destination(2)));
  const started = Date.now();
  const durationMs = o.minutes * 60_000;
  const progress = setInterval(() => o.onProgress?.((Date.now() - started) / durationMs), 1000);
  try {
    for (let i = 0; i < 300; i++) {
      const obs = [...rw.observations().values()].filter((x) => x.role === "replica");
      if (obs.length === sb.replicas.length && obs.every((x) => x.up && x.lagMs !== null && x.lagMs < 1000))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    probe.reset();
    const endpoint = (host: string, port: number) => ({
      host,
      port,
      user: app.user,
      password: app.password,
      database: "app",
    });
    const settings = {
      minutes: o.minutes,
      clients: o.clients,
      maxBytes: 48 << 20,
      stallMs: 5000,
      seed: o.seed,
    };
    const stats = await runStress({
      seed: o.seed,
      clients: o.clients,
      stepsPerClient: Number.POSITIVE_INFINITY,
      durationMs,
      plan: { maxBytes: settings.maxBytes, scenes: [3, 12] },
      stallMs: settings.stallMs,
      proxy: endpoint(rw.listen.host, rw.listen.port),
      direct: endpoint(sb.primary.host, sb.primary.port),
      accept: (s) => (rw.proxy as unknown as { accept(s: Duplex): void }).accept(s),
      failFast: false,
      state: async () => ({
        relay: probe.snapshot(rw.proxy),
        sockets: await socketQueues([rw.listen.port, ...nodes.map((n) => n.port)]),
      }),
      log: (line) => {
        // Failures and late responses; the periodic progress line only without a progress bar.
        if (process.stdout.isTTY !== true || !/ s, \d+ steps, /.test(line)) process.stderr.write(`${line}\n`);
      },
      tickMs: 60_000,
      ...(o.stop ? { stop: o.stop } : {}),
    });
    return {
      settings,
      stats,
      counters: structuredClone(probe.counters),
      watchdogStalls: await watchdogStalls(rw.metrics),
      replay: `RWSPLIT_STRESS_SEED=${o.seed} npm run bench -- --only stress --stress-minutes ${o.minutes} --stress-clients ${o.clients}`,
    };
  } finally {
    clearInterval(progress);
    await rw.stop();
  }
}
