import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { BackupConfig } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import { type CatalogEntry, pick, readCatalog } from "./catalog.js";
import { checkCopies } from "./copies.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";
import { mergeLogs, scanLog } from "./log-scan.js";
import { backupKey, MANIFEST, type Manifest, serializeManifest, type Verification } from "./manifest.js";
import { close, connect, tableChecksums } from "./probe.js";
import { stopStaleScratch } from "./recover.js";
import { restoreInto, SCRATCH_CRED } from "./restore-base.js";
import { readText, removeDir } from "./scratch.js";

/**
 * `backup verify [ID]` (the guide's "restoration testing"): every copy of every file is hashed
 * against the manifest, a good copy is restored into a scratch server on a free port, CHECKSUM
 * TABLE of every table is compared with the source's at the backup's GTID, and the logs of the
 * backup, the restore and the scratch server are scanned for errors and warnings. The scratch
 * server and its directory are removed; the result is written into the manifest at every
 * destination that holds the backup complete.
 */

/** Warnings every restore of a sandbox-made backup prints, that say nothing about the backup. */
const BENIGN = [/'proxies_priv' entry .* ignored in --skip-name-resolve mode/];

export interface VerifyOptions {
  backup: BackupConfig;
  destinations: readonly Destination[];
  id?: string;
  logger: Logger;
  report?: Report;
}

export async function verifyBackup(o: VerifyOptions): Promise<{ id: string; verification: Verification }> {
  const report: Report = o.report ?? (() => {});
  const catalog = await readCatalog(o.destinations);
  const entry = pick(catalog, o.id);
  if (entry === null || entry.manifest === null) {
    throw new RwsplitError(
      "BACKUP_NOT_FOUND",
      o.id === undefined
        ? "no complete backup at any destination"
        : `no complete backup ${o.id} at any destination`,
    );
  }
  const m = entry.manifest;
  await stopStaleScratch(resolve(o.backup.workDir), o.logger);
  const started = Date.now();
  const work = resolve(o.backup.workDir, `verify-${m.id}-${process.pid}`);
  const base = {
    at: new Date().toISOString(),
    restoredFrom: null as string | null,
    tablesCompared: 0,
    mismatches: [] as Verification["mismatches"],
    badCopies: [] as Verification["badCopies"],
    restoreLog: { warnings: 0, errors: 0, lines: [] as string[] },
  };
  let verification: Verification;
  try {
    const restored = await restoreInto(
      entry as CatalogEntry & { manifest: Manifest },
      o.destinations,
      join(work, "data"),
      work,
      report,
    );
    base.restoredFrom = restored.from;
    // The copy just restored was hashed on the way, and the bad ones met before it: every other
    // copy is read back now.
    report({ event: "step", id: m.id, step: "reading every other copy back" });
    const data = m.files.find((f) => f.role === "data")!;
    const known = [...restored.bad, { destination: restored.from, file: data.name, ok: true, reason: null }];
    const checks = await checkCopies(entry, o.destinations, known);
    const goodAt = (file: string) => checks.filter((c) => c.ok && c.file === file).map((c) => c.destination);
    base.badCopies = checks
      .filter((c) => !c.ok)
      .map((c) => ({
        destination: c.destination,
        file: c.file,
        reason: `${c.reason}; good copy: ${goodAt(c.file).join(", ") || "none"}`,
      }));
    for (const b of base.badCopies) o.logger.error({ id: m.id, ...b }, "bad backup copy");
    try {
      report({ event: "step", id: m.id, step: "CHECKSUM TABLE on the restored server" });
      const c = await connect({ host: "127.0.0.1", port: restored.scratch.port }, SCRATCH_CRED);
      let sums: Record<string, string | null>;
      try {
        sums = await tableChecksums(c);
      } finally {
        await close(c);
      }
      for (const [table, source] of Object.entries(m.sourceChecksums ?? {})) {
        base.tablesCompared++;
        const got = sums[table] ?? null;
        if (got !== source) base.mismatches.push({ table, source, restored: got });
      }
    } finally {
      await restored.scratch.stop();
    }
    base.restoreLog = mergeLogs(
      scanLog(readText(restored.restoreLog), BENIGN),
      scanLog(readText(restored.scratch.errorLog), BENIGN),
    );
    const problems = [
      ...(base.mismatches.length > 0 ? [`${base.mismatches.length} table(s) differ from the source`] : []),
      ...(base.restoreLog.errors > 0 ? [`${base.restoreLog.errors} error(s) in the restore logs`] : []),
      ...(m.log.errors > 0 ? [`${m.log.errors} error(s) in the backup log`] : []),
      ...(base.badCopies.length > 0 ? [`${base.badCopies.length} bad cop(ies)`] : []),
    ];
    verification = {
      ...base,
      ok: problems.length === 0,
      durationMs: Date.now() - started,
      error: problems.length === 0 ? null : problems.join("; "),
    };
  } catch (e) {
    verification = { ...base, ok: false, durationMs: Date.now() - started, error: (e as Error).message };
  } finally {
    removeDir(work);
  }
  await recordVerification(entry, o.destinations, verification, o.logger);
  o.logger[verification.ok ? "info" : "error"](
    { id: m.id, ok: verification.ok, tables: verification.tablesCompared, error: verification.error },
    "backup verified",
  );
  return { id: m.id, verification };
}

/** Rewrites the manifest (atomically) at every destination where the backup is complete. */
async function recordVerification(
  entry: CatalogEntry,
  destinations: readonly Destination[],
  v: Verification,
  logger: Logger,
): Promise<void> {
  for (const c of entry.copies) {
    const d = destinations.find((x) => x.name === c.destination);
    if (d === undefined || !c.complete || c.manifest === null) continue;
    try {
      await d.put(backupKey(entry.id, MANIFEST), serializeManifest({ ...c.manifest, verification: v }));
    } catch (e) {
      logger.warn(
        { id: entry.id, destination: d.name, err: (e as Error).message },
        "could not record the verification",
      );
    }
  }
}
