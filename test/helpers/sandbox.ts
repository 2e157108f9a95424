import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import {
  type SandboxInfo,
  type SandboxNode,
  type SandboxUser,
  sandboxDown,
  sandboxUp,
  waitForReplicas as waitForPrimaryPosition,
} from "../../src/sandbox/cluster.js";
import { connectNode, isNodeRunning } from "../../src/sandbox/node.js";
import { freePorts } from "./ports.js";

export { freePort } from "./ports.js";

/**
 * A MariaDB replication sandbox per test file, on ports the OS picked, in a fresh temp dir that
 * is always removed:
 *
 *   await using sb = await startSandbox({ replicas: 2 });   // disposed at the end of the scope
 *
 * or, shared by a file's tests, `sb = await startSandbox()` in beforeAll and `await sb?.down()`
 * in afterAll. If the test process exits without either, an exit hook SIGKILLs the sandbox's
 * mariadbd processes (checked by datadir) and removes the dir, so nothing outlives the run.
 */

// Node 20.4+ defines it; older runtimes need it for `await using` to find the disposer.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for("Symbol.asyncDispose");

export type { SandboxNode };

export interface TestSandbox extends SandboxInfo {
  /** Stops every mariadbd of this sandbox and removes its dir; safe to call twice. */
  down(): Promise<void>;
  /** A mysql2/promise connection to `node` as a sandbox user (default root). */
  connect(
    node: { host: string; port: number },
    user?: SandboxUser,
    database?: string,
  ): Promise<mysql.Connection>;
  /** Every replica caught up to the primary's current GTID position. */
  waitForReplicas(timeoutMs?: number): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const live = new Map<string, SandboxNode[]>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [dir, nodes] of live) {
      for (const n of nodes) {
        if (isNodeRunning(n.pid, n.dataDir)) process.kill(n.pid, "SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Retries (with new ports) only when a port the OS called free was taken before mariadbd bound it. */
const PORT_ATTEMPTS = 3;

export async function startSandbox(
  opts: { replicas?: number; semiSyncTimeoutMs?: number } = {},
): Promise<TestSandbox> {
  installExitHook();
  const replicas = opts.replicas ?? 2;
  // Short: <tmp>/rws-XXXXXX/replica1/mariadbd.sock must fit in 107 bytes.
  const dir = mkdtempSync(join(tmpdir(), "rws-"));
  let info: SandboxInfo | undefined;
  try {
    for (let attempt = 1; !info; attempt++) {
      try {
        info = await sandboxUp({
          dir,
          ports: await freePorts(replicas + 1),
          replicas,
          ...(opts.semiSyncTimeoutMs ? { semiSyncTimeoutMs: opts.semiSyncTimeoutMs } : {}),
        });
      } catch (e) {
        if (attempt >= PORT_ATTEMPTS || !/already in use/.test((e as Error).message)) throw e;
      }
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const started = info;
  live.set(dir, [started.primary, ...started.replicas]);
  const down = async () => {
    await sandboxDown(dir);
    live.delete(dir);
  };
  return {
    ...started,
    down,
    connect: (node, user, database) => connect(node, user, database),
    waitForReplicas: (timeoutMs) => waitForReplicas(started, timeoutMs),
    [Symbol.asyncDispose]: down,
  };
}

/** A mysql2/promise connection over TCP as a sandbox user (default root). */
export function connect(
  node: { host: string; port: number },
  user: SandboxUser = "root",
  database?: string,
): Promise<mysql.Connection> {
  return connectNode(node, user, database);
}

/** Waits until every replica runs both threads and applied the primary's gtid_binlog_pos. */
export function waitForReplicas(sandbox: SandboxInfo, timeoutMs = 30_000): Promise<void> {
  return waitForPrimaryPosition(sandbox, timeoutMs);
}

async function onNode(node: { host: string; port: number }, sql: string): Promise<void> {
  const c = await connect(node);
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** STOP SLAVE on a replica: it keeps serving reads, and falls behind. */
export function stopReplication(node: { host: string; port: number }): Promise<void> {
  return onNode(node, "STOP SLAVE");
}

/** START SLAVE: the replica resumes from its gtid_slave_pos. */
export function startReplication(node: { host: string; port: number }): Promise<void> {
  return onNode(node, "START SLAVE");
}
