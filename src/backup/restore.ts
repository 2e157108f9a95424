import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Logger } from "pino";
import type { BackupConfig } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import { formatGtidPos, type Gtid, parseGtidPos } from "../monitor/gtid.js";
import { binlogKey, readArchive } from "./binlog-index.js";
import { planReplay, type Segment } from "./binlog-plan.js";
import { type CatalogEntry, pick, readCatalog } from "./catalog.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";
import { hashStream, prefix } from "./fanout.js";
import type { Manifest } from "./manifest.js";
import { close, connect, rows } from "./probe.js";
import { restoreInto, SCRATCH_CRED } from "./restore-base.js";
import { readText, removeDir } from "./scratch.js";
import { credentialsFile, program, start } from "./tools.js";

/**
 * `backup restore ID --target-dir DIR [--to-gtid G | --to-time T]`: the backup restored into DIR,
 * then the archived binlogs replayed on it up to G (inclusive) or to the last event before T,
 * through a scratch server on DIR (`mariadb-binlog ... | mariadb`, which keeps each
 * transaction's GTID). gtid_slave_pos is left at the result, so DIR can be started as a replica
 * (`CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos`) or as a replacement primary.
 */

export interface RestoreOptions {
  backup: BackupConfig;
  destinations: readonly Destination[];
  id: string;
  targetDir: string;
  toGtid?: string;
  toTime?: Date;
  logger: Logger;
  report?: Report;
}

export interface RestoreResult {
  id: string;
  dataDir: string;
  /** The GTID position of the restored server (its gtid_slave_pos). */
  gtid: string;
  binlogsApplied: number;
}

/** "2026-12-06 18:16:45" in UTC, as mariadb-binlog reads --stop-datetime with TZ=UTC. */
export function binlogTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace("T", " ");
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreResult> {
  const report: Report = o.report ?? (() => {});
  if (o.toGtid !== undefined && o.toTime !== undefined) {
    throw new RwsplitError("BACKUP_FAILED", "give --to-gtid or --to-time, not both");
  }
  const catalog = await readCatalog(o.destinations);
  const entry = pick(catalog, o.id);
  if (entry === null || entry.manifest === null)
    throw new RwsplitError("BACKUP_NOT_FOUND", `no complete backup ${o.id} at any destination`);
  const m = entry.manifest;
  const dataDir = resolve(o.targetDir);
  const work = resolve(o.backup.workDir, `restore-${m.id}-${process.pid}`);
  try {
    const restored = await restoreInto(
      entry as CatalogEntry & { manifest: Manifest },
      o.destinations,
      dataDir,
      work,
      report,
    );
    let applied = 0;
    let gtid = m.gtid;
    try {
      if (o.toGtid !== undefined || o.toTime !== undefined) {
        applied = await replay(o, m, restored.scratch.port, work, report);
        gtid = await finalPosition(restored.scratch.port, m.gtid);
        if (o.toGtid !== undefined) {
          const want = parseGtidPos(o.toGtid);
          const have = parseGtidPos(gtid);
          if (
            want === null ||
            have === null ||
            [...want.values()].some((g) => (have.get(g.domain)?.seq ?? -1n) < g.seq)
          ) {
            throw new RwsplitError(
              "BACKUP_FAILED",
              `after replaying the archive the server is at ${gtid}, short of ${o.toGtid}`,
            );
          }
        }
      }
    } finally {
      await restored.scratch.stop();
    }
    o.logger.info({ id: m.id, dataDir, gtid, binlogs: applied }, "backup restored");
    return { id: m.id, dataDir, gtid, binlogsApplied: applied };
  } finally {
    removeDir(work);
  }
}

