import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import mysql from "mysql2/promise";
import { RwsplitError } from "../errors.js";

/**
 * A real MariaDB replication cluster on this machine, wired as the seed guide tells an operator:
 * unique server_id, log_bin + ROW + log_slave_updates on every node (any replica can be
 * promoted), a relay log, a replication user, CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos,
 * START SLAVE, read_only on replicas, semi-synchronous replication.
 */

export const SANDBOX_CREDENTIALS = {
  root: { user: "root", password: "root-pass" },
  replication: { user: "repl", password: "repl-pass" },
  app: { user: "app", password: "app-pass" },
  monitor: { user: "monitor", password: "monitor-pass" },
  database: "app",
} as const;

export interface SandboxNode {
  name: string;
  role: "primary" | "replica";
  host: string;
  port: number;
  pid: number;
  socket: string;
  dataDir: string;
}

export interface SandboxInfo {
  dir: string;
  primary: SandboxNode;
  replicas: SandboxNode[];
  credentials: typeof SANDBOX_CREDENTIALS;
}

export interface NodeStatus {
  name: string;
  role: string;
  pid: number;
  port: number;
  alive: boolean;
  readOnly: boolean | null;
  ioRunning: string | null;
  sqlRunning: string | null;
  secondsBehind: number | null;
  gtidCurrentPos: string | null;
  gtidSlavePos: string | null;
  error: string | null;
}

export interface SandboxOptions {
  dir: string;
  basePort?: number;
  ports?: number[];
  replicas?: number;
  log?: (line: string) => void;
}

const STATE_FILE = "sandbox.json";
const MARIADBD = "/usr/sbin/mariadbd";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readState(dir: string): SandboxInfo | null {
  const f = join(dir, STATE_FILE);
  if (!existsSync(f)) return null;
  return JSON.parse(readFileSync(f, "utf8")) as SandboxInfo;
}

