import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import type { Logger } from "pino";
import type { BackendConfig, BackupConfig } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import { compressor, EXTENSION } from "./compress.js";
import type { Destination } from "./destinations/index.js";
import type { Report } from "./events.js";
import { fanout, hashStream } from "./fanout.js";
import { scanLog } from "./log-scan.js";
import * as logical from "./logical.js";
import {
  type BackupFile,
  backupId,
  backupKey,
  MANIFEST,
  type Manifest,
  serializeManifest,
} from "./manifest.js";
import * as physical from "./physical.js";
import {
  close,
  connect,
  pauseReplica,
  probeBackends,
  resumeReplica,
  rows,
  serverFacts,
  tableChecksums,
} from "./probe.js";
import { recoverKilledRuns } from "./recover.js";
import { chooseSource } from "./source-select.js";
import { credentialsFile, program, start, version } from "./tools.js";

/**
 * `backup run`: choose the source, stream the backup through compression to every destination at
 * once, SHA-256 it on the way, read every file back from every destination, and only then write
 * the manifest there. A destination that fails at any step gets no manifest (the backup is
 * incomplete there, and says so in `list`); the others still complete.
 */

export type FailureReason =
  | "no_source"
  | "source_failed"
  | "destination_failed"
  | "checksum_mismatch"
  | "killed";

export class BackupFailure extends RwsplitError {
  constructor(
    readonly reason: FailureReason,
    message: string,
  ) {
    super("BACKUP_FAILED", message);
  }
}

export interface RunOptions {
  backup: BackupConfig;
  backends: readonly BackendConfig[];
  topology: { primary: string; fenced: readonly string[] };
  destinations: readonly Destination[];
  logger: Logger;
  report?: Report;
  /** The monitor's lag per backend, inside `serve`. */
  lagMs?: (name: string) => number | null;
  signal?: AbortSignal;
}

export interface DestinationOutcome {
  name: string;
  ok: boolean;
  reason?: FailureReason;
  error?: string;
}

export interface RunResult {
  id: string;
  manifest: Manifest;
  destinations: DestinationOutcome[];
}

const TAIL = 64 * 1024;

