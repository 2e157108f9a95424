import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import mysql from "mysql2/promise";
import { RwsplitError } from "../errors.js";
import { SANDBOX_CREDENTIALS, type SandboxUser } from "./credentials.js";
import type { NodePaths } from "./paths.js";

/**
 * One mariadbd: its command line, starting it detached, waiting until it answers, stopping it.
 * Nodes are identified by pid AND datadir: a pid alone may have been reused by an unrelated
 * process since the sandbox wrote it down, and `down` must stop exactly what `up` started.
 */

export interface NodeSpec {
  name: string;
  role: "primary" | "replica";
  port: number;
  serverId: number;
  paths: NodePaths;
  /** rpl_semi_sync_master_timeout, in milliseconds. */
  semiSyncTimeoutMs: number;
  /** Appended last, so they override the defaults (scratch servers of `rwsplit backup`). */
  extraArgs?: readonly string[];
}

/**
 * The whole configuration is on the command line (`--no-defaults`: no /etc/mysql/my.cnf, which
 * belongs to the system service). Sized for a shared 2-core box, durable enough for tests only.
 */
export function mariadbdArgs(spec: NodeSpec): string[] {
  const p = spec.paths;
  return [
    "--no-defaults",
    "--user=root",
    `--datadir=${p.dataDir}`,
    // The node's own temp dir: nothing in a shared /tmp (other programs clean it) can break it.
    `--tmpdir=${p.root}`,
    `--socket=${p.socket}`,
    `--pid-file=${p.pidFile}`,
    `--log-error=${p.errorLog}`,
    "--bind-address=127.0.0.1",
    `--port=${spec.port}`,
    "--skip-name-resolve",
    `--server-id=${spec.serverId}`,
    // Every node writes a binlog of what it applies, so any replica can be promoted.
    "--log-bin=mariadb-bin",
    "--binlog-format=ROW",
    "--log-slave-updates=ON",
    "--relay-log=relay-bin",
    "--gtid-strict-mode=ON",
    // Semi-sync on both sides of every node: a commit the primary acknowledged is on at least
    // one replica (or the primary waited rpl_semi_sync_master_timeout and fell back to async).
    "--rpl-semi-sync-master-enabled=ON",
    "--rpl-semi-sync-slave-enabled=ON",
    `--rpl-semi-sync-master-timeout=${spec.semiSyncTimeoutMs}`,
    // Lossless semi-sync: a commit becomes visible to other sessions only after a replica ACKed
    // it, so a failover never takes back a row someone already read (AFTER_COMMIT would).
    "--rpl-semi-sync-master-wait-point=AFTER_SYNC",
    // A replica is a semi-sync master too (for promotion), but with no replicas of its own: with
    // wait_no_slave=ON every commit its SQL thread binlogs (log_slave_updates) would first wait
    // the whole timeout for an ACK nobody sends. OFF: asynchronous until a replica attaches to
    // it. The primary keeps ON: if every replica vanishes, commits wait the timeout first.
    `--rpl-semi-sync-master-wait-no-slave=${spec.role === "primary" ? "ON" : "OFF"}`,
    `--read-only=${spec.role === "replica" ? "ON" : "OFF"}`,
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--innodb-flush-log-at-trx-commit=2",
    "--sync-binlog=0",
    "--performance-schema=OFF",
    "--max-connections=2000",
    "--max-allowed-packet=1G",
    ...(spec.extraArgs ?? []),
  ];
}

/** The last lines of a node's error log, for failure messages. */
export function errorLogTail(paths: NodePaths, lines = 15): string {
  for (const f of [paths.errorLog, paths.stdoutLog]) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, "utf8").trimEnd();
    if (text) return text.split("\n").slice(-lines).join("\n");
  }
  return "(no error log)";
}

export function nodeFailure(name: string, what: string, paths: NodePaths): RwsplitError {
  return new RwsplitError(
    "SANDBOX_FAILED",
    `${name}: ${what}\n--- tail of ${paths.errorLog} ---\n${errorLogTail(paths)}`,
  );
}

/**
 * Is `pid` still the mariadbd serving `dataDir`? Reads /proc/<pid>/cmdline (NUL-separated argv);
 * a zombie has an empty one and counts as gone. Without /proc, falls back to signal 0.
 */
export function isNodeRunning(pid: number, dataDir: string): boolean {
  if (!(pid > 0)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return argv.includes(`--datadir=${dataDir}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && existsSync("/proc/self")) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/**
 * Starts mariadbd detached from us (its own process group, stdio to a file) so it outlives the
 * `sandbox up` CLI. Returns its pid.
 */
export async function startNode(mariadbd: string, spec: NodeSpec): Promise<number> {
  const out = openSync(spec.paths.stdoutLog, "a");
  try {
    const child = spawn(mariadbd, mariadbdArgs(spec), { detached: true, stdio: ["ignore", out, out] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once("spawn", () => resolve(child.pid ?? 0));
      child.once("error", reject);
    });
    child.unref();
    return pid;
  } catch (e) {
    throw nodeFailure(spec.name, `could not run ${mariadbd}: ${(e as Error).message}`, spec.paths);
  } finally {
    closeSync(out);
  }
}

/** A TCP connection to a node as one of the sandbox users. */
export function connectNode(
  node: { host: string; port: number },
  user: SandboxUser = "root",
  database?: string,
): Promise<mysql.Connection> {
  const cred = SANDBOX_CREDENTIALS[user];
  return mysql.createConnection({
    host: node.host,
    port: node.port,
    user: cred.user,
    password: cred.password,
    connectTimeout: 5000,
    ...(database ? { database } : {}),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until root can log in over TCP; fails fast, with the error log, if mariadbd exits. */
export async function waitNodeReady(
  spec: NodeSpec & { host: string; pid: number },
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    if (!isNodeRunning(spec.pid, spec.paths.dataDir)) {
      throw nodeFailure(spec.name, `mariadbd (pid ${spec.pid}) exited during startup`, spec.paths);
    }
    try {
      const c = await connectNode(spec);
      await c.end();
      return;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) {
      throw nodeFailure(
        spec.name,
        `not accepting connections on 127.0.0.1:${spec.port} after ${timeoutMs} ms (${last})`,
        spec.paths,
      );
    }
    await sleep(150);
  }
}

/** SIGTERM (a clean InnoDB shutdown), then SIGKILL after `timeoutMs`; resolves once it is gone. */
export async function stopNode(pid: number, dataDir: string, timeoutMs = 20_000): Promise<void> {
  if (!isNodeRunning(pid, dataDir)) return;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(pid, s);
    } catch {
      // Already gone.
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + timeoutMs;
  while (isNodeRunning(pid, dataDir)) {
    if (Date.now() > deadline) {
      signal("SIGKILL");
      while (isNodeRunning(pid, dataDir)) await sleep(50);
      return;
    }
    await sleep(100);
  }
}
