import net from "node:net";
import { pathToFileURL } from "node:url";
import { setYoungGeneration } from "../src/young-generation.js";

/**
 * `node dist/bench/memory-floor.js --listen PORT [--libraries]`: what an idle process holds before
 * any of rwsplit's own code, the floor under "rwsplit at start" (issue #15 asks for at most 60 MB).
 * Node alone, or Node with the libraries an idle `rwsplit serve` loads from node_modules, loaded
 * and doing nothing: no app, no registry, no logger, no connection. It sets V8's young generation
 * as `serve` does by default (`young_generation: fixed`), listens on PORT so the bench knows it is
 * ready (`serve` listens too), and waits for SIGTERM.
 *
 * The list is what `strace -e openat` shows an idle `rwsplit serve` reading from node_modules (TLS
 * off, no backup, no Redis, admin on): each package below and its own dependencies. A package only
 * some configs need (ioredis, the AWS SDK) is not on it, as `serve` loads those only when asked.
 */
export const SERVE_LIBRARIES = [
  "fastify", // the admin app: /metrics, /backends, the status page
  "prom-client", // the metrics registry
  "pino", // the log
  "mysql2", // the monitor's connections
  "zod", // the config, the HA and runtime records
  "yaml", // the config file
  "commander", // the command line
] as const;

async function main(argv: string[]): Promise<void> {
  const at = argv.indexOf("--listen");
  const port = Number(argv[at + 1]);
  if (at < 0 || !Number.isInteger(port)) throw new Error("usage: memory-floor --listen PORT [--libraries]");
  setYoungGeneration("fixed");
  // Held, so nothing loaded can be collected.
  const held: unknown[] = [];
  if (argv.includes("--libraries")) {
    for (const name of SERVE_LIBRARIES) held.push(await import(name));
  }
  (globalThis as { memoryFloorHeld?: unknown[] }).memoryFloorHeld = held;
  const server = net.createServer((s) => s.destroy());
  server.listen(port, "127.0.0.1");
  process.once("SIGTERM", () => server.close());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`memory-floor: ${(e as Error).message}\n`);
    process.exit(2);
  });
}
