import type { Destination } from "./destinations/index.js";
import { backupKey, MANIFEST, type Manifest, parseManifest } from "./manifest.js";

/**
 * What every destination holds, merged by backup id. A backup is complete at a destination when
 * its manifest is there and parses; files without one are a backup that failed or was killed
 * midway (or is being written right now), and are listed as incomplete, never as a backup.
 */

export interface Copy {
  destination: string;
  complete: boolean;
  /** Bytes of every object under the backup's directory at this destination. */
  bytes: number;
  /** Why the manifest there could not be used. */
  damaged: string | null;
  manifest: Manifest | null;
}

export interface CatalogEntry {
  id: string;
  /** The manifest with the most recent verification among the complete copies; null if none. */
  manifest: Manifest | null;
  copies: Copy[];
}

export interface Catalog {
  entries: CatalogEntry[];
  /** Destinations that could not be listed, and why. */
  unreachable: { destination: string; error: string }[];
}

function idOf(key: string): string | null {
  const m = /^backups\/([^/]+)\//.exec(key);
  return m ? m[1]! : null;
}

export async function destinationCopies(d: Destination): Promise<Map<string, Copy>> {
  const objects = await d.list("backups/");
  const byId = new Map<string, Copy>();
  for (const o of objects) {
    const id = idOf(o.key);
    if (id === null) continue;
    const c = byId.get(id) ?? {
      destination: d.name,
      complete: false,
      bytes: 0,
      damaged: null,
      manifest: null,
    };
    c.bytes += o.bytes;
    byId.set(id, c);
    if (o.key === backupKey(id, MANIFEST)) c.complete = true;
  }
  for (const [id, c] of byId) {
    if (!c.complete) continue;
    const data = await d.get(backupKey(id, MANIFEST));
    const parsed = data === null ? ({ ok: false, error: "manifest vanished" } as const) : parseManifest(data);
    if (parsed.ok && parsed.manifest.id === id) c.manifest = parsed.manifest;
    else {
      c.complete = false;
      c.damaged = parsed.ok ? `manifest names ${parsed.manifest.id}` : parsed.error;
    }
  }
  return byId;
}

export async function readCatalog(destinations: readonly Destination[]): Promise<Catalog> {
  const unreachable: Catalog["unreachable"] = [];
  const all = new Map<string, Copy[]>();
  await Promise.all(
    destinations.map(async (d) => {
      try {
        for (const [id, c] of await destinationCopies(d)) all.set(id, [...(all.get(id) ?? []), c]);
      } catch (e) {
        unreachable.push({ destination: d.name, error: (e as Error).message });
      }
    }),
  );
  const order = destinations.map((d) => d.name);
  const entries = [...all].map(([id, copies]): CatalogEntry => {
    copies.sort((a, b) => order.indexOf(a.destination) - order.indexOf(b.destination));
    const manifests = copies.flatMap((c) => (c.manifest ? [c.manifest] : []));
    manifests.sort((a, b) => (b.verification?.at ?? "").localeCompare(a.verification?.at ?? ""));
    return { id, manifest: manifests[0] ?? null, copies };
  });
  entries.sort((a, b) => a.id.localeCompare(b.id));
  return { entries, unreachable };
}

/** The entry for `id`, or the newest complete one when `id` is undefined. */
export function pick(catalog: Catalog, id: string | undefined): CatalogEntry | null {
  const complete = catalog.entries.filter((e) => e.manifest !== null);
  if (id === undefined) return complete.at(-1) ?? null;
  return complete.find((e) => e.id === id) ?? null;
}

/** What `backup list` and GET /backups say of one backup, whatever else each adds. */
export function entrySummary(e: CatalogEntry): {
  id: string;
  complete: boolean;
  method: Manifest["method"] | null;
  source: string | null;
  gtid: string | null;
  bytes: number | null;
  finishedAt: string | null;
} {
  const m = e.manifest;
  return {
    id: e.id,
    complete: m !== null,
    method: m?.method ?? null,
    source: m?.source.name ?? null,
    gtid: m?.gtid ?? null,
    bytes: m?.files.reduce((n, f) => n + f.bytes, 0) ?? null,
    finishedAt: m?.finishedAt ?? null,
  };
}
