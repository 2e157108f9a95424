import { execFileSync } from "node:child_process";

/**
 * Before any test: the real components the integration and e2e layers start (MariaDB server and
 * client, sysbench) must be installed. As root they are installed with apt-get, so `npm test`
 * works on a fresh machine; otherwise the run stops with the command to type.
 */
export default function setup(): void {
  const missing = [
    ["mariadbd", "mariadb-server"],
    ["mariadb-install-db", "mariadb-server"],
    ["mariadb", "mariadb-client"],
    ["sysbench", "sysbench"],
  ]
    .filter(([bin]) => !has(bin!))
    .map(([, pkg]) => pkg!);
  const packages = [...new Set(missing)];
  if (packages.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`tests need: sudo apt-get install -y ${packages.join(" ")}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], {
    stdio: "inherit",
    env,
  });
}

function has(bin: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${bin} >/dev/null || test -x /usr/sbin/${bin}`]);
    return true;
  } catch {
    return false;
  }
}
