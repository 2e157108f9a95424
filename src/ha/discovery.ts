import type { Config } from "../config/types.js";
import { HaError } from "../errors.js";
import { type NodePosition, unreachablePosition } from "./node-position.js";
import { readPosition } from "./replication-ops.js";

/**
 * Topology discovery at startup: who is primary, according to the servers themselves. An
 * instance without a shared record (no Redis, or an empty one) would otherwise start from its
 * config's `backends.primary`, which after a failover is a fenced old primary or a replica of the
 * new one. Like MaxScale's monitor, it reads every backend's replication state and follows it.
 *
 * `discoverTopology` is pure (table-tested in test/unit/ha-discovery.test.ts). "Replicates from X"
 * means SHOW SLAVE STATUS has a master configured whose Master_Host/Master_Port is X's host/port
 * (whatever the threads are doing: a replica whose IO thread is "Connecting" still follows X). A
 * **root** is a reachable backend that is writable (`read_only=OFF`) and replicates from nobody.
 *
 * 1. The configured primary is read_only or replicates from another backend: follow its chain of
 *    masters to a root (after a switchover: primary → replica1, a root).
 * 2. Otherwise the one root that replicas follow, if every reachable replica replicates from it
 *    (after a failover: replica2 is writable with replica1 under it; the old primary is down, or
 *    came back writable with nobody under it, or was fenced read_only).
 * 3. Other roots (writable too: a split brain) are fenced, never written to, if nobody replicates
 *    from them; if some replica does, the servers disagree and nothing is decided.
 * 4. Moving the primary away from the configured one needs evidence that it moved: a replica
 *    under the new root, or the configured primary itself read_only (not a root). A lone writable
 *    replica next to an unreachable primary is a misconfigured replica as often as a promoted one.
 *
 * Anything else is ambiguous: the configured primary stays, and the log says what was seen.
 *
 * Worked example (a failover, then the old primary restarted with its old options):
 *   primary   writable, replicates from nobody        → a root nobody follows: fenced
 *   replica1  read_only, replicates from replica2     → follows replica2
 *   replica2  writable, replicates from nobody        → the root replica1 follows: primary
 *   ⇒ discovered: primary replica2, fenced [primary].
 */

/** One backend's position with the address that other backends' Master_Host/Port name it by. */
export interface BackendPosition extends NodePosition {
  host: string;
  port: number;
}

export type DiscoveryOutcome =
  /** The servers agree with the configured primary: nothing to publish. */
  | "configured"
  /** The servers say otherwise: publish `primary` and `fenced`. */
  | "discovered"
  /** Contradictory or too little to go on: keep the configured primary, warn with `seen`. */
  | "ambiguous";

export interface Discovery {
  outcome: DiscoveryOutcome;
  primary: string;
  fenced: string[];
  /** Why, in a sentence, for the log and /topology. */
  reason: string;
  /** Every backend as it was read ("replica1: read_only, replicates from replica2 (IO Yes, SQL Yes)"). */
  seen: string[];
}

