import type { Logger } from "pino";
import type { BackendConfig, BackupConfig } from "../config/types.js";
import type { BackupMetrics } from "../metrics/backup-metrics.js";
import { binlogKey, readArchive } from "./binlog-index.js";
import { prunableBinlogs } from "./binlog-plan.js";
import { destinationCopies, readCatalog } from "./catalog.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";
import { backupKey, MANIFEST } from "./manifest.js";
import { planRetention, type RetentionPlan, timeOfId } from "./retention.js";
import { BackupFailure, type RunResult, runBackup } from "./run.js";
import { type ScrubResult, scrub } from "./scrub.js";
import { verifyBackup } from "./verify.js";

/**
 * Backups as `serve`'s scheduler and the CLI run them: a backup, then retention at each
 * destination where it completed (never after a failure: a failed backup deletes nothing), then
 * the metrics and one log line per outcome, with the reason.
 */

export interface Topology {
  primary: string;
  fenced: readonly string[];
}

export interface ServiceOptions {
  backup: BackupConfig;
  backends: readonly BackendConfig[];
  destinations: readonly Destination[];
  topology: () => Promise<Topology> | Topology;
  logger: Logger;
  metrics?: BackupMetrics;
  lagMs?: (name: string) => number | null;
}

export interface LastOutcome {
  at: string;
  ok: boolean;
  id: string | null;
  error: string | null;
  destinations?: { name: string; ok: boolean; error?: string }[];
}

export class BackupService {
  lastBackup: LastOutcome | null = null;
  lastVerify: LastOutcome | null = null;
  running: string | null = null;
  /** Backups this process started, and how many of them completed somewhere. */
  runs = { started: 0, succeeded: 0 };

  constructor(readonly o: ServiceOptions) {}

  async backup(
    report?: Report,
    signal?: AbortSignal,
  ): Promise<RunResult & { retention: Map<string, RetentionPlan> }> {
    const { o } = this;
    this.running = "backup";
    this.runs.started++;
    const started = Date.now();
    try {
      const result = await runBackup({
        backup: o.backup,
        backends: o.backends,
        topology: await o.topology(),
        destinations: o.destinations,
        logger: o.logger,
        ...(report ? { report } : {}),
        ...(o.lagMs ? { lagMs: o.lagMs } : {}),
        ...(signal ? { signal } : {}),
      });
      const bytes = result.manifest.files.reduce((n, f) => n + f.bytes, 0);
      for (const d of result.destinations) {
        if (d.ok) o.metrics?.succeeded(d.name, bytes, (Date.now() - started) / 1000);
        else o.metrics?.failed(d.name, d.reason ?? "destination_failed");
      }
      const retention = new Map<string, RetentionPlan>();
      for (const d of o.destinations.filter((x) => result.destinations.find((r) => r.name === x.name)?.ok)) {
        try {
          retention.set(d.name, await this.applyRetention(d));
        } catch (e) {
          o.logger.warn(
            { destination: d.name, err: (e as Error).message },
            "retention failed (nothing more was deleted)",
          );
        }
      }
      o.logger.info(
        {
          id: result.id,
          gtid: result.manifest.gtid,
          source: result.manifest.source.name,
          bytes,
          destinations: result.destinations,
        },
        "backup complete",
      );
      this.lastBackup = {
        at: new Date().toISOString(),
        ok: true,
        id: result.id,
        error: null,
        destinations: result.destinations,
      };
      this.runs.succeeded++;
      return { ...result, retention };
    } catch (e) {
      const reason = e instanceof BackupFailure ? e.reason : "source_failed";
      for (const d of o.destinations) o.metrics?.failed(d.name, reason);
      o.logger.error({ reason, err: (e as Error).message }, "backup failed");
      this.lastBackup = { at: new Date().toISOString(), ok: false, id: null, error: (e as Error).message };
      throw e;
    } finally {
      this.running = null;
    }
  }

  async verify(id?: string, report?: Report) {
    this.running = "verify";
    try {
      const r = await verifyBackup({
        backup: this.o.backup,
        destinations: this.o.destinations,
        logger: this.o.logger,
        ...(id ? { id } : {}),
        ...(report ? { report } : {}),
      });
      this.o.metrics?.verified(r.verification.ok);
      const bad = new Map(this.o.destinations.map((d) => [d.name, 0]));
      for (const b of r.verification.badCopies) bad.set(b.destination, (bad.get(b.destination) ?? 0) + 1);
      this.o.metrics?.scrubbed(bad);
      this.lastVerify = {
        at: r.verification.at,
        ok: r.verification.ok,
        id: r.id,
        error: r.verification.error,
      };
      return r;
    } finally {
      this.running = null;
    }
  }

  async scrub(report?: Report): Promise<ScrubResult> {
    const r = await scrub(this.o.destinations, this.o.logger, report);
    const bad = new Map(this.o.destinations.map((d) => [d.name, 0]));
    for (const b of r.bad) bad.set(b.destination, (bad.get(b.destination) ?? 0) + 1);
    this.o.metrics?.scrubbed(bad);
    return r;
  }

  /** Deletes what the destination's retention does not keep: the manifest first, so a half-deleted backup is never complete. */
  async applyRetention(d: Destination, now = new Date()): Promise<RetentionPlan> {
    const copies = await destinationCopies(d);
    const items = [...copies].map(([id, c]) => ({
      id,
      createdAt: c.manifest ? new Date(c.manifest.startedAt) : (timeOfId(id) ?? now),
      complete: c.complete,
      verifiedOk: c.manifest?.verification?.ok === true,
    }));
    const policy = this.o.backup.destinations.find((x) => x.name === d.name)?.retention ?? {
      last: 1,
      daily: 7,
      weekly: 4,
    };
    const plan = planRetention(items, policy, now);
    for (const r of plan.remove) {
      const keys = (await d.list(`backups/${r.id}/`)).map((x) => x.key);
      const manifest = backupKey(r.id, MANIFEST);
      if (keys.includes(manifest)) await d.remove([manifest]);
      await d.remove(keys.filter((k) => k !== manifest));
      this.o.logger.info({ destination: d.name, id: r.id, why: r.why }, "backup removed by retention");
    }
    await this.pruneBinlogs(d);
    return plan;
  }

  /** Archived binlogs older than the oldest backup this destination keeps (index entry first). */
  private async pruneBinlogs(d: Destination): Promise<void> {
    const kept = [...(await destinationCopies(d)).values()].flatMap((c) => (c.manifest ? [c.manifest] : []));
    if (kept.length === 0) return;
    const oldest = kept.sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0]!;
    const { files } = await readArchive([d]);
    for (const f of prunableBinlogs(files, oldest.gtid)) {
      const key = binlogKey(f.server, f.file);
      await d.remove([`${key}.json`]);
      await d.remove([key]);
      this.o.logger.info(
        { destination: d.name, binlog: key, before: oldest.gtid },
        "archived binlog removed by retention",
      );
    }
  }

  catalog() {
    return readCatalog(this.o.destinations);
  }
}
