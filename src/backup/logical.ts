import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RwsplitError } from "../errors.js";
import { type Compression, decompressor } from "./compress.js";
import { program, start } from "./tools.js";

/**
 * Logical backups with mariadb-dump: `--single-transaction` reads every InnoDB table in one
 * consistent snapshot without locking writers, `--gtid` with `--master-data=2` writes the
 * snapshot's GTID into the dump as a comment (near its end):
 *
 *   -- SET GLOBAL gtid_slave_pos='0-1-11';
 *
 * Restoring is loading the SQL into a fresh server.
 */

export const DATA_FILE = "dump.sql";

export function dumpArgs(cnf: string, host: string, port: number, logBin: boolean): string[] {
  return [
    `--defaults-file=${cnf}`,
    `--host=${host}`,
    `--port=${port}`,
    "--single-transaction",
    "--gtid",
    // --master-data needs a binlog on the source; without one the GTID is read while paused.
    ...(logBin ? ["--master-data=2"] : []),
    "--all-databases",
    "--routines",
    "--events",
    "--triggers",
    "--hex-blob",
    "--default-character-set=utf8mb4",
  ];
}

export function gtidFromDump(tail: string): string | null {
  const all = [...tail.matchAll(/gtid_slave_pos\s*=\s*'([^']*)'/g)];
  const last = all.at(-1);
  return last ? last[1]!.replace(/\s+/g, "") : null;
}

/** Pipes the (compressed) dump into the `mariadb` client connected to a scratch server. */
export async function loadLogical(
  stream: Readable,
  compression: Compression,
  cnf: string,
  port: number,
  logFile: string,
): Promise<void> {
  const client = start(
    program("mariadb"),
    [
      `--defaults-file=${cnf}`,
      "--host=127.0.0.1",
      `--port=${port}`,
      "--binary-mode",
      "--max-allowed-packet=1G",
    ],
    { logFile, stdin: "pipe", stdout: "ignore" },
  );
  await pipeline(stream, decompressor(compression), client.child.stdin!);
  const code = await client.exited;
  if (code !== 0)
    throw new RwsplitError("BACKUP_FAILED", `mariadb (loading the dump) exited with ${code}; see ${logFile}`);
}
