import type { FastifyInstance } from "fastify";
import type { Metrics } from "../../metrics/registry.js";
import type { StatusSource } from "../status.js";

/**
 * Prometheus scrape endpoint (text format 0.0.4). The per-backend gauges are refreshed from the same
 * snapshot `/backends` shows, at scrape time, so the two never disagree.
 */
export function registerMetricsRoute(app: FastifyInstance, status: StatusSource, metrics: Metrics): void {
  app.get("/metrics", async (_request, reply) => {
    metrics.observeBackends(status.backends());
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
}
