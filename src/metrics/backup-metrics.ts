import { Counter, Gauge, type Registry } from "prom-client";

/**
 * The `rwsplit_backup_*` metrics (issue #16), on the Metrics registry. Updated by the backup
 * service when a backup, a verify or a scrub ends; nothing here is on a hot path.
 */
export class BackupMetrics {
  private readonly lastSuccess: Gauge;
  private readonly duration: Gauge;
  private readonly bytes: Gauge;
  private readonly failures: Counter;
  private readonly verifyOk: Gauge;
  private readonly verifyAt: Gauge;
  private readonly badCopies: Gauge;
  private readonly binlogBytes: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.lastSuccess = new Gauge({
      name: "rwsplit_backup_last_success_timestamp",
      help: "Unix time (seconds) the last backup completed at this destination (manifest written after every checksum was read back).",
      labelNames: ["destination"],
      registers,
    });
    this.duration = new Gauge({
      name: "rwsplit_backup_duration_seconds",
      help: "How long the last successful backup took, from start to its last manifest.",
      registers,
    });
    this.bytes = new Gauge({
      name: "rwsplit_backup_bytes",
      help: "Bytes stored by the last successful backup at this destination (compressed data and log).",
      labelNames: ["destination"],
      registers,
    });
    this.failures = new Counter({
      name: "rwsplit_backup_failures_total",
      help: "Backups that failed, whole or at one destination, by reason (no_source, source_failed, destination_failed, checksum_mismatch, killed).",
      labelNames: ["destination", "reason"],
      registers,
    });
    this.verifyOk = new Gauge({
      name: "rwsplit_backup_last_verify_success",
      help: "1 when the last `backup verify` restored the backup with checksums equal to the source's, 0 when it failed.",
      registers,
    });
    this.verifyAt = new Gauge({
      name: "rwsplit_backup_last_verify_timestamp",
      help: "Unix time (seconds) of the last `backup verify`, whatever its result.",
      registers,
    });
    this.badCopies = new Gauge({
      name: "rwsplit_backup_bad_copies",
      help: "Files whose stored bytes did not match their checksum at the last scrub or verify, by destination.",
      labelNames: ["destination"],
      registers,
    });
    this.binlogBytes = new Counter({
      name: "rwsplit_binlog_archive_bytes_total",
      help: "Binary log bytes archived (uploaded and read back), by destination.",
      labelNames: ["destination"],
      registers,
    });
  }

  succeeded(destination: string, bytes: number, durationSeconds: number, at = Date.now()): void {
    this.lastSuccess.set({ destination }, at / 1000);
    this.bytes.set({ destination }, bytes);
    this.duration.set(durationSeconds);
  }

  failed(destination: string, reason: string): void {
    this.failures.inc({ destination, reason });
  }

  verified(ok: boolean, at = Date.now()): void {
    this.verifyOk.set(ok ? 1 : 0);
    this.verifyAt.set(at / 1000);
  }

  scrubbed(badByDestination: ReadonlyMap<string, number>): void {
    for (const [destination, n] of badByDestination) this.badCopies.set({ destination }, n);
  }

  binlogArchived(destination: string, bytes: number): void {
    this.binlogBytes.inc({ destination }, bytes);
  }
}
