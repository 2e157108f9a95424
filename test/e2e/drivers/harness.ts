import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { parsePrometheusText } from "../../helpers/prom-parse.js";
import { startApp, type TestApp, testConfig } from "../../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../../helpers/sandbox.js";
import type { CaseName } from "./cases.js";
import { type CountingRelay, startCountingRelay } from "./relay.js";
import { type DriverTarget, type Transcript, targetEnv } from "./transcript.js";

/**
 * One sandbox (primary + 2 replicas) and one rwsplit (the whole app: monitor, lag-aware picker,
 * admin endpoints) for the whole driver matrix. Each driver runs the scenario twice, directly
 * against the primary and through rwsplit, each run in its own pair of databases; the test
 * compares the two transcripts case by case.
 */

/**
 * An account created on the primary (so on every node) but absent from rwsplit's `users`: it
 * logs in through rwsplit as it does direct because the matrix runs with auth.from_backend, as a
 * MaxScale user would (rwsplit learns it from the primary when it first logs in).
 */
export const UNLISTED = { user: "drv_unlisted", password: "unlisted-pass" } as const;
/** rwsplit's own account for reading the primary's accounts (auth.from_backend). */
const LOADER = { user: "drv_loader", password: "loader-pass" } as const;
/** Every run's databases start with this; the unlisted account is granted `drvm%`.*. */
const DB_PREFIX = "drvm";
/** rwsplit's pool.idle_timeout for the matrix. */
const IDLE_MS = 500;

export interface DriverSpec {
  /** Short id, used in database names: [a-z0-9]. */
  id: string;
  title: string;
  /** The cases this driver's script implements (its API allows). */
  cases: readonly CaseName[];
  /**
   * Cases that fail through rwsplit today, each with the cause found on the wire. They run as
   * `test.fails`, so the suite stays green and a fix shows up as a case that flips.
   */
  fails: Partial<Record<CaseName, string>>;
  /** Reads through rwsplit do not reach both replicas today (and why), if so. */
  replicaReadsFail?: string;
  run(target: DriverTarget): Promise<Transcript>;
}

export interface RunResult {
  transcript: Transcript;
  ms: number;
  /** Bytes the compression relay passed to the driver. */
  compressedBytes: number;
  /** Statements rwsplit sent to each replica during the run (rwsplit_queries_total). */
  replicaStatements: Record<string, number>;
}

export interface Matrix {
  sandbox: TestSandbox;
  app: TestApp;
  /** Each node's @@server_id: what a case's `@where` notes are checked against. */
  serverIds: { primary: number; replicas: number[] };
  run(driver: DriverSpec, via: "direct" | "rwsplit"): Promise<RunResult>;
  close(): Promise<void>;
}

