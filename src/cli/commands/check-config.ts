import type { Command } from "commander";
import { stringify } from "yaml";
import { formatProblems, loadConfig, maskSecrets } from "../../config/load.js";

/** Prints the effective config (exit 0) or one line per problem (exit 2). Returns the exit code. */
export function checkConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { code: number; out: string } {
  try {
    const config = loadConfig({ file, env });
    return { code: 0, out: stringify(maskSecrets(config)) };
  } catch (e) {
    return { code: 2, out: formatProblems(e) };
  }
}

export function register(program: Command): void {
  program
    .command("check-config")
    .description("validate a config file: print the effective config, or one line per problem (exit 2)")
    .argument("<file>", "YAML config file")
    .action((file: string) => {
      const r = checkConfig(file);
      (r.code === 0 ? process.stdout : process.stderr).write(`${r.out.trimEnd()}\n`);
      process.exitCode = r.code;
    });
}
