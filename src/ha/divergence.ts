import { formatGtid, type Gtid, parseGtid, parseGtidPos } from "../monitor/gtid.js";

/**
 * Has a former primary (or any node about to replicate from `primary`) written transactions
 * the primary does not have? Pure: GTID texts in, a verdict and the GTIDs at fault out.
 *
 * For every domain, the node's last binlogged GTID d-s-n must be in the primary's history:
 * - the primary must have reached sequence n in domain d (else the node is ahead of it), and
 * - the primary's @@gtid_binlog_state (the last GTID of each domain AND server id in its binlog)
 *   must hold server s in domain d at n or later. Within a domain every server's sequence
 *   numbers only grow (gtid_strict_mode), so that entry says whether d-s-n reached the primary.
 *
 * The second test is what comparing positions alone misses. Worked example: the old primary
 * (server 1) binlogged 0-1-43 just before it was killed, no replica received it, replica2 was
 * promoted at 0-1-42 and has since written 0-2-43 .. 0-2-50. Positions say the old primary is
 * behind (43 < 50); the binlog state says the new primary's last GTID from server 1 is 0-1-42,
 * so 0-1-43 exists only on the old primary. Replicating anyway would fail with 1236 ("not in the
 * master's binlog", gtid_strict_mode), or without strict mode apply on top of a lost transaction.
 */

export interface Divergence {
  diverged: boolean;
  /** The node's GTIDs the primary does not have. */
  extra: string[];
  detail: string;
}

/** `d-s-n` triples keyed by "domain-server", as in @@gtid_binlog_state; null when malformed. */
function parseBinlogState(text: string): Map<string, Gtid> | null {
  const out = new Map<string, Gtid>();
  if (text.trim() === "") return out;
  for (const part of text.split(",")) {
    const g = parseGtid(part);
    if (!g) return null;
    const key = `${g.domain}-${g.server}`;
    const prev = out.get(key);
    if (!prev || g.seq > prev.seq) out.set(key, g);
  }
  return out;
}

export function assessDivergence(input: {
  /** The node's @@gtid_binlog_pos. */
  nodeBinlogPos: string;
  /** The primary's @@gtid_binlog_state. */
  primaryBinlogState: string;
  /** The primary's @@gtid_current_pos. */
  primaryCurrentPos: string;
}): Divergence {
  const node = parseGtidPos(input.nodeBinlogPos);
  const state = parseBinlogState(input.primaryBinlogState);
  const current = parseGtidPos(input.primaryCurrentPos);
  if (!node || !state || !current) {
    return {
      diverged: true,
      extra: [],
      detail: `cannot compare unparsable GTID positions (node binlog ${input.nodeBinlogPos}, primary binlog state ${input.primaryBinlogState}, current ${input.primaryCurrentPos}): treated as diverged`,
    };
  }
  // The primary's furthest sequence number per domain, from either variable.
  const reached = new Map<number, bigint>();
  for (const g of [...current.values(), ...state.values()]) {
    reached.set(g.domain, (reached.get(g.domain) ?? 0n) > g.seq ? (reached.get(g.domain) ?? 0n) : g.seq);
  }

  const extra: string[] = [];
  const why: string[] = [];
  for (const g of [...node.values()].sort((a, b) => a.domain - b.domain)) {
    const top = reached.get(g.domain) ?? 0n;
    const fromServer = state.get(`${g.domain}-${g.server}`);
    // A primary restored from a backup knows its start only from gtid_slave_pos, which
    // gtid_current_pos shows (its binlog state begins after it).
    const cur = current.get(g.domain);
    const atCurrent = cur !== undefined && cur.server === g.server && cur.seq >= g.seq;
    if (top < g.seq) {
      extra.push(formatGtid(g));
      why.push(
        `${formatGtid(g)} is ahead of the primary, which reached ${g.domain}-*-${top} in domain ${g.domain}`,
      );
    } else if (!atCurrent && (!fromServer || fromServer.seq < g.seq)) {
      extra.push(formatGtid(g));
      const last = fromServer
        ? `its last from server ${g.server} is ${formatGtid(fromServer)}`
        : `it has none from server ${g.server}`;
      why.push(
        `${formatGtid(g)} is not in the primary's history (${last}, and it went on to ${g.domain}-*-${top})`,
      );
    }
  }
  if (extra.length === 0) {
    return {
      diverged: false,
      extra,
      detail: `binlog ${input.nodeBinlogPos || "(empty)"} is contained in the primary's history (binlog state ${input.primaryBinlogState || "(empty)"})`,
    };
  }
  return { diverged: true, extra, detail: why.join("; ") };
}
