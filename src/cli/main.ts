import { Command } from "commander";
import { setYoungGeneration } from "../young-generation.js";
import { registerCommands } from "./commands.js";

// Before any command loads its modules (which would grow the young generation at once);
// `serve` applies the config's `young_generation` once it has read it.
setYoungGeneration("fixed");

const program = new Command();
program
  .name("rwsplit")
  .description("Read/write-splitting proxy for MySQL and MariaDB")
  .version("0.1.0")
  .showHelpAfterError();

registerCommands(program, process.argv.slice(2))
  .then(() => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
