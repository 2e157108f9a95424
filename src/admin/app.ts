import { createRequire } from "node:module";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import type { Metrics } from "../metrics/registry.js";
import { authorize } from "./auth.js";
import { LiveHistory, type TopologyView } from "./console/live.js";
import { registerBackendRoutes, withoutSecrets } from "./routes/backends.js";
import { registerBackupRoutes } from "./routes/backups.js";
import { registerConsoleRoutes } from "./routes/console.js";
import { registerControlRoutes } from "./routes/control.js";
import { registerDigestRoutes } from "./routes/digests.js";
import { registerHealthRoutes } from "./routes/health.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import { registerRuntimeRoutes } from "./routes/runtime.js";
import type { StatusSource } from "./status.js";

export interface AdminAppOptions {
  status: StatusSource;
  metrics: Metrics;
  logger: Logger;
  /** admin.token: required as a Bearer token on all but the probes and /metrics (auth.ts). */
  token?: string | undefined;
  /** The status page's sampling period (default 1000 ms). */
  consolePeriodMs?: number;
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

type Compilers = Required<
  NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>
>;

/**
 * Fastify loads ajv and fast-json-stringify, for route schemas, whenever it creates an app. The
 * admin routes declare no schema, so these load only if a route ever asks for them: they are a
 * third of the admin app's code, which stays in memory as long as the proxy runs. They come from
 * fastify's own dependencies, as fastify would load them.
 */
function lazySchemaCompilers(): Compilers {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve("fastify"));
  type Factory = (...args: unknown[]) => unknown;
  const lazy = (name: string): Factory => {
    let factory: Factory | undefined;
    return (...args) => {
      factory ??= (fromFastify(name) as () => Factory)();
      return factory(...args);
    };
  };
  return {
    buildValidator: lazy("@fastify/ajv-compiler") as unknown as Compilers["buildValidator"],
    buildSerializer: lazy("@fastify/fast-json-stringify-compiler") as unknown as Compilers["buildSerializer"],
  };
}

/**
 * The admin HTTP app: the status page at `/`, `/healthz`, `/readyz`, `/backends`, `/topology`,
 * `/sessions`, `/metrics`, `/digests`, `/events`, `/backups`, `/config`, and POST `/switchover`,
 * `/rejoin`, `/failover`, `/digests/reset`, `/config/reload`, `/backends/NAME/drain|undrain`. Not listening: the caller runs `app.listen({ host, port })` and
 * `app.close()`; the status page's sampler runs from `ready` to `close`.
 */
export function createAdminApp(options: AdminAppOptions): FastifyInstance {
  const { status, metrics, logger } = options;
  const app = Fastify({
    // Typed as Fastify's logger interface: with pino's own type Fastify infers an instance type that
    // its route helpers do not accept (childLoggerFactory variance).
    loggerInstance: logger.child({ component: "admin" }) as FastifyBaseLogger,
    logController: new AdminLogController(),
    schemaController: { compilersFactory: lazySchemaCompilers() },
  });
  app.addHook("onRequest", async (request, reply) => {
    const q = request.url.indexOf("?");
    const denied = authorize(
      {
        method: request.method,
        path: q < 0 ? request.url : request.url.slice(0, q),
        remoteAddress: request.socket.remoteAddress,
        authorization: request.headers.authorization,
        cookie: request.headers.cookie,
      },
      options.token,
    );
    if (denied === null) return;
    if (
      denied.status === 401 &&
      request.method === "GET" &&
      (request.url === "/" || request.url.startsWith("/?"))
    ) {
      // A browser opening the page: the login form, not JSON.
      return reply.redirect("/login", 303);
    }
    if (denied.status === 401) reply.header("www-authenticate", 'Bearer realm="rwsplit"');
    return reply.code(denied.status).send({ error: denied.error });
  });
  const live = new LiveHistory(
    {
      backends: () => status.backends(),
      topology: () =>
        status.topology === undefined ? null : (withoutSecrets(status.topology(), 0) as TopologyView | null),
      counters: () => ({
        queries: metrics.queryTotals(),
        errors: metrics.errorTotals(),
        kinds: status.statementKinds?.() ?? { read: 0, write: 0, session: 0 },
        clients: metrics.clientConnections,
      }),
      digests: () => {
        const d = status.digests;
        if (d === undefined) return null;
        if (d.recent !== undefined) return d.recent();
        const listing = d.list("total_time", 10);
        return listing instanceof Promise ? null : listing;
      },
      events: (limit) => status.events?.list(limit, 0) ?? [],
    },
    { periodMs: options.consolePeriodMs ?? 1000 },
  );
  app.addHook("onReady", async () => live.start());
  app.addHook("onClose", async () => live.stop());
  registerHealthRoutes(app, status);
  registerBackendRoutes(app, status);
  registerMetricsRoute(app, status, metrics);
  registerControlRoutes(app, status);
  registerDigestRoutes(app, status);
  registerConsoleRoutes(app, { status, live, token: options.token });
  registerBackupRoutes(app, status);
  registerRuntimeRoutes(app, status, options.token !== undefined);
  return app;
}
