import { describe, expect, test } from "vitest";
import { createAdminApp } from "../../src/admin/app.js";
import { type AdminRequest, authorize } from "../../src/admin/auth.js";
import type { StatusSource } from "../../src/admin/status.js";
import { createLogger } from "../../src/log.js";
import { Metrics } from "../../src/metrics/registry.js";

const TOKEN = "0123456789abcdef0123";

const req = (over: Partial<AdminRequest>): AdminRequest => ({
  method: "GET",
  path: "/backends",
  remoteAddress: "127.0.0.1",
  authorization: undefined,
  ...over,
});

describe("authorize: who may use the admin app", () => {
  test.each([
    // [what, request, token, expected status or null]
    ["probe, no token configured", req({ path: "/healthz" }), undefined, null],
    [
      "probe from the network with a token configured",
      req({ path: "/readyz", remoteAddress: "10.0.0.9" }),
      TOKEN,
      null,
    ],
    [
      "metrics scrape with a token configured",
      req({ path: "/metrics", remoteAddress: "10.0.0.9" }),
      TOKEN,
      null,
    ],
    [
      "GET /backends from the network, no token configured",
      req({ remoteAddress: "10.0.0.9" }),
      undefined,
      null,
    ],
    [
      "POST /switchover from loopback, no token configured",
      req({ method: "POST", path: "/switchover" }),
      undefined,
      null,
    ],
    [
      "POST /switchover from ::1",
      req({ method: "POST", path: "/switchover", remoteAddress: "::1" }),
      undefined,
      null,
    ],
    [
      "POST /failover from an IPv4-mapped loopback",
      req({ method: "POST", path: "/failover", remoteAddress: "::ffff:127.0.0.1" }),
      undefined,
      null,
    ],
    [
      "POST /switchover from the network, no token configured",
      req({ method: "POST", path: "/switchover", remoteAddress: "10.0.0.9" }),
      undefined,
      403,
    ],
    ["GET /backends without the header, token configured", req({}), TOKEN, 401],
    [
      "GET /sessions with the right token",
      req({ path: "/sessions", authorization: `Bearer ${TOKEN}` }),
      TOKEN,
      null,
    ],
    ["scheme is case-insensitive", req({ authorization: `bearer ${TOKEN}` }), TOKEN, null],
    ["wrong token", req({ authorization: "Bearer 0123456789abcdef0124" }), TOKEN, 401],
    ["a prefix of the token", req({ authorization: `Bearer ${TOKEN.slice(0, 10)}` }), TOKEN, 401],
    ["Basic instead of Bearer", req({ authorization: `Basic ${TOKEN}` }), TOKEN, 401],
    [
      "POST from the network with the right token",
      req({ method: "POST", path: "/rejoin", remoteAddress: "10.0.0.9", authorization: `Bearer ${TOKEN}` }),
      TOKEN,
      null,
    ],
    [
      "POST from loopback without the token, token configured",
      req({ method: "POST", path: "/failover" }),
      TOKEN,
      401,
    ],
  ] as const)("%s", (_what, r, token, want) => {
    expect(authorize(r, token)?.status ?? null).toBe(want);
  });

  test("messages say what to do, and never echo the token", () => {
    const missing = authorize(req({}), TOKEN)!;
    expect(missing.error).toMatch(/Authorization: Bearer/);
    const wrong = authorize(req({ authorization: "Bearer nope-nope-nope-nope" }), TOKEN)!;
    expect(wrong.error).not.toContain(TOKEN);
    const remote = authorize(
      req({ method: "POST", path: "/switchover", remoteAddress: "10.0.0.9" }),
      undefined,
    )!;
    expect(remote.error).toMatch(/set admin\.token/);
  });
});

describe("the admin app with admin.token", () => {
  const status: StatusSource = {
    listening: () => true,
    primaryReachable: () => true,
    backends: () => [],
    control: {
      switchover: async (to: string) => ({ kind: "switchover", to }),
      rejoin: async (name: string) => ({ kind: "rejoin", name }),
      failover: async () => ({ kind: "failover" }),
    },
  } as unknown as StatusSource;
  const app = () =>
    createAdminApp({
      status,
      metrics: new Metrics({ defaultMetrics: false }),
      logger: createLogger({ level: "silent" }),
      token: TOKEN,
    });

  test("401 with WWW-Authenticate without the token; 200 with it; probes stay open", async () => {
    const a = app();
    try {
      const denied = await a.inject({ method: "POST", url: "/switchover", payload: { to: "r1" } });
      expect(denied.statusCode).toBe(401);
      expect(denied.headers["www-authenticate"]).toBe('Bearer realm="rwsplit"');
      expect(denied.json().error).toMatch(/Authorization: Bearer/);
      const ok = await a.inject({
        method: "POST",
        url: "/switchover",
        payload: { to: "r1" },
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(ok.statusCode).toBe(200);
      expect((await a.inject({ method: "GET", url: "/backends?x=1" })).statusCode).toBe(401);
      expect((await a.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
      expect((await a.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    } finally {
      await a.close();
    }
  });
});