/** Installs mariadb-server/client with apt-get when missing and we are root; else says what to do. */
export function ensureMariadbInstalled(log: (l: string) => void): void {
  const have = (bin: string) => {
    try {
      execFileSync("sh", ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  if (have("mariadbd") && have("mariadb-install-db") && have("mariadb")) return;
  if (process.getuid?.() !== 0) {
    throw new RwsplitError(
      "SANDBOX_FAILED",
      "MariaDB is not installed: run `sudo apt-get install -y mariadb-server mariadb-client`, then retry",
    );
  }
  log("installing mariadb-server and mariadb-client with apt-get...");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync(
    "apt-get",
    ["install", "-y", "-qq", "--no-install-recommends", "mariadb-server", "mariadb-client"],
    {
      stdio: "inherit",
      env,
    },
  );
}

async function waitFor(
  fn: () => Promise<boolean>,
  ms: number,
  what: string,
  logFile?: string,
): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown = null;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      const tail =
        logFile && existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-8).join("\n") : "";
      throw new RwsplitError(
        "SANDBOX_FAILED",
        `timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}${tail ? `\n${tail}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function nodeArgs(node: SandboxNode, serverId: number): string[] {
  return [
    "--no-defaults",
    `--datadir=${node.dataDir}`,
    `--port=${node.port}`,
    "--bind-address=127.0.0.1",
    `--socket=${node.socket}`,
    `--pid-file=${join(node.dataDir, "..", "mariadbd.pid")}`,
    "--user=root",
    `--server-id=${serverId}`,
    "--log-bin=mariadb-bin",
    "--binlog-format=ROW",
    "--log-slave-updates",
    "--relay-log=relay-bin",
    "--gtid-strict-mode=ON",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--innodb-flush-log-at-trx-commit=2",
    "--sync-binlog=0",
    "--performance-schema=OFF",
    "--skip-name-resolve",
    "--max-connections=3000",
    "--max-allowed-packet=1G",
    "--rpl-semi-sync-master-enabled=ON",
    "--rpl-semi-sync-slave-enabled=ON",
    "--rpl-semi-sync-master-timeout=10000",
    ...(node.role === "replica" ? ["--read-only=ON"] : []),
    `--log-error=${join(node.dataDir, "..", "error.log")}`,
  ];
}

function rootConn(n: { host: string; port: number }) {
  return mysql.createConnection({
    host: n.host,
    port: n.port,
    user: SANDBOX_CREDENTIALS.root.user,
    password: SANDBOX_CREDENTIALS.root.password,
    connectTimeout: 3000,
  });
}

/** Brings the cluster up (or reports the running one) and waits until replicas caught up. */
export async function sandboxUp(opts: SandboxOptions): Promise<SandboxInfo> {
  const log = opts.log ?? (() => {});
  const dir = resolve(opts.dir);
  const existing = readState(dir);
  if (existing) {
    const nodes = [existing.primary, ...existing.replicas];
    if (nodes.every((n) => alive(n.pid))) {
      log(`sandbox already running in ${dir}`);
      return existing;
    }
    log("stale sandbox found (processes gone): cleaning it up");
    await sandboxDown(dir);
  }
  ensureMariadbInstalled(log);
  const count = opts.replicas ?? 2;
  const base = opts.basePort ?? 13306;
  const ports = opts.ports ?? Array.from({ length: count + 1 }, (_, i) => base + i);
  mkdirSync(dir, { recursive: true });
  const template = join(dir, "template");
  log("initialising a data directory (mariadb-install-db)");
  execFileSync(
    "mariadb-install-db",
    [
      "--no-defaults",
      `--datadir=${template}`,
      "--user=root",
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ],
    { stdio: "ignore" },
  );
  const nodes: SandboxNode[] = [];
  for (let i = 0; i <= count; i++) {
    const name = i === 0 ? "primary" : `replica${i}`;
    const nodeDir = join(dir, name);
    mkdirSync(nodeDir, { recursive: true });
    cpSync(template, join(nodeDir, "data"), { recursive: true });
    const node: SandboxNode = {
      name,
      role: i === 0 ? "primary" : "replica",
      host: "127.0.0.1",
      port: ports[i]!,
      pid: 0,
      socket: join(nodeDir, "mariadbd.sock"),
      dataDir: join(nodeDir, "data"),
    };
    const out = openSync(join(nodeDir, "stdout.log"), "a");
    const child = spawn(MARIADBD, nodeArgs(node, i + 1), { detached: true, stdio: ["ignore", out, out] });
    child.unref();
    node.pid = child.pid ?? 0;
    nodes.push(node);
  }
  rmSync(template, { recursive: true, force: true });
  const info: SandboxInfo = {
    dir,
    primary: nodes[0]!,
    replicas: nodes.slice(1),
    credentials: SANDBOX_CREDENTIALS,
  };
  writeFileSync(join(dir, STATE_FILE), `${JSON.stringify(info, null, 2)}\n`);
  try {
    for (const n of nodes) {
      log(`starting ${n.name} on port ${n.port} (pid ${n.pid})`);
      await waitFor(
        async () => {
          const c = await mysql.createConnection({ socketPath: n.socket, user: "root" });
          // Local to each node and kept out of the binlog, so replication does not replay it.
          await c.query("SET SESSION sql_log_bin = 0");
          await c.query(
            `CREATE OR REPLACE USER root@'127.0.0.1' IDENTIFIED BY '${SANDBOX_CREDENTIALS.root.password}'`,
          );
          await c.query("GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION");
          await c.end();
          return true;
        },
        60_000,
        `${n.name} to start`,
        join(n.dataDir, "..", "error.log"),
      );
    }
    const c = SANDBOX_CREDENTIALS;
    const p = await rootConn(info.primary);
    for (const sql of [
      `CREATE USER ${c.replication.user}@'%' IDENTIFIED BY '${c.replication.password}'`,
      `GRANT REPLICATION SLAVE ON *.* TO ${c.replication.user}@'%'`,
      // The application user: broad privileges, but neither SUPER nor READ_ONLY ADMIN, so the
      // replicas' read_only really refuses its writes.
      `CREATE USER ${c.app.user}@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${c.app.password}')`,
      `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT, TRIGGER, REFERENCES, PROCESS, RELOAD ON *.* TO ${c.app.user}@'%'`,
      `CREATE USER ${c.monitor.user}@'%' IDENTIFIED BY '${c.monitor.password}'`,
      `GRANT REPLICATION CLIENT, SLAVE MONITOR, PROCESS ON *.* TO ${c.monitor.user}@'%'`,
      `GRANT CREATE, INSERT, UPDATE, SELECT, DELETE ON rwsplit.* TO ${c.monitor.user}@'%'`,
      `CREATE DATABASE ${c.database}`,
    ]) {
      await p.query(sql);
    }
    for (const r of info.replicas) {
      log(`${r.name}: CHANGE MASTER TO the primary, MASTER_USE_GTID=slave_pos; START SLAVE`);
      const rc = await rootConn(r);
      await rc.query(
        `CHANGE MASTER TO MASTER_HOST='${info.primary.host}', MASTER_PORT=${info.primary.port}, MASTER_USER='${c.replication.user}', MASTER_PASSWORD='${c.replication.password}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1`,
      );
      await rc.query("START SLAVE");
      await rc.end();
    }
    // Semi-sync only counts replicas that connected with it on: confirm and wait for catch-up.
    await p.query("CREATE TABLE IF NOT EXISTS mysql.rwsplit_sandbox_marker (id INT PRIMARY KEY)");
    await p.query("REPLACE INTO mysql.rwsplit_sandbox_marker VALUES (1)");
    await p.end();
    await waitForReplicas(info, 60_000);
    log("every replica runs both replication threads and has caught up");
    return info;
  } catch (e) {
    await sandboxDown(dir);
    throw e;
  }
}

/** Waits until every replica runs both threads and has applied the primary's binlog position. */
export async function waitForReplicas(info: SandboxInfo, ms = 30_000): Promise<void> {
  const p = await rootConn(info.primary);
  try {
    const [rows] = await p.query("SELECT @@gtid_binlog_pos AS pos");
    const pos = (rows as { pos: string }[])[0]!.pos;
    for (const r of info.replicas) {
      const rc = await rootConn(r);
      try {
        await waitFor(
          async () => {
            const [st] = await rc.query("SHOW SLAVE STATUS");
            const s = (st as Record<string, unknown>[])[0];
            if (s?.Slave_IO_Running !== "Yes" || s.Slave_SQL_Running !== "Yes") return false;
            const [w] = await rc.query("SELECT MASTER_GTID_WAIT(?, 0.5) AS w", [pos]);
            return (w as { w: number }[])[0]!.w === 0;
          },
          ms,
          `${r.name} to replicate`,
          join(r.dataDir, "..", "error.log"),
        );
      } finally {
        await rc.end();
      }
    }
  } finally {
    await p.end();
  }
}

/** Stops exactly the processes this sandbox started (by pid) and removes its directory. */
export async function sandboxDown(dirArg: string): Promise<void> {
  const dir = resolve(dirArg);
  const state = readState(dir);
  if (state) {
    const nodes = [state.primary, ...state.replicas];
    for (const n of nodes) if (n.pid > 0 && alive(n.pid)) process.kill(n.pid, "SIGTERM");
    const deadline = Date.now() + 20_000;
    while (nodes.some((n) => n.pid > 0 && alive(n.pid)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const n of nodes) if (n.pid > 0 && alive(n.pid)) process.kill(n.pid, "SIGKILL");
    while (nodes.some((n) => n.pid > 0 && alive(n.pid))) await new Promise((r) => setTimeout(r, 50));
  }
  rmSync(dir, { recursive: true, force: true });
}

/** One line per node: role, pid, port, read_only, IO/SQL threads, lag, GTID positions. */
export async function sandboxStatus(dirArg: string): Promise<NodeStatus[]> {
  const state = readState(resolve(dirArg));
  if (!state) return [];
  const out: NodeStatus[] = [];
  for (const n of [state.primary, ...state.replicas]) {
    const st: NodeStatus = {
      name: n.name,
      role: n.role,
      pid: n.pid,
      port: n.port,
      alive: alive(n.pid),
      readOnly: null,
      ioRunning: null,
      sqlRunning: null,
      secondsBehind: null,
      gtidCurrentPos: null,
      gtidSlavePos: null,
      error: null,
    };
    if (st.alive) {
      try {
        const c = await rootConn(n);
        const [v] = await c.query(
          "SELECT @@read_only AS ro, @@gtid_current_pos AS cur, @@gtid_slave_pos AS sp",
        );
        const row = (v as { ro: number; cur: string; sp: string }[])[0]!;
        st.readOnly = row.ro === 1;
        st.gtidCurrentPos = row.cur;
        st.gtidSlavePos = row.sp;
        const [s] = await c.query("SHOW SLAVE STATUS");
        const slave = (s as Record<string, unknown>[])[0];
        if (slave) {
          st.ioRunning = String(slave.Slave_IO_Running);
          st.sqlRunning = String(slave.Slave_SQL_Running);
          st.secondsBehind =
            slave.Seconds_Behind_Master === null ? null : Number(slave.Seconds_Behind_Master);
        }
        await c.end();
      } catch (e) {
        st.error = (e as Error).message;
      }
    }
    out.push(st);
  }
  return out;
}
