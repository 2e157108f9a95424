import type { FastifyInstance } from "fastify";
import type { StatusSource } from "../status.js";
import { withoutSecrets } from "./backends.js";

/**
 * GET /backups: every backup at every destination (complete or not, GTID, size, verified and
 * when), the schedule's next run, the last backup and verify, and the binlog archive. Behind
 * admin.token like the other endpoints (auth.ts); nothing here may hold a credential.
 */
export function registerBackupRoutes(app: FastifyInstance, status: StatusSource): void {
  app.get("/backups", async (_request, reply) => {
    if (status.backups === undefined) {
      return reply.code(404).send({ error: "backups are not configured (no backup: section)" });
    }
    return withoutSecrets(await status.backups(), 0);
  });
}
