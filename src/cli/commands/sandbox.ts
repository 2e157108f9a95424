import type { Command } from "commander";
import { RwsplitError } from "../../errors.js";
import {
  DEFAULT_BASE_PORT,
  DEFAULT_REPLICAS,
  DEFAULT_SEMI_SYNC_TIMEOUT_MS,
  formatStatus,
  type SandboxInfo,
  sandboxDown,
  sandboxRunning,
  sandboxStatus,
  sandboxUp,
} from "../../sandbox/cluster.js";
import { DEFAULT_SANDBOX_DIR } from "../../sandbox/paths.js";

/** `rwsplit sandbox up|down|status`: a local MariaDB replication cluster to run rwsplit against. */

const say = (line: string) => process.stdout.write(`${line}\n`);

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new RwsplitError("CLI_USAGE", `${name} must be a whole number, got "${v}"`);
    return n;
  };
}

function portList(v: string): number[] {
  return v.split(",").map((p) => int("--ports")(p.trim()));
}

async function printStatus(dir: string): Promise<boolean> {
  const rows = await sandboxStatus(dir);
  if (rows.length === 0) {
    say(`no sandbox in ${dir}`);
    return false;
  }
  for (const r of rows) say(formatStatus(r));
  return rows.every((r) => r.alive);
}

function printConnection(info: SandboxInfo): void {
  const c = info.credentials;
  const p = info.primary;
  say("");
  say(`sandbox up in ${info.dir}`);
  for (const n of [info.primary, ...info.replicas]) {
    say(`  ${n.role.padEnd(8)} ${n.name.padEnd(9)} ${n.host}:${n.port}  pid ${n.pid}  socket ${n.socket}`);
  }
  say("");
  say(`  app:      ${c.app.user} / ${c.app.password} (database ${c.database})`);
  say(`  monitor:  ${c.monitor.user} / ${c.monitor.password}`);
  say(`  root:     ${c.root.user} / ${c.root.password} (TCP, admin)`);
  say(`  repl:     ${c.replication.user} / ${c.replication.password}`);
  say(`  mysql:    mariadb -h ${p.host} -P ${p.port} -u ${c.app.user} -p${c.app.password} ${c.database}`);
  say(`  stop:     rwsplit sandbox down --dir ${info.dir}`);
}

export function register(program: Command): void {
  const sb = program
    .command("sandbox")
    .description("a local MariaDB GTID replication cluster (one primary, N read_only replicas, semi-sync)");

  sb.command("up")
    .description("start the cluster and wait until every replica caught up (reports a running one)")
    .option("--dir <dir>", "state directory", DEFAULT_SANDBOX_DIR)
    .option(
      "--base-port <port>",
      "primary port; replica i gets base + i",
      int("--base-port"),
      DEFAULT_BASE_PORT,
    )
    .option(
      "--ports <list>",
      "explicit comma-separated ports, primary first (overrides --base-port)",
      portList,
    )
    .option("--replicas <n>", "number of replicas", int("--replicas"), DEFAULT_REPLICAS)
    .option(
      "--semi-sync-timeout <ms>",
      "rpl_semi_sync_master_timeout: how long a commit waits for a replica's ACK",
      int("--semi-sync-timeout"),
      DEFAULT_SEMI_SYNC_TIMEOUT_MS,
    )
    .action(
      async (o: {
        dir: string;
        basePort: number;
        ports?: number[];
        replicas: number;
        semiSyncTimeout: number;
      }) => {
        if (sandboxRunning(o.dir)) {
          say(`a sandbox is already running in ${o.dir}; leaving it as it is:`);
          await printStatus(o.dir);
          return;
        }
        const info = await sandboxUp({
          dir: o.dir,
          basePort: o.basePort,
          replicas: o.replicas,
          semiSyncTimeoutMs: o.semiSyncTimeout,
          ...(o.ports ? { ports: o.ports } : {}),
          log: (l) => say(l),
        });
        printConnection(info);
      },
    );

  sb.command("status")
    .description("one line per node: role, pid, port, read_only, replication threads, lag, GTID positions")
    .option("--dir <dir>", "state directory", DEFAULT_SANDBOX_DIR)
    .action(async (o: { dir: string }) => {
      if (!(await printStatus(o.dir))) process.exitCode = 1;
    });

  sb.command("down")
    .description("stop the processes the sandbox started and remove its directory")
    .option("--dir <dir>", "state directory", DEFAULT_SANDBOX_DIR)
    .action(async (o: { dir: string }) => {
      await sandboxDown(o.dir);
      say(`sandbox in ${o.dir} stopped and removed`);
    });
}
