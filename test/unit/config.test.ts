/** The schema: defaults, and one test per kind of problem (pure: no files, no environment). */
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../../src/config/duration.js";
import { ConfigError, validateConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/types.js";

const HASH = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; // PASSWORD('password')

const minimal = { backends: { primary: "127.0.0.1:13306" }, users: [{ name: "app", password: "app-pass" }] };
const withMinimal = (extra: Record<string, unknown>) => ({ ...minimal, ...extra });

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

/** "path: message" lines, the way check-config prints them (minus the "config: " prefix). */
const problems = (raw: unknown) =>
  failure(() => validateConfig(raw)).problems.map((p) => `${p.path}: ${p.message}`);

const DEFAULTS: Config = {
  listen: { host: "127.0.0.1", port: 6033 },
  admin: { listen: { host: "127.0.0.1", port: 6070 }, enabled: true },
  log: { level: "info" },
  backends: {
    primary: { host: "127.0.0.1", port: 13306, name: "127.0.0.1:13306", weight: 1, priority: 0 },
    replicas: [],
  },
  users: [{ name: "app", password: "app-pass" }],
  monitor: {
    user: "monitor",
    password: "monitor",
    intervalMs: 500,
    timeoutMs: 1000,
    heartbeat: { enabled: true, intervalMs: 250, schema: "rwsplit" },
  },
  pool: {
    maxPerBackend: 200,
    connectTimeoutMs: 3000,
    idleTimeoutMs: 60_000,
    pingAfterIdleMs: 5000,
    acquireTimeoutMs: 5000,
  },
  limits: { maxClientConnections: 10_000, maxAllowedPacket: 1024 ** 3, relayStallWarnMs: 5000 },
  tls: { enabled: true },
  routing: {
    consistency: "user",
    consistencyWindowMs: 10_000,
    consistencyWaitMs: 50,
    readFallback: "primary",
  },
  lag: { softMs: 500, maxMs: 3000, readmitBelowMs: 2000, readmitChecks: 3, minServing: 0 },
  failover: {
    automatic: true,
    detectMs: 2000,
    holdWritesMs: 10_000,
    catchUpMs: 10_000,
    switchoverTimeoutMs: 5000,
  },
  drainTimeoutMs: 10_000,
  workers: 1,
  youngGeneration: "fixed",
  digests: { max: 5000 },
};

describe("schema", () => {
  test("defaults fill every key the file leaves out", () => {
    expect(validateConfig(minimal)).toEqual(DEFAULTS);
  });

  test("a partial section keeps the other defaults of that section", () => {
    const c = validateConfig(
      withMinimal({ pool: { max_per_backend: 5 }, monitor: { heartbeat: { enabled: false } } }),
    );
    expect(c.pool).toEqual({ ...DEFAULTS.pool, maxPerBackend: 5 });
    expect(c.monitor.heartbeat).toEqual({ enabled: false, intervalMs: 250, schema: "rwsplit" });
  });

  test("missing required keys are named", () => {
    expect(problems({})).toEqual([
      expect.stringMatching(/^backends\.primary: missing: expected "host:port"/),
      expect.stringMatching(/^users: missing: expected a list of users/),
    ]);
    expect(problems(withMinimal({ users: [] }))).toEqual([
      "users: expected at least one user, found none (or auth.from_backend: true)",
    ]);
    expect(problems(withMinimal({ users: [{ name: "app" }] }))).toEqual([
      "users[0].password: missing: expected a string",
    ]);
  });

  test("a wrong type says what was expected and what was found", () => {
    expect(problems(withMinimal({ pool: { max_per_backend: "many" } }))).toEqual([
      'pool.max_per_backend: expected a whole number >= 1, found "many"',
    ]);
    expect(problems(withMinimal({ admin: { enabled: "yes" } }))).toEqual([
      'admin.enabled: expected true or false, found "yes"',
    ]);
    expect(problems(withMinimal({ log: { level: "verbose" } }))).toEqual([
      'log.level: expected one of trace, debug, info, warn, error, fatal, silent, found "verbose"',
    ]);
    expect(problems(withMinimal({ pool: [] }))).toEqual(["pool: expected a mapping, found a list of 0"]);
  });

  test("admin.token: a short one is rejected without echoing it; a good one is kept", () => {
    expect(problems(withMinimal({ admin: { token: "short-secret" } }))).toEqual([
      "admin.token: expected a string of at least 16 characters (e.g. from `openssl rand -hex 16`), found a 12-character string",
    ]);
    expect(validateConfig(withMinimal({ admin: { token: "0123456789abcdef" } })).admin.token).toBe(
      "0123456789abcdef",
    );
  });

  test("an unquoted numeric password is rejected without echoing it", () => {
    const [p] = problems(withMinimal({ users: [{ name: "app", password: 123456 }] }));
    expect(p).toBe("users[0].password: expected a string, found a number: quote it in YAML");
  });

  test("an unknown key (a typo) is an error that suggests the right key", () => {
    expect(problems(withMinimal({ pool: { max_per_backnd: 10 } }))).toEqual([
      'pool.max_per_backnd: unknown key: did you mean "max_per_backend"?',
    ]);
    expect(problems(withMinimal({ listn: "x:1", zzz: 1 }))).toEqual([
      'listn: unknown key: did you mean "listen"?',
      expect.stringMatching(/^zzz: unknown key: expected one of listen, admin, log, backends, users/),
    ]);
    expect(problems(withMinimal({ users: [{ name: "a", password: "b", schema: "x" }] }))).toEqual([
      'users[0].schema: unknown key: did you mean "default_schema"?',
    ]);
  });

  test("addresses: strings, bracketed IPv6, mappings; bad ones are named with the reason", () => {
    const c = validateConfig(
      withMinimal({
        listen: "[::1]:0",
        backends: {
          primary: { host: "db1", port: 3306 },
          replicas: ["db2:3307", { host: "db3", port: 3308, weight: 2 }],
        },
      }),
    );
    expect(c.listen).toEqual({ host: "::1", port: 0 });
    expect(c.backends.primary.name).toBe("db1:3306");
    expect(c.backends.replicas.map((r) => [r.name, r.weight])).toEqual([
      ["db2:3307", 1],
      ["db3:3308", 2],
    ]);
    const bad = (backends: unknown) => problems(withMinimal({ backends }));
    expect(bad({ primary: "localhost" })).toEqual([
      'backends.primary: the :port is missing: expected "host:port" or {host, port}, found "localhost"',
    ]);
    expect(bad({ primary: "::1:3306" })[0]).toMatch(/^backends\.primary: put an IPv6 host in brackets/);
    expect(bad({ primary: "a:1", replicas: ["b:2", "c:99999"] })[0]).toMatch(
      /^backends\.replicas\[1\]: port must be 1\.\.65535/,
    );
    expect(bad({ primary: "a:0" })[0]).toMatch(/^backends\.primary: port must be 1\.\.65535/);
    expect(bad({ primary: "a:1", replicas: [{ host: "b", port: 0 }] })).toEqual([
      "backends.replicas[0].port: expected a port number 1..65535, found 0",
    ]);
    expect(bad({ primary: 3306 })[0]).toMatch(
      /^backends\.primary: expected "host:port" or \{host, port\}.*, found 3306/,
    );
  });

  test.each([
    ["500ms", 500],
    ["2s", 2000],
    ["1.5s", 1500],
    ["1m", 60_000],
    ["1h", 3_600_000],
    [250, 250],
    ["250", 250],
  ])("duration %j is %d ms", (value, ms) => {
    expect(validateConfig(withMinimal({ pool: { connect_timeout: value } })).pool.connectTimeoutMs).toBe(ms);
  });

  test.each(["soon", "0.5ms", "-1s", "2 days", 0, "30d"])("duration %j is rejected", (value) => {
    expect(problems(withMinimal({ pool: { connect_timeout: value } }))).toEqual([
      expect.stringMatching(/^pool\.connect_timeout: expected a positive duration like "500ms"/),
    ]);
  });

  test("a duration too long for Node's timers is rejected", () => {
    expect(problems(withMinimal({ drain_timeout: "600h" }))[0]).toMatch(
      /^drain_timeout: expected at most 2147483647 ms/,
    );
  });

  test("sizes accept my.cnf suffixes within MariaDB's range", () => {
    const packet = (v: unknown) =>
      validateConfig(withMinimal({ limits: { max_allowed_packet: v } })).limits.maxAllowedPacket;
    expect(packet("64M")).toBe(64 * 1024 ** 2);
    expect(packet(4096)).toBe(4096);
    expect(problems(withMinimal({ limits: { max_allowed_packet: "2G" } }))[0]).toMatch(
      /^limits\.max_allowed_packet: expected a size from 1024 to 1G/,
    );
  });

  test("a password starting with * must be a full hash, and the message never shows it", () => {
    const [p] = problems(withMinimal({ users: [{ name: "app", password: "*secretish" }] }));
    expect(p).toMatch(/^users\[0\]\.password: .*"\*" and 40 hex digits, found a 10-character string$/);
    expect(p).not.toContain("secretish");
    expect(validateConfig(withMinimal({ users: [{ name: "app", password: HASH }] })).users[0]!.password).toBe(
      HASH,
    );
  });

  test("the heartbeat schema must be an identifier (it goes into SQL)", () => {
    expect(problems(withMinimal({ monitor: { heartbeat: { schema: "x; DROP" } } }))[0]).toMatch(
      /^monitor\.heartbeat\.schema: expected an identifier/,
    );
  });

  test("cross-field checks name the key to change", () => {
    expect(problems(withMinimal({ lag: { soft: "3s", max: "1s", readmit_below: "500ms" } }))).toEqual([
      "lag.soft: expected less than lag.max (1000 ms), found 3000 ms",
    ]);
    expect(problems(withMinimal({ lag: { readmit_below: "5s" } }))).toEqual([
      "lag.readmit_below: expected at most lag.max (3000 ms), found 5000 ms",
    ]);
    expect(problems(withMinimal({ tls: { cert_file: "/x.pem" } }))).toEqual([
      expect.stringMatching(/^tls\.key_file: missing: tls\.cert_file is set/),
    ]);
    expect(problems(withMinimal({ backends: { primary: "DB:1", replicas: ["b:2", "db:1"] } }))).toEqual([
      "backends.replicas[1]: db:1 is already backends.primary: each backend once",
    ]);
    expect(
      problems(
        withMinimal({ backends: { primary: "a:1", replicas: [{ host: "b", port: 2, name: "a:1" }] } }),
      ),
    ).toEqual([
      'backends.replicas[0].name: name "a:1" is already used by backends.primary: names label metrics',
    ]);
    expect(problems(withMinimal({ users: [minimal.users[0], minimal.users[0]] }))).toEqual([
      'users[1].name: user "app" is already users[0]',
    ]);
  });

  test("auth.from_backend: users may be left out, the loader's account defaults to the monitor's", () => {
    const c = validateConfig({ backends: minimal.backends, auth: { from_backend: true } });
    expect(c.users).toEqual([]);
    expect(c.accountsFromBackend).toEqual({
      user: "monitor",
      password: "monitor",
      refreshIntervalMs: 300_000,
      refreshMinGapMs: 1000,
    });
    const own = validateConfig(
      withMinimal({
        auth: {
          from_backend: true,
          user: "loader",
          password: "pw",
          refresh_interval: "1m",
          refresh_min_gap: 0,
        },
      }),
    );
    expect(own.users.map((u) => u.name)).toEqual(["app"]);
    expect(own.accountsFromBackend).toEqual({
      user: "loader",
      password: "pw",
      refreshIntervalMs: 60_000,
      refreshMinGapMs: 0,
    });
    // Off (the default): no loader, and users are required again.
    expect(validateConfig(minimal).accountsFromBackend).toBeUndefined();
    expect(problems({ backends: minimal.backends, auth: { from_backend: false } })).toEqual([
      "users: missing: expected a list of users ({name, password}), or auth.from_backend: true",
    ]);
  });

  test("auth: user and password go together, a misspelt key is named", () => {
    expect(problems(withMinimal({ auth: { from_backend: true, user: "loader" } }))).toEqual([
      "auth.password: missing: auth.user is set, so auth.password is needed too (or neither, for the monitor account)",
    ]);
    expect(problems(withMinimal({ auth: { from_backend: "yes" } }))).toEqual([
      'auth.from_backend: expected true or false, found "yes"',
    ]);
    expect(problems(withMinimal({ auth: { refresh_intervl: "1m" } }))).toEqual([
      'auth.refresh_intervl: unknown key: did you mean "refresh_interval"?',
    ]);
  });

  test("every problem is reported at once", () => {
    expect(problems({ listen: "nope", pool: { max_per_backend: 0 }, users: [] })).toHaveLength(4);
  });
});

describe("durations", () => {
  test("formatDuration spells every duration so that parseDuration reads it back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_DURATION_MS }),
        (ms) => parseDuration(formatDuration(ms)) === ms,
      ),
    );
    expect([formatDuration(1500), formatDuration(2000), formatDuration(60_000), formatDuration(0)]).toEqual([
      "1500ms",
      "2s",
      "1m",
      "0ms",
    ]);
  });
});
