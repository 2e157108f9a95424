/** The reload's diff (src/config/diff.ts): file changes in, live changes and restart keys out. */
import { describe, expect, test } from "vitest";
import { describeChange, describeRestart, diffConfig, refusedChanges } from "../../src/config/diff.js";
import { validateConfig } from "../../src/config/load.js";

type Raw = Record<string, unknown>;

const base: Raw = {
  listen: "127.0.0.1:6033",
  admin: { token: "0123456789abcdef0123" },
  backends: {
    primary: { host: "127.0.0.1", port: 13306, name: "db1" },
    replicas: [
      { host: "127.0.0.1", port: 13307, name: "r1" },
      { host: "127.0.0.1", port: 13308, name: "r2", weight: 2 },
    ],
  },
  users: [
    { name: "app", password: "app-pass" },
    { name: "bob", password: "bob-pass", default_schema: "b" },
  ],
  monitor: { user: "monitor", password: "monitor-pass" },
  failover: { user: "fo", password: "fo-pass", replication_user: "repl", replication_password: "repl-pass" },
};

/** `base` with `patch` applied: a key set to undefined is removed. */
function file(patch: (f: Raw) => void): Raw {
  const f = structuredClone(base);
  patch(f);
  return f;
}

const replicas = (f: Raw) => (f.backends as { replicas: Raw[] }).replicas;

const running = validateConfig(base);

