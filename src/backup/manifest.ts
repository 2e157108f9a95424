import { z } from "zod";

/**
 * manifest.json: what a backup is, written at each destination after every file's checksum was
 * read back from there (so its presence means "complete here"), and rewritten with the result
 * of `backup verify`. Parsed with this schema on every read: a manifest that does not parse is
 * reported as damaged, never trusted.
 */

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().nonnegative();

export const backupFileSchema = z.object({
  /** Relative to the backup's directory: "data.mbstream.zst", "dump.sql.gz", "backup.log". */
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  role: z.enum(["data", "log"]),
  compression: z.enum(["zstd", "gzip", "none"]),
  /** Bytes as stored, and their SHA-256: what scrub and verify check. */
  bytes: count,
  sha256,
  /** Bytes before compression. */
  rawBytes: count,
});

/** Warnings and errors found in a tool's output (log-scan.ts). */
export const logSummarySchema = z.object({
  warnings: count,
  errors: count,
  /** The warning and error lines themselves (the first 50). */
  lines: z.array(z.string()),
});

export const verificationSchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  durationMs: count,
  /** The destination whose copy was restored. */
  restoredFrom: z.string().nullable(),
  /** Tables compared with the source's checksums at the backup's GTID. */
  tablesCompared: count,
  mismatches: z.array(
    z.object({ table: z.string(), source: z.string().nullable(), restored: z.string().nullable() }),
  ),
  /** Copies whose bytes did not match the manifest (named with the destination that had a good one). */
  badCopies: z.array(z.object({ destination: z.string(), file: z.string(), reason: z.string() })),
  /** Warnings and errors of prepare/load and of the scratch server's error log. */
  restoreLog: logSummarySchema,
  error: z.string().nullable(),
});

export const manifestSchema = z.object({
  format: z.literal(1),
  id: z.string(),
  method: z.enum(["physical", "logical"]),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: count,
  source: z.object({
    name: z.string(),
    host: z.string(),
    port: z.number().int(),
    role: z.enum(["primary", "replica"]),
    serverId: z.number().int(),
    version: z.string(),
  }),
  /** The GTID position the backup holds (what a restored server has applied). */
  gtid: z.string(),
  files: z.array(backupFileSchema),
  /** Program → version line, e.g. "mariadb-backup": "10.11.19-MariaDB". */
  tools: z.record(z.string(), z.string()),
  /** The backup tool's own output (backup.log), scanned. */
  log: logSummarySchema,
  /**
   * CHECKSUM TABLE of every table on the source at `gtid` ("schema.table" → value), taken while
   * the source replica's SQL thread was paused; null when they could not be taken (see the note).
   */
  sourceChecksums: z.record(z.string(), z.string().nullable()).nullable(),
  sourceChecksumsNote: z.string().nullable(),
  verification: verificationSchema.nullable(),
});

export type BackupFile = z.infer<typeof backupFileSchema>;
export type LogSummary = z.infer<typeof logSummarySchema>;
export type Verification = z.infer<typeof verificationSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

export const MANIFEST = "manifest.json";

/** Where a backup's files live at a destination. */
export function backupKey(id: string, file: string): string {
  return `backups/${id}/${file}`;
}

/** The manifest's text, or why it is not one. */
export function parseManifest(
  data: Buffer | string,
): { ok: true; manifest: Manifest } | { ok: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(data.toString());
  } catch (e) {
    return { ok: false, error: `not JSON: ${(e as Error).message}` };
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    return {
      ok: false,
      error: `not a manifest: ${first?.path.join(".") ?? ""} ${first?.message ?? ""}`.trim(),
    };
  }
  return { ok: true, manifest: r.data };
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(manifestSchema.parse(m), null, 2)}\n`;
}

/** `20261206T181623Z-replica1`: sortable by time, and says where it came from. */
export function backupId(startedAt: Date, source: string): string {
  const t = startedAt
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${t}-${source.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}
