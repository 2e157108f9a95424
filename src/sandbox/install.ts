import { spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";

/**
 * Finding (or installing) the Debian packages whose programs rwsplit's sandbox, demo, tests and
 * benchmarks run. The sandbox runs its own mariadbd processes and never touches a system service,
 * but it needs the packages' binaries. One installer for all of them: whatever is missing is
 * installed with `apt-get install` when we are root, after at most one `apt-get update` per
 * process; otherwise the error gives the exact command to type.
 */

export const MARIADBD = "/usr/sbin/mariadbd";
/** apt-get waits up to 10 minutes for the dpkg lock instead of failing when it is taken. */
const LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"];
const BIN_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

/** A Debian package and the programs (or files) whose presence shows it is installed. */
export interface DebianPackage {
  name: string;
  /**
   * Program names (looked up in the usual bin dirs) or absolute paths of executables. A library
   * package with no program names a file it installs instead, as an absolute path prefixed with
   * `file:` (present when it exists, executable or not).
   */
  programs: readonly string[];
}

/** `mariadbd` (via mariadb-server-core) and `mariadb-install-db`. */
export const MARIADB_SERVER: DebianPackage = {
  name: "mariadb-server",
  programs: [MARIADBD, "mariadb-install-db"],
};
/** The `mariadb` command-line client. */
export const MARIADB_CLIENT: DebianPackage = { name: "mariadb-client", programs: ["mariadb"] };
export const SYSBENCH: DebianPackage = { name: "sysbench", programs: ["sysbench"] };
export const REDIS_SERVER: DebianPackage = { name: "redis-server", programs: ["redis-server"] };
export const HAPROXY: DebianPackage = { name: "haproxy", programs: ["haproxy"] };
/** Headless Chromium for the status page's end-to-end test (driven by playwright-core). */
export const CHROMIUM: DebianPackage = { name: "chromium", programs: ["/usr/bin/chromium"] };
/** Physical backups (`rwsplit backup`): `mariadb-backup` and `mbstream`. */
export const MARIADB_BACKUP: DebianPackage = {
  name: "mariadb-backup",
  programs: ["mariadb-backup", "mbstream"],
};
/** Backup compression (backup.compression: zstd). */
export const ZSTD: DebianPackage = { name: "zstd", programs: ["zstd"] };

// The driver matrix (test/e2e/drivers/): each language's MariaDB/MySQL client as Debian ships it.
/** PyMySQL for Debian's own python3 (/usr/bin/python3, not a pyenv or venv one). */
export const PYMYSQL: DebianPackage = {
  name: "python3-pymysql",
  programs: ["/usr/bin/python3", "file:/usr/lib/python3/dist-packages/pymysql/__init__.py"],
};
export const PHP_CLI: DebianPackage = { name: "php-cli", programs: ["php"] };
/** mysqli and pdo_mysql (mysqlnd) for PHP's CLI; the ini file shows the extension is enabled. */
export const PHP_MYSQL: DebianPackage = {
  name: "php-mysql",
  programs: ["file:/etc/php/8.2/cli/conf.d/20-mysqli.ini"],
};
/** DBD::mysql 4.050 (the `dbi:mysql:` DSN most Perl applications use), built on libmariadb. */
export const DBD_MYSQL: DebianPackage = {
  name: "libdbd-mysql-perl",
  programs: ["file:/usr/lib/x86_64-linux-gnu/perl5/5.36/DBD/mysql.pm"],
};
/** DBD::MariaDB 1.22 (`dbi:MariaDB:`), the maintained fork with correct Unicode and prepares. */
export const DBD_MARIADB: DebianPackage = {
  name: "libdbd-mariadb-perl",
  programs: ["file:/usr/lib/x86_64-linux-gnu/perl5/5.36/DBD/MariaDB.pm"],
};
/** MariaDB Connector/J 2.7; Debian's package depends on no JRE, hence default-jre-headless. */
export const MARIADB_JAVA: DebianPackage = {
  name: "libmariadb-java",
  programs: ["file:/usr/share/java/mariadb-java-client.jar"],
};
/** `java`, which also runs a single source file (its modules image includes jdk.compiler). */
export const JAVA_RUNTIME: DebianPackage = { name: "default-jre-headless", programs: ["java"] };

/** The clients of the driver matrix. */
export const DRIVER_PACKAGES: readonly DebianPackage[] = [
  PYMYSQL,
  PHP_CLI,
  PHP_MYSQL,
  DBD_MYSQL,
  DBD_MARIADB,
  MARIADB_JAVA,
  JAVA_RUNTIME,
];

/** What `npm test` and the demo/bench need (README, Quick start). */
export const ALL_PACKAGES: readonly DebianPackage[] = [
  MARIADB_SERVER,
  MARIADB_CLIENT,
  SYSBENCH,
  REDIS_SERVER,
  HAPROXY,
  CHROMIUM,
  ...DRIVER_PACKAGES,
  MARIADB_BACKUP,
  ZSTD,
];

export interface MariadbBinaries {
  mariadbd: string;
  installDb: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The program's path, or null when it is not installed; `file:PATH` is any file at PATH. */
export function findProgram(name: string): string | null {
  if (name.startsWith("file:")) return existsSync(name.slice(5)) ? name.slice(5) : null;
  if (name.startsWith("/")) return executable(name) ? name : null;
  for (const d of BIN_DIRS) if (executable(join(d, name))) return join(d, name);
  return null;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0
        ? resolve()
        : reject(
            new RwsplitError("SANDBOX_FAILED", `${cmd} ${args.join(" ")} exited with ${code ?? signal}`),
          ),
    );
  });
}

