import type { BackupDestinationConfig } from "../../config/types.js";
import type { Destination } from "./destination.js";
import { DirDestination } from "./dir.js";
import { S3Destination } from "./s3.js";

export type { Destination, StoredObject } from "./destination.js";
export { NotFound } from "./destination.js";

/** One Destination per configured `backup.destinations` entry, in config order. */
export function openDestinations(configs: readonly BackupDestinationConfig[]): Destination[] {
  return configs.map((c) => (c.type === "dir" ? new DirDestination(c.name, c.path) : new S3Destination(c)));
}
