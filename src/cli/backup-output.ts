import cliProgress from "cli-progress";
import type { Catalog } from "../backup/catalog.js";
import type { BackupEvent, Report } from "../backup/events.js";

/**
 * How `rwsplit backup` talks: on a terminal a progress bar and plain lines; otherwise (cron, CI,
 * a pipe) one JSON object per line on stdout, so a wrapper can parse every event and the result.
 */

export const tty = (): boolean => process.stdout.isTTY === true;

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

export function reporter(): { report: Report; close(): void } {
  if (!tty()) {
    return {
      report: (e) => process.stdout.write(`${JSON.stringify({ ...e, at: new Date().toISOString() })}\n`),
      close() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: "backup [{bar}] {percentage}% | {raw} read, {stored} stored | {duration_formatted}",
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let barOn = false;
  const line = (s: string) => {
    if (barOn) {
      bar.stop();
      barOn = false;
    }
    process.stdout.write(`${s}\n`);
  };
  const report = (e: BackupEvent) => {
    switch (e.event) {
      case "source":
        line(`source: ${e.source} (${e.why})`);
        for (const r of e.rejected) line(`  not ${r.name}: ${r.why}`);
        break;
      case "start":
        line(`backup ${e.id} (${e.method})${e.totalBytes ? `, about ${mb(e.totalBytes)} of tables` : ""}`);
        bar.start(e.totalBytes ?? 1, 0, { raw: mb(0), stored: mb(0) });
        barOn = true;
        break;
      case "progress":
        if (barOn) {
          const total = e.totalBytes ?? Math.max(e.rawBytes, 1);
          bar.setTotal(Math.max(total, e.rawBytes));
          bar.update(e.rawBytes, { raw: mb(e.rawBytes), stored: mb(e.storedBytes) });
        }
        break;
      case "destination":
        line(e.ok ? `  ${e.destination}: complete` : `  ${e.destination}: FAILED: ${e.error}`);
        break;
      case "step":
        line(`  ${e.step}`);
        break;
      case "done":
        line(e.ok ? `done in ${(e.durationMs / 1000).toFixed(1)} s` : `FAILED: ${e.error}`);
        break;
    }
  };
  return {
    report,
    close() {
      if (barOn) bar.stop();
    },
  };
}

/** Prints a result: a JSON line, or the human lines. */
export function result(json: Record<string, unknown>, human: string[]): void {
  if (tty()) for (const l of human) process.stdout.write(`${l}\n`);
  else process.stdout.write(`${JSON.stringify({ event: "result", ...json })}\n`);
}

function age(iso: string, now: number): string {
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 120) return `${Math.round(s)}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** `backup list`: one row per backup; incomplete ones only with --all. */
export function listRows(catalog: Catalog, all: boolean, now = Date.now()): string[] {
  const header = ["ID", "METHOD", "SOURCE", "GTID", "SIZE", "AGE", "VERIFIED", "WHERE"];
  const out: string[][] = [header];
  let incomplete = 0;
  for (const e of catalog.entries) {
    const m = e.manifest;
    const where = e.copies
      .map((c) => `${c.destination}${c.complete ? "" : c.damaged ? "(damaged)" : "(incomplete)"}`)
      .join(",");
    if (m === null) {
      incomplete++;
      if (all)
        out.push([
          e.id,
          "-",
          "-",
          "-",
          mb(Math.max(...e.copies.map((c) => c.bytes))),
          "-",
          "INCOMPLETE",
          where,
        ]);
      continue;
    }
    const v = m.verification;
    const verified = v === null ? "never" : `${v.ok ? "ok" : "FAILED"} ${age(v.at, now)} ago`;
    const size = m.files.reduce((n, f) => n + f.bytes, 0);
    out.push([e.id, m.method, m.source.name, m.gtid, mb(size), age(m.finishedAt, now), verified, where]);
  }
  const widths = header.map((_, i) => Math.max(...out.map((r) => r[i]!.length)));
  const lines = out.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd(),
  );
  if (incomplete > 0 && !all)
    lines.push(
      `(${incomplete} incomplete: files without a manifest, from a failed or killed run; --all shows them)`,
    );
  for (const u of catalog.unreachable) lines.push(`destination ${u.destination} unreachable: ${u.error}`);
  return lines;
}
