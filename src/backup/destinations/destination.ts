import type { Readable } from "node:stream";
import { RwsplitError } from "../../errors.js";

/**
 * Where backups and archived binlogs are kept: a local or mounted directory, or an S3-compatible
 * object store. Both hold the same layout under their root (keys use "/" everywhere):
 *
 *   backups/<id>/<file>            the backup's files (data stream, tool log)
 *   backups/<id>/manifest.json     written LAST, after every file's checksum was read back
 *   binlogs/<server>/<binlog>      archived binary logs (raw, as the server wrote them)
 *   binlogs/<server>/<binlog>.json their index entries (size, SHA-256, GTID range), written after
 *
 * A backup without its manifest is incomplete, whatever files it has: partial writes and killed
 * runs never look complete (list.ts, retention.ts).
 */
export interface StoredObject {
  key: string;
  bytes: number;
}

export interface Destination {
  readonly name: string;
  readonly type: "dir" | "s3";
  /** For logs and listings: "dir /var/backups" or "s3://bucket/prefix". Never a credential. */
  readonly where: string;
  /** Streams `body` to `key`; resolves with the bytes stored. Replaces an existing object. */
  write(key: string, body: Readable): Promise<number>;
  /** Writes a small object atomically (a reader sees the old content or the new, never a part). */
  put(key: string, data: Buffer | string): Promise<void>;
  /** The object's bytes as a stream; rejects with `NotFound` when absent. */
  read(key: string): Promise<Readable>;
  /** A small object's content, or null when absent. */
  get(key: string): Promise<Buffer | null>;
  /** Every object under `prefix` (recursively), in key order. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes the objects; absent ones are not an error. */
  remove(keys: readonly string[]): Promise<void>;
  /** Releases clients and sockets. */
  close(): void;
}

export class NotFound extends RwsplitError {
  constructor(
    readonly key: string,
    where: string,
  ) {
    super("BACKUP_NOT_FOUND", `${key} not found at ${where}`);
    this.name = "NotFound";
  }
}

/** Keys are made by rwsplit, but a listing from a shared store may hold anything. */
export function assertSafeKey(key: string): void {
  if (key === "" || key.startsWith("/") || key.split("/").some((p) => p === ".." || p === "." || p === "")) {
    throw new RwsplitError("BACKUP_FAILED", `unsafe object key ${JSON.stringify(key)}`);
  }
}