/** Where a node replicates from: a configured backend (`name`), or an address outside the config. */
interface Link {
  name: string | null;
  at: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

function sameHost(a: string, b: string): boolean {
  return (
    a.toLowerCase() === b.toLowerCase() || (LOOPBACK.has(a.toLowerCase()) && LOOPBACK.has(b.toLowerCase()))
  );
}

function linkOf(p: NodePosition, all: readonly BackendPosition[]): Link | null {
  if (!p.masterHost) return null;
  const at = `${p.masterHost}:${p.masterPort ?? "?"}`;
  const to = all.find((b) => b.port === p.masterPort && sameHost(b.host, p.masterHost!));
  return { name: to?.name ?? null, at };
}

function describeNode(p: NodePosition, link: Link | null): string {
  if (!p.reachable) return `${p.name}: unreachable (${p.error ?? "no answer"})`;
  const rw = p.readOnly ? "read_only" : "writable";
  if (link === null) return `${p.name}: ${rw}, replicates from nobody`;
  const from = link.name === null ? `${link.at} (not a configured backend)` : `${link.name} (${link.at})`;
  return `${p.name}: ${rw}, replicates from ${from}, IO ${p.ioRunning ?? "?"}, SQL ${p.sqlRunning ? "Yes" : "No"}`;
}

export function discoverTopology(
  positions: readonly BackendPosition[],
  configuredPrimary: string,
): Discovery {
  const links = new Map<string, Link | null>();
  for (const p of positions) if (p.reachable) links.set(p.name, linkOf(p, positions));
  const seen = positions.map((p) => describeNode(p, links.get(p.name) ?? null));
  const keep = (reason: string): Discovery => ({
    outcome: "ambiguous",
    primary: configuredPrimary,
    fenced: [],
    reason: `${reason}; keeping the configured primary ${configuredPrimary}`,
    seen,
  });

  const up = positions.filter((p) => p.reachable);
  if (up.length === 0) return keep("no backend answered");
  const isRoot = (name: string) =>
    up.some((p) => p.name === name && p.readOnly === false) && links.get(name) === null;
  const roots = up.filter((p) => isRoot(p.name)).map((p) => p.name);
  const followers = (root: string) => up.filter((p) => links.get(p.name)?.name === root).map((p) => p.name);
  const configured = up.find((p) => p.name === configuredPrimary);

  /** Walks Master_Host links from `name` through reachable backends; the root it ends at, or null. */
  const rootAbove = (name: string): string | null => {
    const visited = new Set<string>();
    let at = name;
    for (;;) {
      if (visited.has(at) || !links.has(at)) return null;
      visited.add(at);
      const l = links.get(at);
      if (l === null || l === undefined) return isRoot(at) ? at : null;
      if (l.name === null) return null;
      at = l.name;
    }
  };

  let root: string;
  let why: string;
  const chain =
    configured !== undefined && (configured.readOnly === true || links.get(configuredPrimary) !== null)
      ? rootAbove(configuredPrimary)
      : null;
  if (chain !== null) {
    root = chain;
    why = `${configuredPrimary} replicates from ${chain}, writable and replicating from nobody`;
  } else {
    if (roots.length === 0) return keep("no reachable backend is writable and replicating from nobody");
    const followed = roots.filter((r) => followers(r).length > 0);
    const candidates = followed.length > 0 ? followed : roots;
    if (candidates.length !== 1) {
      return keep(
        `${roots.join(" and ")} are all writable and replicate from nobody (a split brain?)${
          followed.length > 1 ? `, each with replicas` : ", and no replica tells them apart"
        }`,
      );
    }
    root = candidates[0]!;
    const strays = strayReplicas(up, links, root);
    if (strays !== "" && root !== configuredPrimary) {
      return keep(`${root} is writable and replicates from nobody, but ${strays}`);
    }
    const under = followers(root);
    if (root !== configuredPrimary && under.length === 0 && configured?.readOnly !== true) {
      return keep(
        `${root} is writable and replicates from nobody, but no backend replicates from it and ${configuredPrimary} is ${
          configured === undefined ? "unreachable" : "writable"
        }: not enough to say the primary moved`,
      );
    }
    why =
      under.length > 0
        ? `${root} is writable, replicates from nobody, and ${under.join(", ")} replicate${under.length === 1 ? "s" : ""} from it`
        : `${root} is the only writable backend and ${configuredPrimary} is read_only`;
  }

  const rivals = roots.filter((r) => r !== root);
  const contested = rivals.filter((r) => followers(r).length > 0);
  if (contested.length > 0) {
    return keep(
      `${root} and ${contested.join(", ")} are writable and each has replicas (a split brain): decide which is the primary, make the other a replica`,
    );
  }
  const fenced = [...rivals];
  if (
    root !== configuredPrimary &&
    !fenced.includes(configuredPrimary) &&
    rootAbove(configuredPrimary) !== root
  ) {
    fenced.push(configuredPrimary);
  }
  if (root === configuredPrimary && fenced.length === 0) {
    const strays = strayReplicas(up, links, root);
    const note = strays === "" ? "" : ` (but ${strays}: not a replica of it)`;
    return {
      outcome: "configured",
      primary: root,
      fenced: [],
      reason: `the servers agree: ${why}${note}`,
      seen,
    };
  }
  const split = rivals.length > 0 ? `; ${rivals.join(", ")} also writable with no replica: fenced` : "";
  return { outcome: "discovered", primary: root, fenced, reason: `${why}${split}`, seen };
}

/** "replica2 replicates from 10.0.0.9:3306" for every replica whose master is not `root`; "" if none. */
function strayReplicas(
  up: readonly NodePosition[],
  links: ReadonlyMap<string, Link | null>,
  root: string,
): string {
  return up
    .flatMap((p) => {
      const l = links.get(p.name);
      return l === null || l === undefined || l.name === root
        ? []
        : [`${p.name} replicates from ${l.name ?? l.at}`];
    })
    .join(", ");
}

/**
 * Every backend's position, in config order, read in parallel as the failover user. Each read is
 * bounded by `timeoutMs` whatever the node does (refuses, hangs, answers slowly); one that does
 * not answer in time is `reachable: false` and skipped by `discoverTopology`.
 */
export async function readBackendPositions(config: Config, timeoutMs: number): Promise<BackendPosition[]> {
  const { admin, replication } = config.failover;
  if (admin === undefined || replication === undefined)
    throw new HaError("HA_NOT_CONFIGURED", "failover.user is not configured");
  const o = { admin, replication, timeoutMs };
  const backends = [config.backends.primary, ...config.backends.replicas];
  return Promise.all(
    backends.map(async (b) => {
      const node = { name: b.name, host: b.host, port: b.port };
      const p = await withDeadline(readPosition(node, o), timeoutMs, () =>
        unreachablePosition(b.name, `no answer within ${timeoutMs} ms`),
      );
      return { ...p, host: b.host, port: b.port };
    }),
  );
}

/** `p`, or `late()` after `ms`; `p` never rejects here (readPosition reports failures as values). */
function withDeadline<T>(p: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}
