import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SandboxInfo } from "../src/sandbox/cluster.js";
import { freePort } from "../src/sandbox/ports.js";

/**
 * The processes under test: rwsplit built from this checkout, as its own process so its CPU time
 * and memory are its own, HAProxy, and node-relay (the floor: a bare Node TCP relay). Each is handed to `track` as soon as it is spawned, so the
 * caller stops it (`stopAll`, by pid) even when it never became ready.
 */

export interface ProcessTarget {
  name: string;
  host: string;
  port: number;
  pid: number;
  child: ChildProcess;
}

export interface RwsplitTarget extends ProcessTarget {
  adminPort: number;
  /** The RWSPLIT__* overrides it runs with, for the record. */
  env: Record<string, string>;
}

export interface HaproxyTarget extends ProcessTarget {
  /** Round robin over the replicas (reads only: no lag awareness, no writes). */
  replicasPort: number;
}

export async function waitPort(port: number, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open`);
}

/**
 * `waitPort`, but a child that exits first fails at once, with the end of what it wrote to stderr
 * (a config it rejects, say) instead of a 60 s wait for a port that will never open.
 */
async function waitReady(
  child: ChildProcess,
  port: number,
  what: string,
  stderr: () => string,
): Promise<void> {
  let onExit: (code: number | null, signal: string | null) => void = () => {};
  const exited = new Promise<never>((_, reject) => {
    onExit = (code, signal) =>
      reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before listening: ${stderr().trim()}`));
    child.once("exit", onExit);
  });
  try {
    await Promise.race([waitPort(port), exited]);
  } finally {
    child.off("exit", onExit);
    exited.catch(() => {});
  }
}

/** Copies a child's stderr to ours and keeps its last `max` characters for an error message. */
function stderrTail(child: ChildProcess, max = 2000): () => string {
  let tail = "";
  child.stderr?.on("data", (d: Buffer) => {
    process.stderr.write(d);
    tail = (tail + d.toString()).slice(-max);
  });
  return () => tail;
}

/**
 * Polls `/backends` until every replica is eligible, so reads are split from the first query; or,
 * with `checkedOnly`, until the monitor has checked each one (a replica it excludes stays out).
 */
async function waitReplicas(adminPort: number, checkedOnly: boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    try {
      const body = (await (await fetch(`http://127.0.0.1:${adminPort}/backends`)).json()) as {
        backends: { role: string; eligible: boolean; reason: string | null; lastCheckAt: string | null }[];
      };
      const replicas = body.backends.filter((b) => b.role === "replica");
      const ready = (b: (typeof replicas)[number]) =>
        checkedOnly ? b.lastCheckAt !== null && b.reason !== "not checked yet" : b.eligible;
      if (replicas.length > 0 && replicas.every(ready)) return;
      last = JSON.stringify(replicas.map((b) => b.reason));
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`rwsplit on admin port ${adminPort}: replicas not ready after ${ms} ms (${last})`);
}

/**
 * `rwsplit serve` from dist/, with `RWSPLIT__SECTION__KEY` overrides. TLS is off: libmariadb
 * (sysbench) upgrades to TLS whenever the server offers it, and neither MariaDB nor HAProxy here
 * offers it, so TLS would be the only thing measured apart. `workers`: `RWSPLIT__WORKERS=N` (`serve
 * --workers N`, issue #15); the key is only set when given, so a build without it runs as before,
 * and one that rejects it fails here at once with its message.
 */
export async function startRwsplit(
  name: string,
  sb: SandboxInfo,
  track: (c: ChildProcess) => void,
  overrides: Record<string, string> = {},
  opts: { excludedReplicasOk?: boolean; main?: string; workers?: number } = {},
): Promise<RwsplitTarget> {
  const port = await freePort();
  const adminPort = await freePort();
  const env: Record<string, string> = { RWSPLIT__TLS__ENABLED: "false", ...overrides };
  if (opts.workers !== undefined) env.RWSPLIT__WORKERS = String(opts.workers);
  const { app, monitor } = sb.credentials;
  const child = spawn(
    process.execPath,
    [
      ...(process.env.RWSPLIT_BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? []),
      opts.main ?? resolve("dist/src/cli/main.js"),
      "serve",
      "--listen",
      `127.0.0.1:${port}`,
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--primary",
      `${sb.primary.host}:${sb.primary.port}`,
      ...sb.replicas.flatMap((r) => ["--replica", `${r.host}:${r.port}`]),
      "--user",
      `${app.user}:${app.password}`,
      "--monitor-user",
      `${monitor.user}:${monitor.password}`,
      "--log-level",
      "error",
    ],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } },
  );
  track(child);
  const stderr = stderrTail(child);
  if (child.pid === undefined) throw new Error("could not start rwsplit");
  const t = { name, host: "127.0.0.1", port, adminPort, pid: child.pid, child, env };
  await waitReady(child, port, `rwsplit ${name}`, stderr);
  await waitReplicas(adminPort, opts.excludedReplicasOk === true);
  return t;
}

