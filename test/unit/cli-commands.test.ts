import { Command } from "commander";
import { expect, test } from "vitest";
import { COMMAND_NAMES, registerCommands } from "../../src/cli/commands.js";

// The CLI imports only the module of the command it runs: the table in src/cli/commands.ts must
// name every command each module registers, or that command would be unknown when run directly.

const names = (p: Command) => p.commands.map((c) => c.name());

test("the table names exactly the commands the modules register, in help order", async () => {
  const all = new Command();
  await registerCommands(all, []);
  expect(names(all)).toEqual(COMMAND_NAMES);
});

test.each(COMMAND_NAMES)("`rwsplit %s` registers its own command", async (name) => {
  const p = new Command();
  await registerCommands(p, [name, "--help"]);
  expect(names(p)).toContain(name);
  expect(names(p).length).toBeLessThan(COMMAND_NAMES.length);
});

test("help, an unknown name or none register every command", async () => {
  for (const args of [[], ["--help"], ["help", "serve"], ["srve"]]) {
    const p = new Command();
    await registerCommands(p, args);
    expect(names(p)).toEqual(COMMAND_NAMES);
  }
});
