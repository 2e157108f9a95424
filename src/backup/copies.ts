import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RwsplitError } from "../errors.js";
import type { CatalogEntry } from "./catalog.js";
import type { Destination } from "./destinations/index.js";
import { hashStream } from "./fanout.js";
import { type BackupFile, backupKey } from "./manifest.js";

/**
 * Reading a backup's copies back: every copy of every file hashed against the manifest (scrub,
 * verify), and a file fetched from the first destination whose copy is good (verify, restore).
 */

export interface CopyCheck {
  destination: string;
  file: string;
  ok: boolean;
  /** Why not: a different SHA-256 or size, a missing object, an unreachable store. */
  reason: string | null;
}

export async function checkCopy(d: Destination, id: string, f: BackupFile): Promise<CopyCheck> {
  try {
    const got = await hashStream(await d.read(backupKey(id, f.name)));
    if (got.sha256 === f.sha256 && got.bytes === f.bytes)
      return { destination: d.name, file: f.name, ok: true, reason: null };
    return {
      destination: d.name,
      file: f.name,
      ok: false,
      reason: `SHA-256 ${got.sha256.slice(0, 16)}… (${got.bytes} bytes), manifest says ${f.sha256.slice(0, 16)}… (${f.bytes} bytes)`,
    };
  } catch (e) {
    return { destination: d.name, file: f.name, ok: false, reason: (e as Error).message };
  }
}

/** Every file of `entry` at every destination that holds it complete (but the copies in `known`). */
export async function checkCopies(
  entry: CatalogEntry,
  destinations: readonly Destination[],
  known: readonly CopyCheck[] = [],
): Promise<CopyCheck[]> {
  const m = entry.manifest;
  if (m === null) return [];
  const out: CopyCheck[] = [];
  for (const c of entry.copies) {
    const d = destinations.find((x) => x.name === c.destination);
    if (d === undefined) continue;
    if (!c.complete) {
      out.push({
        destination: c.destination,
        file: "manifest.json",
        ok: false,
        reason: c.damaged ?? "incomplete here (no manifest)",
      });
      continue;
    }
    for (const f of m.files) {
      const already = known.find((k) => k.destination === d.name && k.file === f.name);
      out.push(already ?? (await checkCopy(d, entry.id, f)));
    }
  }
  return out;
}

/**
 * Downloads `f` to `path` from the first destination whose bytes match the manifest (hashed on
 * the way, so nothing unchecked is ever restored). Returns where it came from and every bad copy
 * met on the way; throws when no copy is good.
 */
export async function fetchGood(
  entry: CatalogEntry,
  f: BackupFile,
  destinations: readonly Destination[],
  path: string,
): Promise<{ from: string; bad: CopyCheck[] }> {
  const bad: CopyCheck[] = [];
  for (const c of entry.copies) {
    if (!c.complete) continue;
    const d = destinations.find((x) => x.name === c.destination);
    if (d === undefined) continue;
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      await pipeline(
        await d.read(backupKey(entry.id, f.name)),
        new Transform({
          transform(chunk: Buffer, _e, done) {
            hash.update(chunk);
            bytes += chunk.length;
            done(null, chunk);
          },
        }),
        createWriteStream(path),
      );
      const sha = hash.digest("hex");
      if (sha === f.sha256 && bytes === f.bytes) return { from: d.name, bad };
      bad.push({
        destination: d.name,
        file: f.name,
        ok: false,
        reason: `SHA-256 ${sha.slice(0, 16)}… (${bytes} bytes), manifest says ${f.sha256.slice(0, 16)}… (${f.bytes} bytes)`,
      });
    } catch (e) {
      bad.push({ destination: d.name, file: f.name, ok: false, reason: (e as Error).message });
    }
  }
  throw Object.assign(
    new RwsplitError(
      "BACKUP_FAILED",
      `no good copy of ${f.name}: ${bad.map((b) => `${b.destination}: ${b.reason}`).join("; ")}`,
    ),
    { bad },
  );
}