async function replay(
  o: RestoreOptions,
  m: Manifest,
  port: number,
  work: string,
  report: Report,
): Promise<number> {
  const archive = await readArchive(o.destinations);
  const plan = planReplay(archive.files, m.gtid, o.toGtid ?? null);
  if (!plan.ok) throw new RwsplitError("BACKUP_FAILED", `point-in-time restore impossible: ${plan.why}`);
  const cnf = credentialsFile(work, SCRATCH_CRED.user, SCRATCH_CRED.password);
  let count = 0;
  for (const seg of plan.segments) {
    const paths: string[] = [];
    for (const file of seg.files) {
      const entry = archive.files.find((f) => f.server === seg.server && f.file === file)!;
      const dir = join(work, "binlogs", seg.server);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, file);
      await fetchBinlog(o.destinations, entry, path);
      paths.push(path);
    }
    report({
      event: "step",
      id: m.id,
      step: `replaying ${seg.files.length} binlog(s) of ${seg.server} after ${seg.start || "(start)"}`,
    });
    await applySegment(seg, paths, o.toTime, cnf, port, join(work, "replay.log"));
    count += seg.files.length;
  }
  return count;
}

async function fetchBinlog(
  destinations: readonly Destination[],
  entry: { server: string; file: string; bytes: number; sha256: string; at: string[] },
  path: string,
): Promise<void> {
  const problems: string[] = [];
  for (const name of entry.at) {
    const d = destinations.find((x) => x.name === name);
    if (d === undefined) continue;
    try {
      // The archive rewrites the newest binlog, longer, on every upload, and its index after it:
      // a copy longer than its index is the indexed prefix plus what came after (binlogs only
      // grow), so only the first `entry.bytes` are taken.
      await pipeline(
        await d.read(binlogKey(entry.server, entry.file)),
        prefix(entry.bytes),
        createWriteStream(path),
      );
      const { sha256, bytes } = await hashStream(createReadStream(path));
      if (sha256 === entry.sha256 && bytes === entry.bytes) return;
      problems.push(
        bytes < entry.bytes
          ? `${name}: ${bytes} bytes, its index says ${entry.bytes}`
          : `${name}: SHA-256 does not match its index`,
      );
    } catch (e) {
      problems.push(`${name}: ${(e as Error).message}`);
    }
  }
  throw new RwsplitError(
    "BACKUP_FAILED",
    `no good copy of binlog ${entry.server}/${entry.file}: ${problems.join("; ")}`,
  );
}

/** mariadb-binlog [window] files | mariadb; both logs to `logFile`. */
async function applySegment(
  seg: Segment,
  files: string[],
  toTime: Date | undefined,
  cnf: string,
  port: number,
  logFile: string,
): Promise<void> {
  const args = [
    ...(seg.start ? [`--start-position=${seg.start}`] : []),
    ...(seg.stop ? [`--stop-position=${seg.stop}`] : []),
    ...(toTime ? [`--stop-datetime=${binlogTime(toTime)}`] : []),
    ...files,
  ];
  const reader = start(program("mariadb-binlog"), args, { logFile, env: { ...process.env, TZ: "UTC" } });
  const client = start(
    program("mariadb"),
    [`--defaults-file=${cnf}`, "--host=127.0.0.1", `--port=${port}`, "--binary-mode"],
    { logFile, stdin: "pipe", stdout: "ignore" },
  );
  await pipeline(reader.child.stdout!, client.child.stdin!);
  const [r, c] = await Promise.all([reader.exited, client.exited]);
  if (r !== 0 || c !== 0) {
    const tail = readText(logFile).trim().split("\n").slice(-6).join("\n");
    throw new RwsplitError(
      "BACKUP_FAILED",
      `replaying binlogs of ${seg.server} failed (mariadb-binlog ${r}, mariadb ${c}):\n${tail}`,
    );
  }
}

/**
 * Per domain, the newer of what the backup held and what was replayed (the scratch server's own
 * binlog); stored as gtid_slave_pos, where a replica resumes from.
 */
async function finalPosition(port: number, backupGtid: string): Promise<string> {
  const c = await connect({ host: "127.0.0.1", port }, SCRATCH_CRED);
  try {
    const [r] = await rows(c, "SELECT @@gtid_binlog_pos AS b");
    const merged = new Map<number, Gtid>(parseGtidPos(backupGtid) ?? new Map());
    for (const g of (parseGtidPos(String(r?.b ?? "")) ?? new Map<number, Gtid>()).values()) {
      const had = merged.get(g.domain);
      if (had === undefined || had.seq < g.seq) merged.set(g.domain, g);
    }
    const pos = formatGtidPos(merged);
    await c.query("SET GLOBAL gtid_slave_pos = ?", [pos]);
    return pos;
  } finally {
    await close(c);
  }
}
