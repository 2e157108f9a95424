import type { RetentionConfig } from "../config/types.js";

/**
 * Which backups one destination keeps. Pure (table-tested in test/unit/backup-retention.test.ts).
 *
 * Kept: the `last` newest complete backups (at least one), the newest complete backup of each of
 * the `daily` most recent days that have one, the
 * newest of each of the `weekly` most recent ISO weeks that have one, and always the newest
 * complete backup and the newest backup that verified OK, whatever the counts say (so a run of
 * failed verifies never leaves nothing restorable). Incomplete backups (no manifest: failed or
 * killed midway) are removed once older than `incompleteGraceMs`, so one being written right now
 * is left alone. Days and weeks are UTC.
 */

export interface RetentionItem {
  id: string;
  createdAt: Date;
  complete: boolean;
  verifiedOk: boolean;
}

export interface RetentionPlan {
  keep: { id: string; why: string[] }[];
  remove: { id: string; why: string }[];
}

const DAY = 86_400_000;

function dayOf(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** ISO 8601 week ("2026-W49"): weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  // The Thursday of this week decides the year the week belongs to.
  t.setUTCDate(t.getUTCDate() + 4 - (t.getUTCDay() || 7));
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / DAY + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

export function planRetention(
  items: readonly RetentionItem[],
  policy: RetentionConfig,
  now: Date,
  incompleteGraceMs = DAY,
): RetentionPlan {
  const complete = items
    .filter((i) => i.complete)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const reasons = new Map<string, string[]>();
  const keep = (id: string, why: string) => reasons.set(id, [...(reasons.get(id) ?? []), why]);
  const bucket = (key: (d: Date) => string, n: number, label: string) => {
    const seen = new Set<string>();
    for (const i of complete) {
      const k = key(i.createdAt);
      if (seen.has(k)) continue;
      if (seen.size >= n) break;
      seen.add(k);
      keep(i.id, `${label} ${k}`);
    }
  };
  bucket(dayOf, policy.daily, "newest of day");
  bucket(isoWeek, policy.weekly, "newest of week");
  for (const i of complete.slice(0, Math.max(1, policy.last))) keep(i.id, "among the newest");
  const verified = complete.find((i) => i.verifiedOk);
  if (verified) keep(verified.id, "newest verified backup");

  const remove: RetentionPlan["remove"] = [];
  for (const i of items) {
    if (reasons.has(i.id)) continue;
    if (i.complete)
      remove.push({
        id: i.id,
        why: `beyond retention (last ${policy.last}, ${policy.daily} daily, ${policy.weekly} weekly)`,
      });
    else if (now.getTime() - i.createdAt.getTime() > incompleteGraceMs) {
      remove.push({ id: i.id, why: "incomplete (no manifest) and older than the grace period" });
    }
  }
  return { keep: [...reasons].map(([id, why]) => ({ id, why })), remove };
}

/** The time in a backup id (`20261206T181623Z-replica1`), or null. */
export function timeOfId(id: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  if (!m) return null;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}
