import { Command } from "commander";
import { registerCommands } from "./commands.js";

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