describe("diffConfig", () => {
  test.each<[string, (f: Raw) => void, string[], string[]]>([
    ["nothing changed", () => {}, [], []],
    [
      "a replica added",
      (f) => replicas(f).push({ host: "127.0.0.1", port: 13309, name: "r3" }),
      ["backend r3 added (127.0.0.1:13309, weight 1)"],
      [],
    ],
    ["a replica removed", (f) => replicas(f).splice(0, 1), ["backend r1 removed (drained first)"], []],
    [
      "weight and priority",
      (f) => {
        replicas(f)[0]!.weight = 3;
        replicas(f)[1]!.priority = 5;
      },
      ["backend r1 weight 1 → 3", "backend r2 priority 0 → 5"],
      [],
    ],
    [
      "added, removed and reweighted: added first, then removed, then the rest",
      (f) => {
        replicas(f)[1]!.weight = 1;
        replicas(f).splice(0, 1);
        replicas(f).push("127.0.0.1:13309" as unknown as Raw);
      },
      [
        "backend 127.0.0.1:13309 added (127.0.0.1:13309, weight 1)",
        "backend r1 removed (drained first)",
        "backend r2 weight 2 → 1",
      ],
      [],
    ],
    [
      "primary and a replica swap places in the file: no change (the topology decides)",
      (f) => {
        const b = f.backends as { primary: Raw; replicas: Raw[] };
        const p = b.primary;
        b.primary = b.replicas[0]!;
        b.replicas[0] = p;
      },
      [],
      [],
    ],
    [
      "a backend's address under the same name waits for a restart",
      (f) => {
        replicas(f)[0]!.port = 23307;
      },
      [],
      ["backends.r1"],
    ],
    [
      "users added, removed, password and schema changed",
      (f) => {
        const users = f.users as Raw[];
        users[0]!.password = "new-pass";
        users[1]!.default_schema = "c";
        users.push({ name: "carol", password: "c" });
        users.splice(0, 0);
        f.users = [users[0], users[2]];
      },
      [
        "user app: password changed (new logins)",
        "user carol added",
        "user bob removed (its open sessions go on)",
      ],
      [],
    ],
    [
      "live settings",
      (f) => {
        f.log = { level: "debug" };
        f.lag = { max: "5s", min_serving: 1 };
        f.routing = { consistency: "eventual", read_fallback: "error" };
        f.pool = { max_per_backend: 20 };
        f.drain_timeout = "30s";
        f.failover = { ...(f.failover as Raw), detect: "3s" };
      },
      [
        "log.level: info → debug",
        "pool.max_per_backend: 200 → 20",
        "routing.consistency: user → eventual",
        "routing.read_fallback: primary → error",
        "lag.max: 3s → 5s",
        "lag.min_serving: 0 → 1",
        "failover.detect: 2s → 3s",
        "drain_timeout: 10s → 30s",
      ],
      [],
    ],
    [
      "what only a restart changes",
      (f) => {
        f.listen = "0.0.0.0:6033";
        f.admin = { listen: "127.0.0.1:7070", token: "another-token-0123456" };
        f.monitor = { user: "monitor", password: "other", interval: "1s" };
        f.tls = { enabled: false };
        f.routing = { consistency_window: "20s" };
        f.failover = { ...(f.failover as Raw), password: "fo-pass-2" };
        f.redis = { url: "redis://127.0.0.1:6390" };
        f.digests = { max: 10 };
      },
      [],
      [
        "listen",
        "admin.listen",
        "admin.token",
        "monitor.password",
        "monitor.interval",
        "tls.enabled",
        "routing.consistency_window",
        "failover.password",
        "digests.max",
        "redis.url",
      ],
    ],
  ])("%s", (_name, patch, changes, restart) => {
    const d = diffConfig(running, validateConfig(file(patch)));
    expect(d.changes.map(describeChange)).toEqual(changes);
    expect(d.restart.map((r) => r.key)).toEqual(restart);
  });

  test("routing.consistency to user needs a restart, away from it does not", () => {
    const session = validateConfig(file((f) => (f.routing = { consistency: "session" })));
    const toUser = diffConfig(session, running);
    expect(toUser.restart.map((r) => r.key)).toEqual(["routing.consistency"]);
    expect(toUser.next.routing.consistency).toBe("session");
    const fromUser = diffConfig(running, session);
    expect(fromUser.restart).toEqual([]);
    expect(fromUser.next.routing.consistency).toBe("session");
  });

  test("next: the file's live values, the running values of what waits for a restart", () => {
    const f = validateConfig(
      file((f) => {
        f.listen = "0.0.0.0:7000";
        f.lag = { max: "5s" };
        f.failover = { ...(f.failover as Raw), password: "fo-pass-2", detect: "3s" };
        replicas(f)[0]!.port = 23307;
        replicas(f)[0]!.weight = 4;
      }),
    );
    const { next } = diffConfig(running, f);
    expect(next.listen).toEqual(running.listen);
    expect(next.lag.maxMs).toBe(5000);
    expect(next.failover.detectMs).toBe(3000);
    expect(next.failover.admin).toEqual(running.failover.admin);
    // The address stays, the live weight is taken.
    expect(next.backends.replicas[0]).toMatchObject({ name: "r1", port: 13307, weight: 4 });
  });

  test("secrets are never shown", () => {
    const f = validateConfig(
      file((f) => {
        f.monitor = { user: "monitor", password: "s3cret-1" };
        f.redis = { url: "redis://:pw@127.0.0.1:6390" };
        (f.users as Raw[])[0]!.password = "s3cret-2";
      }),
    );
    const d = diffConfig(running, f);
    const text = [...d.changes.map(describeChange), ...d.restart.map(describeRestart)].join("\n");
    expect(text).not.toMatch(/s3cret|pw@|monitor-pass|app-pass/);
    expect(text).toMatch(/monitor.password changed \(needs a restart/);
  });
});

describe("refusedChanges", () => {
  test("removing the current primary is refused with a pointer to switchover", () => {
    const d = diffConfig(running, validateConfig(file((f) => replicas(f).splice(1, 1))));
    expect(refusedChanges(d.changes, { generation: 1, primary: "db1" })).toEqual([]);
    const problems = refusedChanges(d.changes, { generation: 4, primary: "r2" });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe("backends");
    expect(problems[0]!.message).toMatch(/"r2" is the primary \(topology generation 4\).*switchover/);
  });
});
