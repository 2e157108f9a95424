import { afterEach, describe, expect, test } from "vitest";
import { createAdminApp } from "../../src/admin/app.js";
import { ADMIN_COOKIE, adminCookieValue, authorize } from "../../src/admin/auth.js";
import { LiveHistory, type TrafficCounters } from "../../src/admin/console/live.js";
import type { BackendStatus, StatusSource } from "../../src/admin/status.js";
import { StatementSample } from "../../src/digests/sample.js";
import { DigestStore } from "../../src/digests/store.js";
import { EventFeed } from "../../src/events/feed.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics/registry.js";

const TOKEN = "0123456789abcdef0123";

function backend(
  name: string,
  role: BackendStatus["role"],
  over: Partial<BackendStatus> = {},
): BackendStatus {
  return {
    name,
    role,
    host: "127.0.0.1",
    port: role === "primary" ? 3307 : 3308,
    up: true,
    readOnly: role !== "primary",
    lagMs: role === "replica" ? 120 : null,
    lagSource: role === "replica" ? "heartbeat" : null,
    weight: 2,
    effectiveWeight: role === "replica" ? 1.5 : 0,
    eligible: true,
    reason: null,
    inFlight: 1,
    pool: { open: 4, idle: 3, busy: 1, waiting: 0, max: 200 },
    lastError: null,
    lastCheckAt: "2025-01-01T00:00:00.000Z",
    gtidPosition: "0-1-42",
    lagPolicy: null,
    ...over,
  };
}

function fixture() {
  const digests = new DigestStore(100);
  const events = new EventFeed();
  const kinds = { read: 0, write: 0, session: 0 };
  const list = [
    backend("primary", "primary"),
    backend("replica1", "replica"),
    backend("replica<2>", "replica", {
      eligible: false,
      reason: "lag 4100 ms > max 3000 ms",
      lagMs: 4100,
      effectiveWeight: 0,
    }),
  ];
  const status: StatusSource = {
    listening: () => true,
    primaryReachable: () => true,
    backends: () => list,
    topology: () => ({
      generation: 3,
      primary: "primary",
      fenced: [],
      state: "idle",
      automaticFailover: true,
      primaryVerdict: "up",
      changedAt: "2025-01-01T00:00:00.000Z",
      reason: "switchover",
      history: [
        {
          kind: "switchover",
          ok: true,
          from: "replica1",
          to: "primary",
          startedAt: "2025-01-01T00:00:00.000Z",
          durationMs: 812,
          steps: ["held writes", "promoted primary"],
          error: null,
          password: "never-shown",
        },
      ],
    }),
    digests: { list: (sort, limit) => digests.list(sort, limit), reset: () => digests.reset() },
    events: { list: (limit, after) => events.list(limit, after) },
    statementKinds: () => kinds,
  };
  return { status, digests, events, kinds, list };
}

const apps: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

function app(status: StatusSource, token?: string) {
  const a = createAdminApp({
    status,
    metrics: new Metrics({ defaultMetrics: false }),
    logger: createLogger({ level: "silent" }),
    token,
  });
  apps.push(a);
  return a;
}

function record(store: DigestStore, sql: string, route: "primary" | "replica", ms: number) {
  const s = new StatementSample();
  s.query(Buffer.from(`\x03${sql}`), 1, route === "replica" ? "read" : "write");
  s.ran("app", "shop", 1);
  store.record(
    s,
    route,
    route === "replica" ? "replica1" : "primary",
    route === "replica" ? "read" : "write",
    ms * 1e6,
    0,
  );
}

