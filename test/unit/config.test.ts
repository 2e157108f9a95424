import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { checkConfig } from "../../src/cli/commands/check-config.js";
import { ConfigError, formatProblems, loadConfig, validateConfig } from "../../src/config/load.js";

const dir = mkdtempSync(join(tmpdir(), "rwsplit-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { backends: { primary: "127.0.0.1:13306" }, users: [{ name: "app", password: "x" }] };

function problems(raw: unknown): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error("expected the config to be rejected");
}

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe("config validation", () => {
  test("defaults fill every key", () => {
    const c = validateConfig(minimal);
    expect(c.listen).toEqual({ host: "127.0.0.1", port: 6033 });
    expect(c.admin.listen).toEqual({ host: "127.0.0.1", port: 6070 });
    expect(c.backends.primary).toEqual({
      host: "127.0.0.1",
      port: 13306,
      name: "127.0.0.1:13306",
      weight: 1,
      priority: 0,
    });
    expect(c.pool).toEqual({
      maxPerBackend: 200,
      connectTimeoutMs: 3000,
      idleTimeoutMs: 60000,
      pingAfterIdleMs: 5000,
      acquireTimeoutMs: 5000,
    });
    expect(c.lag).toEqual({
      softMs: 500,
      maxMs: 3000,
      readmitBelowMs: 2000,
      readmitChecks: 3,
      minServing: 0,
    });
    expect(c.routing).toEqual({ consistency: "session", readFallback: "primary" });
    expect(c.drainTimeoutMs).toBe(10000);
  });

  test("a missing key names the key", () => {
    expect(problems({ users: minimal.users })).toEqual([
      expect.stringMatching(/^backends: expected object, got nothing/),
    ]);
    expect(problems({ backends: minimal.backends })).toEqual([
      expect.stringMatching(/^users: expected array, got nothing/),
    ]);
  });

  test("a wrong type names the key and what was expected", () => {
    expect(problems({ ...minimal, pool: { max_per_backend: "many" } })).toEqual([
      'pool.max_per_backend: expected number, got "many"',
    ]);
  });

  test("an unknown key (a typo) is an error", () => {
    expect(problems({ ...minimal, pool: { max_per_backnd: 10 } })).toEqual([
      "pool.max_per_backnd: unknown key (misspelt? see config.example.yaml)",
    ]);
  });

  test("a bad address is an error", () => {
    expect(problems({ ...minimal, backends: { primary: "localhost" } })[0]).toMatch(
      /^backends\.primary: expected "host:port"/,
    );
    expect(problems({ ...minimal, listen: "127.0.0.1:99999" })[0]).toMatch(/^listen: expected "host:port"/);
    expect(problems({ ...minimal, backends: { primary: "a:1", replicas: ["b:2", "nope"] } })[0]).toMatch(
      /^backends\.replicas\[1\]: expected "host:port"/,
    );
  });

  test("a bad duration is an error", () => {
    expect(problems({ ...minimal, pool: { connect_timeout: "soon" } })[0]).toMatch(
      /^pool\.connect_timeout: expected a duration/,
    );
  });

  test("durations accept units", () => {
    const c = validateConfig({
      ...minimal,
      pool: { connect_timeout: "2s", idle_timeout: "1m", ping_after_idle: 250 },
    });
    expect(c.pool.connectTimeoutMs).toBe(2000);
    expect(c.pool.idleTimeoutMs).toBe(60000);
    expect(c.pool.pingAfterIdleMs).toBe(250);
  });

  test("a bad native hash is an error; a good one passes", () => {
    expect(problems({ ...minimal, users: [{ name: "a", password: "*123" }] })[0]).toMatch(
      /^users\[0\]\.password: /,
    );
    expect(
      validateConfig({
        ...minimal,
        users: [{ name: "a", password: "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7" }],
      }).users[0]!.password,
    ).toMatch(/^\*/);
  });

  test("cross-field checks", () => {
    expect(problems({ ...minimal, lag: { soft: "3s", max: "1s" } })).toContainEqual(
      expect.stringMatching(/^lag\.soft: must be below lag\.max/),
    );
    expect(problems({ ...minimal, tls: { cert_file: "/x.pem" } })).toEqual([
      "tls.key_file: cert_file and key_file go together",
    ]);
    expect(problems({ ...minimal, backends: { primary: "a:1", replicas: ["a:1"] } })).toEqual([
      "backends.replicas[0]: a:1 is listed twice",
    ]);
  });
});

describe("loading and overrides", () => {
  test("the example config validates", () => {
    const c = loadConfig({ file: "config.example.yaml" });
    expect(c.backends.replicas.map((r) => r.name)).toEqual(["127.0.0.1:13307", "replica2"]);
  });

  test("flags beat environment, which beats the file", () => {
    const f = file(
      "a.yaml",
      "listen: 127.0.0.1:7000\nbackends: { primary: 10.0.0.1:3306 }\nusers: [{ name: app, password: p }]\n",
    );
    const env = {
      RWSPLIT_LISTEN: "127.0.0.1:7001",
      RWSPLIT__POOL__MAX_PER_BACKEND: "42",
      RWSPLIT_USERS: "u1:pa:ss,u2:q",
    };
    const fromEnv = loadConfig({ file: f, env });
    expect(fromEnv.listen.port).toBe(7001);
    expect(fromEnv.pool.maxPerBackend).toBe(42);
    expect(fromEnv.users).toEqual([
      { name: "u1", password: "pa:ss" },
      { name: "u2", password: "q" },
    ]);
    const fromFlags = loadConfig({
      file: f,
      env,
      flags: { listen: "127.0.0.1:7002", replica: ["10.0.0.2:3306"] },
    });
    expect(fromFlags.listen.port).toBe(7002);
    expect(fromFlags.backends.replicas.map((r) => r.port)).toEqual([3306]);
  });

  test("flags alone make a config", () => {
    const c = loadConfig({
      flags: { primary: "127.0.0.1:13306", user: ["app:app-pass"], monitorUser: "mon:pw" },
    });
    expect(c.monitor.user).toBe("mon");
    expect(c.monitor.password).toBe("pw");
  });

  test("unreadable file and bad YAML", () => {
    expect(() => loadConfig({ file: join(dir, "missing.yaml") })).toThrow(/cannot read the file/);
    const bad = file("bad.yaml", "listen: [unclosed\n");
    expect(formatProblems(catchIt(() => loadConfig({ file: bad })))).toMatch(/not valid YAML at line/);
  });

  test("check-config prints the effective config with passwords masked, or problems with exit 2", () => {
    const ok = checkConfig("config.example.yaml", {});
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("maxPerBackend: 200");
    expect(ok.out).not.toContain("app-pass");
    const f = file(
      "typo.yaml",
      "backends: { primary: 'a:1' }\nusers: [{ name: app, password: p }]\npool: { max_per_backnd: 3 }\nlag: { soft: fast }\n",
    );
    const bad = checkConfig(f, {});
    expect(bad.code).toBe(2);
    expect(bad.out.split("\n")).toEqual([
      "config: pool.max_per_backnd: unknown key (misspelt? see config.example.yaml)",
      expect.stringMatching(/^config: lag\.soft: expected a duration/),
    ]);
  });
});

function catchIt(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return null;
}
