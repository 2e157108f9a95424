import type { Logger } from "pino";
import { scrubBinlogs } from "./binlog-index.js";
import { readCatalog } from "./catalog.js";
import { type CopyCheck, checkCopies } from "./copies.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";

/**
 * `backup scrub` (the guide's "inspect the storage medium"): every file of every complete backup
 * and every archived binlog is read back from every destination and hashed against its manifest
 * or index entry. A bad copy is reported with the destination that holds a good one.
 */

export interface BadCopy extends CopyCheck {
  id: string;
  /** Destinations whose copy of the same file is good. */
  goodAt: string[];
}

export interface ScrubResult {
  backups: number;
  filesChecked: number;
  bad: BadCopy[];
  unreachable: { destination: string; error: string }[];
}

export async function scrub(
  destinations: readonly Destination[],
  logger: Logger,
  report: Report = () => {},
): Promise<ScrubResult> {
  const catalog = await readCatalog(destinations);
  const bad: BadCopy[] = [];
  let files = 0;
  let backups = 0;
  for (const entry of catalog.entries) {
    if (entry.manifest === null) continue;
    backups++;
    report({ event: "step", id: entry.id, step: "scrubbing" });
    const checks = await checkCopies(entry, destinations);
    files += checks.length;
    for (const c of checks.filter((x) => !x.ok)) {
      const goodAt = checks.filter((x) => x.ok && x.file === c.file).map((x) => x.destination);
      bad.push({ ...c, id: entry.id, goodAt });
    }
  }
  const binlogs = await scrubBinlogs(destinations);
  files += binlogs.checked;
  bad.push(...binlogs.bad);
  for (const b of bad) {
    logger.error(
      { id: b.id, destination: b.destination, file: b.file, reason: b.reason, goodAt: b.goodAt },
      "scrub: bad copy",
    );
  }
  return { backups, filesChecked: files, bad, unreachable: catalog.unreachable };
}
