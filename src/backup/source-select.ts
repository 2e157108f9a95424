import { type GtidPosition, parseGtidPos } from "../monitor/gtid.js";

/**
 * Which server a backup is taken from. Pure (table-tested in test/unit/backup-source.test.ts).
 *
 * A replica, never the primary unless `allowPrimary` (a backup reads every page: on the primary
 * that costs the application's writes their buffer pool and IO), never a fenced former primary.
 * A replica qualifies when it answers, is read_only, its IO thread is connected to the primary
 * and its SQL thread has no error. A SQL thread stopped WITHOUT an error qualifies: that is how
 * a killed backup leaves its source (backups pause it for the checksums), and the next backup
 * restarts it when done. Among those that qualify: the fewest transactions behind the primary,
 * then the lowest lag in ms when known, then config order.
 */

export interface SourceCandidate {
  name: string;
  role: "primary" | "replica" | "fenced";
  reachable: boolean;
  /** Why it could not be read. */
  error: string | null;
  readOnly: boolean | null;
  /** Slave_IO_Running: "Yes", "No", "Connecting"; null without a master. */
  ioRunning: string | null;
  sqlRunning: boolean | null;
  lastSqlError: string | null;
  lastIoError: string | null;
  /** @@gtid_slave_pos on a replica, @@gtid_binlog_pos on the primary. */
  gtid: string | null;
  /** The monitor's lag, when running inside `serve`. */
  lagMs?: number | null;
}

export interface Rejection {
  name: string;
  why: string;
}

export type SourceChoice =
  | { ok: true; source: string; behind: number | null; why: string; rejected: Rejection[] }
  | { ok: false; why: string; rejected: Rejection[] };

/** Transactions `replica` lacks compared with `primary`, summed over domains; null if unknown. */
export function transactionsBehind(primary: string | null, replica: string | null): number | null {
  const p = parseGtidPos(primary);
  const r = parseGtidPos(replica);
  if (p === null || r === null || primary === null || replica === null) return null;
  let behind = 0n;
  for (const [domain, g] of p as GtidPosition) {
    const have = r.get(domain)?.seq ?? 0n;
    if (g.seq > have) behind += g.seq - have;
  }
  return Number(behind);
}

function whyNot(c: SourceCandidate): string | null {
  if (c.role === "fenced") return "fenced: a former primary, never used until rejoined";
  if (!c.reachable) return `unreachable: ${c.error ?? "no answer"}`;
  if (c.lastSqlError) return `SQL thread error: ${c.lastSqlError}`;
  if (c.ioRunning === null) return "replicates from nobody";
  if (c.ioRunning !== "Yes") return `IO thread ${c.ioRunning}${c.lastIoError ? `: ${c.lastIoError}` : ""}`;
  if (c.readOnly === false) return "writable (read_only=OFF): not a safe replica to read from";
  return null;
}

export function chooseSource(
  candidates: readonly SourceCandidate[],
  opts: { allowPrimary: boolean },
): SourceChoice {
  const primary = candidates.find((c) => c.role === "primary");
  const rejected: Rejection[] = [];
  const fit: { c: SourceCandidate; i: number; behind: number | null }[] = [];
  candidates.forEach((c, i) => {
    if (c.role === "primary") return;
    const why = whyNot(c);
    if (why !== null) rejected.push({ name: c.name, why });
    else fit.push({ c, i, behind: transactionsBehind(primary?.gtid ?? null, c.gtid) });
  });
  const rank = (x: number | null | undefined) =>
    x === null || x === undefined ? Number.POSITIVE_INFINITY : x;
  fit.sort((a, b) => rank(a.behind) - rank(b.behind) || rank(a.c.lagMs) - rank(b.c.lagMs) || a.i - b.i);
  const best = fit[0];
  if (best !== undefined) {
    for (const other of fit.slice(1)) {
      const tied = other.behind === best.behind && (other.c.lagMs ?? null) === (best.c.lagMs ?? null);
      rejected.push({
        name: other.c.name,
        why: tied
          ? `as fresh as ${best.c.name}, which comes first in the config`
          : `further behind than ${best.c.name} (${other.behind ?? "?"} vs ${best.behind ?? "?"} transactions)`,
      });
    }
    const paused =
      best.c.sqlRunning === false ? "; its SQL thread is stopped (restarted after the backup)" : "";
    return {
      ok: true,
      source: best.c.name,
      behind: best.behind,
      why: `healthy replica, ${best.behind ?? "unknown"} transactions behind the primary${paused}`,
      rejected,
    };
  }
  const none = rejected.length === 0 ? "no replica is configured" : "no replica is healthy";
  if (primary === undefined) return { ok: false, why: `${none} and the primary is unknown`, rejected };
  if (!opts.allowPrimary) {
    return {
      ok: false,
      why: `${none}; not backing up from the primary (set backup.allow_primary: true to allow it)`,
      rejected,
    };
  }
  if (!primary.reachable) {
    return {
      ok: false,
      why: `${none} and the primary is unreachable: ${primary.error ?? "no answer"}`,
      rejected,
    };
  }
  return {
    ok: true,
    source: primary.name,
    behind: 0,
    why: `${none}: from the primary (backup.allow_primary)`,
    rejected,
  };
}
