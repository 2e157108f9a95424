import { describe, expect, test } from "vitest";
import { scanLog } from "../../src/backup/log-scan.js";
import { gtidFromDump } from "../../src/backup/logical.js";
import { backupId, type Manifest, parseManifest, serializeManifest } from "../../src/backup/manifest.js";
import { gtidFromBackupLog } from "../../src/backup/physical.js";
import { binlogTime } from "../../src/backup/restore.js";
import { validateConfig } from "../../src/config/load.js";

describe("scanLog", () => {
  test("counts the tools' warning and error markers, not file names", () => {
    const log = [
      "[00] 2026-12-06 18:16:23 Warning: option 'datadir' has different values:",
      "[01] 2026-12-06 18:16:23 Streaming ./sys/statements_with_errors_or_warnings.frm to <STDOUT>",
      "2026-12-06 18:16:24 0 [Warning] InnoDB: a warning",
      "2026-12-06 18:16:24 0 [ERROR] InnoDB: an error",
      "mariadb-dump: Got error: 2013: Lost connection to server during query",
      "ERROR 1064 (42000) at line 3: You have an error in your SQL syntax",
      "WARNING: Did not reach stop datetime",
      "[00] 2026-12-06 18:16:24 completed OK!",
    ].join("\n");
    const s = scanLog(log);
    expect([s.warnings, s.errors]).toEqual([3, 3]);
    expect(s.lines).toHaveLength(6);
  });
  test("ignored patterns do not count", () => {
    expect(scanLog("x [Warning] 'proxies_priv' entry ignored", [/proxies_priv/]).warnings).toBe(0);
  });
});

test("the GTID of a physical backup, from mariadb-backup's log", () => {
  const line =
    "[00] 2026-12-06 18:16:24 MySQL binlog position: filename 'mariadb-bin.000001', position '1488', GTID of the last change '0-1-5,1-2-9'";
  expect(gtidFromBackupLog(`a\n${line}\nb`)).toBe("0-1-5,1-2-9");
  expect(gtidFromBackupLog("nothing")).toBeNull();
});

test("the GTID of a logical backup, from the dump's last SET GLOBAL gtid_slave_pos", () => {
  expect(
    gtidFromDump("-- SET GLOBAL gtid_slave_pos='0-1-3';\n...\n-- SET GLOBAL gtid_slave_pos='0-1-11';\n"),
  ).toBe("0-1-11");
  expect(gtidFromDump("no gtid")).toBeNull();
});

test("binlogTime is UTC, as mariadb-binlog reads it with TZ=UTC", () => {
  expect(binlogTime(new Date("2026-12-06T18:16:45.900Z"))).toBe("2026-12-06 18:16:45");
});

describe("manifest", () => {
  const m: Manifest = {
    format: 1,
    id: backupId(new Date("2026-12-06T18:16:23.456Z"), "replica1"),
    method: "physical",
    startedAt: "2026-12-06T18:16:23.456Z",
    finishedAt: "2026-12-06T18:16:25.000Z",
    durationMs: 1544,
    source: {
      name: "replica1",
      host: "127.0.0.1",
      port: 3307,
      role: "replica",
      serverId: 2,
      version: "10.11",
    },
    gtid: "0-1-5",
    files: [
      {
        name: "data.mbstream.zst",
        role: "data",
        compression: "zstd",
        bytes: 10,
        sha256: "a".repeat(64),
        rawBytes: 20,
      },
    ],
    tools: { "mariadb-backup": "10.11" },
    log: { warnings: 0, errors: 0, lines: [] },
    sourceChecksums: { "app.t": "123", "app.empty": null },
    sourceChecksumsNote: null,
    verification: null,
  };
  test("round trip", () => {
    expect(m.id).toBe("20261206T181623Z-replica1");
    const back = parseManifest(serializeManifest(m));
    expect(back).toEqual({ ok: true, manifest: m });
  });
  test("a damaged manifest is reported, never trusted", () => {
    expect(parseManifest("{").ok).toBe(false);
    const r = parseManifest(JSON.stringify({ ...m, files: [{ ...m.files[0], sha256: "xyz" }] }));
    expect(r.ok).toBe(false);
  });
});

