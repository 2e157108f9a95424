import { z } from "zod";
import { bool, duration, int, leaf, list, mapping, oneOf, password, section, show, text } from "./leaves.js";
import type { BackupConfig, BackupDestinationConfig } from "./types.js";

/**
 * The `backup:` section (issue #16): how backups are taken, where they go, when, and the binlog
 * archive for point-in-time recovery. Absent: no backups, no archive. See config.example.yaml.
 */

/** A croner pattern: 5 or 6 space-separated fields, or a nickname such as @daily. */
const cronPattern = () =>
  leaf('a cron pattern like "0 3 * * *" (minute hour day month weekday) or @daily', (v) => {
    if (typeof v !== "string") return undefined;
    const t = v.trim();
    if (/^@(yearly|annually|monthly|weekly|daily|hourly)$/.test(t)) return t;
    const fields = t.split(/\s+/);
    return fields.length === 5 || fields.length === 6 ? t : undefined;
  });

/** Names become path segments and metric labels. */
const destinationName = () =>
  leaf("a name of letters, digits, _ and - (at most 64)", (v) =>
    typeof v === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(v) ? v : undefined,
  );

/** An S3 key prefix: no leading slash; a trailing one is added when missing. */
const keyPrefix = () =>
  leaf('a key prefix like "rwsplit/" (no leading "/")', (v) => {
    if (typeof v !== "string") return undefined;
    if (v === "") return "";
    if (v.startsWith("/")) return undefined;
    return v.endsWith("/") ? v : `${v}/`;
  });

const url = () =>
  leaf("an http:// or https:// URL", (v) => {
    if (typeof v !== "string") return undefined;
    try {
      const u = new URL(v);
      return u.protocol === "http:" || u.protocol === "https:" ? v : undefined;
    } catch {
      return undefined;
    }
  });

const retention = () =>
  section({
    last: int(1, 10_000).default(1),
    daily: int(0, 10_000).default(7),
    weekly: int(0, 10_000).default(4),
  });

const dirDestination = mapping(
  {
    name: destinationName(),
    type: oneOf(["dir"] as const),
    path: text("a directory path"),
    retention: retention(),
  },
  "{name, type: dir, path}",
);

const s3Destination = mapping(
  {
    name: destinationName(),
    type: oneOf(["s3"] as const),
    bucket: text("a bucket name"),
    prefix: keyPrefix().default(""),
    endpoint: url().optional(),
    region: text().default("us-east-1"),
    access_key_id: text().optional(),
    secret_access_key: password().optional(),
    force_path_style: bool().default(false),
    retention: retention(),
  },
  "{name, type: s3, bucket, prefix?, endpoint?, region?, access_key_id?, secret_access_key?}",
);

/** Picks the destination schema by `type`, so the error names the keys of the kind meant. */
const destination = z.unknown().transform((v, ctx) => {
  const type = v !== null && typeof v === "object" ? (v as { type?: unknown }).type : undefined;
  const schema = type === "s3" ? s3Destination : type === "dir" ? dirDestination : null;
  if (schema === null) {
    ctx.addIssue({
      code: "custom",
      path: type === undefined ? [] : ["type"],
      message:
        type === undefined
          ? `expected a destination {name, type: dir|s3, ...}, found ${show(v)}`
          : `expected one of dir, s3, found ${show(type)}`,
    });
    return z.NEVER;
  }
  const r = schema.safeParse(v);
  if (!r.success) {
    // As they are (unrecognized_keys keeps its `keys`, which load.ts turns into one problem per key).
    for (const issue of r.error.issues) ctx.addIssue(issue as never);
    return z.NEVER;
  }
  return r.data;
});

export const backupSection = mapping(
  {
    method: oneOf(["physical", "logical"] as const).default("physical"),
    user: text(),
    password: password(),
    allow_primary: bool().default(false),
    compression: oneOf(["zstd", "gzip"] as const).default("zstd"),
    source_checksums: bool().default(true),
    work_dir: text("a directory path").default(".rwsplit/backup"),
    destinations: list(
      destination,
      "a list of destinations",
      1,
      "expected at least one destination, found none",
    ),
    schedule: cronPattern().optional(),
    verify_after_backup: bool().default(true),
    binlogs: section({
      enabled: bool().default(false),
      spool_dir: text("a directory path").default(".rwsplit/binlog-spool"),
      upload_interval: duration().default(10_000),
      server_id: int(1, 0xffff_ffff).default(4_000_000_001),
    }),
  },
  "a mapping with user, password and destinations",
).optional();

export type BackupFile = NonNullable<z.output<typeof backupSection>>;

/** Two destinations with one name would share metric series and listings. */
export function backupProblems(b: BackupFile | undefined): { path: (string | number)[]; message: string }[] {
  if (b === undefined) return [];
  const seen = new Map<string, number>();
  const out: { path: (string | number)[]; message: string }[] = [];
  b.destinations.forEach((d, i) => {
    const same = seen.get(d.name);
    if (same !== undefined) {
      out.push({
        path: ["backup", "destinations", i, "name"],
        message: `name "${d.name}" is already backup.destinations[${same}]`,
      });
    } else seen.set(d.name, i);
  });
  return out;
}

export function toBackupConfig(b: BackupFile): BackupConfig {
  return {
    method: b.method,
    user: b.user,
    password: b.password,
    allowPrimary: b.allow_primary,
    compression: b.compression,
    sourceChecksums: b.source_checksums,
    workDir: b.work_dir,
    destinations: b.destinations.map((d): BackupDestinationConfig => {
      const keep = { last: d.retention.last, daily: d.retention.daily, weekly: d.retention.weekly };
      if (d.type === "dir") return { name: d.name, type: "dir", path: d.path, retention: keep };
      return {
        name: d.name,
        type: "s3",
        bucket: d.bucket,
        prefix: d.prefix,
        region: d.region,
        forcePathStyle: d.force_path_style,
        retention: keep,
        ...(d.endpoint === undefined ? {} : { endpoint: d.endpoint }),
        ...(d.access_key_id === undefined ? {} : { accessKeyId: d.access_key_id }),
        ...(d.secret_access_key === undefined ? {} : { secretAccessKey: d.secret_access_key }),
      };
    }),
    ...(b.schedule === undefined ? {} : { schedule: b.schedule }),
    verifyAfterBackup: b.verify_after_backup,
    binlogs: {
      enabled: b.binlogs.enabled,
      spoolDir: b.binlogs.spool_dir,
      uploadIntervalMs: b.binlogs.upload_interval,
      serverId: b.binlogs.server_id,
    },
  };
}
