import type { FastifyInstance } from "fastify";
import { DIGEST_SORTS, type DigestSort } from "../../digests/store.js";
import type { StatusSource } from "../status.js";

const MAX_LIMIT = 1000;

/**
 * Query digests (ProxySQL's `stats_mysql_query_digest`): `GET /digests?sort=total_time&limit=50`
 * lists statement shapes (literals folded to `?`) per user and schema with their counts, times,
 * rows, errors and routes; `POST /digests/reset` forgets them all. A bad `sort` or `limit` is a
 * 400 that names the accepted values.
 */
export function registerDigestRoutes(app: FastifyInstance, status: StatusSource): void {
  const digests = status.digests;
  app.get("/digests", async (request, reply) => {
    if (digests === undefined) return reply.code(404).send({ error: "this proxy keeps no query digests" });
    const q = request.query as Record<string, string | undefined>;
    const sort = (q.sort ?? "total_time") as DigestSort;
    if (!DIGEST_SORTS.includes(sort)) {
      return reply
        .code(400)
        .send({ error: `sort must be one of ${DIGEST_SORTS.join(", ")}; got "${q.sort}"` });
    }
    const limit = q.limit === undefined ? 50 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      return reply
        .code(400)
        .send({ error: `limit must be a whole number from 1 to ${MAX_LIMIT}; got "${q.limit}"` });
    }
    return digests.list(sort, limit);
  });

  app.post("/digests/reset", async (_request, reply) => {
    if (digests === undefined) return reply.code(404).send({ error: "this proxy keeps no query digests" });
    digests.reset();
    return { reset: true };
  });
}
