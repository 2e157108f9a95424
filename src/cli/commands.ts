import type { Command } from "commander";

/**
 * Each subcommand lives in its own file under src/cli/commands/ and exports `register(program)`.
 * This table is the only place that knows them all, and which command names each file registers:
 * `rwsplit serve` imports only the serve module, so a proxy never loads the backup code, the
 * sandbox installer or the progress bars (each module costs resident memory for as long as the
 * process runs). Help, an unknown name or no name at all load every module, so commander can
 * list them and suggest the right one.
 */
type Loader = () => Promise<{ register(program: Command): void }>;

const MODULES: { names: readonly string[]; load: Loader }[] = [
  { names: ["serve"], load: () => import("./commands/serve.js") },
  { names: ["check-config"], load: () => import("./commands/check-config.js") },
  { names: ["sandbox"], load: () => import("./commands/sandbox.js") },
  { names: ["demo"], load: () => import("./commands/demo.js") },
  { names: ["switchover", "rejoin", "failover"], load: () => import("./commands/topology.js") },
  { names: ["reload", "drain", "undrain"], load: () => import("./commands/runtime.js") },
  { names: ["top"], load: () => import("./commands/top.js") },
  { names: ["backup"], load: () => import("./commands/backup.js") },
];

/** Every command name the table knows, in help order. */
export const COMMAND_NAMES: readonly string[] = MODULES.flatMap((m) => m.names);

/**
 * Registers the command `args[0]` names (args: the arguments after the program name), or every
 * command when it names none of them.
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const first = args[0];
  const chosen = MODULES.filter((m) => first !== undefined && m.names.includes(first));
  for (const m of chosen.length > 0 ? chosen : MODULES) (await m.load()).register(program);
}