/**
 * HAProxy in TCP mode: `mysql` in front of the primary (the floor of what a proxy costs) and
 * `replicas`, round robin over the replicas, for the stale-read comparison.
 */
export async function startHaproxy(
  sb: SandboxInfo,
  workDir: string,
  maxconn: number,
  track: (c: ChildProcess) => void,
): Promise<HaproxyTarget> {
  const port = await freePort();
  const replicasPort = await freePort();
  const cfg = join(workDir, "haproxy.cfg");
  writeFileSync(
    cfg,
    [
      "global",
      `  maxconn ${maxconn}`,
      "defaults",
      "  mode tcp",
      `  maxconn ${maxconn}`,
      "  timeout connect 5s",
      "  timeout client 1h",
      "  timeout server 1h",
      "listen mysql",
      `  bind 127.0.0.1:${port}`,
      `  server primary ${sb.primary.host}:${sb.primary.port}`,
      "listen replicas",
      `  bind 127.0.0.1:${replicasPort}`,
      "  balance roundrobin",
      ...sb.replicas.map((r, i) => `  server replica${i + 1} ${r.host}:${r.port}`),
      "",
    ].join("\n"),
  );
  const child = spawn("haproxy", ["-f", cfg, "-db"], { stdio: ["ignore", "ignore", "inherit"] });
  track(child);
  if (child.pid === undefined) throw new Error("could not start haproxy");
  await waitPort(port);
  await waitPort(replicasPort);
  return { name: "haproxy", host: "127.0.0.1", port, replicasPort, pid: child.pid, child };
}

/**
 * node-relay (bench/node-relay.ts, built beside this file) in front of the primary: accept,
 * connect, copy bytes both ways, nothing else. It cannot split, so it reaches the primary in every
 * scenario. `mode`: see node-relay.ts (the default is the cheaper one).
 */
export async function startNodeRelay(
  sb: SandboxInfo,
  track: (c: ChildProcess) => void,
  mode?: "onread" | "pipe",
): Promise<ProcessTarget> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("./node-relay.js", import.meta.url)),
      "--listen",
      `127.0.0.1:${port}`,
      "--upstream",
      `${sb.primary.host}:${sb.primary.port}`,
      ...(mode !== undefined ? ["--mode", mode] : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  track(child);
  const stderr = stderrTail(child);
  if (child.pid === undefined) throw new Error("could not start node-relay");
  await waitReady(child, port, "node-relay", stderr);
  return { name: "node-relay", host: "127.0.0.1", port, pid: child.pid, child };
}

/**
 * The floor under rwsplit's memory at start (bench/memory-floor.ts): Node alone (`node`) or with the
 * libraries an idle `serve` loads (`libraries`), idle, listening only to say it is ready.
 */
export async function startMemoryFloor(
  kind: "node" | "libraries",
  track: (c: ChildProcess) => void,
): Promise<ProcessTarget> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      fileURLToPath(new URL("./memory-floor.js", import.meta.url)),
      "--listen",
      String(port),
      ...(kind === "libraries" ? ["--libraries"] : []),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  track(child);
  const stderr = stderrTail(child);
  const name = `floor: ${kind === "node" ? "Node alone" : "Node + libraries"}`;
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  await waitReady(child, port, name, stderr);
  return { name, host: "127.0.0.1", port, pid: child.pid, child };
}

/** SIGTERM to each child still running, by its own pid; SIGKILL after `graceMs`. */
export async function stopAll(children: readonly ChildProcess[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      const timer = setTimeout(() => c.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    }),
  );
}

/**
 * rwsplit_replica_writes_blocked_total from a running rwsplit's /metrics, summed over backends:
 * statements the send-time guard kept from a replica (issue #12: must stay 0). Null when
 * /metrics did not answer.
 */
export async function replicaWritesBlocked(adminPort: number): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    let sum = 0;
    for (const m of text.matchAll(/^rwsplit_replica_writes_blocked_total(?:\{[^}]*\})? (\S+)$/gm))
      sum += Number(m[1]);
    return sum;
  } catch {
    return null;
  }
}
