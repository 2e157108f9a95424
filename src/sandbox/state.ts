import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { RwsplitError } from "../errors.js";
import { SANDBOX_CREDENTIALS } from "./credentials.js";
import { isNodeRunning } from "./node.js";
import { statePath } from "./paths.js";
import type { SandboxInfo, SandboxNode } from "./types.js";

/**
 * `<dir>/sandbox.json`: the sandbox's own record of what it started. `down` stops exactly these
 * pids (after checking each is still the mariadbd of that datadir) and nothing else. It is
 * written before the first process starts and updated as each one does, so an `up` that dies
 * half-way still leaves enough for `down` to clean up.
 */

export interface SandboxState {
  version: 1;
  createdAt: string;
  semiSyncTimeoutMs: number;
  /** Primary first. pid 0: not started (yet). */
  nodes: SandboxNode[];
}

export function readState(dir: string): SandboxState | null {
  const f = statePath(dir);
  if (!existsSync(f)) return null;
  try {
    const s = JSON.parse(readFileSync(f, "utf8")) as SandboxState;
    if (s.version !== 1 || !Array.isArray(s.nodes))
      throw new RwsplitError("SANDBOX_FAILED", "unknown format");
    return s;
  } catch (e) {
    throw new RwsplitError("SANDBOX_FAILED", `${f} is not a sandbox state file: ${(e as Error).message}`);
  }
}

/** Written to a temp file and renamed, so a reader never sees half a file. */
export function writeState(dir: string, state: SandboxState): void {
  const f = statePath(dir);
  writeFileSync(`${f}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${f}.tmp`, f);
}

export function infoFromState(dir: string, state: SandboxState): SandboxInfo {
  const [primary, ...replicas] = state.nodes;
  if (!primary) throw new RwsplitError("SANDBOX_FAILED", `${statePath(dir)} lists no nodes`);
  return { dir, primary, replicas, credentials: SANDBOX_CREDENTIALS };
}

export function runningNodes(state: SandboxState): SandboxNode[] {
  return state.nodes.filter((n) => isNodeRunning(n.pid, n.dataDir));
}

/** True when `dir` is missing or empty: safe to create a sandbox in it. */
export function isEmptyDir(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}
