import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RwsplitError } from "../errors.js";
import { type Compression, decompressor } from "./compress.js";
import { program, run, start } from "./tools.js";

/**
 * Physical backups with mariadb-backup: `--backup --stream=mbstream` writes the whole backup
 * (InnoDB pages, redo log copied while it ran, the other engines' files under BACKUP STAGE
 * locks) to stdout, so nothing is staged on the source's disk. Restoring is the manual's three
 * steps: unpack the stream (`mbstream -x`), `--prepare` (apply the redo log: the files become
 * consistent at one point, the GTID below), then start a server on the directory.
 *
 * mariadb-backup reads the datadir from the files it opens: it must run on the host of the
 * server it backs up (rwsplit next to the replica it backs up from, or a mounted datadir).
 */

export const DATA_FILE = "data.mbstream";

export function backupArgs(
  cnf: string,
  host: string,
  port: number,
  tmpDir: string,
  replica: boolean,
): string[] {
  return [
    `--defaults-file=${cnf}`,
    "--backup",
    "--stream=mbstream",
    `--host=${host}`,
    `--port=${port}`,
    `--target-dir=${tmpDir}`,
    // xtrabackup_slave_info in the backup: the CHANGE MASTER a restored replica needs.
    ...(replica ? ["--slave-info"] : []),
  ];
}

/**
 * The consistent point, from its log:
 *   [00] 2026-12-06 18:16:24 MySQL binlog position: filename 'mariadb-bin.000001', position '1488', GTID of the last change '0-1-5'
 */
export function gtidFromBackupLog(log: string): string | null {
  const m = /GTID of the last change '([^']*)'/.exec(log);
  return m ? m[1]!.replace(/\s+/g, "") : null;
}

/** Unpacks the (compressed) stream into `dataDir` and prepares it; the logs go to `logFile`. */
export async function restorePhysical(
  stream: Readable,
  compression: Compression,
  dataDir: string,
  logFile: string,
): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const x = start(program("mbstream"), ["-x", "-C", dataDir], { logFile, stdin: "pipe", stdout: "ignore" });
  await pipeline(stream, decompressor(compression), x.child.stdin!);
  const code = await x.exited;
  if (code !== 0)
    throw new RwsplitError("BACKUP_FAILED", `mbstream -x exited with ${code}: ${tail(logFile)}`);
  await run(program("mariadb-backup"), ["--prepare", `--target-dir=${dataDir}`], logFile, () =>
    tail(logFile),
  );
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-8).join("\n");
  } catch {
    return "";
  }
}

/** `xtrabackup_binlog_info` of a restored directory: "file\tpos\tgtid". */
export function restoredGtid(dataDir: string): string | null {
  try {
    const parts = readFileSync(join(dataDir, "xtrabackup_binlog_info"), "utf8").trim().split(/\s+/);
    return parts[2] ?? null;
  } catch {
    return null;
  }
}
