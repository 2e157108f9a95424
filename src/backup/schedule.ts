import { Cron } from "croner";
import type { Logger } from "pino";
import type { BackupService } from "./service.js";
import type { SlotLock } from "./slot-lock.js";

/**
 * Scheduled backups inside `rwsplit serve`: a croner job on `backup.schedule` (cron syntax, UTC),
 * one run at a time (`protect`), claimed through the slot lock so one proxy of a fleet runs it,
 * verified right after when `backup.verify_after_backup`. Failures are logged with their reason
 * and counted by the service; the schedule carries on.
 */
export class BackupScheduler {
  private readonly job: Cron;
  private skipped = 0;
  /** Runs this instance claimed (and so ran, or tried to). */
  private claimed = 0;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();

  constructor(
    pattern: string,
    private readonly service: BackupService,
    private readonly lock: SlotLock,
    private readonly verifyAfter: boolean,
    private readonly logger: Logger,
  ) {
    this.job = new Cron(pattern, { protect: true, timezone: "UTC", paused: true }, (self) =>
      this.tick(self.currentRun() ?? new Date()),
    );
  }

  start(): void {
    this.job.resume();
  }

  /** No new runs; a running backup is aborted (its tool killed, its replica resumed) and awaited. */
  async stop(): Promise<void> {
    this.job.stop();
    this.abort.abort();
    await this.running;
    this.lock.close();
  }

  status(): { pattern: string; nextRun: string | null; busy: boolean; claimed: number; skipped: number } {
    return {
      pattern: this.job.getPattern() ?? "",
      nextRun: this.job.nextRun()?.toISOString() ?? null,
      busy: this.job.isBusy(),
      claimed: this.claimed,
      skipped: this.skipped,
    };
  }

  private async tick(slot: Date): Promise<void> {
    let mine: boolean;
    try {
      mine = await this.lock.claim(slot);
    } catch (e) {
      this.skipped++;
      this.logger.warn(
        { slot, err: (e as Error).message },
        "scheduled backup skipped: the fleet lock (Redis) did not answer",
      );
      return;
    }
    if (!mine) {
      this.logger.info({ slot }, "scheduled backup taken by another proxy of the fleet");
      return;
    }
    this.claimed++;
    try {
      const r = await this.service.backup(undefined, this.abort.signal);
      if (this.verifyAfter && !this.abort.signal.aborted) await this.service.verify(r.id);
    } catch {
      // Logged and counted by the service.
    }
  }
}
