import type { BackupDestinationConfig } from "../../config/types.js";
import type { Destination } from "./destination.js";
import { DirDestination } from "./dir.js";

export type { Destination, StoredObject } from "./destination.js";
export { NotFound } from "./destination.js";

/**
 * One Destination per configured `backup.destinations` entry, in config order. The AWS SDK is
 * imported only when an S3 destination is configured: it is the largest dependency by far, and
 * once loaded it stays in the process's memory.
 */
export async function openDestinations(configs: readonly BackupDestinationConfig[]): Promise<Destination[]> {
  const s3 = configs.some((c) => c.type === "s3") ? await import("./s3.js") : null;
  return configs.map((c) =>
    c.type === "dir" ? new DirDestination(c.name, c.path) : new s3!.S3Destination(c),
  );
}
