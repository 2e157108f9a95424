import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";
import { MARIADBD } from "../sandbox/install.js";
import { startNode, stopNode, waitNodeReady } from "../sandbox/node.js";
import type { NodePaths } from "../sandbox/paths.js";
import { freePort } from "../sandbox/ports.js";
import { program, run } from "./tools.js";

/**
 * A throwaway mariadbd on a restored data directory, started the way the sandbox starts its
 * nodes (src/sandbox/node.ts), on a free port of 127.0.0.1, with:
 *
 * - `--skip-grant-tables`: the restored server's accounts are the source's, whose passwords
 *   rwsplit need not know; a scratch server bound to loopback needs none.
 * - `--skip-slave-start`: a backup of a replica must not start replicating from its old primary.
 * - `--read-only=OFF` and semi-sync off: binlog replay writes, and must not wait for an ACK.
 * - its own binary log, so replayed transactions keep their GTIDs.
 *
 * Stopped by pid and datadir (SIGTERM: a clean InnoDB shutdown, so the directory can be started
 * again by an operator), never by name.
 */

export interface Scratch {
  port: number;
  dataDir: string;
  errorLog: string;
  /** Clean shutdown; the data directory stays. */
  stop(): Promise<void>;
}

/** A server_id nobody in a sandbox or a small fleet uses; an operator sets their own later. */
const SCRATCH_SERVER_ID = 4_000_000_100;

export async function startScratch(dataDir: string, root: string): Promise<Scratch> {
  mkdirSync(root, { recursive: true });
  const paths: NodePaths = {
    root,
    dataDir,
    socket: join(root, "mariadbd.sock"),
    pidFile: join(root, "mariadbd.pid"),
    errorLog: join(root, "error.log"),
    stdoutLog: join(root, "stdout.log"),
  };
  const port = await freePort();
  const spec = {
    name: "scratch",
    role: "replica" as const,
    port,
    serverId: SCRATCH_SERVER_ID,
    paths,
    semiSyncTimeoutMs: 1000,
    extraArgs: [
      "--skip-grant-tables",
      "--skip-slave-start",
      "--read-only=OFF",
      "--rpl-semi-sync-master-enabled=OFF",
      "--rpl-semi-sync-slave-enabled=OFF",
    ],
  };
  const pid = await startNode(MARIADBD, spec);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopNode(pid, dataDir, 60_000);
  };
  try {
    await waitNodeReady({ ...spec, host: "127.0.0.1", pid }, 120_000);
  } catch (e) {
    await stop();
    throw new RwsplitError("BACKUP_FAILED", `the scratch server did not start: ${(e as Error).message}`);
  }
  return { port, dataDir, errorLog: paths.errorLog, stop };
}

/** An empty data directory with the system tables (for loading a logical backup). */
export async function initDataDir(dataDir: string, logFile: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  await run(
    program("mariadb-install-db"),
    ["--no-defaults", "--user=root", `--datadir=${dataDir}`, "--skip-test-db", "--skip-name-resolve"],
    logFile,
    () => readText(logFile),
  );
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
