import { type ChildProcess, execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, test } from "vitest";
import { stringify } from "yaml";
import {
  ADMIN_TOKEN,
  backendEntry,
  type ConfigFile,
  configFile,
  type FileData,
  until,
  yamlFor,
} from "../helpers/config-file.js";
import { ReadLoad, type Target, WriteLoad } from "../helpers/load.js";
import { freePort, startSandbox, type TestSandbox } from "../helpers/sandbox.js";
import { spawnServe } from "../helpers/serve-process.js";

// `rwsplit serve --config FILE` as an operator runs it: the file edited, then SIGHUP (issue #18),
// under a client load; `rwsplit reload|drain|undrain` against it.

const run = promisify(execFile);
let sb: TestSandbox;
let file: ConfigFile;
let proc: ChildProcess | null = null;

const withReplicas = (n: number[], extra: FileData): FileData => {
  const f = yamlFor(sb, { replicas: 0, extra });
  (f.backends as { replicas: FileData[] }).replicas = n.map((i) => backendEntry(sb.replicas[i - 1]!, i - 1));
  return f;
};

beforeAll(async () => {
  await run("npm", ["run", "build", "--silent"], { timeout: 120_000 });
  sb = await startSandbox({ replicas: 3 });
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, KEY (n))");
  await c.end();
  await sb.waitForReplicas();
});

afterAll(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await new Promise((r) => proc!.once("exit", r));
  }
  await sb?.down();
  file?.remove();
});

test("SIGHUP under load: a replica added to the file serves within 5 s of catching up, a removed one is drained and closed, a broken file changes nothing; 0 client errors", async () => {
  const port = await freePort();
  const adminPort = await freePort();
  const extra = {
    listen: `127.0.0.1:${port}`,
    admin: { listen: `127.0.0.1:${adminPort}`, token: ADMIN_TOKEN },
  };
  file = configFile(withReplicas([1, 2], extra));
  const served = spawnServe(["--config", file.path]);
  proc = served.proc;
  const logLines = served.logs;
  const exited = served.exited;
  const admin = `http://127.0.0.1:${adminPort}`;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const backends = async () =>
    (await (await fetch(`${admin}/backends`, { headers })).json()) as {
      config: { version: number };
      backends: {
        name: string;
        up: boolean;
        lagMs: number | null;
        lastCheckAt: string | null;
        eligible: boolean;
      }[];
    };
  const readsOn = async (name: string) => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^rwsplit_queries_total\{([^}]*)\} (\d+)/gm))
      if (m[1]!.includes(`backend="${name}"`) && m[1]!.includes('route="replica"')) n += Number(m[2]);
    return n;
  };
  await until(
    "the proxy serving",
    async () => (await backends().catch(() => null))?.backends.every((b) => b.eligible) ?? false,
    30_000,
    100,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; stderr: ${served.stderr()}`);
  });

  const target: Target = { host: "127.0.0.1", port, user: "app", password: "app-pass", database: "app" };
  const reads = new ReadLoad(target, 6).start();
  const writes = new WriteLoad(target, 2).start();
  await new Promise((r) => setTimeout(r, 500));

  // A third replica, by editing the file and sending SIGHUP.
  file.write(withReplicas([1, 2, 3], extra));
  proc.kill("SIGHUP");
  let caughtUpAt = 0;
  const firstReadAt = await until(
    "a read on replica3",
    async () => {
      const r3 = (await backends()).backends.find((b) => b.name === "replica3");
      if (caughtUpAt === 0 && r3?.up && r3.lagMs !== null && r3.lagMs < 2000 && r3.lastCheckAt !== null)
        caughtUpAt = Date.parse(r3.lastCheckAt);
      return (await readsOn("replica3")) > 0 ? Date.now() : null;
    },
    15_000,
    50,
  );
  expect(caughtUpAt).toBeGreaterThan(0);
  console.log(`serve: replica3 first read ${firstReadAt - caughtUpAt} ms after its first caught-up check`);
  expect(firstReadAt - caughtUpAt).toBeLessThan(5000);
  const added = logLines.find((l) => String(l.msg).startsWith("config reloaded"));
  expect(added).toMatchObject({ trigger: "signal", who: "SIGHUP" });
  expect(added?.changes).toEqual([expect.stringMatching(/^backend replica3 added/)]);

  // replica2 out of the file: drained, then its pool closed.
  file.write(withReplicas([1, 3], extra));
  proc.kill("SIGHUP");
  await until(
    "replica2 gone",
    async () => (await backends()).backends.every((b) => b.name !== "replica2"),
    15_000,
  );
  const c = await sb.connect(sb.replicas[1]!);
  const [procs] = await c.query(
    "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'app'",
  );
  await c.end();
  expect((procs as { n: number }[])[0]!.n).toBe(0);

  // A broken file: nothing changes, each problem in the log by its key.
  const version = (await backends()).config.version;
  file.writeText(stringify({ ...withReplicas([1], extra), lag: { soft: "9s", max: "1s" } }));
  proc.kill("SIGHUP");
  const rejected = await until(
    "the rejection in the log",
    () => logLines.find((l) => String(l.msg).startsWith("config reload rejected")) ?? null,
  );
  expect(rejected).toMatchObject({ who: "SIGHUP" });
  expect(String(rejected.msg)).toMatch(/lag\.soft: expected less than lag\.max \(1000 ms\), found 9000 ms/);
  expect((await backends()).backends.map((b) => b.name)).toEqual(["primary", "replica1", "replica3"]);
  expect((await backends()).config.version).toBe(version);

  // The CLI: the same broken file through `rwsplit reload`, then a drain and an undrain.
  const cli = (args: string[]) =>
    run(process.execPath, [
      "bin/rwsplit.js",
      ...args,
      "--admin",
      `127.0.0.1:${adminPort}`,
      "--token",
      ADMIN_TOKEN,
    ]).then(
      (r) => ({ code: 0, ...r }),
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
  const bad = await cli(["reload"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/^config: lag\.soft: expected less than lag\.max/m);
  file.write(withReplicas([1, 3], extra));
  const ok = await cli(["reload"]);
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/reloaded: nothing changed; config version \d+/);
  const drain = await cli(["drain", "replica3"]);
  expect(drain.stdout).toMatch(/replica3 draining: no new reads/);
  await until("replica3 drained", async () => {
    const body = (await (await fetch(`${admin}/backends`, { headers })).json()) as {
      backends: { name: string; drain: { state: string } | null }[];
    };
    return body.backends.find((b) => b.name === "replica3")?.drain?.state === "drained";
  });
  expect((await cli(["undrain", "replica3"])).code).toBe(0);
  expect((await cli(["drain", "primary"])).stderr).toMatch(/refused \(409\).*switchover/);

  await reads.stop();
  await writes.stop();
  expect(reads.failures).toEqual([]);
  expect(writes.failures).toEqual([]);
  expect(reads.okTimes.length).toBeGreaterThan(100);
  const metrics = await (await fetch(`${admin}/metrics`, { headers })).text();
  expect(metrics).toMatch(/^# TYPE rwsplit_replica_writes_blocked_total counter$/m);
  expect(metrics).not.toMatch(/^rwsplit_replica_writes_blocked_total\{.*\} [1-9]/m);
  proc.kill("SIGTERM");
  expect(await exited).toBe(0);
});
