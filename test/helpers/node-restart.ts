import { MARIADBD } from "../../src/sandbox/install.js";
import { isNodeRunning, startNode, waitNodeReady } from "../../src/sandbox/node.js";
import { pathsOfNode } from "../../src/sandbox/paths.js";
import { readState, writeState } from "../../src/sandbox/state.js";
import type { SandboxInfo, SandboxNode } from "../../src/sandbox/types.js";

/**
 * Crash and restart one sandbox node, as a failover test needs: SIGKILL (no clean shutdown,
 * InnoDB recovers at the next start), then the same mariadbd command line as `sandbox up`
 * (same server_id, role options, datadir and port). The new pid is written to sandbox.json and
 * to the node object itself, so the sandbox's `down` and the test exit hook stop the new process.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGKILL, resolved once the process is gone. */
export async function killNode(node: SandboxNode): Promise<void> {
  if (!isNodeRunning(node.pid, node.dataDir)) return;
  process.kill(node.pid, "SIGKILL");
  while (isNodeRunning(node.pid, node.dataDir)) await sleep(20);
}

/** Starts a stopped node again with its original options and waits until it accepts logins. */
export async function restartNode(sb: SandboxInfo, node: SandboxNode): Promise<void> {
  if (isNodeRunning(node.pid, node.dataDir))
    throw new Error(`${node.name} is still running (pid ${node.pid})`);
  const state = readState(sb.dir);
  const index = state?.nodes.findIndex((n) => n.name === node.name) ?? -1;
  if (!state || index < 0) throw new Error(`${node.name} is not in ${sb.dir}/sandbox.json`);
  const spec = {
    name: node.name,
    role: node.role,
    port: node.port,
    // sandboxUp numbers servers by position, primary first.
    serverId: index + 1,
    paths: pathsOfNode(node),
    semiSyncTimeoutMs: state.semiSyncTimeoutMs,
  };
  const pid = await startNode(MARIADBD, spec);
  node.pid = pid;
  (state.nodes[index] as SandboxNode).pid = pid;
  writeState(sb.dir, state);
  await waitNodeReady({ ...spec, host: node.host, pid });
}
