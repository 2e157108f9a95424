import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { TestS3 } from "./s3.js";
import type { TestSandbox } from "./sandbox.js";

/**
 * For the backup e2e tests: a config file naming the sandbox, a directory destination and the
 * test's S3 server, and `rwsplit backup ...` run as the CLI (bin/rwsplit.js, as an operator or
 * cron would), its JSON lines parsed.
 */

export interface BackupEnv {
  dir: string;
  configFile: string;
  /** The directory destination's root. */
  localDir: string;
  cleanup(): void;
}

export function backupEnv(
  sb: TestSandbox,
  s3: TestS3,
  backup: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): BackupEnv {
  const dir = mkdtempSync(join(tmpdir(), "rws-bk-"));
  const localDir = join(dir, "local");
  const root = sb.credentials.root;
  const config = {
    backends: {
      primary: { host: sb.primary.host, port: sb.primary.port, name: "primary" },
      replicas: sb.replicas.map((r, i) => ({ host: r.host, port: r.port, name: `replica${i + 1}` })),
    },
    users: [{ name: "app", password: "app-pass" }],
    log: { level: "warn" },
    backup: {
      user: root.user,
      password: root.password,
      work_dir: join(dir, "work"),
      destinations: [
        { name: "local", type: "dir", path: localDir },
        {
          name: "s3",
          type: "s3",
          endpoint: s3.endpoint,
          bucket: s3.bucket,
          prefix: "cluster1/",
          force_path_style: true,
          access_key_id: s3.accessKeyId,
          secret_access_key: s3.secretAccessKey,
        },
      ],
      binlogs: { spool_dir: join(dir, "spool"), upload_interval: "300ms" },
      ...backup,
    },
    ...extra,
  };
  const configFile = join(dir, "rwsplit.yaml");
  writeFileSync(configFile, stringify(config));
  return { dir, configFile, localDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  code: number | null;
  /** Every JSON line on stdout. */
  events: Record<string, unknown>[];
  /** The final {"event":"result"} line. */
  result: Record<string, unknown>;
  stderr: string;
}

/** Starts `rwsplit backup <args>`; `done` resolves with its exit and output. */
export function startCli(args: string[]): {
  proc: ChildProcess;
  done: Promise<CliResult>;
  lines: Record<string, unknown>[];
} {
  const proc = spawn(process.execPath, ["bin/rwsplit.js", "backup", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let buf = "";
  let stderr = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line.startsWith("{")) lines.push(JSON.parse(line) as Record<string, unknown>);
      nl = buf.indexOf("\n");
    }
  });
  proc.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve) =>
    proc.once("close", (code) =>
      resolve({ code, events: lines, result: lines.find((l) => l.event === "result") ?? {}, stderr }),
    ),
  );
  return { proc, done, lines };
}

export async function cli(env: BackupEnv, ...args: string[]): Promise<CliResult> {
  return startCli([...args, "--config", env.configFile]).done;
}
