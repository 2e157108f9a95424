import type { Command } from "commander";
import { sandboxDown, sandboxStatus, sandboxUp } from "../../sandbox/cluster.js";

export function register(program: Command): void {
  const sb = program
    .command("sandbox")
    .description("a local MariaDB GTID replication cluster (primary + replicas)");
  sb.command("up")
    .description("start the cluster (or report the running one) and wait until replicas caught up")
    .option("--dir <dir>", "state directory", ".rwsplit/sandbox")
    .option("--base-port <port>", "primary port; replicas take the next ones", "13306")
    .option("--replicas <n>", "number of replicas", "2")
    .action(async (o: { dir: string; basePort: string; replicas: string }) => {
      const info = await sandboxUp({
        dir: o.dir,
        basePort: Number(o.basePort),
        replicas: Number(o.replicas),
        log: (l) => process.stdout.write(`${l}\n`),
      });
      const c = info.credentials;
      process.stdout.write(`\nsandbox up in ${info.dir}\n`);
      for (const n of [info.primary, ...info.replicas]) {
        process.stdout.write(`  ${n.role.padEnd(8)} ${n.name.padEnd(9)} ${n.host}:${n.port}  pid ${n.pid}\n`);
      }
      process.stdout.write(
        `\n  app user:     ${c.app.user} / ${c.app.password} (database ${c.database})\n  monitor user: ${c.monitor.user} / ${c.monitor.password}\n  root (TCP):   ${c.root.user} / ${c.root.password}\n  try:          mariadb -h ${info.primary.host} -P ${info.primary.port} -u ${c.app.user} -p${c.app.password} ${c.database}\n`,
      );
    });
  sb.command("status")
    .description("one line per node")
    .option("--dir <dir>", "state directory", ".rwsplit/sandbox")
    .action(async (o: { dir: string }) => {
      const rows = await sandboxStatus(o.dir);
      if (rows.length === 0) {
        process.stdout.write(`no sandbox in ${o.dir}\n`);
        process.exitCode = 1;
        return;
      }
      for (const r of rows) {
        process.stdout.write(
          `${r.name.padEnd(9)} ${r.role.padEnd(8)} pid ${String(r.pid).padEnd(7)} port ${r.port} ${r.alive ? "up  " : "DOWN"} read_only=${r.readOnly ?? "?"} io=${r.ioRunning ?? "-"} sql=${r.sqlRunning ?? "-"} behind=${r.secondsBehind ?? "-"} gtid_current=${r.gtidCurrentPos ?? "?"} gtid_slave=${r.gtidSlavePos ?? "?"}${r.error ? ` error=${r.error}` : ""}\n`,
        );
      }
    });
  sb.command("down")
    .description("stop the processes the sandbox started and remove its directory")
    .option("--dir <dir>", "state directory", ".rwsplit/sandbox")
    .action(async (o: { dir: string }) => {
      await sandboxDown(o.dir);
      process.stdout.write(`sandbox in ${o.dir} stopped and removed\n`);
    });
}
