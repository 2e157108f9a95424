import type { BackendConfig, Config } from "../config/types.js";
import { HaError } from "../errors.js";
import type { BackendObservation } from "../monitor/types.js";
import type { ChangeReport, HaOps, HaTarget, NodeRef } from "./change-types.js";
import type { TopologyRecord } from "./fleet.js";

/**
 * The steps of each topology change, in order, as the manager (manager.ts) runs them under the
 * topology lease. Each step that happens is written to the report (`r.steps`), which is what
 * `rwsplit switchover` prints and /topology keeps; a step that throws ends the change there.
 */

/** What the steps need from the manager: the operations, the proxy, and the topology at hand. */
export interface StepContext {
  readonly ops: HaOps;
  readonly target: HaTarget;
  readonly failover: Config["failover"];
  /** The topology the change started from. */
  readonly topology: TopologyRecord;
  /** The replicas of `topology`: neither its primary nor fenced. */
  readonly replicas: readonly NodeRef[];
  /** Of those, the ones a failover may promote (drained ones only when no other is left). */
  readonly candidates: readonly NodeRef[];
  node(name: string): NodeRef;
  /** Publishes the next generation under the change's lease (throws HA_PUBLISH_FAILED). */
  publish(next: { primary: string; fenced: string[]; reason: string }): Promise<void>;
  now(): number;
}

/**
 * Failover: hold writes, promote the replica that received the most (after it applied its relay
 * log), repoint the others, fence the old primary, publish.
 */
export async function failoverSteps(c: StepContext, why: string, r: ChangeReport): Promise<void> {
  const t = c.topology;
  r.steps.push(`primary ${t.primary} failed: ${why}`);
  c.target.holdWrites();
  r.steps.push("holding new writes");
  const choice = await c.ops.chooseCandidate([...c.candidates]);
  if (choice.name === null)
    throw new HaError("HA_NO_CANDIDATE", `no replica can be promoted: ${choice.reason}`);
  const candidate = c.node(choice.name);
  r.to = candidate.name;
  r.steps.push(`candidate ${candidate.name}: ${choice.reason}`);
  await c.ops.waitApplied(candidate, c.failover.catchUpMs);
  r.steps.push(`${candidate.name} applied its relay log`);
  await c.ops.promote(candidate);
  r.steps.push(`${candidate.name} promoted (replication reset, read_only=OFF)`);
  await repointOthers(c.ops, c.replicas, candidate, r);
  await c.publish({ primary: candidate.name, fenced: [...t.fenced, t.primary], reason: "failover" });
}

/** Why `to` cannot become the primary by switchover now (thrown before any lease is taken). */
export function checkSwitchover(
  backends: ReadonlyMap<string, BackendConfig>,
  t: TopologyRecord,
  to: string,
  obs: BackendObservation | undefined,
): void {
  if (!backends.has(to)) throw unknownBackend(backends, to);
  if (to === t.primary) throw new HaError("HA_BAD_REQUEST", `${to} is already the primary`);
  if (t.fenced.includes(to))
    throw new HaError("HA_CONFLICT", `${to} is fenced (a former primary): rejoin it first`);
  if (!obs?.up || obs.replicating !== true) {
    throw new HaError(
      "HA_CONFLICT",
      `${to} is not a healthy replica (${obs?.lastError ?? "not replicating"})`,
    );
  }
}

/**
 * Switchover to `to`: hold writes, let the primary's work finish (up to
 * failover.switchover_timeout), read_only=ON there, wait for `to` to catch up, promote it (or undo
 * read_only and give up), repoint the others, make the old primary a replica (fenced if it cannot
 * be), publish.
 */
