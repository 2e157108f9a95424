import type { FastifyInstance } from "fastify";
import type { DestinationStream } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { createAdminApp } from "../../src/admin/app.js";
import type { BackendStatus, StatusSource } from "../../src/admin/status.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics/registry.js";
import { parsePrometheusText, sampleValue } from "../helpers/prom-parse.js";

const SECRET = "s3cret-do-not-print";

/** A pino destination that keeps the JSON lines. */
function captureStream(): DestinationStream & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line !== "") lines.push(JSON.parse(line));
    },
  };
}

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
    readOnly: role === "replica",
    lagMs: role === "replica" ? 250 : null,
    lagSource: role === "replica" ? "heartbeat" : null,
    weight: 1,
    effectiveWeight: 1,
    eligible: true,
    reason: null,
    inFlight: 2,
    pool: { open: 4, idle: 3, busy: 1, waiting: 0, max: 200 },
    lastError: null,
    lastCheckAt: "2025-01-01T00:00:00.000Z",
    gtidPosition: "0-1-42",
    lagPolicy: null,
    drain: null,
    ...over,
  };
}

class FakeStatus implements StatusSource {
  isListening = true;
  primaryUp = true;
  list: BackendStatus[] = [
    // The proxy's objects may carry more than BackendStatus declares; none of it may leak.
    {
      ...backend("primary", "primary"),
      password: SECRET,
      config: { user: "app", password: SECRET },
    } as BackendStatus,
    backend("r1", "replica", {
      lagMs: null,
      // Its IO thread has been retrying for 2 s: served at its last lag + 2 s.
      lagPolicy: { lastLagMs: 40, ioLostSince: 1_735_689_598_000, orphaned: true, effectiveLagMs: 2040 },
    }),
    backend("r2", "replica", {
      lagMs: 4000,
      effectiveWeight: 0,
      eligible: false,
      reason: "lag 4000 ms > max 3000 ms",
    }),
  ];
  listening(): boolean {
    return this.isListening;
  }
  primaryReachable(): boolean {
    return this.primaryUp;
  }
  backends(): BackendStatus[] {
    return this.list;
  }
}

let app: FastifyInstance | undefined;

afterEach(async () => {
  await app?.close();
  app = undefined;
});

function setup(status: StatusSource = new FakeStatus()) {
  const logs = captureStream();
  const metrics = new Metrics({ defaultMetrics: false });
  app = createAdminApp({ status, metrics, logger: createLogger({ level: "info" }, logs) });
  return { app, metrics, logs };
}

describe("GET /healthz and /readyz", () => {
  it("is healthy", async () => {
    const res = await setup().app.inject({ method: "GET", url: "/healthz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: "ok" });
  });

  it("is ready when listening and the primary is reachable", async () => {
    const res = await setup().app.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ready", listening: true, primaryReachable: true });
  });

  it.each([
    [false, true, ["the proxy is not listening for clients"]],
    [true, false, ["the primary is unreachable: writes cannot be served"]],
    [
      false,
      false,
      ["the proxy is not listening for clients", "the primary is unreachable: writes cannot be served"],
    ],
  ])(
    "answers 503 when listening=%s primaryReachable=%s, saying which",
    async (listening, primary, reasons) => {
      const status = new FakeStatus();
      status.isListening = listening;
      status.primaryUp = primary;
      const res = await setup(status).app.inject({ method: "GET", url: "/readyz" });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: "not_ready", listening, primaryReachable: primary, reasons });
    },
  );
});

