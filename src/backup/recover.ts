import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { BackendConfig } from "../config/types.js";
import { stopNode } from "../sandbox/node.js";
import { type Credentials, resumeReplica, rows, withConnection } from "./probe.js";

/**
 * What a killed `backup run` leaves behind: its work directory (`run-<id>/` with its pid) and,
 * if it got that far, the replica whose SQL thread it had paused (`run-<id>/paused`). The next
 * run restarts that SQL thread (when it is still stopped without an error: an operator's or a
 * failed replica's stop is not ours to undo) and removes the directory. Its partial files at the
 * destinations have no manifest; retention removes them after the grace period.
 */
export async function recoverKilledRuns(
  workDir: string,
  backends: readonly BackendConfig[],
  cred: Credentials,
  logger: Logger,
): Promise<void> {
  const root = resolve(workDir);
  let dirs: string[];
  try {
    dirs = readdirSync(root).filter((d) => d.startsWith("run-"));
  } catch {
    return;
  }
  await stopStaleScratch(root, logger);
  for (const d of dirs) {
    const dir = join(root, d);
    const pid = Number(read(join(dir, "pid")));
    if (pid > 0 && alive(pid)) continue;
    const name = read(join(dir, "paused"));
    const b = backends.find((x) => x.name === name);
    if (b !== undefined) {
      try {
        await withConnection(b, cred, async (c) => {
          const s = (await rows(c, "SHOW SLAVE STATUS"))[0];
          if (s && s.Slave_SQL_Running !== "Yes" && !s.Last_SQL_Error) {
            await resumeReplica(c);
            logger.warn({ backend: b.name, run: d }, "restarted the SQL thread a killed backup had paused");
          }
        });
      } catch (e) {
        logger.warn(
          { backend: b.name, run: d, err: (e as Error).message },
          "could not restart the SQL thread a killed backup had paused",
        );
        continue;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `verify-<id>-<pid>` and `restore-<id>-<pid>` of a process that is gone (a killed verify or
 * restore): their scratch mariadbd, started detached, would run on. Stopped by the pid it wrote
 * in its own pid file, and only if that process is the mariadbd with that pid file.
 */
export async function stopStaleScratch(root: string, logger: Logger): Promise<void> {
  let dirs: string[];
  try {
    dirs = readdirSync(root).filter((d) => /^(verify|restore)-.+-\d+$/.test(d));
  } catch {
    return;
  }
  for (const d of dirs) {
    const owner = Number(/-(\d+)$/.exec(d)![1]);
    if (alive(owner)) continue;
    const dir = join(root, d);
    const pidFile = join(dir, "server", "mariadbd.pid");
    const pid = Number(read(pidFile));
    const argv = pid > 0 ? read(`/proc/${pid}/cmdline`).split("\0") : [];
    const dataDir = argv.find((a) => a.startsWith("--datadir="))?.slice("--datadir=".length);
    if (dataDir !== undefined && argv.includes(`--pid-file=${pidFile}`)) {
      await stopNode(pid, dataDir, 60_000);
      logger.warn({ pid, dir }, "stopped the scratch server of a killed verify or restore");
    }
    if (d.startsWith("verify-")) rmSync(dir, { recursive: true, force: true });
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
