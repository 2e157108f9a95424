import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readArchive } from "../../src/backup/binlog-index.js";
import { type Destination, openDestinations } from "../../src/backup/destinations/index.js";
import { hashStream } from "../../src/backup/fanout.js";
import { backupKey, type Manifest, parseManifest } from "../../src/backup/manifest.js";
import { startScratch } from "../../src/backup/scratch.js";
import { loadConfig } from "../../src/config/load.js";
import type { BackupConfig } from "../../src/config/types.js";
import { gtidCovers, parseGtidPos } from "../../src/monitor/gtid.js";
import { type BackupEnv, backupEnv, type CliResult, cli, startCli } from "../helpers/backup.js";
import { startApp, testConfig } from "../helpers/proxy.js";
import { startRedis } from "../helpers/redis.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #16 end to end: a replication sandbox, a directory and a real S3-compatible server
// (s3rver), `rwsplit backup ...` run as the CLI.

let sb: TestSandbox;
let s3: TestS3;
let env: BackupEnv;
let primary: mysql.Connection;
let destinations: Destination[];
const cleanups: (() => Promise<unknown> | unknown)[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = (r: CliResult) => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${JSON.stringify(r.result)}\n${r.stderr}`);
  return r.result;
};
const scalar = async (c: mysql.Connection, sql: string) => {
  const [rows] = await c.query(sql);
  return Object.values((rows as Record<string, unknown>[])[0] ?? {})[0];
};

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  cleanups.push(() => sb.down());
  s3 = await startS3();
  cleanups.push(() => s3.stop());
  env = backupEnv(sb, s3);
  cleanups.push(() => env.cleanup());
  destinations = await openDestinations(loadConfig({ file: env.configFile }).backup!.destinations);
  cleanups.push(() => {
    for (const d of destinations) d.close();
  });
  primary = await sb.connect(sb.primary, "root", "app");
  cleanups.push(() => primary.end());
  await primary.query(
    "CREATE TABLE app.items (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, pad VARCHAR(200))",
  );
  await primary.query("INSERT INTO app.items (n, pad) SELECT seq, REPEAT('x', 100) FROM seq_1_to_2000");
  // Incompressible bytes, so a backup takes long enough to be killed midway.
  await primary.query("CREATE TABLE app.blobs (id INT AUTO_INCREMENT PRIMARY KEY, b LONGBLOB)");
  await primary.query("INSERT INTO app.blobs (b) SELECT RANDOM_BYTES(1024) FROM seq_1_to_6000");
  await sb.waitForReplicas();
});

afterAll(async () => {
  while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch(() => {});
});

async function manifestAt(d: Destination, id: string): Promise<Manifest> {
  const data = await d.get(backupKey(id, "manifest.json"));
  const p = parseManifest(data!);
  if (!p.ok) throw new Error(p.error);
  return p.manifest;
}

let first: string;

describe("backup run, verify, list", () => {
  test("write rows, back up, write more: verify restores with checksums equal to the source at the backup's GTID; both destinations hold identical files", async () => {
    const run = ok(await cli(env, "run"));
    first = run.id as string;
    expect(run.source).toMatch(/^replica/);
    const atBackup = (await scalar(primary, "SELECT COUNT(*) FROM app.items")) as number;
    await primary.query("INSERT INTO app.items (n, pad) SELECT seq, 'after' FROM seq_1_to_300");
    await sb.waitForReplicas();

    const [local, remote] = destinations as [Destination, Destination];
    const m = await manifestAt(local, first);
    expect(await manifestAt(remote, first)).toEqual(m);
    expect(m.gtid).toBe(run.gtid);
    expect(m.sourceChecksums?.["app.items"]).toBeTruthy();
    // The recorded checksum is the source at the backup's GTID, not as it is now.
    const [now] = (await primary.query("CHECKSUM TABLE app.items"))[0] as { Checksum: string }[];
    expect(String(now!.Checksum)).not.toBe(m.sourceChecksums?.["app.items"]);
    const keys = async (d: Destination) => (await d.list(`backups/${first}/`)).map((o) => o.key);
    expect(await keys(remote)).toEqual(await keys(local));
    for (const f of m.files) {
      const a = await hashStream(await local.read(backupKey(first, f.name)));
      const b = await hashStream(await remote.read(backupKey(first, f.name)));
      expect(a).toEqual({ sha256: f.sha256, bytes: f.bytes });
      expect(b).toEqual(a);
    }

    const v = ok(await cli(env, "verify", first));
    const verification = v.verification as Manifest["verification"] & {};
    expect(verification).toMatchObject({ ok: true, mismatches: [], badCopies: [], restoredFrom: "local" });
    expect(verification.tablesCompared).toBeGreaterThanOrEqual(3);
    expect((await manifestAt(remote, first)).verification?.ok).toBe(true);

    const list = ok(await cli(env, "list"));
    const entry = (
      list.backups as {
        id: string;
        verified: { ok: boolean };
        copies: { destination: string; complete: boolean }[];
        gtid: string;
      }[]
    ).find((b) => b.id === first)!;
    expect(entry.verified.ok).toBe(true);
    expect(entry.gtid).toBe(m.gtid);
    expect(entry.copies.map((c) => [c.destination, c.complete])).toEqual([
      ["local", true],
      ["s3", true],
    ]);
    expect(atBackup).toBe(2000);
  });
});

describe("point-in-time recovery", () => {
  test("rows, an accidental DROP TABLE, more writes: restore --to-gtid and --to-time just before the drop have the table and every row before it, none after", async () => {
    const archiver = startCli(["binlogs", "--config", env.configFile]);
    cleanups.push(() => archiver.proc.kill("SIGKILL"));
    const base = ok(await cli(env, "run"));
    await primary.query("CREATE TABLE app.precious (id INT PRIMARY KEY, v VARCHAR(20))");
    for (let i = 1; i <= 50; i++)
      await primary.query("INSERT INTO app.precious VALUES (?, ?)", [i, `row${i}`]);
    const beforeDrop = String(await scalar(primary, "SELECT @@gtid_binlog_pos"));
    // --to-time has one-second resolution: the drop happens in a later second than the rows.
    await sleep(1100 - (Date.now() % 1000));
    const dropTime = new Date(Math.floor(Date.now() / 1000) * 1000);
    await primary.query("DROP TABLE app.precious");
    await primary.query("INSERT INTO app.items (n, pad) VALUES (-1, 'after the drop')");
    await primary.query("CREATE TABLE app.later (id INT PRIMARY KEY)");
    const end = parseGtidPos(String(await scalar(primary, "SELECT @@gtid_binlog_pos")))!;
    for (let i = 0; ; i++) {
      const { files } = await readArchive(destinations);
      if (files.some((f) => gtidCovers(parseGtidPos(f.endPosition)!, end))) break;
      if (i > 200) throw new Error("the binlog archive did not catch up");
      await sleep(100);
    }
    archiver.proc.kill("SIGTERM");
    expect((await archiver.done).code).toBe(0);

    for (const [how, arg] of [
      ["--to-gtid", beforeDrop],
      ["--to-time", dropTime.toISOString()],
    ] as const) {
      const target = join(env.dir, `restored${how}`);
      const r = ok(await cli(env, "restore", base.id as string, "--target-dir", target, how, arg));
      expect(r.gtid).toBe(beforeDrop);
      const server = await startScratch(target, join(env.dir, `server${how}`));
      try {
        const c = await sb.connect({ host: "127.0.0.1", port: server.port });
        try {
          expect(await scalar(c, "SELECT COUNT(*) FROM app.precious")).toBe(50);
          expect(await scalar(c, "SELECT v FROM app.precious WHERE id = 50")).toBe("row50");
          expect(await scalar(c, "SELECT COUNT(*) FROM app.items WHERE n = -1")).toBe(0);
          expect(
            await scalar(c, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'later'"),
          ).toBe(0);
          expect(await scalar(c, "SELECT @@gtid_slave_pos")).toBe(beforeDrop);
        } finally {
          await c.end();
        }
      } finally {
        await server.stop();
      }
    }
  });
});

describe("a copy corrupted at one destination", () => {
  test("scrub and verify report it and name the good copy; the other copy restores", async () => {
    const m = await manifestAt(destinations[0]!, first);
    const data = m.files.find((f) => f.role === "data")!;
    const path = join(env.localDir, "backups", first, data.name);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(path, bytes);

    const s = await cli(env, "scrub");
    expect(s.code).toBe(1);
    expect(s.result.bad).toEqual([
      expect.objectContaining({ id: first, destination: "local", file: data.name, goodAt: ["s3"] }),
    ]);

    const v = await cli(env, "verify", first);
    expect(v.code).toBe(1);
    const verification = v.result.verification as NonNullable<Manifest["verification"]>;
    expect(verification.restoredFrom).toBe("s3");
    expect(verification.mismatches).toEqual([]);
    expect(verification.tablesCompared).toBeGreaterThanOrEqual(3);
    expect(verification.badCopies).toEqual([
      expect.objectContaining({ destination: "local", file: data.name }),
    ]);
    expect(verification.badCopies[0]!.reason).toMatch(/good copy: s3/);

    const target = join(env.dir, "restored-after-corruption");
    ok(await cli(env, "restore", first, "--target-dir", target));
    expect(existsSync(join(target, "ibdata1"))).toBe(true);
  });
});

describe("a killed backup", () => {
  test("killing backup run midway leaves nothing list calls complete, no stray tool, and the next run succeeds", async () => {
    const run = startCli(["run", "--config", env.configFile]);
    let id: string | undefined;
    for (let i = 0; i < 2000 && id === undefined; i++) {
      id = run.lines.find((l) => l.event === "start")?.id as string | undefined;
      await sleep(5);
    }
    expect(id).toBeDefined();
    const data = join(env.localDir, "backups", id!, "data.mbstream.zst");
    for (let i = 0; i < 2000 && !(existsSync(data) && statSync(data).size > 0); i++) await sleep(2);
    run.proc.kill("SIGKILL");
    await run.done;
    expect(run.lines.some((l) => l.event === "done")).toBe(false);
    // mariadb-backup and zstd lose their pipe and die with it.
    for (let i = 0; ; i++) {
      const strays = readdirSync("/proc").filter((p) => {
        if (!/^\d+$/.test(p)) return false;
        try {
          return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(`run-${id}`);
        } catch {
          return false;
        }
      });
      if (strays.length === 0) break;
      if (i > 100) throw new Error(`tools of the killed backup still running: ${strays.join(", ")}`);
      await sleep(100);
    }
    const list = ok(await cli(env, "list", "--all"));
    const entry = (list.backups as { id: string; complete: boolean; copies: { complete: boolean }[] }[]).find(
      (b) => b.id === id,
    );
    expect(entry?.complete ?? false).toBe(false);
    expect(entry?.copies.every((c) => !c.complete) ?? true).toBe(true);
    const plain = ok(await cli(env, "list"));
    expect((plain.backups as { id: string }[]).map((b) => b.id)).not.toContain(id);

    const next = ok(await cli(env, "run"));
    expect(next.id).not.toBe(id);
    // The killed run had paused its source's SQL thread; the next one restarted it.
    const killedSource = String(run.lines.find((l) => l.event === "source")?.source);
    const source = sb.replicas[Number(killedSource.replace("replica", "")) - 1]!;
    const c = await sb.connect(source);
    try {
      const [rows] = await c.query("SHOW SLAVE STATUS");
      expect((rows as { Slave_SQL_Running: string }[])[0]?.Slave_SQL_Running).toBe("Yes");
    } finally {
      await c.end();
    }
  });
});

describe("scheduled backups in serve", () => {
  test("a fleet of two proxies on one schedule: each run is taken by exactly one of them (Redis slot lock); /backups behind admin.token; metrics per destination", async () => {
    await using redis = await startRedis();
    const token = "backup-test-token-0123456789";
    const backup: BackupConfig = {
      ...loadConfig({ file: env.configFile }).backup!,
      destinations: [
        {
          name: "fleet",
          type: "dir",
          path: join(env.dir, "fleet"),
          retention: { last: 10, daily: 7, weekly: 4 },
        },
      ],
      schedule: "*/2 * * * * *",
      verifyAfterBackup: false,
    };
    const config = testConfig(sb.primary, sb.replicas, {
      admin: { listen: { host: "127.0.0.1", port: 0 }, enabled: true, token },
      redis: { url: redis.url },
      backup,
    });
    await using a = await startApp(config);
    await using b = await startApp(config);
    const runs = () => [a, b].map((x) => x.app.backups!.service.runs);
    for (let i = 0; runs().reduce((n, r) => n + r.succeeded, 0) < 2; i++) {
      if (i > 300)
        throw new Error(
          `no two scheduled backups in 30 s: ${JSON.stringify(runs())} ${JSON.stringify(a.app.backups!.service.lastBackup)}`,
        );
      await sleep(100);
    }
    await a.close();
    await b.close();
    const { Redis } = await import("ioredis");
    const r = new Redis(redis.url);
    const slots = await r.keys("rwsplit:backup-slot:*");
    r.disconnect();
    const claimed = [a, b].reduce((n, x) => n + x.app.backups!.scheduler!.status().claimed, 0);
    expect(claimed).toBe(slots.length);

    // The admin app of a running proxy: /backups wants the token, /metrics does not.
    await using c = await startApp(config);
    const base = `http://127.0.0.1:${c.app.adminListen!.port}`;
    expect((await fetch(`${base}/backups`)).status).toBe(401);
    const res = await fetch(`${base}/backups`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      schedule: { pattern: string };
      backups: { complete: boolean; copies: unknown[] }[];
    };
    expect(body.schedule.pattern).toBe("*/2 * * * * *");
    expect(body.backups.filter((x) => x.complete).length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(body)).not.toContain(sb.credentials.root.password);
    await c.close();
    const metricsText = await a.app.metrics.render();
    const other = await b.app.metrics.render();
    expect(`${metricsText}${other}`).toMatch(
      /rwsplit_backup_last_success_timestamp\{destination="fleet"\} \d/,
    );
  });
});
