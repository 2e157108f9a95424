import type { Command } from "commander";
import { type Admin, type AdminOptions, backendName, run, withAdmin } from "./topology.js";

/**
 * `rwsplit reload`, `rwsplit drain NAME`, `rwsplit undrain NAME`: thin clients of the running
 * proxy's admin API (POST /config/reload, /backends/NAME/drain, /undrain), like `switchover`.
 * The proxy re-reads its own config file: `--config` here only says where its admin API is (and
 * a file with problems is reported at once, without asking the proxy). Exit 0 on success, 1 when
 * the proxy refused or the file has problems, 2 on bad usage.
 */

interface ReloadAnswer {
  ok?: boolean;
  error?: string;
  problems?: { path: string; message: string }[];
  changes?: string[];
  restartPending?: string[];
  version?: number;
  configHash?: string;
  fleet?: string;
}

async function post(admin: Admin, path: string): Promise<{ status: number; body: ReloadAnswer }> {
  const res = await fetch(`${admin.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: "{}",
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as ReloadAnswer };
}

async function reload(admin: Admin): Promise<void> {
  const { status, body } = await post(admin, "/config/reload");
  const out = process.stdout;
  if (body.problems !== undefined && body.problems.length > 0) {
    for (const p of body.problems) process.stderr.write(`config: ${p.path}: ${p.message}\n`);
    process.stderr.write("rwsplit: reload refused: nothing changed\n");
    process.exitCode = 1;
    return;
  }
  if (status !== 200) {
    process.stderr.write(`rwsplit: reload refused (${status}): ${body.error ?? "unknown error"}\n`);
    process.exitCode = 1;
    return;
  }
  for (const c of body.changes ?? []) out.write(`  ${c}\n`);
  for (const r of body.restartPending ?? []) out.write(`  waits for a restart: ${r}\n`);
  const what = (body.changes ?? []).length === 0 ? "nothing changed" : `${body.changes!.length} change(s)`;
  out.write(`reloaded: ${what}; config version ${body.version} (${body.configHash}), fleet: ${body.fleet}\n`);
}

async function drain(admin: Admin, given: string, undo: boolean): Promise<void> {
  const name = await backendName(admin, given);
  const verb = undo ? "undrain" : "drain";
  const { status, body } = await post(admin, `/backends/${encodeURIComponent(name)}/${verb}`);
  if (status !== 200) {
    process.stderr.write(`rwsplit: ${verb} refused (${status}): ${body.error ?? "unknown error"}\n`);
    process.exitCode = 1;
    return;
  }
  const done = undo
    ? `${name} is back in service`
    : `${name} draining: no new reads; GET /backends shows "drained" once in-flight work is done`;
  process.stdout.write(`${done} (config version ${body.version}, fleet: ${body.fleet})\n`);
}

export function register(program: Command): void {
  withAdmin(
    program
      .command("reload")
      .description(
        "make the running proxy re-read its config file and apply what changed, without dropping a client",
      ),
  ).action(async (o: AdminOptions) => run(o, (admin) => reload(admin)));
  withAdmin(
    program
      .command("drain")
      .description(
        "take a replica out of service: no new reads, in-flight ones finish (rwsplit undrain undoes it)",
      )
      .argument("<backend>", "the replica, by name or HOST:PORT"),
  ).action(async (backend: string, o: AdminOptions) => run(o, (admin) => drain(admin, backend, false)));
  withAdmin(
    program
      .command("undrain")
      .description("put a drained replica back in service")
      .argument("<backend>", "the replica, by name or HOST:PORT"),
  ).action(async (backend: string, o: AdminOptions) => run(o, (admin) => drain(admin, backend, true)));
}
