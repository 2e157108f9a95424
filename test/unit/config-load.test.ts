import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { checkConfig } from "../../src/cli/commands/check-config.js";
import { ConfigError, formatProblems, loadConfig, validateConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/types.js";

/** Loading files, environment and flag overrides, and `rwsplit check-config`; files live in os.tmpdir(). */

const EXAMPLE = fileURLToPath(new URL("../../config.example.yaml", import.meta.url));
const HASH = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; // PASSWORD('password')

const dir = mkdtempSync(join(tmpdir(), "rwsplit-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const DEFAULTS: Config = validateConfig({
  backends: { primary: "127.0.0.1:13306" },
  users: [{ name: "app", password: "app-pass" }],
});

describe("loading, environment and flags", () => {
  test("config.example.yaml validates", () => {
    const c = loadConfig({ file: EXAMPLE, env: {} });
    expect(c.backends.primary.port).toBe(13306);
    expect(c.backends.replicas.map((r) => r.name)).toEqual(["127.0.0.1:13307", "replica-2"]);
    expect(c.users).toEqual([{ name: "app", password: "app-pass" }]);
    expect(c.monitor).toMatchObject({ user: "monitor", password: "monitor-pass" });
    expect(c.redis).toBeUndefined();
    // Besides the example's backends, users and monitor account, every value is the default.
    expect({ ...c, backends: DEFAULTS.backends, users: DEFAULTS.users, monitor: DEFAULTS.monitor }).toEqual(
      DEFAULTS,
    );
  });

  test("named environment variables override the file", () => {
    const f = file(
      "env.yaml",
      "backends: { primary: 10.0.0.1:3306, replicas: [10.0.0.2:3306] }\nusers: [{ name: a, password: b }]\n",
    );
    const c = loadConfig({
      file: f,
      env: {
        RWSPLIT_LISTEN: "0.0.0.0:7000",
        RWSPLIT_ADMIN_LISTEN: "0.0.0.0:7001",
        RWSPLIT_ADMIN_TOKEN: "tok-0123456789abcdef",
        RWSPLIT_LOG_LEVEL: "debug",
        RWSPLIT_PRIMARY: "10.0.0.9:3306",
        RWSPLIT_REPLICAS: "",
        RWSPLIT_USERS: "u1:pa:ss, u2:",
        RWSPLIT_MONITOR_USER: "mon:m:pw",
        RWSPLIT_REDIS_URL: "redis://127.0.0.1:16379/2",
        RWSPLIT_UNRELATED: "ignored",
      },
    });
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 7000 });
    expect(c.admin.listen.port).toBe(7001);
    expect(c.admin.token).toBe("tok-0123456789abcdef");
    expect(c.log.level).toBe("debug");
    expect(c.backends.primary.host).toBe("10.0.0.9");
    expect(c.backends.replicas).toEqual([]);
    expect(c.users).toEqual([
      { name: "u1", password: "pa:ss" },
      { name: "u2", password: "" },
    ]);
    expect(c.monitor).toMatchObject({ user: "mon", password: "m:pw" });
    expect(c.redis).toEqual({ url: "redis://127.0.0.1:16379/2" });
  });

  test("RWSPLIT__SECTION__KEY reaches any key, read as a YAML scalar", () => {
    const c = loadConfig({
      env: {
        RWSPLIT_PRIMARY: "a:1",
        RWSPLIT_REPLICAS: "b:2,c:3",
        RWSPLIT_USERS: "app:x",
        RWSPLIT__POOL__MAX_PER_BACKEND: "42",
        RWSPLIT__LAG__MAX: "5s",
        RWSPLIT__TLS__ENABLED: "false",
        RWSPLIT__MONITOR__PASSWORD: HASH, // `*...` would be a YAML alias: kept as text
        RWSPLIT__MONITOR__HEARTBEAT__SCHEMA: "hb",
        RWSPLIT__DRAIN_TIMEOUT: "", // empty: the default applies
      },
    });
    expect(c.pool.maxPerBackend).toBe(42);
    expect(c.lag.maxMs).toBe(5000);
    expect(c.tls.enabled).toBe(false);
    expect(c.monitor.password).toBe(HASH);
    expect(c.monitor.heartbeat.schema).toBe("hb");
    expect(c.drainTimeoutMs).toBe(10_000);
  });

  test("a bad value from the environment says which variable set it", () => {
    const e = failure(() =>
      loadConfig({
        env: { RWSPLIT_PRIMARY: "a:1", RWSPLIT_USERS: "app:x", RWSPLIT__POOL__MAX_PER_BACKNED: "3" },
      }),
    );
    expect(formatProblems(e)).toBe(
      'config: pool.max_per_backned: unknown key: did you mean "max_per_backend"? (from RWSPLIT__POOL__MAX_PER_BACKNED)',
    );
  });

  test("flags beat the environment, which beats the file", () => {
    const f = file(
      "layers.yaml",
      "listen: 127.0.0.1:7000\nlog: { level: warn }\nbackends: { primary: 'a:1' }\nusers: [{ name: f, password: f }]\n",
    );
    const env = { RWSPLIT_LISTEN: "127.0.0.1:7001", RWSPLIT_USERS: "e:e" };
    expect(loadConfig({ file: f }).listen.port).toBe(7000);
    const fromEnv = loadConfig({ file: f, env });
    expect([fromEnv.listen.port, fromEnv.users[0]!.name, fromEnv.log.level]).toEqual([7001, "e", "warn"]);
    const fromFlags = loadConfig({
      file: f,
      env,
      flags: { listen: "127.0.0.1:7002", user: ["c:c"], replica: ["b:2"] },
    });
    expect([fromFlags.listen.port, fromFlags.users[0]!.name, fromFlags.log.level]).toEqual([
      7002,
      "c",
      "warn",
    ]);
    expect(fromFlags.backends.replicas.map((r) => r.name)).toEqual(["b:2"]);
  });

  test("flags alone make a config when they name a primary and a user", () => {
    const c = loadConfig({ flags: { primary: "127.0.0.1:13306", user: ["app:pa:ss"] } });
    expect(c.users).toEqual([{ name: "app", password: "pa:ss" }]);
    expect(c.monitor).toMatchObject({ user: "monitor", password: "monitor" });
    expect(failure(() => loadConfig({ flags: { primary: "a:1" } })).problems.map((p) => p.path)).toEqual([
      "users",
    ]);
  });

  test("--user and --monitor-user need NAME:PASSWORD", () => {
    const e = failure(() => loadConfig({ flags: { primary: "a:1", user: ["app"], monitorUser: "mon" } }));
    expect(formatProblems(e).split("\n")).toEqual([
      'config: users[0]: expected NAME:PASSWORD, found no ":" (from --user)',
      'config: monitor: expected NAME:PASSWORD, found no ":" (from --monitor-user)',
    ]);
  });

  test("the config path may come from the flags", () => {
    expect(loadConfig({ flags: { config: EXAMPLE } }).backends.primary.port).toBe(13306);
  });

  test("relative tls paths are relative to the config file", () => {
    const f = file(
      "tls.yaml",
      "backends: { primary: 'a:1' }\nusers: [{ name: a, password: b }]\ntls: { cert_file: c.pem, key_file: /k.pem }\n",
    );
    expect(loadConfig({ file: f }).tls).toEqual({
      enabled: true,
      certFile: join(dir, "c.pem"),
      keyFile: "/k.pem",
    });
  });

  test("an unreadable file is CONFIG_UNREADABLE", () => {
    const e = failure(() => loadConfig({ file: join(dir, "missing.yaml") }));
    expect(e.code).toBe("CONFIG_UNREADABLE");
    expect(formatProblems(e)).toBe(
      `config: ${join(dir, "missing.yaml")}: cannot read the file: no such file`,
    );
  });

  test("bad YAML is CONFIG_UNREADABLE with line and column", () => {
    const f = file("bad.yaml", "listen: 127.0.0.1:6033\npool:\n  max_per_backend: 1\n max_per_backend: 2\n");
    const e = failure(() => loadConfig({ file: f }));
    expect(e.code).toBe("CONFIG_UNREADABLE");
    expect(e.problems[0]!.path).toBe(`${f}:4:1`);
    expect(e.problems[0]!.message).toMatch(/^not valid YAML: /);
    const dup = file("dup.yaml", "listen: a:1\nlisten: b:2\n");
    expect(failure(() => loadConfig({ file: dup })).problems[0]).toEqual({
      path: `${dup}:2:1`,
      message: "not valid YAML: Map keys must be unique",
    });
  });

  test("an unquoted password hash (a YAML alias) gets a hint", () => {
    const f = file("alias.yaml", `users:\n  - name: a\n    password: ${HASH}\n`);
    const e = failure(() => loadConfig({ file: f }));
    expect(e.problems[0]!.path).toBe(`${f}:3:15`);
    expect(e.problems[0]!.message).toMatch(/quote password hashes/);
  });

  test("a file that is not a mapping is CONFIG_INVALID", () => {
    const e = failure(() => loadConfig({ file: file("list.yaml", "- a\n- b\n") }));
    expect([e.code, formatProblems(e)]).toEqual([
      "CONFIG_INVALID",
      "config: (root): expected a YAML mapping of settings, found a list of 2",
    ]);
  });
});

