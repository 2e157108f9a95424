import type { FastifyInstance, FastifyReply } from "fastify";
import type { StatusSource } from "../status.js";
import { withoutSecrets } from "./backends.js";

/**
 * Topology changes over HTTP, for `rwsplit switchover|rejoin|failover` and for operators' own
 * tooling (MaxScale's `maxctrl call command mariadbmon switchover` is the model):
 *
 *   POST /switchover {"to": "replica1"}   planned move of the primary
 *   POST /rejoin     {"backend": "db1"}   a fenced former primary becomes a replica
 *   POST /failover                        promote now (only when the primary is down)
 *
 * Each answers 200 with the report of the steps taken, or the error's status (400 bad request,
 * 409 conflict, 500 failed midway, 503 nothing to promote) with `{error, report?}`.
 */
export function registerControlRoutes(app: FastifyInstance, status: StatusSource): void {
  const control = status.control;
  if (control === undefined) return;
  const run = async (reply: FastifyReply, work: () => Promise<unknown>) => {
    try {
      return { report: withoutSecrets(await work(), 0) };
    } catch (e) {
      const code = (e as { status?: number }).status ?? 500;
      return reply.code(code).send({ error: e instanceof Error ? e.message : String(e) });
    }
  };
  const field = (body: unknown, key: string): string | null => {
    const v = typeof body === "object" && body !== null ? (body as Record<string, unknown>)[key] : undefined;
    return typeof v === "string" && v.length > 0 ? v : null;
  };
  app.post("/switchover", async (request, reply) => {
    const to = field(request.body, "to");
    if (to === null) return reply.code(400).send({ error: 'expected a JSON body {"to": "<backend name>"}' });
    return run(reply, () => control.switchover(to));
  });
  app.post("/rejoin", async (request, reply) => {
    const name = field(request.body, "backend");
    if (name === null)
      return reply.code(400).send({ error: 'expected a JSON body {"backend": "<backend name>"}' });
    return run(reply, () => control.rejoin(name));
  });
  app.post("/failover", async (_request, reply) => run(reply, () => control.failover()));
}
