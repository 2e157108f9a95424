import { gtidCovers, parseGtidPos } from "../monitor/gtid.js";
import { fileNumber } from "./binlog-events.js";

/**
 * Which archived binlogs a point-in-time restore replays, in which order. Pure (table-tested in
 * test/unit/backup-binlog-plan.test.ts).
 *
 * The archive holds each primary's binlogs under its own name; after a failover the archiver
 * follows the new primary and starts with its file whose Gtid_list (the state at the file's start)
 * the archive already covers, so consecutive servers overlap. A replay is a chain of segments:
 * server A's files from the backup's GTID up to the state where B's archive starts, then B's from
 * there, and so on; the last one up to the target. Each segment is one
 * `mariadb-binlog --start-position=<gtid> --stop-position=<gtid>` run (a GTID window: events at or
 * before the start are skipped, the stop is inclusive), so overlapping events are applied once,
 * and A's transactions that B never received (lost in the failover) are not applied at all.
 */

export interface ArchivedBinlog {
  server: string;
  file: string;
  bytes: number;
  sha256: string;
  /** The Gtid_list at the file's start. */
  startGtidList: string;
  /** The state after the file's last transaction. */
  endPosition: string;
  firstTime: number | null;
  lastTime: number | null;
  complete: boolean;
  archivedAt: string;
  /** When the archiver started this group (it follows one primary from then on). */
  groupStartedAt: string;
}

export interface Segment {
  server: string;
  files: string[];
  /** --start-position: replay what comes after this state ("" = from the beginning). */
  start: string;
  /** --stop-position (inclusive); null: up to the end (or the stop time). */
  stop: string | null;
}

export type ReplayPlan = { ok: true; segments: Segment[] } | { ok: false; why: string };

const covers = (have: string, want: string) => {
  const h = parseGtidPos(have);
  const w = parseGtidPos(want);
  return h !== null && w !== null && gtidCovers(h, w);
};

export function planReplay(
  archive: readonly ArchivedBinlog[],
  from: string,
  toGtid: string | null,
): ReplayPlan {
  if (toGtid !== null && covers(from, toGtid)) {
    return {
      ok: false,
      why: `the backup is already at ${from}, which includes ${toGtid}: nothing to replay`,
    };
  }
  const servers = new Map<string, ArchivedBinlog[]>();
  for (const f of archive) servers.set(f.server, [...(servers.get(f.server) ?? []), f]);
  for (const files of servers.values()) files.sort((a, b) => fileNumber(a.file) - fileNumber(b.file));
  // Archive order: the group the archiver started first came first.
  const order = [...servers.entries()].sort(([, a], [, b]) =>
    a[0]!.groupStartedAt.localeCompare(b[0]!.groupStartedAt),
  );
  const segments: Segment[] = [];
  let need = from;
  for (let i = 0; i < order.length; i++) {
    const [server, files] = order[i]!;
    const end = files.at(-1)!.endPosition;
    if (covers(need, end)) continue; // nothing newer here
    let startAt = -1;
    files.forEach((f, j) => {
      if (covers(need, f.startGtidList)) startAt = j;
    });
    if (startAt < 0) {
      if (segments.length === 0 && i < order.length - 1) continue;
      return {
        ok: false,
        why: `the archive of ${server} starts at ${files[0]!.startGtidList || "(empty)"}, after ${need || "(empty)"}: transactions in between were never archived`,
      };
    }
    const next = order.slice(i + 1).find(([, f]) => !covers(need, f.at(-1)!.endPosition));
    let stop: string | null = null;
    if (next !== undefined) {
      const nextStart = next[1][0]!.startGtidList;
      if (covers(need, nextStart)) continue; // the next server's archive already starts at or before here
      stop = nextStart;
    }
    if (toGtid !== null && covers(stop ?? end, toGtid)) stop = toGtid;
    segments.push({ server, files: files.slice(startAt).map((f) => f.file), start: need, stop });
    if (stop === toGtid && toGtid !== null) return { ok: true, segments };
    need = stop ?? end;
  }
  if (toGtid !== null && !covers(need, toGtid)) {
    return { ok: false, why: `the archive ends at ${need || "(empty)"}, before ${toGtid}` };
  }
  return { ok: true, segments };
}

/**
 * Archived binlogs no point-in-time restore can need any more: every restore starts from a kept
 * backup, so from at least `oldestKept` (the oldest kept backup's GTID). A file can go when the
 * next file of its group starts at or before that position (all its events are older), and a
 * whole group when it ends there and a later group takes over. Pure; retention runs it after
 * removing backups.
 */
export function prunableBinlogs(archive: readonly ArchivedBinlog[], oldestKept: string): ArchivedBinlog[] {
  const groups = new Map<string, ArchivedBinlog[]>();
  for (const f of archive) groups.set(f.server, [...(groups.get(f.server) ?? []), f]);
  const order = [...groups.values()]
    .map((files) => files.sort((a, b) => fileNumber(a.file) - fileNumber(b.file)))
    .sort((a, b) => a[0]!.groupStartedAt.localeCompare(b[0]!.groupStartedAt));
  const out: ArchivedBinlog[] = [];
  order.forEach((files, g) => {
    const later = g < order.length - 1;
    if (later && covers(oldestKept, files.at(-1)!.endPosition)) {
      out.push(...files);
      return;
    }
    for (let i = 0; i + 1 < files.length; i++) {
      if (covers(oldestKept, files[i + 1]!.startGtidList)) out.push(files[i]!);
    }
  });
  return out;
}
