import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable, Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readArchive } from "../../src/backup/binlog-index.js";
import { readCatalog } from "../../src/backup/catalog.js";
import { DirDestination } from "../../src/backup/destinations/dir.js";
import type { Destination } from "../../src/backup/destinations/index.js";
import { S3Destination } from "../../src/backup/destinations/s3.js";
import type { BackupEvent } from "../../src/backup/events.js";
import { restoreBackup } from "../../src/backup/restore.js";
import { BackupFailure } from "../../src/backup/run.js";
import { startScratch } from "../../src/backup/scratch.js";
import { BackupService } from "../../src/backup/service.js";
import type { BackupConfig, Config } from "../../src/config/types.js";
import { Metrics } from "../../src/metrics/registry.js";
import { gtidCovers, parseGtidPos } from "../../src/monitor/gtid.js";
import { failoverConfig, startApp } from "../helpers/proxy.js";
import { freePort, startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #16: what goes wrong during a backup is logged with its reason, counted, costs only what
// it must, and never deletes or hides an older good backup.

let sb: TestSandbox;
let dir: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  sb = await startSandbox({ replicas: 3 });
  cleanups.push(() => sb.down());
  dir = mkdtempSync(join(tmpdir(), "rws-bkf-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const c = await sb.connect(sb.primary, "root", "app");
  await c.query("CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, b BLOB)");
  // Incompressible, so a backup runs long enough for a node to die during it.
  await c.query("INSERT INTO app.t (b) SELECT RANDOM_BYTES(1024) FROM seq_1_to_8000");
  await c.end();
  await sb.waitForReplicas();
});

afterAll(async () => {
  while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

function backupConfig(name: string, over: Partial<BackupConfig> = {}): BackupConfig {
  return {
    method: "physical",
    user: sb.credentials.root.user,
    password: sb.credentials.root.password,
    allowPrimary: false,
    compression: "zstd",
    sourceChecksums: true,
    workDir: join(dir, `${name}-work`),
    destinations: [
      {
        name: "local",
        type: "dir",
        path: join(dir, `${name}-local`),
        retention: { last: 10, daily: 7, weekly: 4 },
      },
    ],
    verifyAfterBackup: false,
    binlogs: {
      enabled: false,
      spoolDir: join(dir, `${name}-spool`),
      uploadIntervalMs: 1000,
      serverId: 4_000_000_001,
    },
    ...over,
  };
}

const backends = () => [
  { name: "primary", host: sb.primary.host, port: sb.primary.port, weight: 1, priority: 0 },
  ...sb.replicas.map((r, i) => ({
    name: `replica${i + 1}`,
    host: r.host,
    port: r.port,
    weight: 1,
    priority: 0,
  })),
];

/** A pino logger whose JSON lines are kept, to check what was logged and why. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _e, done) {
        for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    }),
  );
  return { logger, lines };
}

/** A directory destination whose disk fills up after 64 KiB (what `write` sees on ENOSPC). */
class Full extends DirDestination {
  override async write(_key: string, body: Readable): Promise<number> {
    let n = 0;
    for await (const chunk of body) {
      n += (chunk as Buffer).length;
      if (n > 65536)
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
    return n;
  }
}

/** A directory destination that can start returning other bytes than it stored (a bad disk). */
class Liar extends DirDestination {
  lying = false;
  override async read(key: string): Promise<Readable> {
    const real = await super.read(key);
    if (!this.lying) return real;
    const out = new PassThrough();
    let flipped = false;
    real.on("data", (c: Buffer) => {
      if (!flipped && c.length > 0) {
        c[0]! ^= 0xff;
        flipped = true;
      }
      out.write(c);
    });
    real.on("end", () => out.end());
    return out;
  }
}

describe("backup failures", () => {
  test("an unreachable store, a full disk and a copy that does not read back cost only those copies: logged, counted, and the older good backup stays", async () => {
    const liar = new Liar("flaky", join(dir, "flaky"));
    const local = new DirDestination("local", join(dir, "d-local"));
    const offline = new S3Destination({
      name: "offline",
      type: "s3",
      bucket: "nowhere",
      prefix: "",
      endpoint: `http://127.0.0.1:${await freePort()}`,
      region: "us-east-1",
      forcePathStyle: true,
      accessKeyId: "x",
      secretAccessKey: "y",
      retention: { last: 1, daily: 1, weekly: 0 },
    });
    cleanups.push(() => offline.close());
    const metrics = new Metrics({ defaultMetrics: false });
    const { logger, lines } = capture();
    const service = (dests: Destination[]) =>
      new BackupService({
        backup: backupConfig("d"),
        backends: backends(),
        destinations: dests,
        topology: () => ({ primary: "primary", fenced: [] }),
        logger,
        metrics: metrics.backup,
      });
    const good = await service([local, liar]).backup();
    expect(good.destinations.every((d) => d.ok)).toBe(true);

    liar.lying = true;
    const full = new Full("full", join(dir, "full"));
    const r = await service([local, liar, offline, full]).backup();
    expect(r.destinations).toEqual([
      { name: "local", ok: true },
      expect.objectContaining({ name: "flaky", ok: false, reason: "checksum_mismatch" }),
      expect.objectContaining({ name: "offline", ok: false, reason: "destination_failed" }),
      expect.objectContaining({
        name: "full",
        ok: false,
        reason: "destination_failed",
        error: expect.stringMatching(/ENOSPC/),
      }),
    ]);
    liar.lying = false;
    const atLiar = (await readCatalog([liar])).entries;
    expect(atLiar.map((e) => [e.id, e.manifest !== null])).toEqual([
      [good.id, true],
      [r.id, false],
    ]);
    const text = await metrics.render();
    expect(text).toMatch(/rwsplit_backup_failures_total\{destination="flaky",reason="checksum_mismatch"\} 1/);
    expect(text).toMatch(
      /rwsplit_backup_failures_total\{destination="offline",reason="destination_failed"\} 1/,
    );
    expect(text).toMatch(/rwsplit_backup_last_success_timestamp\{destination="local"\} \d/);
    const failed = lines.filter((l) => l.msg === "backup failed at a destination");
    expect(failed.map((l) => [l.destination, l.reason]).sort()).toEqual([
      ["flaky", "checksum_mismatch"],
      ["full", "destination_failed"],
      ["offline", "destination_failed"],
    ]);
    expect(String(failed.find((l) => l.destination === "flaky")!.err)).toMatch(
      /read back from flaky has SHA-256/,
    );
  });

  test("a source replica that dies midway fails the backup cleanly (no complete copy, reason logged and counted); the next run takes another replica", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const { logger, lines } = capture();
    const b = backupConfig("dead");
    const dest = new DirDestination("local", (b.destinations[0] as { path: string }).path);
    const service = new BackupService({
      backup: b,
      backends: backends(),
      destinations: [dest],
      topology: () => ({ primary: "primary", fenced: [] }),
      logger,
      metrics: metrics.backup,
    });
    let id = "";
    let victim = "";
    const report = (e: BackupEvent) => {
      if (e.event === "source") victim = e.source;
      if (e.event === "start") {
        id = e.id;
        const i = Number(victim.replace("replica", "")) - 1;
        process.kill(sb.replicas[i]!.pid, "SIGKILL");
      }
    };
    const err = await service.backup(report).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailure);
    expect((err as BackupFailure).reason).toBe("source_failed");
    expect((await readCatalog([dest])).entries.find((e) => e.id === id)?.manifest ?? null).toBeNull();
    expect(await metrics.render()).toMatch(
      /rwsplit_backup_failures_total\{destination="local",reason="source_failed"\} 1/,
    );
    expect(lines.find((l) => l.msg === "backup failed")?.reason).toBe("source_failed");

    const next = await service.backup();
    expect(next.manifest.source.name).not.toBe(victim);
    expect(next.destinations).toEqual([{ name: "local", ok: true }]);
  });

  test("a backup taken during a failover completes from a healthy node or fails cleanly; the binlog archive follows the new primary, and a restore replays across the failover", async () => {
    const b = backupConfig("fo", {
      binlogs: {
        enabled: true,
        spoolDir: join(dir, "fo-spool"),
        uploadIntervalMs: 300,
        serverId: 4_000_000_001,
      },
    });
    const config: Config = failoverConfig(sb, { detectMs: 1500, holdWritesMs: 15_000 }, { backup: b });
    const app = await startApp(config);
    cleanups.push(() => app.close());
    const service = app.app.backups!.service;
    const base = await service.backup();
    const write = async (node: { host: string; port: number }, from: number, n: number) => {
      const c = await sb.connect(node, "root", "app");
      try {
        for (let i = from; i < from + n; i++) await c.query("INSERT INTO app.t (b) VALUES (?)", [`row ${i}`]);
      } finally {
        await c.end();
      }
    };
    await write(sb.primary, 0, 20);
    const before = Date.now();
    const outcome = await service
      .backup((e) => {
        if (e.event === "start") process.kill(sb.primary.pid, "SIGKILL");
      })
      .then(
        (r) => ({ ok: true as const, r }),
        (e: unknown) => ({ ok: false as const, e }),
      );
    console.log(
      `backup during the failover: ${outcome.ok ? `completed from ${outcome.r.manifest.source.name}` : `failed: ${(outcome.e as Error).message.split("\n")[0]}`}`,
    );
    const dest = service.o.destinations[0]!;
    const catalog = await readCatalog([dest]);
    if (outcome.ok) {
      expect(outcome.r.manifest.source.name).not.toBe("primary");
      expect(catalog.entries.find((e) => e.id === outcome.r.id)?.manifest).not.toBeNull();
    } else {
      expect(outcome.e).toBeInstanceOf(BackupFailure);
      const recent = catalog.entries.filter(
        (e) => e.manifest !== null && Date.parse(e.manifest.startedAt) >= before,
      );
      expect(recent).toEqual([]);
    }
    for (let i = 0; app.app.ha.topology().generation < 2; i++) {
      if (i > 300) throw new Error("no failover");
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await service.backup();
    expect(after.manifest.source.name).not.toBe(app.app.ha.topology().primary);
    expect(after.manifest.source.role).toBe("replica");
    const v = await service.verify(after.id);
    expect(v.verification).toMatchObject({ ok: true, mismatches: [] });

    // Writes on the new primary, archived under its own group; a restore of the backup taken
    // before the failover replays the old primary's binlogs, then the new one's.
    const promoted = app.app.ha.topology().primary;
    const node = sb.replicas[Number(promoted.replace("replica", "")) - 1]!;
    await write(node, 20, 15);
    const c = await sb.connect(node, "root", "app");
    const [[pos]] = (await c.query("SELECT @@gtid_binlog_pos AS p")) as unknown as [{ p: string }[]];
    const [[count]] = (await c.query("SELECT COUNT(*) AS n FROM app.t")) as unknown as [{ n: number }[]];
    await c.end();
    const want = parseGtidPos(pos!.p)!;
    for (let i = 0; ; i++) {
      const { files } = await readArchive([dest]);
      if (
        files.some(
          (f) => f.server.startsWith(`${promoted}.`) && gtidCovers(parseGtidPos(f.endPosition)!, want),
        )
      )
        break;
      if (i > 300)
        throw new Error(
          `the archive did not follow ${promoted} to ${pos!.p}: ${JSON.stringify(app.app.backups!.archiver!.status())}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    const groups = new Set((await readArchive([dest])).files.map((f) => f.server.split(".")[0]));
    expect([...groups].sort()).toEqual(["primary", promoted].sort());
    const target = join(dir, "fo-restored");
    const restored = await restoreBackup({
      backup: b,
      destinations: [dest],
      id: base.id,
      targetDir: target,
      toGtid: pos!.p,
      logger: pino({ level: "silent" }),
    });
    expect(restored.gtid).toBe(pos!.p);
    const server = await startScratch(target, join(dir, "fo-server"));
    try {
      const r = await sb.connect({ host: "127.0.0.1", port: server.port });
      const [[n]] = (await r.query("SELECT COUNT(*) AS n FROM app.t")) as unknown as [{ n: number }[]];
      await r.end();
      expect(n!.n).toBe(count!.n);
    } finally {
      await server.stop();
    }
  });
});
