import type { FastifyInstance } from "fastify";
import type { StatusSource } from "../status.js";

/**
 * Liveness and readiness, as Kubernetes probes read them: `/healthz` answers while the process can
 * serve HTTP at all; `/readyz` only while clients can connect and writes can be served, and a 503
 * body says which of the two is missing so an operator does not have to guess.
 */
export function registerHealthRoutes(app: FastifyInstance, status: StatusSource): void {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const listening = status.listening();
    const primaryReachable = status.primaryReachable();
    if (listening && primaryReachable) return { status: "ready", listening, primaryReachable };
    const reasons: string[] = [];
    if (!listening) reasons.push("the proxy is not listening for clients");
    if (!primaryReachable) reasons.push("the primary is unreachable: writes cannot be served");
    return reply.code(503).send({ status: "not_ready", listening, primaryReachable, reasons });
  });
}