export interface Installer {
  /**
   * Makes sure every package of `packages` is installed: returns at once when all their programs
   * are there, installs the missing ones with apt-get when we are root, and otherwise throws with
   * the command to run. `what` names what needs them, for the messages.
   */
  ensure(packages: readonly DebianPackage[], log: (line: string) => void, what?: string): Promise<void>;
}

export interface InstallerDeps {
  run?: (cmd: string, args: string[]) => Promise<void>;
  find?: (program: string) => string | null;
  isRoot?: () => boolean;
}

/**
 * An installer with its own "updated yet" state: `apt-get update` runs at most once for it,
 * however many callers ask (at once they share the promise; a failed update is retried by the
 * next caller), and installs run one at a time (two apt-get processes would fight over the dpkg
 * lock). The process uses one (`ensurePackages`); tests make their own with fake commands.
 */
export function createInstaller(deps: InstallerDeps = {}): Installer {
  const exec = deps.run ?? run;
  const find = deps.find ?? findProgram;
  const isRoot = deps.isRoot ?? (() => process.getuid?.() === 0);
  const missingOf = (packages: readonly DebianPackage[]) => {
    const missing = packages.filter((p) => p.programs.some((prog) => find(prog) === null));
    return [...new Set(missing.map((p) => p.name))];
  };
  let aptUpdate: Promise<void> | null = null;
  let installing: Promise<unknown> = Promise.resolve();

  const updateOnce = (log: (line: string) => void): Promise<void> => {
    if (aptUpdate === null) {
      log("apt-get update");
      aptUpdate = exec("apt-get", ["update"]).catch((e) => {
        aptUpdate = null;
        throw e;
      });
    }
    return aptUpdate;
  };

  return {
    async ensure(packages, log, what = "rwsplit") {
      const missing = missingOf(packages);
      if (missing.length === 0) return;
      const command = `apt-get install -y --no-install-recommends ${missing.join(" ")}`;
      if (!isRoot()) {
        throw new RwsplitError(
          "SANDBOX_FAILED",
          `missing ${missing.join(", ")} (needed by ${what}): run \`sudo apt-get update && sudo ${command}\`, then retry`,
        );
      }
      const install = installing.then(async () => {
        // Another caller may have installed them while this one waited its turn.
        const still = missingOf(packages);
        if (still.length === 0) return;
        await updateOnce(log);
        log(`installing for ${what}: ${still.join(" ")}`);
        // Another apt-get on the machine (an operator, unattended-upgrades) may hold the dpkg lock
        // for a while: wait for it rather than fail at once.
        await exec("apt-get", [...LOCK_WAIT, "install", "-y", "--no-install-recommends", ...still]);
      });
      installing = install.catch(() => {});
      try {
        await install;
      } catch (e) {
        throw new RwsplitError(
          "SANDBOX_FAILED",
          `installing ${missing.join(", ")} failed: ${(e as Error).message}`,
          { cause: e },
        );
      }
      const after = missingOf(packages);
      if (after.length > 0) {
        const programs = packages.filter((p) => after.includes(p.name)).flatMap((p) => p.programs);
        throw new RwsplitError(
          "SANDBOX_FAILED",
          `${command} succeeded but ${programs.filter((p) => find(p) === null).join(", ")} still missing`,
        );
      }
    },
  };
}

const installer = createInstaller();

/** `Installer.ensure` of the process-wide installer (one `apt-get update` per process). */
export function ensurePackages(
  packages: readonly DebianPackage[],
  log: (line: string) => void,
  what?: string,
): Promise<void> {
  return installer.ensure(packages, log, what);
}

/**
 * Returns the MariaDB server binaries the sandbox runs, installing mariadb-server and
 * mariadb-client first when they are missing (see `ensurePackages`).
 */
export async function ensureMariadb(log: (line: string) => void): Promise<MariadbBinaries> {
  await ensurePackages([MARIADB_SERVER, MARIADB_CLIENT], log, "the MariaDB sandbox");
  return { mariadbd: MARIADBD, installDb: findProgram("mariadb-install-db")! };
}
