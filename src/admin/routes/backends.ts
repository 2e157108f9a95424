import type { FastifyInstance } from "fastify";
import type { BackendStatus, ConsistencyStatus, StatusSource } from "../status.js";

/**
 * The balancer's view of every backend (the Vitess debug-handler idea: show the weights the picker
 * uses right now). Each entry is rebuilt field by field, so whatever else the proxy's objects carry
 * (a config with a password, a socket) never reaches the response.
 */
export function registerBackendRoutes(app: FastifyInstance, status: StatusSource): void {
  app.get("/backends", async () => ({
    ...(status.topology === undefined ? {} : { topology: withoutSecrets(status.topology(), 0) }),
    // The config version this instance runs (and the fleet's), what waits for a restart.
    ...(status.runtime === undefined ? {} : { config: withoutSecrets(status.runtime.status(), 0) }),
    ...(status.consistency === undefined ? {} : { consistency: publicConsistency(status.consistency()) }),
    backends: status.backends().map(publicBackend),
  }));

  // Client sessions and why each is pinned to one backend connection (transaction, temporary
  // tables, user variables, locks, ...): the debug view ProxySQL users ask for.
  app.get("/sessions", async (_request, reply) => {
    if (status.sessions === undefined)
      return reply.code(404).send({ error: "this proxy does not report sessions" });
    return { sessions: withoutSecrets(await status.sessions(), 0) };
  });

  app.get("/topology", async (_request, reply) => {
    if (status.topology === undefined) {
      return reply.code(404).send({ error: "this proxy does not report a topology" });
    }
    return { topology: withoutSecrets(status.topology(), 0) };
  });
}

/** Field by field, like publicBackend: a Redis error message is all of Redis that shows. */
export function publicConsistency(c: ConsistencyStatus): ConsistencyStatus {
  return {
    scope: c.scope,
    windowMs: c.windowMs,
    waitMs: c.waitMs,
    shared: c.shared,
    lastError: c.lastError,
    users: c.users,
    evicted: c.evicted,
  };
}

export function publicBackend(b: BackendStatus): BackendStatus {
  return {
    name: b.name,
    role: b.role,
    host: b.host,
    port: b.port,
    up: b.up,
    readOnly: b.readOnly,
    lagMs: b.lagMs,
    lagSource: b.lagSource,
    weight: b.weight,
    effectiveWeight: b.effectiveWeight,
    eligible: b.eligible,
    reason: b.reason,
    inFlight: b.inFlight,
    pool: {
      open: b.pool.open,
      idle: b.pool.idle,
      busy: b.pool.busy,
      waiting: b.pool.waiting,
      max: b.pool.max,
    },
    lastError: b.lastError,
    lastCheckAt: b.lastCheckAt,
    gtidPosition: b.gtidPosition,
    lagPolicy:
      b.lagPolicy === null
        ? null
        : {
            lastLagMs: b.lagPolicy.lastLagMs,
            ioLostSince: b.lagPolicy.ioLostSince,
            orphaned: b.lagPolicy.orphaned,
            effectiveLagMs: b.lagPolicy.effectiveLagMs,
          },
    drain:
      b.drain == null
        ? null
        : {
            state: b.drain.state,
            purpose: b.drain.purpose,
            since: b.drain.since,
            deadline: b.drain.deadline,
            drainedAt: b.drain.drainedAt,
            forced: b.drain.forced,
          },
  };
}

const SECRET_KEY = /pass(word)?|secret|token|credential/i;
const MAX_DEPTH = 16;

/** The topology's shape belongs to the monitor; drop any key that looks like a secret, at any depth. */
export function withoutSecrets(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!SECRET_KEY.test(key)) out[key] = withoutSecrets(v, depth + 1);
  }
  return out;
}
