import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { RwsplitError } from "../errors.js";

/**
 * Finding (or installing) the MariaDB server binaries. The sandbox runs its own mariadbd
 * processes and never touches a system service, but it needs the Debian packages' binaries:
 * `mariadbd` (mariadb-server-core) and `mariadb-install-db` (mariadb-server).
 */

export const MARIADBD = "/usr/sbin/mariadbd";
const BIN_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];
const PACKAGES = ["mariadb-server", "mariadb-client"];

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

function find(name: string): string | null {
  for (const d of BIN_DIRS) if (executable(join(d, name))) return join(d, name);
  return null;
}

function locate(): MariadbBinaries | null {
  const installDb = find("mariadb-install-db");
  return executable(MARIADBD) && installDb ? { mariadbd: MARIADBD, installDb } : null;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}`)),
    );
  });
}

/** `apt-get update` runs at most once per process, however many sandboxes start. */
let aptUpdated = false;

/**
 * Returns the binaries, installing the packages with apt-get first when they are missing and we
 * are root. Without root it throws with the exact command to run.
 */
export async function ensureMariadb(log: (line: string) => void): Promise<MariadbBinaries> {
  const found = locate();
  if (found) return found;
  const command = `apt-get install -y ${PACKAGES.join(" ")}`;
  if (process.getuid?.() !== 0) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `MariaDB is not installed (need ${MARIADBD} and mariadb-install-db): run \`sudo apt-get update && sudo ${command}\`, then retry`,
    );
  }
  try {
    if (!aptUpdated) {
      log("MariaDB is not installed: apt-get update");
      await run("apt-get", ["update"]);
      aptUpdated = true;
    }
    log(`installing: ${command}`);
    await run("apt-get", ["install", "-y", ...PACKAGES]);
  } catch (e) {
    throw new RwsplitError("SANDBOX_FAILED", `installing MariaDB failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const installed = locate();
  if (!installed) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      `${command} succeeded but ${MARIADBD} or mariadb-install-db is still missing`,
    );
  }
  return installed;
}
