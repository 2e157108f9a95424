import type { Logger } from "pino";
import type { BackendConfig, Config } from "../config/types.js";
import type { Metrics } from "../metrics/registry.js";
import { BinlogArchiver } from "./binlog-archive.js";
import { entrySummary } from "./catalog.js";
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
  scheduler: BackupScheduler | null;
  archiver: BinlogArchiver | null;
  status(): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startBackupJobs(
  config: Config,
  deps: {
    logger: Logger;
    metrics: Metrics;
    topology: () => Topology;
    lagMs: (name: string) => number | null;
    instanceId: string;
    /** The backends now (a reload adds and removes them); default: the config's. */
    backends?: () => readonly BackendConfig[];
  },
): Promise<BackupJobs | null> {
  const b = config.backup;
  if (b === undefined) return null;
  const logger = deps.logger.child({ component: "backup" });
  const destinations = await openDestinations(b.destinations);
  const fixed = [config.backends.primary, ...config.backends.replicas];
  const current = deps.backends ?? (() => fixed);
  const service = new BackupService({
    backup: b,
    get backends() {
      return current();
    },
    destinations,
    topology: deps.topology,
    logger,
    metrics: deps.metrics.backup,
    lagMs: deps.lagMs,
  });
  const lock = config.redis ? await redisSlotLock(config.redis.url, deps.instanceId) : localSlotLock();
  const scheduler = b.schedule
    ? new BackupScheduler(b.schedule, service, lock, b.verifyAfterBackup, logger)
    : null;
  scheduler?.start();
  const archiver = b.binlogs.enabled
    ? new BinlogArchiver({
        backup: b,
        get backends() {
          return current();
        },
        destinations,
        primary: () => deps.topology().primary,
        logger,
        metrics: deps.metrics.backup,
      })
    : null;
  archiver?.start();
  if (scheduler === null) lock.close();
  // Backups and verifies run by the CLI (an operator, a cron job) show in this process's metrics
  // too: the newest complete backup per destination and the newest verification, from the
  // manifests, at start and every minute.
  const refresh = async () => {
    try {
      const catalog = await service.catalog();
      let verified: { ok: boolean; at: string } | null = null;
      for (const e of catalog.entries) {
        const v = e.manifest?.verification;
        if (v && (verified === null || v.at > verified.at)) verified = v;
        for (const c of e.copies) {
          if (c.manifest === null) continue;
          const bytes = c.manifest.files.reduce((n, f) => n + f.bytes, 0);
          deps.metrics.backup.succeeded(
            c.destination,
            bytes,
            c.manifest.durationMs / 1000,
            Date.parse(c.manifest.finishedAt),
          );
        }
      }
      if (verified !== null) deps.metrics.backup.verified(verified.ok, Date.parse(verified.at));
    } catch (e) {
      logger.warn({ err: (e as Error).message }, "could not read the backup catalog for the metrics");
    }
  };
  void refresh();
  const refresher = setInterval(() => void refresh(), 60_000);
  refresher.unref();
  return {
    service,
    archiver,
    scheduler,
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
          ...entrySummary(e),
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
      clearInterval(refresher);
      await scheduler?.stop();
      await archiver?.stop();
      for (const d of destinations) d.close();
    },
  };
}
