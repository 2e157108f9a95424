import { open } from "node:fs/promises";
import { z } from "zod";
import { BINLOG_MAGIC, BinlogSummary, HEADER_BYTES, parseHeader, wantsBody } from "./binlog-events.js";
import type { ArchivedBinlog } from "./binlog-plan.js";
import type { CopyCheck } from "./copies.js";
import type { Destination } from "./destinations/index.js";
import { hashPrefix } from "./fanout.js";

/**
 * The binlog archive's index: one `binlogs/<server>/<file>.json` per archived file, written at a
 * destination after the file's bytes were read back from there. The file is indexed from disk
 * (the archiver's spool) by walking event headers: only GTID and Gtid_list bodies are read.
 */

export const indexSchema = z.object({
  format: z.literal(1),
  server: z.string(),
  groupStartedAt: z.string(),
  file: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  startGtidList: z.string(),
  endPosition: z.string(),
  firstTime: z.number().nullable(),
  lastTime: z.number().nullable(),
  complete: z.boolean(),
  archivedAt: z.string(),
});

export function binlogKey(server: string, file: string): string {
  return `binlogs/${server.replace(/[^A-Za-z0-9_.-]/g, "_")}/${file}`;
}

/**
 * Summarises a spooled binlog up to its last complete event (a growing file may end mid-event).
 * `bytes` is that boundary: what is uploaded.
 */
export async function summarizeFile(path: string): Promise<{ bytes: number; summary: BinlogSummary }> {
  const fh = await open(path, "r");
  const summary = new BinlogSummary();
  try {
    const size = (await fh.stat()).size;
    const magic = Buffer.alloc(4);
    if (size < 4 || (await fh.read(magic, 0, 4, 0)).bytesRead < 4 || !magic.equals(BINLOG_MAGIC)) {
      return { bytes: 0, summary };
    }
    let at = 4;
    const head = Buffer.alloc(HEADER_BYTES);
    while (at + HEADER_BYTES <= size) {
      await fh.read(head, 0, HEADER_BYTES, at);
      const h = parseHeader(head)!;
      if (h.length < HEADER_BYTES || at + h.length > size) break;
      if (wantsBody(h.type)) {
        const body = Buffer.alloc(h.length - HEADER_BYTES);
        await fh.read(body, 0, body.length, at + HEADER_BYTES);
        summary.add(h, body);
      }
      at += h.length;
    }
    return { bytes: at, summary };
  } finally {
    await fh.close();
  }
}

/** Every archived binlog with a valid index, merged over destinations (the longest copy wins). */
export async function readArchive(destinations: readonly Destination[]): Promise<{
  files: (ArchivedBinlog & { at: string[] })[];
  unreachable: { destination: string; error: string }[];
}> {
  const byKey = new Map<string, ArchivedBinlog & { at: string[] }>();
  const unreachable: { destination: string; error: string }[] = [];
  for (const d of destinations) {
    try {
      for (const o of await d.list("binlogs/")) {
        if (!o.key.endsWith(".json")) continue;
        const data = await d.get(o.key);
        if (data === null) continue;
        const r = indexSchema.safeParse(JSON.parse(data.toString()));
        if (!r.success) continue;
        const k = `${r.data.server}/${r.data.file}`;
        const had = byKey.get(k);
        if (had === undefined || had.bytes < r.data.bytes) byKey.set(k, { ...r.data, at: [d.name] });
        else if (had.bytes === r.data.bytes && had.sha256 === r.data.sha256) had.at.push(d.name);
      }
    } catch (e) {
      unreachable.push({ destination: d.name, error: (e as Error).message });
    }
  }
  return { files: [...byKey.values()], unreachable };
}

/** Scrub of the archive: each destination's copy of each file against its own index entry. */
export async function scrubBinlogs(
  destinations: readonly Destination[],
): Promise<{ checked: number; bad: (CopyCheck & { id: string; goodAt: string[] })[] }> {
  const results: (CopyCheck & { id: string; sha: string })[] = [];
  for (const d of destinations) {
    let objects: { key: string }[];
    try {
      objects = await d.list("binlogs/");
    } catch {
      continue;
    }
    for (const o of objects.filter((x) => x.key.endsWith(".json"))) {
      const data = await d.get(o.key);
      const r = data === null ? null : indexSchema.safeParse(JSON.parse(data.toString()));
      if (r === null || !r.success) continue;
      const key = o.key.slice(0, -".json".length);
      let reason: string | null = null;
      try {
        // The newest binlog grows between uploads: its copy may run past its index (see restore).
        const got = await hashPrefix(await d.read(key), r.data.bytes);
        if (got.sha256 !== r.data.sha256 || got.bytes !== r.data.bytes) {
          reason = `SHA-256 ${got.sha256.slice(0, 16)}… (${got.bytes} bytes), index says ${r.data.sha256.slice(0, 16)}… (${r.data.bytes} bytes)`;
        }
      } catch (e) {
        reason = (e as Error).message;
      }
      results.push({
        destination: d.name,
        file: key,
        ok: reason === null,
        reason,
        id: "binlog archive",
        sha: r.data.sha256,
      });
    }
  }
  const bad = results
    .filter((x) => !x.ok)
    .map(({ sha: _sha, ...x }) => ({
      ...x,
      goodAt: results.filter((y) => y.ok && y.file === x.file).map((y) => y.destination),
    }));
  return { checked: results.length, bad };
}
