import type { Command } from "commander";
import { startRwsplit } from "../../app.js";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../log.js";
import { sandboxDown, sandboxUp } from "../../sandbox/cluster.js";

export function register(program: Command): void {
  program
    .command("demo")
    .description("bring up a local MariaDB primary + replicas and rwsplit in front of them, until Ctrl-C")
    .option("--dir <dir>", "sandbox state directory", ".rwsplit/demo")
    .option("--listen <host:port>", "where MySQL clients connect", "127.0.0.1:6033")
    .option("--admin <host:port>", "admin HTTP endpoint", "127.0.0.1:6070")
    .option("--base-port <port>", "first MariaDB port (primary), replicas follow", "13306")
    .option("--replicas <n>", "number of replicas", "2")
    .action(
      async (opts: { dir: string; listen: string; admin: string; basePort: string; replicas: string }) => {
        const say = (line: string) => process.stdout.write(`${line}\n`);
        say(
          "rwsplit demo: starting a MariaDB replication sandbox (first run installs and initialises it)...",
        );
        const info = await sandboxUp({
          dir: opts.dir,
          basePort: Number(opts.basePort),
          replicas: Number(opts.replicas),
          log: (line) => say(`  ${line}`),
        });
        const creds = info.credentials;
        const config = loadConfig({
          // The sandbox's failover and replication accounts: failover and switchover work in the demo.
          env: {
            RWSPLIT__FAILOVER__USER: creds.failover.user,
            RWSPLIT__FAILOVER__PASSWORD: creds.failover.password,
            RWSPLIT__FAILOVER__REPLICATION_USER: creds.replication.user,
            RWSPLIT__FAILOVER__REPLICATION_PASSWORD: creds.replication.password,
          },
          flags: {
            listen: opts.listen,
            admin: opts.admin,
            primary: `${info.primary.host}:${info.primary.port}`,
            replica: info.replicas.map((r) => `${r.host}:${r.port}`),
            user: [`${creds.app.user}:${creds.app.password}`],
            monitorUser: `${creds.monitor.user}:${creds.monitor.password}`,
            logLevel: "warn",
          },
        });
        const logger = createLogger({ level: config.log.level });
        let app: Awaited<ReturnType<typeof startRwsplit>>;
        try {
          app = await startRwsplit(config, logger);
        } catch (e) {
          await sandboxDown(opts.dir);
          throw e;
        }
        const { host, port } = app.listen;
        say("");
        say(`rwsplit is listening on ${host}:${port}, in front of:`);
        say(`  primary  ${info.primary.host}:${info.primary.port}`);
        for (const r of info.replicas) say(`  replica  ${r.host}:${r.port}`);
        say("");
        say(`  connection string: mysql://${creds.app.user}:${creds.app.password}@${host}:${port}/app`);
        say(
          `  try:               mariadb -h ${host} -P ${port} -u ${creds.app.user} -p${creds.app.password} app`,
        );
        say(`  admin:             http://${config.admin.listen.host}:${config.admin.listen.port}/backends`);
        say("");
        say(
          `  switch over:       node bin/rwsplit.js switchover --to replica1 --admin ${config.admin.listen.host}:${config.admin.listen.port}`,
        );
        say(
          `  fail over:         kill -9 ${info.primary.pid}   (the primary's mariadbd; writes resume on a replica)`,
        );
        say("");
        say("Ctrl-C stops the proxy and the sandbox.");
        let stopping = false;
        const stop = async () => {
          if (stopping) return;
          stopping = true;
          say("\nstopping rwsplit and the sandbox...");
          await app.stop();
          await sandboxDown(opts.dir);
          say("done.");
          process.exit(0);
        };
        process.on("SIGINT", () => void stop());
        process.on("SIGTERM", () => void stop());
      },
    );
}
