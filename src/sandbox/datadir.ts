import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";
import { bootstrapSql } from "./credentials.js";
import type { MariadbBinaries } from "./install.js";

/**
 * Data directories: ONE `mariadb-install-db` per `up` (the slow part: system tables), then the
 * users and the application database are added in `mariadbd --bootstrap` (no networking, no
 * binlog), then the result is copied to every node. Identical copies with no binlog history mean
 * every node starts at an empty GTID position and replicas attach with MASTER_USE_GTID=slave_pos
 * from the very first event.
 */

/** Must match the node's --innodb-log-file-size, so the first start does not resize the redo log. */
const INNODB = ["--innodb-log-file-size=32M", "--innodb-buffer-pool-size=64M"];

function run(cmd: string, args: string[], stdin: string | null, logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) return resolve();
      const log = existsSync(logFile) ? readFileSync(logFile, "utf8") : "";
      const tail = `${stderr}\n${log}`.trim().split("\n").slice(-15).join("\n");
      reject(new RwsplitError("SANDBOX_FAILED", `${cmd} exited with ${code ?? signal}\n${tail}`));
    });
    child.stdin.end(stdin ?? "");
  });
}

/** Creates `<template>` with system tables, sandbox users and the `app` database. */
export async function initTemplate(bins: MariadbBinaries, template: string): Promise<void> {
  const log = `${template}.log`;
  // Its own temp dir: a shared /tmp that another program cleans mid-run breaks mariadb-install-db.
  const tmp = `${template}.tmp`;
  mkdirSync(tmp, { recursive: true });
  try {
    await run(
      bins.installDb,
      [
        "--no-defaults",
        "--user=root",
        `--datadir=${template}`,
        `--tmpdir=${tmp}`,
        "--skip-test-db",
        "--skip-name-resolve",
        ...INNODB,
      ],
      null,
      log,
    );
    // Bootstrap reads SQL from stdin and exits; the users land in the template's grant tables.
    await run(
      bins.mariadbd,
      [
        "--no-defaults",
        "--user=root",
        "--bootstrap",
        `--datadir=${template}`,
        `--tmpdir=${tmp}`,
        `--log-error=${log}`,
        ...INNODB,
      ],
      bootstrapSql(),
      log,
    );
  } catch (e) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `initialising the template data directory ${template} failed: ${(e as Error).message}`,
      { cause: e },
    );
  }
  // Recreated at every start; no need to copy it around.
  rmSync(join(template, "ibtmp1"), { force: true });
  rmSync(tmp, { recursive: true, force: true });
}

export function copyTemplate(template: string, dataDir: string): void {
  cpSync(template, dataDir, { recursive: true });
}

export function removeTemplate(template: string): void {
  rmSync(template, { recursive: true, force: true });
  rmSync(`${template}.log`, { force: true });
}
