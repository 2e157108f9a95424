import type { Logger } from "pino";
import type { Config } from "../config/types.js";
import type { Metrics } from "../metrics/registry.js";
import { BinlogArchiver } from "./binlog-archive.js";
import { openDestinations } from "./destinations/index.js";
import { BackupScheduler } from "./schedule.js";
import { BackupService, type Topology } from "./service.js";
import { localSlotLock, redisSlotLock } from "./slot-lock.js";

/**
 * What `rwsplit serve` runs for backups, from the `backup:` section: the schedule (with the
 * fleet's slot lock when redis.url is set) and the binlog archive, both following the proxy's
 * own topology. `status()` is what GET /backups shows.
 */

export interface BackupJobs {
  service: BackupService;
  archiver: BinlogArchiver | null;
  status(): Promise<unknown>;
  stop(): Promise<void>;
}

export function startBackupJobs(
  config: Config,
  deps: {
    logger: Logger;
    metrics: Metrics;
    topology: () => Topology;
    lagMs: (name: string) => number | null;
    instanceId: string;
  },
): BackupJobs | null {
  const b = config.backup;
  if (b === undefined) return null;
  const logger = deps.logger.child({ component: "backup" });
  const destinations = openDestinations(b.destinations);
  const backends = [config.backends.primary, ...config.backends.replicas];
  const service = new BackupService({
    backup: b,
    backends,
    destinations,
    topology: deps.topology,
    logger,
    metrics: deps.metrics.backup,
    lagMs: deps.lagMs,
  });
  const lock = config.redis ? redisSlotLock(config.redis.url, deps.instanceId) : localSlotLock();
  const scheduler = b.schedule
    ? new BackupScheduler(b.schedule, service, lock, b.verifyAfterBackup, logger)
    : null;
  scheduler?.start();
  const archiver = b.binlogs.enabled
    ? new BinlogArchiver({
        backup: b,
        backends,
        destinations,
        primary: () => deps.topology().primary,
        logger,
        metrics: deps.metrics.backup,
      })
    : null;
  archiver?.start();
  if (scheduler === null) lock.close();
  return {
    service,
    archiver,
    async status() {
      const catalog = await service.catalog();
      return {
        schedule: scheduler?.status() ?? null,
        running: service.running,
        runs: service.runs,
        lastBackup: service.lastBackup,
        lastVerify: service.lastVerify,
        binlogArchive: archiver?.status() ?? null,
        destinations: destinations.map((d) => ({ name: d.name, where: d.where })),
        unreachable: catalog.unreachable,
        backups: catalog.entries.map((e) => ({
          id: e.id,
          complete: e.manifest !== null,
          method: e.manifest?.method ?? null,
          source: e.manifest?.source.name ?? null,
          gtid: e.manifest?.gtid ?? null,
          bytes: e.manifest?.files.reduce((n, f) => n + f.bytes, 0) ?? null,
          finishedAt: e.manifest?.finishedAt ?? null,
          verified: e.manifest?.verification
            ? {
                ok: e.manifest.verification.ok,
                at: e.manifest.verification.at,
                error: e.manifest.verification.error,
              }
            : null,
          copies: e.copies.map((c) => ({ destination: c.destination, complete: c.complete, bytes: c.bytes })),
        })),
      };
    },
    async stop() {
      await scheduler?.stop();
      await archiver?.stop();
      for (const d of destinations) d.close();
    },
  };
}
