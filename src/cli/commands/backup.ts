import type { Command } from "commander";
import { BinlogArchiver } from "../../backup/binlog-archive.js";
import { entrySummary } from "../../backup/catalog.js";
import { openDestinations } from "../../backup/destinations/index.js";
import { restoreBackup } from "../../backup/restore.js";
import { BackupService, type Topology } from "../../backup/service.js";
import { ensureTools } from "../../backup/tools.js";
import { formatProblems, loadConfig } from "../../config/load.js";
import type { BackupConfig, Config } from "../../config/types.js";
import { discoverTopology, readBackendPositions } from "../../ha/discovery.js";
import { createLogger } from "../../log.js";
import { listRows, reporter, result } from "../backup-output.js";

/**
 * `rwsplit backup run|list|verify|scrub|restore|prune|binlogs`: backups taken from a replica to
 * every configured destination, verified by restoring them, point-in-time recovery from the
 * binlog archive. They read the `backup:` section of --config and talk to the servers directly
 * (no running proxy needed). Exit 0 when it worked, 1 when it failed, 2 on bad usage or config.
 */

const HELP = `
In more detail:
  run       take a backup now: from the healthiest, least-lagged replica (the primary only with
            backup.allow_primary), mariadb-backup (or mariadb-dump with method: logical),
            compressed, SHA-256 per file, to every destination; complete at a destination once
            its manifest is written, after every file was read back from there
  list      every backup: where it lives, size, GTID, age, verified or not and when
  verify    restore a backup (default: the newest) into a scratch mariadbd on a free port,
            compare CHECKSUM TABLE of every table with the source at the backup's GTID, scan the
            logs; the result goes into the manifest and the metrics
  scrub     re-read every file at every destination and check its SHA-256; names bad copies and
            where the good one is
  restore   restore a backup into --target-dir, then replay the binlog archive up to --to-gtid
            or --to-time (e.g. just before an accidental DROP TABLE); the directory is then
            ready to start as a replica or a replacement primary
  prune     apply each destination's retention now (keep N daily / M weekly, never the newest
            verified backup)
  binlogs   archive the primary's binlogs into the destinations until stopped (rwsplit serve
            does this itself with backup.binlogs.enabled), following the primary across failovers

Output is a progress bar and plain lines on a terminal, one JSON object per line otherwise.
`;

interface Common {
  config?: string;
}

interface Ctx {
  config: Config;
  backup: BackupConfig;
  service: BackupService;
  close(): void;
}

/** The topology as the servers tell it (as `serve` does at start), read as the backup user. */
async function discover(config: Config, b: BackupConfig): Promise<Topology> {
  const cred = { user: b.user, password: b.password };
  const asBackup = { ...config, failover: { ...config.failover, admin: cred, replication: cred } };
  const d = discoverTopology(await readBackendPositions(asBackup, 3000), config.backends.primary.name);
  return { primary: d.primary, fenced: d.fenced };
}

async function context(o: Common): Promise<Ctx | null> {
  let config: Config;
  try {
    config = loadConfig({ ...(o.config ? { file: o.config } : {}), env: process.env });
  } catch (e) {
    process.stderr.write(`${formatProblems(e)}\n`);
    process.exitCode = 2;
    return null;
  }
  const backup = config.backup;
  if (backup === undefined) {
    process.stderr.write("rwsplit backup: the config has no backup: section (see config.example.yaml)\n");
    process.exitCode = 2;
    return null;
  }
  const logger = createLogger({ level: config.log.level });
  const destinations = await openDestinations(backup.destinations);
  const service = new BackupService({
    backup,
    backends: [config.backends.primary, ...config.backends.replicas],
    destinations,
    topology: () => discover(config, backup),
    logger,
  });
  return {
    config,
    backup,
    service,
    close: () => {
      for (const d of destinations) d.close();
    },
  };
}

