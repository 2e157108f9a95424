import { createReadStream, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";
import type { CatalogEntry } from "./catalog.js";
import { type CopyCheck, fetchGood } from "./copies.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";
import { loadLogical } from "./logical.js";
import type { Manifest } from "./manifest.js";
import { restorePhysical } from "./physical.js";
import { close, connect } from "./probe.js";
import { initDataDir, type Scratch, startScratch } from "./scratch.js";
import { credentialsFile } from "./tools.js";

/**
 * The part verify and restore share: fetch a good copy, unpack and prepare it (physical) or load
 * it into a fresh server (logical), and leave a scratch server running on the result with
 * gtid_slave_pos at the backup's GTID.
 */

export interface Restored {
  scratch: Scratch;
  /** The destination whose copy was used. */
  from: string;
  /** Copies met on the way whose bytes did not match the manifest. */
  bad: CopyCheck[];
  /** mbstream + prepare, or install-db + the client loading the dump. */
  restoreLog: string;
}

/** The server's own credentials do not matter: scratch servers run with --skip-grant-tables. */
export const SCRATCH_CRED = { user: "root", password: "" };

export async function restoreInto(
  entry: CatalogEntry & { manifest: Manifest },
  destinations: readonly Destination[],
  dataDir: string,
  work: string,
  report: Report,
): Promise<Restored> {
  const m = entry.manifest;
  const data = m.files.find((f) => f.role === "data");
  if (data === undefined) throw new RwsplitError("BACKUP_FAILED", `manifest of ${m.id} names no data file`);
  mkdirSync(work, { recursive: true });
  if (readdirSafe(dataDir).length > 0)
    throw new RwsplitError("BACKUP_FAILED", `${dataDir} is not empty: restore into a new directory`);
  const local = join(work, data.name);
  const restoreLog = join(work, "restore.log");
  report({ event: "step", id: m.id, step: `fetching ${data.name} (${data.bytes} bytes)` });
  const got = await fetchGood(entry, data, destinations, local);
  report({ event: "step", id: m.id, step: `restoring from the copy at ${got.from}` });
  let scratch: Scratch | null = null;
  try {
    if (m.method === "physical") {
      await restorePhysical(createReadStream(local), data.compression, dataDir, restoreLog);
      scratch = await startScratch(dataDir, join(work, "server"));
    } else {
      await initDataDir(dataDir, restoreLog);
      scratch = await startScratch(dataDir, join(work, "server"));
      const cnf = credentialsFile(work, SCRATCH_CRED.user, SCRATCH_CRED.password);
      await loadLogical(createReadStream(local), data.compression, cnf, scratch.port, restoreLog);
    }
    // Where a restored server resumes replication from (MASTER_USE_GTID=slave_pos). Its own
    // binlog starts empty: whatever loading wrote there carries the scratch server's GTIDs,
    // which would conflict with the position (and with replayed binlogs under gtid_strict_mode).
    const c = await connect({ host: "127.0.0.1", port: scratch.port }, SCRATCH_CRED);
    try {
      await c.query("RESET MASTER");
      await c.query("SET GLOBAL gtid_slave_pos = ?", [m.gtid]);
    } finally {
      await close(c);
    }
  } catch (e) {
    await scratch?.stop();
    throw e;
  } finally {
    rmSync(local, { force: true });
  }
  return { scratch, from: got.from, bad: got.bad, restoreLog };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
