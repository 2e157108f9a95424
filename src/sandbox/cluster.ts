import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";
import { copyTemplate, initTemplate, removeTemplate } from "./datadir.js";
import { ensureMariadb } from "./install.js";
import { type NodeSpec, startNode, stopNode, waitNodeReady } from "./node.js";
import { nodeName, nodePaths, pathsOfNode, sandboxDir, statePath, templateDir } from "./paths.js";
import { isPortFree } from "./ports.js";
import {
  attachReplica,
  checkMarker,
  waitForReplicas,
  waitForSemiSyncClients,
  waitForThreads,
  writeMarker,
} from "./replication.js";
import {
  infoFromState,
  isEmptyDir,
  readState,
  runningNodes,
  type SandboxState,
  writeState,
} from "./state.js";
import type { SandboxInfo, SandboxNode, SandboxOptions } from "./types.js";

/**
 * up / down of a MariaDB replication sandbox, built the way an operator would: one primary and
 * N replicas, each its own mariadbd with its own datadir, socket and port on 127.0.0.1; unique
 * server_id, log_bin + ROW + log_slave_updates everywhere, GTID strict mode, semi-sync, replicas
 * read_only and attached with CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos.
 */

export { SANDBOX_CREDENTIALS, type SandboxCredentials, type SandboxUser } from "./credentials.js";
export { waitForReplicas } from "./replication.js";
export { formatStatus, sandboxStatus } from "./status.js";
export type { NodeStatus, SandboxInfo, SandboxNode, SandboxOptions } from "./types.js";

export const DEFAULT_BASE_PORT = 13306;
export const DEFAULT_REPLICAS = 2;
export const DEFAULT_SEMI_SYNC_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 60_000;
const REPLICATION_TIMEOUT_MS = 60_000;

function planPorts(opts: SandboxOptions, count: number): number[] {
  const base = opts.basePort ?? DEFAULT_BASE_PORT;
  const ports = opts.ports ?? Array.from({ length: count + 1 }, (_, i) => base + i);
  const valid = (p: number) => Number.isInteger(p) && p > 0 && p < 65536;
  if (ports.length !== count + 1 || !ports.every(valid) || new Set(ports).size !== ports.length) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `need ${count + 1} distinct ports (primary first) for ${count} replicas, got ${ports.join(",")}`,
    );
  }
  return ports;
}

/** The running sandbox in `dir` (every node up), or null. */
export function sandboxRunning(dir: string): SandboxInfo | null {
  const abs = sandboxDir(dir);
  const state = readState(abs);
  if (!state || state.nodes.length === 0) return null;
  return runningNodes(state).length === state.nodes.length ? infoFromState(abs, state) : null;
}

/**
 * Brings the sandbox up and waits until every replica runs both replication threads, has
 * caught up to the primary's gtid_binlog_pos and holds a fresh marker row. On a running sandbox
 * it returns that one untouched; over a stale one (processes gone) it cleans up and starts anew.
 */