describe("GET /backends and /topology", () => {
  it("shows read-your-writes under consistency, field by field", async () => {
    const status: StatusSource = new FakeStatus();
    status.consistency = () =>
      ({
        scope: "user",
        windowMs: 10_000,
        waitMs: 50,
        shared: "local",
        lastError: "read: redis read timed out after 200 ms",
        users: 3,
        evicted: 0,
        url: "redis://:secret@127.0.0.1:6379",
      }) as never;
    const res = await setup(status).app.inject({ method: "GET", url: "/backends" });
    expect((res.json() as { consistency: unknown }).consistency).toEqual({
      scope: "user",
      windowMs: 10_000,
      waitMs: 50,
      shared: "local",
      lastError: "read: redis read timed out after 200 ms",
      users: 3,
      evicted: 0,
    });
  });

  it("lists every backend with the declared fields only, never a password", async () => {
    const res = await setup().app.inject({ method: "GET", url: "/backends" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    const body = res.json() as { backends: BackendStatus[] };
    expect(body.backends.map((b) => b.name)).toEqual(["primary", "r1", "r2"]);
    expect(body.backends[0]).toEqual(backend("primary", "primary"));
    expect(body.backends[2]).toMatchObject({ eligible: false, reason: "lag 4000 ms > max 3000 ms" });
    expect(body.backends[1]?.lagPolicy).toEqual({
      lastLagMs: 40,
      ioLostSince: 1_735_689_598_000,
      orphaned: true,
      effectiveLagMs: 2040,
    });
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toMatch(/password/i);
  });

  it("answers 404 for /topology when the proxy reports none", async () => {
    const res = await setup().app.inject({ method: "GET", url: "/topology" });
    expect(res.statusCode).toBe(404);
  });

  it("shows the topology without secret-looking keys", async () => {
    const status = new FakeStatus() as FakeStatus & { topology(): unknown };
    status.topology = () => ({
      primary: { name: "primary", monitor: { user: "mon", password: SECRET } },
      replicas: [{ name: "r1", source: "primary", authToken: SECRET }],
    });
    const res = await setup(status).app.inject({ method: "GET", url: "/topology" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      topology: {
        primary: { name: "primary", monitor: { user: "mon" } },
        replicas: [{ name: "r1", source: "primary" }],
      },
    });
    expect(res.body).not.toContain(SECRET);
  });
});

describe("GET /metrics", () => {
  it("serves valid Prometheus text with every rwsplit_ family and live values", async () => {
    const { app, metrics } = setup();
    const reads = metrics.queryCounter("replica", "r1", "read");
    reads.inc();
    const first = await app.inject({ method: "GET", url: "/metrics" });
    expect(first.statusCode).toBe(200);
    expect(first.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");

    const families = parsePrometheusText(first.body);
    for (const name of [
      "rwsplit_queries_total",
      "rwsplit_query_duration_seconds",
      "rwsplit_backend_up",
      "rwsplit_replica_lag_seconds",
      "rwsplit_backend_weight",
      "rwsplit_backend_eligible",
      "rwsplit_client_connections",
      "rwsplit_client_connections_total",
      "rwsplit_backend_connections",
      "rwsplit_errors_total",
      "rwsplit_read_fallbacks_total",
      "rwsplit_balancer_transitions_total",
      "rwsplit_failovers_total",
      "rwsplit_failover_duration_seconds",
      "rwsplit_bytes_total",
    ]) {
      expect(families.has(name), name).toBe(true);
    }
    const labels = { route: "replica", backend: "r1", reason: "read" };
    expect(sampleValue(families, "rwsplit_queries_total", labels)).toBe(1);
    // Per-backend gauges come from the same snapshot /backends shows.
    expect(sampleValue(families, "rwsplit_replica_lag_seconds", { backend: "r2", source: "heartbeat" })).toBe(
      4,
    );
    expect(sampleValue(families, "rwsplit_backend_eligible", { backend: "r2" })).toBe(0);

    reads.inc();
    metrics.queryDuration("replica").observe(0.002);
    const second = parsePrometheusText((await app.inject({ method: "GET", url: "/metrics" })).body);
    expect(sampleValue(second, "rwsplit_queries_total", labels)).toBe(2);
    expect(sampleValue(second, "rwsplit_query_duration_seconds_count", { route: "replica" })).toBe(1);
  });

  it("does not log each scrape at info level", async () => {
    const { app, logs } = setup();
    for (let i = 0; i < 3; i++) await app.inject({ method: "GET", url: "/metrics" });
    await app.inject({ method: "GET", url: "/readyz" });
    expect(logs.lines.filter((l) => typeof l.msg === "string" && l.msg.includes("request"))).toEqual([]);
    // The logger is wired: Fastify's own lines for odd requests still come through, tagged.
    await app.inject({ method: "GET", url: "/nope" });
    expect(logs.lines.at(-1)).toMatchObject({ component: "admin", msg: "Route GET:/nope not found" });
  });
});

describe("createLogger", () => {
  it("redacts passwords wherever the config puts them", () => {
    const logs = captureStream();
    const log = createLogger({ level: "info" }, logs);
    log.info(
      {
        password: SECRET,
        user: { name: "app", password: SECRET },
        config: {
          users: [{ name: "app", password: SECRET }],
          monitor: { user: "mon", password: SECRET },
          redis: { url: `redis://:${SECRET}@127.0.0.1:6380` },
        },
      },
      "config loaded",
    );
    log.info({ users: [{ name: "a", password: SECRET }], monitor: { password: SECRET } }, "again");
    const text = JSON.stringify(logs.lines);
    expect(logs.lines).toHaveLength(2);
    expect(text).not.toContain(SECRET);
    expect(logs.lines[0]).toMatchObject({
      msg: "config loaded",
      password: "***",
      user: { name: "app", password: "***" },
    });
  });
});

describe("route schemas", () => {
  // The admin app loads fastify's schema compilers only when a route declares a schema (memory,
  // issue #15); a route that does must still be validated and serialized as fastify would.
  it("are compiled on first use: a body is validated, a response serialized by its schema", async () => {
    const { app } = setup();
    app.post(
      "/test-schema",
      {
        schema: {
          body: { type: "object", required: ["n"], properties: { n: { type: "integer" } } },
          response: { 200: { type: "object", properties: { n: { type: "integer" } } } },
        },
      },
      async (request) => ({ n: (request.body as { n: number }).n, dropped: true }),
    );
    const bad = await app.inject({ method: "POST", url: "/test-schema", payload: { n: "x" } });
    expect(bad.statusCode).toBe(400);
    const ok = await app.inject({ method: "POST", url: "/test-schema", payload: { n: 2 } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ n: 2 });
  });
});