describe("backup: config", () => {
  const base = { backends: { primary: "127.0.0.1:3306" }, users: [{ name: "app", password: "p" }] };
  test("defaults and camelCase", () => {
    const c = validateConfig({
      ...base,
      backup: {
        user: "bk",
        password: "secret",
        destinations: [
          { name: "local", type: "dir", path: "/b" },
          {
            name: "s3",
            type: "s3",
            bucket: "bk",
            prefix: "rw",
            endpoint: "http://127.0.0.1:9000",
            force_path_style: true,
          },
        ],
        schedule: "0 3 * * *",
        binlogs: { enabled: true },
      },
    });
    expect(c.backup).toMatchObject({
      method: "physical",
      compression: "zstd",
      allowPrimary: false,
      sourceChecksums: true,
      schedule: "0 3 * * *",
      verifyAfterBackup: true,
      binlogs: { enabled: true, uploadIntervalMs: 10_000 },
      destinations: [
        { name: "local", type: "dir", path: "/b", retention: { last: 1, daily: 7, weekly: 4 } },
        { name: "s3", type: "s3", bucket: "bk", prefix: "rw/", region: "us-east-1", forcePathStyle: true },
      ],
    });
  });
  test("no section: no backups", () => {
    expect(validateConfig(base).backup).toBeUndefined();
  });
  const problems = (backup: unknown) => {
    try {
      validateConfig({ ...base, backup });
      return [];
    } catch (e) {
      return (e as { problems: { path: string; message: string }[] }).problems.map(
        (p) => `${p.path}: ${p.message}`,
      );
    }
  };
  test.each([
    [
      { user: "u", password: "p", destinations: [] },
      /backup.destinations: expected at least one destination/,
    ],
    [
      { user: "u", password: "p", destinations: [{ name: "x", type: "ftp" }] },
      /backup.destinations\[0\].type: expected one of dir, s3/,
    ],
    [
      { user: "u", password: "p", destinations: [{ name: "x", type: "dir", pth: "/b" }] },
      /pth: unknown key: did you mean "path"/,
    ],
    [{ user: "u", password: "p", destinations: [{ name: "x", type: "s3" }] }, /bucket: missing/],
    [
      {
        user: "u",
        password: "p",
        destinations: [
          { name: "x", type: "dir", path: "/a" },
          { name: "x", type: "dir", path: "/b" },
        ],
      },
      /backup.destinations\[1\].name: name "x" is already/,
    ],
    [
      {
        user: "u",
        password: "p",
        destinations: [{ name: "x", type: "dir", path: "/a" }],
        schedule: "every day",
      },
      /backup.schedule: expected a cron pattern/,
    ],
    [{ password: "p", destinations: [{ name: "x", type: "dir", path: "/a" }] }, /backup.user: missing/],
    [
      {
        user: "u",
        password: "p",
        destinations: [{ name: "x", type: "dir", path: "/a" }],
        method: "snapshot",
      },
      /backup.method: expected one of physical, logical/,
    ],
  ])("%j is refused", (backup, want) => {
    expect(problems(backup).join("\n")).toMatch(want);
  });
});

test("config.example.yaml's backup: section, uncommented, validates with the defaults it states", async () => {
  const { readFileSync } = await import("node:fs");
  const { parse } = await import("yaml");
  const text = readFileSync(new URL("../../config.example.yaml", import.meta.url), "utf8");
  const block = text.slice(text.indexOf("# backup:")).split("\n");
  const yaml = block
    .filter((l) => l.startsWith("#"))
    .map((l) => l.replace(/^# ?/, ""))
    .join("\n");
  const c = validateConfig({
    backends: { primary: "127.0.0.1:3306" },
    users: [{ name: "a", password: "b" }],
    ...parse(yaml),
  });
  expect(c.backup).toMatchObject({
    method: "physical",
    allowPrimary: false,
    compression: "zstd",
    sourceChecksums: true,
    workDir: ".rwsplit/backup",
    verifyAfterBackup: true,
    binlogs: {
      enabled: false,
      spoolDir: ".rwsplit/binlog-spool",
      uploadIntervalMs: 10_000,
      serverId: 4_000_000_001,
    },
  });
  expect(c.backup?.destinations.map((d) => d.type)).toEqual(["dir", "s3"]);
  expect(c.backup?.schedule).toBeUndefined();
});