async function action(o: Common, work: (c: Ctx) => Promise<boolean>): Promise<void> {
  const c = await context(o);
  if (c === null) return;
  try {
    if (!(await work(c))) process.exitCode = 1;
  } catch (e) {
    result({ ok: false, error: (e as Error).message }, [`rwsplit backup: ${(e as Error).message}`]);
    process.exitCode = 1;
  } finally {
    c.close();
  }
}

const tools = (b: BackupConfig, server: boolean) =>
  ensureTools({ physical: b.method === "physical", zstd: b.compression === "zstd", server }, (l) =>
    process.stderr.write(`${l}\n`),
  );

export function register(program: Command): void {
  const backup = program
    .command("backup")
    .description("backups from a replica to every destination, verified by restoring; point-in-time recovery")
    .addHelpText("after", HELP);
  const cmd = (name: string, description: string) =>
    backup
      .command(name)
      .description(description)
      .option("-c, --config <file>", "YAML config file with a backup: section");

  cmd("run", "take a backup now, to every destination").action((o: Common) =>
    action(o, async (c) => {
      await tools(c.backup, false);
      const r = reporter();
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const t0 = Date.now();
      try {
        const out = await c.service.backup(r.report, abort.signal);
        r.report({ event: "done", id: out.id, ok: true, durationMs: Date.now() - t0 });
        r.close();
        const failed = out.destinations.filter((d) => !d.ok);
        result(
          {
            ok: failed.length === 0,
            id: out.id,
            gtid: out.manifest.gtid,
            source: out.manifest.source.name,
            destinations: out.destinations,
          },
          [
            `backup ${out.id} at GTID ${out.manifest.gtid} from ${out.manifest.source.name}`,
            ...failed.map((d) => `  not at ${d.name}: ${d.error}`),
          ],
        );
        return failed.length === 0;
      } finally {
        r.close();
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    }),
  );

  cmd("list", "every backup: where, size, GTID, age, verified")
    .option("--all", "also list incomplete backups (files without a manifest)")
    .action((o: Common & { all?: boolean }) =>
      action(o, async (c) => {
        const catalog = await c.service.catalog();
        if (process.stdout.isTTY)
          for (const l of listRows(catalog, o.all === true)) process.stdout.write(`${l}\n`);
        else {
          const entries = catalog.entries.filter((e) => o.all || e.manifest !== null);
          process.stdout.write(
            `${JSON.stringify({
              event: "result",
              ok: catalog.unreachable.length === 0,
              backups: entries.map((e) => ({
                ...entrySummary(e),
                verified: e.manifest?.verification
                  ? { ok: e.manifest.verification.ok, at: e.manifest.verification.at }
                  : null,
                copies: e.copies.map((x) => ({
                  destination: x.destination,
                  complete: x.complete,
                  bytes: x.bytes,
                  damaged: x.damaged,
                })),
              })),
              unreachable: catalog.unreachable,
            })}\n`,
          );
        }
        return catalog.unreachable.length === 0;
      }),
    );

  cmd("verify", "restore a backup into a scratch server and compare checksums with the source")
    .argument("[id]", "the backup (default: the newest complete one)")
    .action((id: string | undefined, o: Common) =>
      action(o, async (c) => {
        await tools(c.backup, true);
        const r = reporter();
        const out = await c.service.verify(id, r.report);
        r.close();
        const v = out.verification;
        result({ ok: v.ok, id: out.id, verification: v }, [
          `verify ${out.id}: ${v.ok ? "OK" : "FAILED"} (${v.tablesCompared} tables compared, restored from ${v.restoredFrom ?? "nowhere"})`,
          ...v.mismatches.map((x) => `  ${x.table}: source ${x.source}, restored ${x.restored}`),
          ...v.badCopies.map((b) => `  bad copy: ${b.file} at ${b.destination}: ${b.reason}`),
          `  restore logs: ${v.restoreLog.errors} error(s), ${v.restoreLog.warnings} warning(s)`,
          ...v.restoreLog.lines.map((l) => `    ${l}`),
          ...(v.error ? [`  ${v.error}`] : []),
        ]);
        return v.ok;
      }),
    );

  cmd("scrub", "re-read every file at every destination and check its checksum").action((o: Common) =>
    action(o, async (c) => {
      const out = await c.service.scrub();
      result({ ok: out.bad.length === 0 && out.unreachable.length === 0, ...out }, [
        `scrub: ${out.backups} backup(s), ${out.filesChecked} file copies checked, ${out.bad.length} bad`,
        ...out.bad.map(
          (b) =>
            `  BAD ${b.id} ${b.file} at ${b.destination}: ${b.reason}; good copy at: ${b.goodAt.join(", ") || "NONE"}`,
        ),
        ...out.unreachable.map((u) => `  ${u.destination} unreachable: ${u.error}`),
      ]);
      return out.bad.length === 0 && out.unreachable.length === 0;
    }),
  );

  cmd("restore", "restore a backup into a directory, optionally to a point in time")
    .argument("<id>", "the backup to start from (see `rwsplit backup list`)")
    .requiredOption("--target-dir <dir>", "a new, empty directory: the restored data directory")
    .option("--to-gtid <gtid>", "replay archived binlogs up to and including this GTID")
    .option(
      "--to-time <time>",
      "replay archived binlogs up to this time (ISO 8601, e.g. 2026-12-06T18:16:45Z)",
    )
    .action((id: string, o: Common & { targetDir: string; toGtid?: string; toTime?: string }) =>
      action(o, async (c) => {
        const toTime = o.toTime === undefined ? undefined : new Date(o.toTime);
        if (toTime !== undefined && Number.isNaN(toTime.getTime())) {
          process.stderr.write(`rwsplit backup restore: --to-time ${o.toTime} is not a time (ISO 8601)\n`);
          process.exitCode = 2;
          return true;
        }
        await tools(c.backup, true);
        const r = reporter();
        const out = await restoreBackup({
          backup: c.backup,
          destinations: c.service.o.destinations,
          id,
          targetDir: o.targetDir,
          logger: c.service.o.logger,
          report: r.report,
          ...(o.toGtid ? { toGtid: o.toGtid } : {}),
          ...(toTime ? { toTime } : {}),
        });
        r.close();
        result({ ok: true, ...out }, [
          `restored ${out.id} into ${out.dataDir} at GTID ${out.gtid} (${out.binlogsApplied} archived binlog(s) replayed)`,
          `start it:   mariadbd --datadir=${out.dataDir} --server-id=<unique> --log-bin --gtid-strict-mode=ON ...`,
          "as replica: CHANGE MASTER TO MASTER_HOST='<primary>', MASTER_USER='<repl>', MASTER_PASSWORD='...', MASTER_USE_GTID=slave_pos; START SLAVE;",
        ]);
        return true;
      }),
    );

  cmd("prune", "apply each destination's retention now").action((o: Common) =>
    action(o, async (c) => {
      const plans: Record<string, unknown> = {};
      for (const d of c.service.o.destinations) plans[d.name] = await c.service.applyRetention(d);
      result(
        { ok: true, plans },
        Object.entries(plans).map(([k, p]) => `${k}: ${JSON.stringify(p)}`),
      );
      return true;
    }),
  );

  cmd("binlogs", "archive the primary's binlogs into the destinations until stopped").action((o: Common) =>
    action(o, async (c) => {
      await tools(c.backup, false);
      const archiver = new BinlogArchiver({
        backup: c.backup,
        backends: c.service.o.backends,
        destinations: c.service.o.destinations,
        primary: async () => (await discover(c.config, c.backup)).primary,
        logger: c.service.o.logger,
      });
      archiver.start();
      await new Promise<void>((resolve) => {
        process.once("SIGINT", () => resolve());
        process.once("SIGTERM", () => resolve());
      });
      await archiver.stop();
      return true;
    }),
  );
}