export async function sandboxUp(opts: SandboxOptions): Promise<SandboxInfo> {
  const log = opts.log ?? (() => {});
  const dir = sandboxDir(opts.dir);
  const running = sandboxRunning(dir);
  if (running) {
    log(`a sandbox is already running in ${dir}: leaving it as it is`);
    return running;
  }
  if (readState(dir)) {
    log(`stale sandbox in ${dir} (not every node is running): stopping what is left and starting anew`);
    await sandboxDown(dir);
  } else if (!isEmptyDir(dir)) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `${dir} exists, is not empty and holds no ${statePath(dir)}: choose another --dir or remove it`,
    );
  }

  const count = opts.replicas ?? DEFAULT_REPLICAS;
  if (!Number.isInteger(count) || count < 0) {
    throw new RwsplitError("SANDBOX_FAILED", `--replicas must be a whole number >= 0, got ${count}`);
  }
  const ports = planPorts(opts, count);
  const semiSyncTimeoutMs = opts.semiSyncTimeoutMs ?? DEFAULT_SEMI_SYNC_TIMEOUT_MS;
  const bins = await ensureMariadb(log);

  const specs: NodeSpec[] = ports.map((port, i) => ({
    name: nodeName(i),
    role: i === 0 ? "primary" : "replica",
    port,
    serverId: i + 1,
    paths: nodePaths(dir, nodeName(i)),
    semiSyncTimeoutMs,
  }));
  for (const s of specs) {
    if (!(await isPortFree(s.port))) {
      throw new RwsplitError(
        "SANDBOX_FAILED",
        `${s.name}: port ${s.port} on 127.0.0.1 is already in use; pick others with --base-port or --ports`,
      );
    }
  }

  mkdirSync(dir, { recursive: true });
  const state: SandboxState = {
    version: 1,
    createdAt: new Date().toISOString(),
    semiSyncTimeoutMs,
    nodes: specs.map((s) => ({
      name: s.name,
      role: s.role,
      host: "127.0.0.1",
      port: s.port,
      pid: 0,
      socket: s.paths.socket,
      dataDir: s.paths.dataDir,
    })),
  };
  writeState(dir, state);
  const info = infoFromState(dir, state);

  try {
    const template = templateDir(dir);
    log("initialising one data directory (mariadb-install-db) and copying it to every node");
    await initTemplate(bins, template);
    for (const s of specs) {
      mkdirSync(s.paths.root, { recursive: true });
      copyTemplate(template, s.paths.dataDir);
    }
    removeTemplate(template);

    for (const [i, s] of specs.entries()) {
      const node = state.nodes[i] as SandboxNode;
      node.pid = await startNode(bins.mariadbd, s);
      writeState(dir, state);
      log(`${s.name}: mariadbd pid ${node.pid} on 127.0.0.1:${s.port} (server_id ${s.serverId})`);
    }
    await Promise.all(
      specs.map((s, i) =>
        waitNodeReady({ ...s, host: "127.0.0.1", pid: state.nodes[i]?.pid ?? 0 }, START_TIMEOUT_MS),
      ),
    );

    if (info.replicas.length > 0) {
      log("replicas: CHANGE MASTER TO the primary, MASTER_USE_GTID=slave_pos; START SLAVE");
      await Promise.all(info.replicas.map((r) => attachReplica(r, info.primary)));
      await Promise.all(info.replicas.map((r) => waitForThreads(r, REPLICATION_TIMEOUT_MS)));
      // Only now may the primary commit without stalling for a semi-sync ACK.
      await waitForSemiSyncClients(info.primary, info.replicas.length, REPLICATION_TIMEOUT_MS);
      const token = await writeMarker(info.primary);
      await waitForReplicas(info, REPLICATION_TIMEOUT_MS);
      await Promise.all(info.replicas.map((r) => checkMarker(r, token)));
      log("every replica runs both threads, caught up to the primary and holds the marker row");
    } else {
      await writeMarker(info.primary);
    }
    return info;
  } catch (e) {
    log(`sandbox up failed: stopping what it started and removing ${dir}`);
    await sandboxDown(dir).catch(() => {});
    throw e;
  }
}

/** Node directories (and the template) are all a sandbox dir may hold besides its state file. */
const SANDBOX_ENTRY = /^(primary|replica\d+|template(\.log|\.tmp)?|sandbox\.json(\.tmp)?)$/;

/**
 * Stops exactly the processes this sandbox started (pids from sandbox.json, each checked to be
 * the mariadbd of its own datadir), all at once: SIGTERM, then SIGKILL after a timeout. Then
 * removes the directory. A missing directory is not an error.
 */
export async function sandboxDown(dirArg: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const dir = sandboxDir(dirArg);
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  if (!entries.every((e) => SANDBOX_ENTRY.test(e))) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `${dir} does not look like a sandbox directory (found ${entries.join(", ")}); not removing it`,
    );
  }
  let nodes: SandboxNode[] = [];
  try {
    nodes = readState(dir)?.nodes ?? [];
  } catch {
    // Unreadable state: fall back to the pid files mariadbd wrote itself (below).
  }
  const targets = new Map<string, number>();
  for (const n of nodes) if (n.pid > 0) targets.set(n.dataDir, n.pid);
  for (const e of entries.filter((x) => x !== "template" && !x.includes("."))) {
    const paths = pathsOfNode({ name: e, dataDir: join(dir, e, "data") });
    if (targets.has(paths.dataDir) || !existsSync(paths.pidFile)) continue;
    const pid = Number.parseInt(readFileSync(paths.pidFile, "utf8"), 10);
    if (pid > 0) targets.set(paths.dataDir, pid);
  }
  await Promise.all([...targets].map(([dataDir, pid]) => stopNode(pid, dataDir, opts.timeoutMs)));
  rmSync(dir, { recursive: true, force: true });
}
