import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { StatusSource } from "../status.js";
import { withoutSecrets } from "./backends.js";

/**
 * Changing the cluster while it runs (issue #18), for `rwsplit reload|drain|undrain` and
 * operators' own tooling:
 *
 *   POST /config/reload            re-read the config file and apply what changed
 *   POST /backends/NAME/drain      no new reads on replica NAME; in-flight work finishes
 *   POST /backends/NAME/undrain    back in service
 *   GET  /config                   the config version this instance runs, what waits for a
 *                                  restart, the last reload, the fleet's versions
 *
 * A reload answers 200 with what changed, or 400 with the file's problems per key (nothing
 * changed); refusals answer 404 (unknown backend) or 409 (the primary, no config file). Like
 * every change, these need the admin token when one is set, and come from loopback otherwise
 * (auth.ts).
 */
export function registerRuntimeRoutes(app: FastifyInstance, status: StatusSource, hasToken: boolean): void {
  const runtime = status.runtime;
  if (runtime === undefined) return;
  /** Who asked, for the log: the admin token holder (from its address), or a local caller. */
  const who = (request: FastifyRequest) =>
    `${hasToken ? "admin token holder" : "admin (no token, loopback)"} from ${request.socket.remoteAddress ?? "unknown"}`;
  const refused = (reply: FastifyReply, e: unknown) => {
    const code = (e as { status?: number }).status ?? 500;
    return reply.code(code).send({ error: e instanceof Error ? e.message : String(e) });
  };
  app.post("/config/reload", async (request, reply) => {
    try {
      const report = await runtime.reload(who(request));
      return reply.code(report.ok ? 200 : 400).send(withoutSecrets(report, 0));
    } catch (e) {
      return refused(reply, e);
    }
  });
  app.post<{ Params: { name: string } }>("/backends/:name/drain", async (request, reply) => {
    try {
      return withoutSecrets(await runtime.drain(request.params.name, who(request)), 0);
    } catch (e) {
      return refused(reply, e);
    }
  });
  app.post<{ Params: { name: string } }>("/backends/:name/undrain", async (request, reply) => {
    try {
      return withoutSecrets(await runtime.undrain(request.params.name, who(request)), 0);
    } catch (e) {
      return refused(reply, e);
    }
  });
  app.get("/config", async () => ({ config: withoutSecrets(runtime.status(), 0) }));
}
