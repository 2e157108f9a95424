import { compareGtidPos, formatGtidPos, type GtidPosition, parseGtidPos } from "../monitor/gtid.js";
import type { NodePosition } from "./node-position.js";

/**
 * Which replica to promote when the primary is gone. Pure: positions in, a name and the reason
 * out (the reason goes into the change report, so it names the positions it compared).
 *
 * The replica that RECEIVED the most wins, not the one that applied the most: with semi-sync,
 * a commit the primary acknowledged is in at least one replica's relay log (the ACK is sent once
 * the IO thread has written the event, before the SQL thread applies it), and `waitApplied`
 * drains that relay log before promotion. Ranking by applied position could pick a replica that
 * never received an acknowledged commit.
 *
 * Worked example: replica1 received 0-1-42 and applied 0-1-40, replica2 received and applied
 * 0-1-41: replica1 wins (42 > 41), then waits until it applied 0-1-42. Equal positions go to
 * the higher priority, then to the earlier replica in configuration order.
 */

export type CandidateChoice = { name: string; reason: string } | { name: null; reason: string };

/**
 * What a replica has received: Gtid_IO_Pos, merged per domain with gtid_slave_pos (whichever
 * is further): Gtid_IO_Pos is empty until the IO thread first starts, and never behind what was
 * applied otherwise. Null when either is not a GTID list.
 */
export function receivedPosition(p: NodePosition): GtidPosition | null {
  const io = parseGtidPos(p.gtidIoPos);
  const applied = parseGtidPos(p.gtidSlavePos);
  if (!io || !applied) return null;
  const out = new Map(applied);
  for (const g of io.values()) {
    const a = out.get(g.domain);
    if (!a || g.seq > a.seq) out.set(g.domain, g);
  }
  return out;
}

/** Why `p` cannot be promoted, or null. A stopped SQL thread without an error is fine: waitApplied starts it. */
function ineligible(p: NodePosition): string | null {
  if (!p.reachable) return `unreachable (${p.error ?? "no answer"})`;
  if (p.masterHost === null) return "not a replica (no master configured)";
  if (p.sqlRunning === false && p.lastSqlErrno) {
    return `SQL thread stopped with error ${p.lastSqlErrno} (${p.lastSqlError ?? ""}): it cannot apply its relay log`;
  }
  return null;
}

interface Eligible {
  name: string;
  pos: GtidPosition;
  index: number;
  priority: number;
}

const show = (pos: GtidPosition) => formatGtidPos(pos) || "nothing";

export function chooseCandidate(
  positions: readonly NodePosition[],
  priority: (name: string) => number,
): CandidateChoice {
  const skipped: string[] = [];
  const eligible: Eligible[] = [];
  positions.forEach((p, index) => {
    const why = ineligible(p);
    const pos = why ? null : receivedPosition(p);
    if (why || !pos) {
      skipped.push(`${p.name}: ${why ?? `unparsable GTID position (${p.gtidIoPos} / ${p.gtidSlavePos})`}`);
      return;
    }
    const prio = priority(p.name);
    eligible.push({ name: p.name, pos, index, priority: Number.isFinite(prio) ? prio : 0 });
  });
  const skippedNote = skipped.length > 0 ? `; skipped ${skipped.join("; ")}` : "";
  if (eligible.length === 0) {
    return {
      name: null,
      reason:
        positions.length === 0
          ? "no replica to promote: none configured"
          : `no replica can be promoted: ${skipped.join("; ")}`,
    };
  }

  // Replicas of one primary receive one stream, so one position covers the other. Two that do
  // not (or hold one sequence number from different servers) mean two histories: promoting
  // either loses the other's transactions, which is for a human to decide.
  for (const [i, a] of eligible.entries()) {
    for (const b of eligible.slice(i + 1)) {
      if (compareGtidPos(a.pos, b.pos) === "diverged") {
        return {
          name: null,
          reason: `replicas received diverged histories: ${a.name} ${show(a.pos)}, ${b.name} ${show(b.pos)}; refusing to choose, compare their binlogs and promote by hand${skippedNote}`,
        };
      }
    }
  }

  // Without divergence the positions are totally ordered: the top ones cover every other.
  const covers = (a: Eligible, b: Eligible) => {
    const c = compareGtidPos(a.pos, b.pos);
    return c === "ahead" || c === "equal";
  };
  const top = eligible.filter((a) => eligible.every((b) => covers(a, b)));
  const tied = top.map((t) => t.name).join(", ");
  top.sort((a, b) => b.priority - a.priority || a.index - b.index);
  const [win, second] = top as [Eligible, ...Eligible[]];
  const others = eligible.filter((e) => !top.includes(e)).map((e) => `${e.name} ${show(e.pos)}`);
  const behind = others.length > 0 ? `; behind: ${others.join(", ")}` : "";
  let why: string;
  if (!second) {
    why = `${win.name} received the most (${show(win.pos)})`;
  } else {
    why =
      win.priority > second.priority
        ? `${tied} received the same (${show(win.pos)}); ${win.name} has the highest priority (${win.priority})`
        : `${tied} received the same (${show(win.pos)}) at equal priority; ${win.name} comes first in the configuration`;
  }
  return { name: win.name, reason: `${why}${behind}${skippedNote}` };
}