describe("rwsplit check-config", () => {
  test("a good file: exit 0, the effective config as YAML, secrets masked, loadable again", () => {
    const r = checkConfig(EXAMPLE, { RWSPLIT_REDIS_URL: "redis://:hunter2@127.0.0.1:16379" });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("max_per_backend: 200");
    expect(r.stdout).toContain("connect_timeout: 3s");
    for (const secret of ["app-pass", "monitor-pass", "hunter2"]) expect(r.stdout).not.toContain(secret);
    const again = loadConfig({
      file: file("printed.yaml", r.stdout.replaceAll('"***"', "p").replaceAll("***", "p")),
    });
    const original = loadConfig({ file: EXAMPLE, env: { RWSPLIT_REDIS_URL: "redis://:p@127.0.0.1:16379" } });
    const withoutSecrets = (c: Config) => ({
      ...c,
      users: c.users.map((u) => u.name),
      monitor: { ...c.monitor, password: "" },
    });
    expect(withoutSecrets(again)).toEqual(withoutSecrets(original));
  });

  test("auth.from_backend is printed with its account, the password masked, and loads back", () => {
    const f = file(
      "accounts.yaml",
      "backends: { primary: 'a:1' }\nauth: { from_backend: true, user: loader, password: s3cret-loader, refresh_interval: 90s }\n",
    );
    const r = checkConfig(f, {});
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("s3cret-loader");
    expect(r.stdout).toContain("refresh_interval: 90s");
    const again = loadConfig({ file: file("accounts-printed.yaml", r.stdout.replaceAll('"***"', "p")) });
    expect(again.users).toEqual([]);
    expect(again.accountsFromBackend).toEqual({
      user: "loader",
      password: "p",
      refreshIntervalMs: 90_000,
      refreshMinGapMs: 1000,
    });
  });

  test("a bad file: exit 2 and one `config: <path>: <message>` line per problem on stderr", () => {
    const f = file(
      "typo.yaml",
      "backends: { primary: 'a:1' }\nusers: [{ name: app, password: p }]\npool: { max_per_backnd: 3 }\nlag: { soft: fast }\n",
    );
    const r = checkConfig(f, {});
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      'config: pool.max_per_backnd: unknown key: did you mean "max_per_backend"?',
      'config: lag.soft: expected a duration like "500ms", "2s", "1m" or a number of milliseconds, found "fast"',
    ]);
    expect(checkConfig(join(dir, "nope.yaml"), {}).code).toBe(2);
  });

  test("formatProblems also renders errors that are not config problems", () => {
    expect(formatProblems(new Error("boom"))).toBe("config: boom");
  });
});
