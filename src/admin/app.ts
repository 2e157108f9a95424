import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Metrics } from "../metrics/registry.js";
import { authorize } from "./auth.js";
import { registerBackendRoutes } from "./routes/backends.js";
import { registerControlRoutes } from "./routes/control.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import type { StatusSource } from "./status.js";

export interface AdminAppOptions {
  status: StatusSource;
  metrics: Metrics;
  logger: Logger;
  /** admin.token: required as a Bearer token on all but the probes and /metrics (auth.ts). */
  token?: string | undefined;
}

/**
 * Fastify logs every request twice at info ("incoming request", "request completed"). Prometheus
 * scrapes and probes hit this app every few seconds, so those lines go to debug; failed requests
 * keep Fastify's own error logging.
 */
class AdminLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply);
      return;
    }
    reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
  }
}

/**
 * The admin HTTP app: `/healthz`, `/readyz`, `/backends`, `/topology`, `/sessions`, `/metrics`,
 * and POST `/switchover`, `/rejoin`, `/failover`. Not listening:
 * the caller runs `app.listen({ host, port })` and `app.close()`.
 */
export function createAdminApp(options: AdminAppOptions): FastifyInstance {
  const { status, metrics, logger } = options;
  const app = Fastify({
    // Typed as Fastify's logger interface: with pino's own type Fastify infers an instance type that
    // its route helpers do not accept (childLoggerFactory variance).
    loggerInstance: logger.child({ component: "admin" }) as FastifyBaseLogger,
    logController: new AdminLogController(),
  });
  app.addHook("onRequest", async (request, reply) => {
    const q = request.url.indexOf("?");
    const denied = authorize(
      {
        method: request.method,
        path: q < 0 ? request.url : request.url.slice(0, q),
        remoteAddress: request.socket.remoteAddress,
        authorization: request.headers.authorization,
      },
      options.token,
    );
    if (denied === null) return;
    if (denied.status === 401) reply.header("www-authenticate", 'Bearer realm="rwsplit"');
    return reply.code(denied.status).send({ error: denied.error });
  });
  registerHealthRoutes(app, status);
  registerBackendRoutes(app, status);
  registerMetricsRoute(app, status, metrics);
  registerControlRoutes(app, status);
  return app;
}