export async function startMatrix(): Promise<Matrix> {
  const sandbox = await startSandbox({ replicas: 2 });
  let app: TestApp | undefined;
  const relays: CountingRelay[] = [];
  try {
    const loader = await sandbox.connect(sandbox.primary);
    await loader.query(`CREATE USER '${LOADER.user}'@'%' IDENTIFIED BY '${LOADER.password}'`);
    await loader.query(`GRANT SELECT ON mysql.global_priv TO '${LOADER.user}'@'%'`);
    await loader.end();
    const config = testConfig(sandbox.primary, sandbox.replicas, {
      admin: { listen: { host: "127.0.0.1", port: 0 }, enabled: true },
      accountsFromBackend: { ...LOADER, refreshIntervalMs: 300_000, refreshMinGapMs: 200 },
    });
    // Idle backend connections go within half a second, so each driver's run through rwsplit
    // starts with empty pools (see `emptyPools`).
    config.pool = { ...config.pool, idleTimeoutMs: IDLE_MS };
    // rwsplit's default: cases write in one connection and read in the next, as an application's
    // requests do; with `session` such a read could land on a replica still applying the write
    // (seen once, under load: json_typecast's second connection read an empty table).
    config.routing = { ...config.routing, consistency: "user" };
    app = await startApp(config);
    const root = await sandbox.connect(sandbox.primary);
    await root.query(`CREATE USER '${UNLISTED.user}'@'%' IDENTIFIED BY '${UNLISTED.password}'`);
    await root.query(`GRANT ALL PRIVILEGES ON \`${DB_PREFIX}%\`.* TO '${UNLISTED.user}'@'%'`);
    await root.end();
    relays.push(await startCountingRelay(sandbox.primary), await startCountingRelay(app));
    await sandbox.waitForReplicas();
    await replicasServing(app, sandbox.replicas.length);
  } catch (e) {
    for (const r of relays) await r.close();
    await app?.close();
    await sandbox.down();
    throw e;
  }
  const proxy = app;
  const serverIds = {
    primary: await serverId(sandbox, sandbox.primary),
    replicas: await Promise.all(sandbox.replicas.map((r) => serverId(sandbox, r))),
  };
  const [directRelay, proxyRelay] = relays as [CountingRelay, CountingRelay];
  const adminUrl = `http://${proxy.app.adminListen!.host}:${proxy.app.adminListen!.port}`;

  const run = async (driver: DriverSpec, via: "direct" | "rwsplit"): Promise<RunResult> => {
    const tag = `${driver.id}_${via === "direct" ? "d" : "p"}_${randomBytes(3).toString("hex")}`;
    const db = `${DB_PREFIX}_${tag}`;
    const db2 = `${db}_b`;
    const root = await sandbox.connect(sandbox.primary);
    try {
      for (const [name, v] of [
        [db, "first"],
        [db2, "second"],
      ] as const) {
        await root.query(`CREATE DATABASE \`${name}\``);
        // The prepared_per_database case's table: the same name in both databases.
        await root.query(`CREATE TABLE \`${name}\`.pdb (id INT PRIMARY KEY, v VARCHAR(20))`);
        await root.query(`INSERT INTO \`${name}\`.pdb VALUES (1, '${v}')`);
      }
      // The run's first reads through rwsplit may go to a replica: it must know the databases.
      await sandbox.waitForReplicas();
      const endpoint = via === "direct" ? sandbox.primary : proxy;
      const relay = via === "direct" ? directRelay : proxyRelay;
      const target: DriverTarget = {
        host: endpoint.host,
        port: endpoint.port,
        user: "app",
        password: "app-pass",
        db,
        db2,
        unlistedUser: UNLISTED.user,
        unlistedPassword: UNLISTED.password,
        compressHost: relay.host,
        compressPort: relay.port,
        tag,
        connections: 50,
      };
      relay.reset();
      const before = await replicaStatements(adminUrl);
      const t0 = performance.now();
      const transcript = normalise(await driver.run(target), target);
      const ms = Math.round(performance.now() - t0);
      const after = await replicaStatements(adminUrl);
      if (via === "rwsplit") await emptyPools(adminUrl);
      const delta: Record<string, number> = {};
      for (const [k, v] of Object.entries(after)) delta[k] = v - (before[k] ?? 0);
      return { transcript, ms, compressedBytes: relay.bytesDown, replicaStatements: delta };
    } finally {
      await root.query(`DROP DATABASE IF EXISTS \`${db}\``).catch(() => {});
      await root.query(`DROP DATABASE IF EXISTS \`${db2}\``).catch(() => {});
      await root.end();
    }
  };

  const close = async () => {
    for (const r of relays) await r.close();
    await proxy.close();
    await sandbox.down();
  };
  return { sandbox, app: proxy, serverIds, run, close };
}

async function serverId(sandbox: TestSandbox, node: { host: string; port: number }): Promise<number> {
  const c = await sandbox.connect(node);
  try {
    const [rows] = await c.query("SELECT @@server_id AS id");
    return Number((rows as { id: unknown }[])[0]!.id);
  } finally {
    await c.end();
  }
}

