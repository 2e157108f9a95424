import type { BackendStatus } from "../admin/status.js";
import type { BackendConfig } from "../config/types.js";
import type { Cluster } from "./cluster.js";
import { describeDrain } from "./drain.js";

/**
 * Every backend as `/backends` shows it, the primary first: the monitor's last observation, the
 * balancer's view, the pool, the lag policy's memory and, while it is taken out of service, its
 * drain. Built per request from the live objects (nothing cached).
 */
export function backendStatuses(cluster: Cluster): BackendStatus[] {
  return cluster
    .backends()
    .flatMap((b) => {
      const s = backendStatus(cluster, b);
      return s === null ? [] : [s];
    })
    .sort((a, b) => (a.role === "primary" ? -1 : b.role === "primary" ? 1 : 0));
}

function backendStatus(cluster: Cluster, cfg: BackendConfig): BackendStatus | null {
  const pool = cluster.upstreams.pools.get(cfg.name);
  if (pool === undefined) return null;
  const name = cfg.name;
  const role = cluster.roleOf(name);
  const o = cluster.latest.get(name);
  const b = role === "replica" ? cluster.balancer.snapshot().find((x) => x.name === name) : undefined;
  const w = b ? { weight: b.effectiveWeight, reason: b.reason } : { weight: 0, reason: null };
  const stats = pool.stats();
  const now = Date.now();
  const drain = cluster.drainOf(name);
  return {
    name,
    role,
    host: pool.endpoint.host,
    port: pool.endpoint.port,
    up: o?.up ?? false,
    readOnly: o?.readOnly ?? null,
    lagMs: o?.lagMs ?? null,
    lagSource: o?.lagSource ?? null,
    weight: cfg.weight,
    effectiveWeight: w.weight,
    eligible: role === "primary" ? (o?.up ?? false) : (b?.eligible ?? false),
    reason:
      drain !== undefined
        ? describeDrain(drain, now)
        : role === "fenced"
          ? "fenced: a former primary; `rwsplit rejoin` makes it a replica again"
          : role === "primary"
            ? o?.up
              ? null
              : (o?.lastError ?? "not checked yet")
            : w.reason,
    inFlight: b ? b.inFlight : stats.busy,
    pool: {
      open: stats.open,
      idle: stats.idle,
      busy: stats.busy,
      waiting: stats.waiting,
      max: stats.max,
      statements: stats.statements,
    },
    lastError: o?.lastError ?? pool.lastError,
    lastCheckAt: o && o.checkedAt > 0 ? new Date(o.checkedAt).toISOString() : null,
    gtidPosition: o?.gtidCurrentPos || o?.gtidSlavePos || null,
    lagPolicy: role === "replica" ? cluster.lagStateOf(name) : null,
    drain:
      drain === undefined
        ? null
        : {
            state: drain.phase,
            purpose: drain.purpose,
            since: new Date(drain.since).toISOString(),
            deadline: new Date(drain.deadline).toISOString(),
            drainedAt: drain.drainedAt === null ? null : new Date(drain.drainedAt).toISOString(),
            forced: drain.forced,
          },
  };
}