describe("the status page", () => {
  test("GET / renders cards, figures, top statements and events on the server, escaped, without secrets or literals", async () => {
    const f = fixture();
    record(f.digests, "SELECT name FROM users WHERE email = 'alice@example.com'", "replica", 3);
    record(f.digests, "UPDATE users SET name = 'bob' WHERE id = 42", "primary", 9);
    f.events.push({
      kind: "exclusion",
      level: "warn",
      backend: "replica<2>",
      message: "replica<2> excluded from reads: lag",
    });
    const res = await app(f.status).inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/html/);
    const html = res.body;
    expect(html).toContain('data-backend="primary"');
    expect(html).toContain('data-backend="replica1"');
    expect(html).toContain('data-backend="replica&lt;2&gt;"');
    expect(html).not.toContain("replica<2>");
    expect(html).toContain('data-lag-ms="4100"');
    expect(html).toContain("excluded");
    expect(html).toContain("lag 4100 ms &gt; max 3000 ms");
    expect(html).toContain("0-1-42");
    expect(html).toContain("UPDATE users SET name = ? WHERE id = ?");
    expect(html).toContain("SELECT name FROM users WHERE email = ?");
    expect(html).not.toContain("alice@example.com");
    expect(html).not.toContain("never-shown");
    expect(html).toContain("promoted primary");
    expect(html).toContain('<meta name="viewport"');
    expect(html.indexOf("UPDATE users")).toBeLessThan(html.indexOf("SELECT name FROM users"));
  });

  test("the script is the client function's own source and runs without helpers", async () => {
    const f = fixture();
    const a = app(f.status);
    const js = await a.inject({ method: "GET", url: "/console/console.js" });
    expect(js.statusCode).toBe(200);
    expect(js.body.startsWith("(function consoleClient()")).toBe(true);
    expect(js.body).not.toMatch(/__name|require\(|import /);
    // It parses as a script.
    expect(() => new Function(js.body)).not.toThrow();
    expect((await a.inject({ method: "GET", url: "/console/uplot.js" })).body.length).toBeGreaterThan(10_000);
    expect((await a.inject({ method: "GET", url: "/console/uplot.css" })).statusCode).toBe(200);
    expect((await a.inject({ method: "GET", url: "/console/console.css" })).body).toContain(
      "prefers-color-scheme",
    );
  });

  test("/console.json and /events; /digests validates sort and limit; reset", async () => {
    const f = fixture();
    record(f.digests, "SELECT 1", "replica", 1);
    f.events.push({ kind: "backup", message: "backup done" });
    const a = app(f.status);
    const snap = (await a.inject({ method: "GET", url: "/console.json" })).json();
    expect(snap.backends.map((b: BackendStatus) => b.name)).toEqual(["primary", "replica1", "replica<2>"]);
    expect(snap.topology.generation).toBe(3);
    expect(snap.top[0].text).toBe("SELECT ?");
    const ev = (await a.inject({ method: "GET", url: "/events" })).json();
    expect(ev.events[0]).toMatchObject({ kind: "backup", message: "backup done", level: "info" });
    expect((await a.inject({ method: "GET", url: "/events?after=1" })).json().events).toEqual([]);
    const bad = await a.inject({ method: "GET", url: "/digests?sort=bogus" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/total_time/);
    expect((await a.inject({ method: "GET", url: "/digests?limit=0" })).statusCode).toBe(400);
    const list = (await a.inject({ method: "GET", url: "/digests?sort=count&limit=5" })).json();
    expect(list).toMatchObject({ size: 1, sort: "count", digests: [{ text: "SELECT ?", count: 1 }] });
    expect((await a.inject({ method: "POST", url: "/digests/reset" })).json()).toEqual({ reset: true });
    expect((await a.inject({ method: "GET", url: "/digests" })).json().size).toBe(0);
  });

  test("with admin.token: the page redirects to a login form; the login sets an HttpOnly cookie good for GETs only", async () => {
    const f = fixture();
    const a = app(f.status, TOKEN);
    const page = await a.inject({ method: "GET", url: "/" });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe("/login");
    const form = await a.inject({ method: "GET", url: "/login" });
    expect(form.body).toContain('type="password"');
    const wrong = await a.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "token=nope",
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    const ok = await a.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `token=${TOKEN}`,
    });
    expect(ok.statusCode).toBe(303);
    const cookie = String(ok.headers["set-cookie"]);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(TOKEN);
    const value = cookie.split(";")[0]!;
    expect((await a.inject({ method: "GET", url: "/", headers: { cookie: value } })).statusCode).toBe(200);
    expect((await a.inject({ method: "GET", url: "/backends", headers: { cookie: value } })).statusCode).toBe(
      200,
    );
    // Changes still need the header.
    expect(
      (await a.inject({ method: "POST", url: "/digests/reset", headers: { cookie: value } })).statusCode,
    ).toBe(401);
    expect(
      (await a.inject({ method: "GET", url: "/", headers: { cookie: `${ADMIN_COOKIE}=forged` } })).statusCode,
    ).toBe(303);
  });

  test("auth: the cookie is a hash of the token and authorizes reads only", () => {
    const cookie = `${ADMIN_COOKIE}=${adminCookieValue(TOKEN)}`;
    const r = { path: "/backends", remoteAddress: "10.0.0.1", authorization: undefined, cookie };
    expect(authorize({ ...r, method: "GET" }, TOKEN)).toBeNull();
    expect(authorize({ ...r, method: "POST" }, TOKEN)?.status).toBe(401);
    expect(
      authorize(
        { ...r, method: "GET", cookie: `${ADMIN_COOKIE}=${adminCookieValue("other-token-xx")}` },
        TOKEN,
      )?.status,
    ).toBe(401);
    expect(authorize({ ...r, method: "GET", path: "/login", cookie: undefined }, TOKEN)).toBeNull();
  });
});

