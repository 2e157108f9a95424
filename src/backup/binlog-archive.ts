import { createReadStream, mkdirSync, readdirSync, unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "pino";
import type { BackendConfig, BackupConfig } from "../config/types.js";
import { RwsplitError } from "../errors.js";
import type { BackupMetrics } from "../metrics/backup-metrics.js";
import { formatGtidPos, type Gtid, parseGtidPos } from "../monitor/gtid.js";
import { fileNumber } from "./binlog-events.js";
import { binlogKey, readArchive, summarizeFile } from "./binlog-index.js";
import type { Destination } from "./destinations/index.js";
import { hashStream } from "./fanout.js";
import { rows, withConnection } from "./probe.js";
import { readText } from "./scratch.js";
import { credentialsFile, program, type Running, start } from "./tools.js";

/**
 * The binlog archive for point-in-time recovery: `mariadb-binlog --read-from-remote-server --raw
 * --stop-never` streams the primary's binary logs into a local spool as a replica would receive
 * them; every `upload_interval` each spooled file (up to its last complete event) goes to every
 * destination, is read back, and gets its index entry (binlog-index.ts). Complete files (a newer
 * one exists) leave the spool once every destination has them.
 *
 * It follows the primary: when the stream ends (the primary died) or the topology names another
 * primary, it starts over on the current one, under a new archive group
 * (`binlogs/<backend>.<start time>/`), from that server's newest binlog whose starting Gtid_list
 * the archive already covers, so the groups overlap and binlog-plan.ts can chain them.
 */

export interface ArchiverOptions {
  backup: BackupConfig;
  backends: readonly BackendConfig[];
  destinations: readonly Destination[];
  /** The current primary's backend name (the topology), or null while unknown. */
  primary: () => Promise<string | null> | string | null;
  logger: Logger;
  metrics?: BackupMetrics;
}

export interface ArchiverStatus {
  running: boolean;
  server: string | null;
  group: string | null;
  /** Per spooled file: bytes archived at every destination. */
  archived: Record<string, number>;
  lastUploadAt: string | null;
  lastError: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

export class BinlogArchiver {
  private running = false;
  private loop: Promise<void> | null = null;
  private current: { server: string; group: string; spool: string; tool: Running; startedAt: string } | null =
    null;
  /** destination → key → bytes uploaded and read back. */
  private readonly done = new Map<string, Map<string, number>>();
  /** "<destination>/<key>" whose index entry says complete. */
  private readonly sealed = new Set<string>();
  private syncing: Promise<void> = Promise.resolve();
  private readonly st: ArchiverStatus = {
    running: false,
    server: null,
    group: null,
    archived: {},
    lastUploadAt: null,
    lastError: null,
  };

  constructor(private readonly o: ArchiverOptions) {}

  status(): ArchiverStatus {
    return { ...this.st, archived: { ...this.st.archived } };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.st.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.st.running = false;
    this.current?.tool.child.kill("SIGTERM");
    await this.loop;
  }

  /** Uploads what is spooled now (the scheduler's interval does it too). */
  syncNow(): Promise<void> {
    const c = this.current;
    if (c === null) return this.syncing;
    this.syncing = this.syncing
      .then(() => this.sync(c.group, c.spool, c.startedAt))
      .catch((e: Error) => {
        this.st.lastError = e.message;
      });
    return this.syncing;
  }

  private async run(): Promise<void> {
    const { o } = this;
    const spoolRoot = resolve(o.backup.binlogs.spoolDir);
    const cred = { user: o.backup.user, password: o.backup.password };
    mkdirSync(spoolRoot, { recursive: true });
    const cnf = credentialsFile(spoolRoot, cred.user, cred.password);
    while (this.running) {
      const name = await Promise.resolve(o.primary()).catch(() => null);
      const backend = o.backends.find((b) => b.name === name);
      if (backend === undefined) {
        await sleep(500);
        continue;
      }
      let first: string;
      try {
        first = await this.startFile(backend, cred);
      } catch (e) {
        this.fail(`cannot start archiving ${backend.name}: ${(e as Error).message}`);
        await sleep(1000);
        continue;
      }
      const startedAt = new Date();
      const group = `${backend.name}.${stamp(startedAt)}`;
      const spool = join(spoolRoot, group);
      mkdirSync(spool, { recursive: true });
      const logFile = join(spoolRoot, `${group}.log`);
      const tool = start(
        program("mariadb-binlog"),
        [
          `--defaults-file=${cnf}`,
          "--read-from-remote-server",
          "--raw",
          "--stop-never",
          `--stop-never-slave-server-id=${o.backup.binlogs.serverId}`,
          `--host=${backend.host}`,
          `--port=${backend.port}`,
          `--result-file=${spool}/`,
          first,
        ],
        { logFile, stdout: "ignore" },
      );
      this.current = { server: backend.name, group, spool, tool, startedAt: startedAt.toISOString() };
      this.st.server = backend.name;
      this.st.group = group;
      o.logger.info(
        { server: backend.name, group, from: first },
        "binlog archive: streaming from the primary",
      );
      const upload = setInterval(() => void this.syncNow(), o.backup.binlogs.uploadIntervalMs);
      const follow = setInterval(async () => {
        const now = await Promise.resolve(o.primary()).catch(() => null);
        if (now !== null && now !== backend.name) {
          o.logger.info({ from: backend.name, to: now }, "binlog archive: the primary moved; following it");
          tool.child.kill("SIGTERM");
        }
      }, 1000);
      const code = await tool.exited;
      clearInterval(upload);
      clearInterval(follow);
      await this.syncNow();
      this.current = null;
      if (this.running) {
        const tail = readText(logFile).trim().split("\n").slice(-3).join(" | ");
        this.fail(`binlog stream from ${backend.name} ended (${code}): ${tail}`);
        await sleep(1000);
      }
    }
  }

  private fail(message: string): void {
    this.st.lastError = message;
    this.o.logger.warn({ err: message }, "binlog archive");
  }

  /**
   * The server's newest binlog whose starting Gtid_list the archive covers (SHOW BINLOG EVENTS
   * shows it as `[0-1-11]`); its oldest one when the archive is empty or covers none.
   */
  private async startFile(b: BackendConfig, cred: { user: string; password: string }): Promise<string> {
    const { files } = await readArchive(this.o.destinations);
    const archived = new Map<number, Gtid>();
    for (const f of files) {
      for (const g of (parseGtidPos(f.endPosition) ?? new Map()).values()) {
        const had = archived.get(g.domain);
        if (had === undefined || had.seq < g.seq) archived.set(g.domain, g);
      }
    }
    return withConnection(b, cred, async (c) => {
      const logs = (await rows(c, "SHOW BINARY LOGS")).map((r) => String(r.Log_name));
      if (logs.length === 0)
        throw new RwsplitError("BACKUP_FAILED", "SHOW BINARY LOGS is empty: is log_bin on?");
      if (files.length === 0) return logs[0]!;
      const have = formatGtidPos(archived);
      for (const name of [...logs].reverse()) {
        const events = await rows(c, `SHOW BINLOG EVENTS IN ${c.escape(name)} LIMIT 4`);
        const list = events.find((e) => e.Event_type === "Gtid_list");
        const start = String(list?.Info ?? "").replace(/[[\]\s]/g, "");
        const s = parseGtidPos(start);
        if (s !== null && [...s.values()].every((g) => (archived.get(g.domain)?.seq ?? -1n) >= g.seq))
          return name;
      }
      this.o.logger.warn(
        { server: b.name, archived: have },
        "binlog archive: no binlog of the new primary starts within the archive; there may be a gap",
      );
      return logs[0]!;
    });
  }

  private async sync(group: string, spool: string, startedAt: string): Promise<void> {
    let names: string[];
    try {
      names = readdirSync(spool).filter((n) => fileNumber(n) >= 0);
    } catch {
      return;
    }
    names.sort((a, b) => fileNumber(a) - fileNumber(b));
    const newest = names.at(-1);
    for (const name of names) {
      const path = join(spool, name);
      const { bytes, summary } = await summarizeFile(path);
      if (bytes === 0) continue;
      const complete = name !== newest;
      const key = binlogKey(group, name);
      const local = await hashStream(createReadStream(path, { start: 0, end: bytes - 1 }));
      let everywhere = true;
      for (const d of this.o.destinations) {
        const map = this.done.get(d.name) ?? new Map<string, number>();
        this.done.set(d.name, map);
        const sent = map.get(key) === bytes;
        if (sent && (!complete || this.sealed.has(`${d.name}/${key}`))) continue;
        try {
          if (!sent) {
            await d.write(key, createReadStream(path, { start: 0, end: bytes - 1 }));
            const back = await hashStream(await d.read(key));
            if (back.sha256 !== local.sha256)
              throw new RwsplitError("BACKUP_FAILED", `${key} read back with another SHA-256`);
          }
          const entry = {
            format: 1,
            server: group,
            groupStartedAt: startedAt,
            file: name,
            bytes,
            sha256: local.sha256,
            startGtidList: summary.startGtidList ?? "",
            endPosition: summary.endPosition(),
            firstTime: summary.firstTime,
            lastTime: summary.lastTime,
            complete,
            archivedAt: new Date().toISOString(),
          };
          await d.put(`${key}.json`, `${JSON.stringify(entry)}\n`);
          if (!sent) this.o.metrics?.binlogArchived(d.name, bytes - (map.get(key) ?? 0));
          map.set(key, bytes);
          if (complete) this.sealed.add(`${d.name}/${key}`);
        } catch (e) {
          everywhere = false;
          this.o.metrics?.failed(d.name, "binlog_archive");
          this.fail(`uploading ${key} to ${d.name}: ${(e as Error).message}`);
        }
      }
      this.st.archived[key] = bytes;
      this.st.lastUploadAt = new Date().toISOString();
      if (
        complete &&
        everywhere &&
        this.o.destinations.every((d) => this.done.get(d.name)?.get(key) === bytes)
      ) {
        unlinkSync(path);
      }
    }
  }
}