export async function switchoverSteps(c: StepContext, to: string, r: ChangeReport): Promise<void> {
  const t = c.topology;
  const old = c.node(t.primary);
  const next = c.node(to);
  c.target.holdWrites();
  r.steps.push("holding new writes");
  const timeoutMs = c.failover.switchoverTimeoutMs;
  const drained = await waitPrimaryIdle(c, timeoutMs);
  r.steps.push(
    drained === 0
      ? "no statement or transaction left on the primary"
      : `${drained} session(s) still busy on the primary after ${timeoutMs} ms: their transactions will be lost`,
  );
  await c.ops.setReadOnly(old, true);
  r.steps.push(`${old.name} read_only=ON`);
  let promoted = false;
  try {
    const pos = await c.ops.binlogPos(old);
    await c.ops.waitForGtid(next, pos, c.failover.catchUpMs);
    r.steps.push(`${next.name} caught up to ${pos}`);
    await c.ops.promote(next);
    promoted = true;
    r.steps.push(`${next.name} promoted`);
  } finally {
    if (!promoted) {
      await c.ops.setReadOnly(old, false).catch((e) => {
        r.steps.push(`could not set ${old.name} read_only=OFF again: ${String(e)}`);
      });
      r.steps.push(`switchover abandoned: ${old.name} stays primary`);
    }
  }
  await repointOthers(
    c.ops,
    c.replicas.filter((n) => n.name !== to),
    next,
    r,
  );
  let fenced = t.fenced;
  try {
    await c.ops.demote(old, next);
    r.steps.push(`${old.name} is now a replica of ${next.name}`);
  } catch (e) {
    fenced = [...fenced, old.name];
    r.steps.push(`${old.name} could not be made a replica (${errorText(e)}): fenced`);
  }
  await c.publish({ primary: to, fenced, reason: "switchover" });
}

/** Why `name` cannot be rejoined now (thrown before any lease is taken). */
export function checkRejoin(
  backends: ReadonlyMap<string, BackendConfig>,
  t: TopologyRecord,
  name: string,
): void {
  if (!backends.has(name)) throw unknownBackend(backends, name);
  if (name === t.primary) throw new HaError("HA_BAD_REQUEST", `${name} is the primary`);
}

/** Rejoin: refuse a diverged history, else make `name` a replica of the primary and unfence it. */
export async function rejoinSteps(c: StepContext, name: string, r: ChangeReport): Promise<void> {
  const t = c.topology;
  const node = c.node(name);
  const primary = c.node(t.primary);
  const d = await c.ops.checkDiverged(node, primary);
  r.steps.push(d.detail);
  if (d.diverged) {
    throw new HaError(
      "REPLICATION_DIVERGED",
      `${name} has transactions ${primary.name} does not have (diverged): ${d.detail}. Restore it from a backup of ${primary.name} (or discard those transactions), then rejoin`,
    );
  }
  await c.ops.demote(node, primary);
  r.steps.push(`${name} replicates from ${primary.name}`);
  await c.publish({ primary: t.primary, fenced: t.fenced.filter((n) => n !== name), reason: "rejoin" });
}

/** Repoints every replica but `primary` to it, in parallel; one that cannot be is reported and excluded. */
async function repointOthers(
  ops: HaOps,
  replicas: readonly NodeRef[],
  primary: NodeRef,
  r: ChangeReport,
): Promise<void> {
  const others = replicas.filter((n) => n.name !== primary.name);
  const results = await Promise.allSettled(others.map((n) => ops.repoint(n, primary)));
  results.forEach((res, i) => {
    const n = others[i]!;
    if (res.status === "fulfilled") r.steps.push(`${n.name} replicates from ${primary.name}`);
    else {
      r.excluded.push({ name: n.name, error: errorText(res.reason) });
      r.steps.push(`${n.name} could not be repointed: ${errorText(res.reason)}`);
    }
  });
}

/** Sessions still busy on the primary after waiting up to `timeoutMs` for them to finish. */
async function waitPrimaryIdle(c: StepContext, timeoutMs: number): Promise<number> {
  const deadline = c.now() + timeoutMs;
  for (;;) {
    const n = c.target.primaryWork();
    if (n === 0 || c.now() >= deadline) return n;
    await new Promise((res) => setTimeout(res, 20));
  }
}

function unknownBackend(backends: ReadonlyMap<string, BackendConfig>, name: string): HaError {
  return new HaError(
    "HA_UNKNOWN_BACKEND",
    `unknown backend "${name}": expected one of ${[...backends.keys()].join(", ")}`,
  );
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
