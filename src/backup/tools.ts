import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createWriteStream, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";
import {
  type DebianPackage,
  ensurePackages,
  findProgram,
  MARIADB_BACKUP,
  MARIADB_CLIENT,
  MARIADB_SERVER,
  ZSTD,
} from "../sandbox/install.js";

/**
 * The MariaDB programs backups run, found (or installed, as the sandbox does) and started with
 * their output captured. Credentials go in a 0600 option file (`--defaults-file`, which also keeps
 * /etc/mysql/my.cnf out), never on a command line where `ps` would show them.
 */

export type Program =
  | "mariadb-backup"
  | "mbstream"
  | "mariadb-dump"
  | "mariadb-binlog"
  | "mariadb"
  | "mariadb-install-db"
  | "zstd";

/** Installs what `what` needs (apt-get when root) or throws with the command to run. */
export async function ensureTools(
  needs: { physical?: boolean; zstd?: boolean; server?: boolean },
  log: (line: string) => void,
): Promise<void> {
  const pkgs: DebianPackage[] = [MARIADB_CLIENT];
  if (needs.physical) pkgs.push(MARIADB_BACKUP);
  if (needs.zstd) pkgs.push(ZSTD);
  if (needs.server) pkgs.push(MARIADB_SERVER);
  await ensurePackages(pkgs, log, "rwsplit backup");
}

export function program(name: Program): string {
  const p = findProgram(name);
  if (p === null) throw new RwsplitError("BACKUP_FAILED", `${name} is not installed`);
  return p;
}

/** Option-file quoting: backslash and double quote escaped inside double quotes. */
function optionValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Writes `<dir>/client.cnf` (mode 0600) with the [client] user and password; returns its path. */
export function credentialsFile(dir: string, user: string, password: string): string {
  const path = join(dir, "client.cnf");
  writeFileSync(path, `[client]\nuser=${optionValue(user)}\npassword=${optionValue(password)}\n`, {
    mode: 0o600,
  });
  return path;
}

export interface Running {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
}

/**
 * Starts `cmd` with stderr appended to `logFile` (the tool's log, kept with the backup) and
 * stdout piped (or ignored). Its own process group is NOT used: if rwsplit is killed, a tool
 * writing to a pipe nobody reads dies of SIGPIPE instead of running on.
 */
export function start(
  cmd: string,
  args: string[],
  opts: { logFile: string; stdout?: "pipe" | "ignore"; stdin?: "pipe" | "ignore"; env?: NodeJS.ProcessEnv },
): Running {
  const log = createWriteStream(opts.logFile, { flags: "a" });
  const child = spawn(cmd, args, {
    stdio: [opts.stdin ?? "ignore", opts.stdout ?? "pipe", "pipe"],
    ...(opts.env ? { env: opts.env } : {}),
  });
  child.stderr?.pipe(log);
  const exited = new Promise<number | string>((resolve) => {
    child.once("error", (e) => {
      log.write(`rwsplit: could not run ${cmd}: ${e.message}\n`);
      resolve(`spawn error: ${e.message}`);
    });
    child.once("close", (code, signal) => {
      log.end();
      resolve(code ?? signal ?? "unknown");
    });
  });
  return { child, exited };
}

/** Runs to the end; rejects with the tail of the log when it fails. */
export async function run(
  cmd: string,
  args: string[],
  logFile: string,
  readLog: () => string,
): Promise<void> {
  const r = start(cmd, args, { logFile, stdout: "ignore" });
  const code = await r.exited;
  if (code !== 0) {
    const tail = readLog().trim().split("\n").slice(-10).join("\n");
    throw new RwsplitError("BACKUP_FAILED", `${cmd} ${args[0] ?? ""} exited with ${code}\n${tail}`);
  }
}

/** The first line a program prints for --version ("mariadb-backup based on MariaDB server 10.11.19..."). */
export function version(name: Program): Promise<string> {
  return new Promise((resolve) => {
    const p = findProgram(name);
    if (p === null) return resolve("not installed");
    execFile(p, ["--version"], { timeout: 5000 }, (_e, stdout, stderr) => {
      const line = `${stdout}${stderr}`.split("\n").find((l) => l.trim() !== "") ?? "unknown";
      resolve(line.replace(/^\*+\s*|\s*\*+$/g, "").trim());
    });
  });
}