describe("LiveHistory", () => {
  test("rates from counter deltas, five minutes of aligned series, a backend joining later", () => {
    let now = 1_000_000;
    let backends = [backend("primary", "primary"), backend("r1", "replica", { lagMs: 100 })];
    const counters: TrafficCounters = {
      queries: [
        { route: "replica", backend: "r1", reason: "read", value: 0 },
        { route: "primary", backend: "primary", reason: "write", value: 0 },
      ],
      errors: [],
      kinds: { read: 0, write: 0, session: 0 },
      clients: 8,
    };
    const live = new LiveHistory(
      {
        backends: () => backends,
        topology: () => null,
        counters: () => counters,
        digests: () => null,
        events: () => [],
      },
      { points: 3, now: () => now },
    );
    live.sample();
    now += 1000;
    (counters.queries[0] as { value: number }).value = 300;
    (counters.queries[1] as { value: number }).value = 100;
    counters.kinds = { read: 300, write: 100, session: 0 };
    counters.errors = [{ code: "1064", value: 2 }];
    live.sample();
    let s = live.snapshot();
    expect(s.traffic).toMatchObject({
      readsPerSec: 300,
      writesPerSec: 100,
      replicaPerSec: 300,
      primaryPerSec: 100,
      clients: 8,
      backendConnections: 8,
      multiplexing: 1,
    });
    expect(s.traffic.errors).toEqual([{ name: "1064", perSec: 2, total: 2 }]);
    expect(s.backends.find((b) => b.name === "r1")!.qps).toBe(300);
    backends = [...backends, backend("r2", "replica", { lagMs: 900 })];
    now += 1000;
    live.sample();
    now += 1000;
    live.sample();
    s = live.snapshot();
    expect(s.series.t).toHaveLength(3);
    expect(s.series.lag.r1).toEqual([100, 100, 100]);
    expect(s.series.lag.r2).toEqual([null, 900, 900]);
    expect(s.series.lag.primary).toEqual([null, null, null]);
    expect(s.backends.find((b) => b.name === "r2")).toMatchObject({ lagMinMs: 900, lagMaxMs: 900 });
  });
});

describe("EventFeed", () => {
  test("newest first, bounded, `after` for pollers, a failing listener harms no one", () => {
    const feed = new EventFeed(3, () => Date.parse("2025-01-01T00:00:00Z"));
    const seen: string[] = [];
    feed.subscribe(() => {
      throw new Error("a broken listener");
    });
    const off = feed.subscribe((e) => seen.push(e.kind));
    for (const kind of ["a", "b", "c", "d"]) feed.push({ kind, message: `${kind} happened` });
    off();
    feed.push({ kind: "e", level: "error", message: "e happened", backend: "r1", data: { ms: 5 } });
    expect(feed.list().map((e) => e.kind)).toEqual(["e", "d", "c"]);
    expect(feed.list(1)[0]).toMatchObject({
      id: 5,
      kind: "e",
      level: "error",
      backend: "r1",
      data: { ms: 5 },
      at: "2025-01-01T00:00:00.000Z",
    });
    expect(feed.list(50, 3).map((e) => e.id)).toEqual([5, 4]);
    expect(seen).toEqual(["a", "b", "c", "d"]);
  });
});
