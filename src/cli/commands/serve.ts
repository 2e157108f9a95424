import nodeCluster from "node:cluster";
import type { Command } from "commander";
import type { startRwsplit } from "../../app.js";
import { formatProblems, loadConfig } from "../../config/load.js";
import { createLogger } from "../../log.js";
import { setYoungGeneration } from "../../young-generation.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command("serve")
    .description("run the proxy: MySQL clients on --listen, admin HTTP on --admin")
    .option("-c, --config <file>", "YAML config file (see config.example.yaml)")
    .option("--listen <host:port>", "where MySQL clients connect (default 127.0.0.1:6033)")
    .option("--admin <host:port>", "admin HTTP endpoint (default 127.0.0.1:6070)")
    .option("--primary <host:port>", "the primary backend")
    .option("--replica <host:port>", "a replica backend (repeatable)", collect)
    .option("--user <name:password>", "a user clients log in as (repeatable)", collect)
    .option("--monitor-user <name:password>", "the user the monitor connects as")
    .option("--log-level <level>", "trace, debug, info, warn, error, fatal or silent")
    .option(
      "--workers <n>",
      'processes serving clients (config `workers`): 1 serves in this process; N > 1 forks N workers sharing the port; "auto": one per core',
    )
    .action(async (opts: Record<string, unknown>) => {
      const file = opts.config as string | undefined;
      // A reload reads the file again with the environment and flags of the start.
      const env = { ...process.env };
      const flags = {
        listen: opts.listen as string | undefined,
        admin: opts.admin as string | undefined,
        primary: opts.primary as string | undefined,
        replica: opts.replica as string[] | undefined,
        user: opts.user as string[] | undefined,
        monitorUser: opts.monitorUser as string | undefined,
        logLevel: opts.logLevel as string | undefined,
        workers: opts.workers as string | undefined,
      };
      const load = () => loadConfig({ file, env, flags });
      let config: ReturnType<typeof loadConfig>;
      try {
        config = load();
      } catch (e) {
        process.stderr.write(`${formatProblems(e)}\n`);
        process.exit(2);
      }
      setYoungGeneration(config.youngGeneration);
      const logger = createLogger({ level: config.log.level });
      const source = file === undefined ? undefined : { file, load };
      // Each kind of process imports only what it runs (a module costs resident memory for as
      // long as the process lives): a worker of `--workers N` loads the data path, never the
      // admin app, the monitor or HA; the supervisor and the single process load theirs below.
      if (nodeCluster.isWorker) {
        // A worker process of `--workers N` (src/workers/worker.ts): the supervisor drives it.
        await (await import("../../workers/worker.js"))
          .runWorker(config, logger, source)
          .catch((e: unknown) => {
            logger.fatal({ err: e }, "rwsplit worker could not start");
            process.exit(1);
          });
        return;
      }
      let app: { runtime: Awaited<ReturnType<typeof startRwsplit>>["runtime"] } | null = null;
      let stopping = false;
      // Re-read the config file and apply what changed (logged once, with its result). Installed
      // first: Node's default for SIGHUP is to exit, and a reload must never stop the proxy.
      process.on("SIGHUP", () => {
        if (stopping) return;
        if (source === undefined || app === null) {
          const why =
            source === undefined ? "started without --config, there is no file to reload" : "still starting";
          logger.warn(`SIGHUP ignored: ${why}`);
          return;
        }
        app.runtime.reload("signal", "SIGHUP").catch((e: unknown) => {
          logger.error({ err: e }, "SIGHUP: the reload failed");
        });
      });
      const begin =
        config.workers > 1
          ? async () => (await import("../../workers/supervisor.js")).startSupervisor(config, logger, source)
          : async () => (await import("../../app.js")).startRwsplit(config, logger, source);
      const started = await begin().catch((e: unknown) => {
        logger.fatal({ err: e }, "rwsplit could not start");
        process.exit(1);
      });
      app = started;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info(
          { signal, drainTimeoutMs: started.runtime.config.drainTimeoutMs },
          "draining: no new clients, finishing statements",
        );
        await started.stop();
        logger.info("rwsplit stopped");
        process.exit(0);
      };
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
    });
}