/** Waits until the monitor has every replica up with a known lag, so reads can go there. */
async function replicasServing(app: TestApp, replicas: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const obs = [...app.app.observations().values()].filter((o) => o.role === "replica");
    if (obs.length === replicas && obs.every((o) => o.up && o.lagMs !== null && o.lagMs < 1000)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the replicas never looked fresh to rwsplit's monitor");
}

/**
 * Waits until rwsplit holds no backend connection (GET /backends, every pool's `open` 0). Pooled
 * connections carry what earlier sessions left on them (state rwsplit does not know about, its
 * per-connection cache of prepared statements): without this, one driver's run would change the
 * next one's results, and which of them depends on which connection a statement happens to get.
 * Those leaks are cases of their own (session_settings, prepared_per_database), within one run.
 */
async function emptyPools(adminUrl: string): Promise<void> {
  const deadline = Date.now() + 20 * IDLE_MS;
  for (;;) {
    const body = (await (await fetch(`${adminUrl}/backends`)).json()) as {
      backends: { pool: { open: number } }[];
    };
    if (body.backends.every((b) => b.pool.open === 0) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** rwsplit_queries_total{route="replica"} per backend, from GET /metrics. */
async function replicaStatements(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(text).get("rwsplit_queries_total")?.samples ?? []) {
    if (s.labels.route !== "replica" || !s.labels.backend) continue;
    out[s.labels.backend] = (out[s.labels.backend] ?? 0) + s.value;
  }
  return out;
}

/**
 * What legitimately differs between the direct run and the run through rwsplit, and nothing else:
 * - the run's database names and tag (each run has its own, so runs never collide);
 * - the connection's server thread id in error messages: Connector/J's "(conn=N)" prefix and the
 *   Node.js connector's "(conn:N, no: ...)" (another connection, another id, by design);
 * - the port in Connector/J's "address=(host=...)(port=N)" of a connect error: the primary's port
 *   directly, rwsplit's through it.
 * Connection ids and timestamps are never recorded by the scripts in the first place; a server id
 * only as a step labelled `@where` (the @@server_id a statement ran on, read in that statement):
 * such steps are taken out of the steps into the case's `where`, checked on their own.
 */
export function normalise(t: Transcript, target: DriverTarget): Transcript {
  const text = JSON.stringify(t)
    .replaceAll(target.db2, "<db2>")
    .replaceAll(target.db, "<db>")
    .replaceAll(target.tag, "<tag>")
    .replace(/\(conn=\d+\)/g, "(conn=N)")
    .replace(/\(conn:\d+, no:/g, "(conn:N, no:")
    .replace(/\(port=\d+\)/g, "(port=N)");
  const out = JSON.parse(text) as Transcript;
  for (const c of Object.values(out.cases)) {
    const where = c.steps.filter(([label]) => label === WHERE).map(([, v]) => Number(v));
    if (where.length === 0) continue;
    c.steps = c.steps.filter(([label]) => label !== WHERE);
    c.where = where;
  }
  return out;
}

/** The label of a step that records the @@server_id its statement ran on (see `normalise`). */
export const WHERE = "@where";

/**
 * Runs a driver script as a child process with the target in its environment (RW_*) and parses
 * the JSON transcript it prints. A script that exits non-zero or prints no JSON is an error that
 * quotes its stderr.
 */
export function runScript(
  cmd: string,
  args: string[],
  target: DriverTarget,
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<Transcript> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: { ...process.env, ...targetEnv(target) },
      stdio: ["ignore", "pipe", "pipe"],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 150_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8").slice(-4000);
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}: ${stderr}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout) as Transcript);
      } catch {
        reject(new Error(`${cmd} printed no JSON transcript: ${stdout.slice(0, 2000)} ${stderr}`));
      }
    });
  });
}