export async function runBackup(o: RunOptions): Promise<RunResult> {
  const report: Report = o.report ?? (() => {});
  const b = o.backup;
  const cred = { user: b.user, password: b.password };
  await recoverKilledRuns(b.workDir, o.backends, cred, o.logger);
  const candidates = await probeBackends(o.backends, o.topology, cred, o.lagMs);
  const choice = chooseSource(candidates, { allowPrimary: b.allowPrimary });
  if (!choice.ok) {
    const detail = choice.rejected.map((r) => `${r.name}: ${r.why}`).join("; ");
    throw new BackupFailure("no_source", `${choice.why}${detail ? ` (${detail})` : ""}`);
  }
  const backend = o.backends.find((x) => x.name === choice.source)!;
  const role = backend.name === o.topology.primary ? "primary" : "replica";
  report({ event: "source", source: backend.name, why: choice.why, rejected: choice.rejected });

  const startedAt = new Date();
  const id = backupId(startedAt, backend.name);
  const work = resolve(b.workDir, `run-${id}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, "pid"), String(process.pid));
  const logFile = join(work, "backup.log");
  const cnf = credentialsFile(work, b.user, b.password);
  const conn = await connect(backend, cred).catch((e: Error) => {
    rmSync(work, { recursive: true, force: true });
    throw new BackupFailure("source_failed", `${backend.name}: ${e.message}`);
  });
  let paused: string | null = null;
  try {
    const facts = await serverFacts(conn);
    if (role === "replica" && b.sourceChecksums) {
      // Written first: a run killed from here on leaves the replica paused, and the next run
      // (recoverKilledRuns) restarts it.
      writeFileSync(join(work, "paused"), backend.name);
      paused = await pauseReplica(conn);
    }
    const [total] = await rows(
      conn,
      "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA NOT IN ('information_schema','performance_schema')",
    );
    const totalBytes = total?.n === null || total?.n === undefined ? null : Number(total.n);
    report({ event: "start", id, method: b.method, totalBytes });
    o.logger.info({ id, source: backend.name, method: b.method, why: choice.why }, "backup started");

    const tool =
      b.method === "physical"
        ? start(
            program("mariadb-backup"),
            physical.backupArgs(cnf, backend.host, backend.port, join(work, "tmp"), role === "replica"),
            { logFile },
          )
        : start(program("mariadb-dump"), logical.dumpArgs(cnf, backend.host, backend.port, facts.logBin), {
            logFile,
          });
    const abort = () => tool.child.kill("SIGTERM");
    o.signal?.addEventListener("abort", abort, { once: true });
    if (o.signal?.aborted) abort();

    let rawBytes = 0;
    let storedBytes = 0;
    let tail = Buffer.alloc(0);
    const counter = new Transform({
      transform(chunk: Buffer, _e, done) {
        rawBytes += chunk.length;
        tail = Buffer.concat([tail, chunk]).subarray(-TAIL);
        done(null, chunk);
      },
    });
    const progress = setInterval(
      () => report({ event: "progress", id, rawBytes, storedBytes, totalBytes }),
      1000,
    );
    const dataName = `${b.method === "physical" ? physical.DATA_FILE : logical.DATA_FILE}${EXTENSION[b.compression]}`;
    const outcomes = new Map<string, DestinationOutcome>(
      o.destinations.map((d) => [d.name, { name: d.name, ok: true }]),
    );
    const fail = (name: string, reason: FailureReason, e: unknown) => {
      const error = e instanceof Error ? e.message : String(e);
      outcomes.set(name, { name, ok: false, reason, error });
      report({ event: "destination", id, destination: name, ok: false, error });
      o.logger.error({ id, destination: name, reason, err: error }, "backup failed at a destination");
    };
    const alive = () => o.destinations.filter((d) => outcomes.get(d.name)?.ok);
    let data: Awaited<ReturnType<typeof fanout>>;
    try {
      const compressed = tool.child.stdout!.pipe(counter).pipe(compressor(b.compression));
      tool.child.stdout!.once("error", (e) => compressed.destroy(e));
      const exitCheck = tool.exited.then((code) => {
        if (code !== 0) {
          const why = o.signal?.aborted ? "killed" : `exited with ${code}`;
          compressed.destroy(
            new RwsplitError(
              "BACKUP_FAILED",
              `${b.method === "physical" ? "mariadb-backup" : "mariadb-dump"} ${why}`,
            ),
          );
        }
      });
      data = await fanout(
        compressed,
        o.destinations.map((d) => ({
          name: d.name,
          write: (body) => d.write(backupKey(id, dataName), body),
        })),
        (n) => {
          storedBytes += n;
        },
      );
      await exitCheck;
      const code = await tool.exited;
      if (code !== 0) throw new RwsplitError("BACKUP_FAILED", `the backup tool exited with ${code}`);
    } catch (e) {
      const log = readFileSync(logFile, "utf8").trim().split("\n").slice(-6).join("\n");
      const reason: FailureReason = o.signal?.aborted ? "killed" : "source_failed";
      throw new BackupFailure(reason, `${backend.name}: ${(e as Error).message}${log ? `\n${log}` : ""}`);
    } finally {
      clearInterval(progress);
      o.signal?.removeEventListener("abort", abort);
    }
    for (const br of data.branches) if (br.error) fail(br.name, "destination_failed", br.error);
    report({ event: "progress", id, rawBytes, storedBytes, totalBytes });

    // The source at the backup's GTID: checksums while the SQL thread is still paused.
    let sourceChecksums: Record<string, string | null> | null = null;
    let note: string | null =
      role === "primary" ? "taken from the primary: it keeps writing, so no fixed GTID to checksum at" : null;
    if (paused !== null) {
      report({ event: "step", id, step: "CHECKSUM TABLE on the source" });
      const sums = await tableChecksums(conn);
      const [now] = await rows(conn, "SELECT @@gtid_slave_pos AS pos");
      if (String(now?.pos) === paused) sourceChecksums = sums;
      else
        note = `replication on ${backend.name} was restarted by someone else during the backup (at ${paused}, now ${String(now?.pos)})`;
    } else if (role === "replica") note = "backup.source_checksums is off";

    const logText = readFileSync(logFile, "utf8");
    const gtid =
      (b.method === "physical"
        ? physical.gtidFromBackupLog(logText)
        : logical.gtidFromDump(tail.toString("latin1"))) ??
      paused ??
      (role === "primary" ? facts.gtidBinlogPos : facts.gtidSlavePos);
    if (paused !== null && gtid !== paused && note === null) {
      note = `the backup tool reported GTID ${gtid}, the paused replica was at ${paused}`;
      sourceChecksums = null;
    }
    const logData = Buffer.from(logText);
    const logEntry: BackupFile = {
      name: "backup.log",
      role: "log",
      compression: "none",
      bytes: logData.length,
      sha256: (await hashStream(bufferStream(logData))).sha256,
      rawBytes: logData.length,
    };
    const files: BackupFile[] = [
      {
        name: dataName,
        role: "data",
        compression: b.compression,
        bytes: data.bytes,
        sha256: data.sha256,
        rawBytes,
      },
      logEntry,
    ];
    const tools: Record<string, string> = {
      [b.method === "physical" ? "mariadb-backup" : "mariadb-dump"]: await version(
        b.method === "physical" ? "mariadb-backup" : "mariadb-dump",
      ),
      ...(b.compression === "zstd"
        ? { zstd: await version("zstd") }
        : { gzip: `node zlib ${process.versions.zlib}` }),
      node: process.version,
    };
    const finishedAt = new Date();
    const manifest: Manifest = {
      format: 1,
      id,
      method: b.method,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      source: {
        name: backend.name,
        host: backend.host,
        port: backend.port,
        role,
        serverId: facts.serverId,
        version: facts.version,
      },
      gtid,
      files,
      tools,
      log: scanLog(logText),
      sourceChecksums,
      sourceChecksumsNote: note,
      verification: null,
    };
    await Promise.all(
      alive().map(async (d) => {
        try {
          await d.put(backupKey(id, logEntry.name), logData);
          report({ event: "step", id, step: `reading back every file at ${d.name}` });
          for (const f of files) {
            const got = await hashStream(await d.read(backupKey(id, f.name)));
            if (got.sha256 !== f.sha256 || got.bytes !== f.bytes) {
              throw new BackupFailure(
                "checksum_mismatch",
                `${f.name} read back from ${d.name} has SHA-256 ${got.sha256} (${got.bytes} bytes), wrote ${f.sha256} (${f.bytes} bytes)`,
              );
            }
          }
          // Last: its presence is what makes the backup complete at this destination.
          await d.put(backupKey(id, MANIFEST), serializeManifest(manifest));
          report({ event: "destination", id, destination: d.name, ok: true });
        } catch (e) {
          fail(d.name, e instanceof BackupFailure ? e.reason : "destination_failed", e);
        }
      }),
    );
    const result = { id, manifest, destinations: [...outcomes.values()] };
    if (!result.destinations.some((x) => x.ok)) {
      throw new BackupFailure(
        result.destinations[0]?.reason ?? "destination_failed",
        `no destination holds a complete copy: ${result.destinations.map((x) => `${x.name}: ${x.error}`).join("; ")}`,
      );
    }
    return result;
  } finally {
    if (paused !== null)
      await resumeReplica(conn).catch((e: Error) =>
        o.logger.warn({ err: e.message, source: backend.name }, "could not restart the source's SQL thread"),
      );
    await close(conn);
    rmSync(work, { recursive: true, force: true });
  }
}

function bufferStream(data: Buffer): Readable {
  return Readable.from([data]);
}
