import type { Command } from "commander";
import { ConfigError, formatProblems, loadConfig } from "../../config/load.js";
import { RwsplitError } from "../../errors.js";

/**
 * `rwsplit switchover --to NAME|HOST:PORT`, `rwsplit rejoin NAME|HOST:PORT`, `rwsplit failover`:
 * thin clients of the running proxy's admin API (POST /switchover, /rejoin, /failover), so the
 * instance that holds the pools, the monitor and the fleet lock does the work. They print each
 * step and exit 0 on success, 1 when the proxy refused or the change failed, 2 on bad usage.
 */

export interface AdminOptions {
  admin?: string;
  config?: string;
  token?: string;
}

/** Where to reach the admin API, and the headers every request carries (the token, if any). */
export interface Admin {
  base: string;
  headers: Record<string, string>;
}

/**
 * The admin base URL: --admin, else the config's admin.listen, else the default 127.0.0.1:6070.
 * The token: --token, else RWSPLIT_ADMIN_TOKEN, else the config's admin.token.
 */
export function adminOf(o: AdminOptions): Admin {
  const c = o.config ? loadConfig({ file: o.config, env: process.env }) : null;
  let base = "http://127.0.0.1:6070";
  if (o.admin) base = o.admin.includes("://") ? o.admin : `http://${o.admin}`;
  else if (c !== null) {
    const host = c.admin.listen.host === "0.0.0.0" ? "127.0.0.1" : c.admin.listen.host;
    base = `http://${host.includes(":") ? `[${host}]` : host}:${c.admin.listen.port}`;
  }
  const token = o.token || process.env.RWSPLIT_ADMIN_TOKEN || c?.admin.token;
  return { base, headers: token ? { authorization: `Bearer ${token}` } : {} };
}

/** A backend given as its name or as HOST:PORT, resolved through GET /backends. */
export async function backendName(admin: Admin, given: string): Promise<string> {
  const res = await fetch(`${admin.base}/backends`, { headers: admin.headers });
  if (!res.ok) {
    const out = (await res.json().catch(() => ({}))) as { error?: string };
    throw new RwsplitError(
      "ADMIN_API_REFUSED",
      `GET /backends refused (${res.status}): ${out.error ?? res.statusText}`,
    );
  }
  const body = (await res.json()) as { backends: { name: string; host: string; port: number }[] };
  const hit = body.backends.find((b) => b.name === given || `${b.host}:${b.port}` === given);
  if (!hit) {
    const known = body.backends.map((b) => `${b.name} (${b.host}:${b.port})`).join(", ");
    throw new RwsplitError("CLI_USAGE", `no backend "${given}": this proxy has ${known}`);
  }
  return hit.name;
}

async function call(admin: Admin, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${admin.base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...admin.headers },
    body: JSON.stringify(body ?? {}),
  });
  const out = (await res.json()) as { error?: string; report?: { steps?: string[]; durationMs?: number } };
  for (const step of out.report?.steps ?? []) process.stdout.write(`  ${step}\n`);
  if (!res.ok) {
    process.stderr.write(`rwsplit: ${path.slice(1)} refused (${res.status}): ${out.error}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${path.slice(1)} done in ${out.report?.durationMs ?? "?"} ms\n`);
}

/** Runs `work` against the admin API; exit codes and messages as the file comment says. */
export async function run(o: AdminOptions, work: (admin: Admin) => Promise<void>): Promise<void> {
  let admin: Admin;
  try {
    admin = adminOf(o);
  } catch (e) {
    // --config names a file with problems: one line per key, as check-config prints them.
    const text =
      e instanceof ConfigError ? formatProblems(e) : `rwsplit: ${e instanceof Error ? e.message : String(e)}`;
    process.stderr.write(`${text}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    await work(admin);
  } catch (e) {
    // CLI_USAGE, ADMIN_API_REFUSED: the proxy answered, and said no; anything else means it did not.
    if (e instanceof RwsplitError) {
      process.stderr.write(`rwsplit: ${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    const why =
      (e as { cause?: { code?: string } }).cause?.code ?? (e instanceof Error ? e.message : String(e));
    process.stderr.write(
      `rwsplit: cannot reach the admin API at ${admin.base} (${why}); is \`rwsplit serve\` running with admin enabled?\n`,
    );
    process.exitCode = 1;
  }
}

/** The options every admin API command takes: --admin, --config, --token. */
export function withAdmin(c: Command): Command {
  return c
    .option(
      "--admin <url>",
      "the running proxy's admin address (default: from --config, else 127.0.0.1:6070)",
    )
    .option("--config <file>", "read admin.listen and admin.token from this config file")
    .option(
      "--token <token>",
      "the admin token (default: RWSPLIT_ADMIN_TOKEN, else admin.token from --config)",
    );
}

export function register(program: Command): void {
  withAdmin(
    program
      .command("switchover")
      .description(
        "move the primary to a replica: hold writes, catch up, promote, make the old primary a replica",
      )
      .requiredOption("--to <backend>", "the replica to promote, by name or HOST:PORT"),
  ).action(async (o: AdminOptions & { to: string }) =>
    run(o, async (admin) => call(admin, "/switchover", { to: await backendName(admin, o.to) })),
  );
  withAdmin(
    program
      .command("rejoin")
      .description(
        "make a fenced former primary a replica of the current primary (refused if its history diverged)",
      )
      .argument("<backend>", "the former primary, by name or HOST:PORT"),
  ).action(async (backend: string, o: AdminOptions) =>
    run(o, async (admin) => call(admin, "/rejoin", { backend: await backendName(admin, backend) })),
  );
  withAdmin(
    program.command("failover").description("promote a replica now (only when the primary is down)"),
  ).action(async (o: AdminOptions) => run(o, (admin) => call(admin, "/failover", {})));
}
