import type { Command } from "commander";
import { register as backup } from "./commands/backup.js";
import { register as checkConfig } from "./commands/check-config.js";
import { register as demo } from "./commands/demo.js";
import { register as runtime } from "./commands/runtime.js";
import { register as sandbox } from "./commands/sandbox.js";
import { register as serve } from "./commands/serve.js";
import { register as top } from "./commands/top.js";
import { register as topology } from "./commands/topology.js";

/**
 * Each subcommand lives in its own file under src/cli/commands/ and exports `register(program)`.
 * This list is the only place that knows them all.
 */
export function registerCommands(program: Command): void {
  serve(program);
  checkConfig(program);
  sandbox(program);
  demo(program);
  topology(program);
  runtime(program);
  top(program);
  backup(program);
}
