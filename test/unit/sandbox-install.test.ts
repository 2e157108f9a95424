import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { createInstaller, type DebianPackage, findProgram } from "../../src/sandbox/install.js";

// The package installer with fake apt-get and program lookups: nothing is installed for real.

const SERVER: DebianPackage = {
  name: "mariadb-server",
  programs: ["/usr/sbin/mariadbd", "mariadb-install-db"],
};
const CLIENT: DebianPackage = { name: "mariadb-client", programs: ["mariadb"] };
const SYSBENCH: DebianPackage = { name: "sysbench", programs: ["sysbench"] };

/** A machine where `present` programs exist and apt-get install adds the packages' programs. */
function fakeMachine(present: string[], packages: DebianPackage[], opts: { failUpdates?: number } = {}) {
  const installed = new Set(present);
  const commands: string[] = [];
  let failUpdates = opts.failUpdates ?? 0;
  const run = async (cmd: string, args: string[]) => {
    commands.push(`${cmd} ${args.join(" ")}`);
    await new Promise((r) => setTimeout(r, 5));
    if (args.includes("update") && failUpdates-- > 0) throw new Error("apt-get update exited with 100");
    if (args.includes("install")) {
      for (const name of args.slice(args.indexOf("install") + 1).filter((a) => !a.startsWith("-"))) {
        for (const prog of packages.find((p) => p.name === name)?.programs ?? []) installed.add(prog);
      }
    }
  };
  const find = (prog: string) => (installed.has(prog) ? prog : null);
  return { run, find, commands };
}

const quiet = () => {};

describe("ensure packages", () => {
  test("all present: no command at all", async () => {
    const m = fakeMachine(["/usr/sbin/mariadbd", "mariadb-install-db", "mariadb"], []);
    await createInstaller({ ...m, isRoot: () => true }).ensure([SERVER, CLIENT], quiet);
    expect(m.commands).toEqual([]);
  });

  test("as root: one apt-get update per installer, however many callers, at once or later", async () => {
    const all = [SERVER, CLIENT, SYSBENCH];
    const m = fakeMachine([], all);
    const installer = createInstaller({ ...m, isRoot: () => true });
    await Promise.all([
      installer.ensure([SERVER, CLIENT], quiet),
      installer.ensure([SYSBENCH, CLIENT], quiet),
    ]);
    await installer.ensure([SERVER], quiet);
    expect(m.commands).toEqual([
      "apt-get update",
      "apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends mariadb-server mariadb-client",
      "apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends sysbench",
    ]);
  });

  test("only the missing packages are installed, each once", async () => {
    const m = fakeMachine(["/usr/sbin/mariadbd", "mariadb-install-db"], [CLIENT]);
    await createInstaller({ ...m, isRoot: () => true }).ensure([SERVER, CLIENT, CLIENT], quiet);
    expect(m.commands).toEqual([
      "apt-get update",
      "apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends mariadb-client",
    ]);
  });

  test("not root: the error says what to run, and nothing runs", async () => {
    const m = fakeMachine(["mariadb"], []);
    const err = await createInstaller({ ...m, isRoot: () => false })
      .ensure([SERVER, CLIENT, SYSBENCH], quiet, "the tests")
      .catch((e: Error) => e);
    expect((err as Error).message).toBe(
      "missing mariadb-server, sysbench (needed by the tests): run `sudo apt-get update && sudo apt-get install -y --no-install-recommends mariadb-server sysbench`, then retry",
    );
    expect(m.commands).toEqual([]);
  });

  test("a failed apt-get update is retried by the next caller", async () => {
    const m = fakeMachine([], [SYSBENCH], { failUpdates: 1 });
    const installer = createInstaller({ ...m, isRoot: () => true });
    await expect(installer.ensure([SYSBENCH], quiet)).rejects.toThrow(
      /installing sysbench failed: .*exited with 100/,
    );
    await installer.ensure([SYSBENCH], quiet);
    expect(m.commands).toEqual([
      "apt-get update",
      "apt-get update",
      "apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends sysbench",
    ]);
  });

  test("installed but a program still missing: says which", async () => {
    const m = fakeMachine([], []);
    const err = await createInstaller({ ...m, isRoot: () => true })
      .ensure([SERVER], quiet)
      .catch((e: Error) => e);
    expect((err as Error).message).toMatch(
      /succeeded but \/usr\/sbin\/mariadbd, mariadb-install-db still missing$/,
    );
  });

  test("findProgram: absolute paths as given, names in the bin dirs, null when absent", () => {
    expect(findProgram("/bin/sh")).toBe("/bin/sh");
    expect(findProgram("sh")).toMatch(/\/sh$/);
    expect(findProgram("no-such-program-rwsplit")).toBeNull();
    expect(findProgram("/nonexistent/prog")).toBeNull();
  });

  test("findProgram: file:PATH is any existing file, executable or not (library packages)", () => {
    const self = fileURLToPath(import.meta.url); // this test file: not executable
    expect(findProgram(self)).toBeNull();
    expect(findProgram(`file:${self}`)).toBe(self);
    expect(findProgram("file:/nonexistent/lib.pm")).toBeNull();
  });
});
