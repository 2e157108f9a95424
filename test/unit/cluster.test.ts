/** The cluster's membership and drains (src/cluster/cluster.ts), without a server: nothing is started. */
import pino from "pino";
import { afterEach, describe, expect, test } from "vitest";
import { DRAINED } from "../../src/balancer/weights.js";
import { Cluster } from "../../src/cluster/cluster.js";
import type { Config } from "../../src/config/types.js";
import { RuntimeChangeError } from "../../src/errors.js";
import { EventFeed } from "../../src/events/feed.js";
import { Metrics } from "../../src/metrics/registry.js";
import { Monitor } from "../../src/monitor/monitor.js";
import { testConfig } from "../helpers/proxy.js";

const at = (port: number) => ({ host: "127.0.0.1", port });
const clusters: Cluster[] = [];

function cluster(config: Config = testConfig(at(1), [at(2), at(3)])): Cluster {
  const c = new Cluster({
    config,
    logger: pino({ level: "silent" }),
    metrics: new Metrics({ defaultMetrics: false }),
    events: new EventFeed(),
    monitor: Monitor,
  });
  clusters.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clusters.splice(0)) {
    await c.stop();
    c.upstreams.close();
  }
});

function refusal(run: () => unknown): RuntimeChangeError {
  try {
    run();
  } catch (e) {
    if (e instanceof RuntimeChangeError) return e;
    throw e;
  }
  throw new Error("expected a RuntimeChangeError");
}

describe("drain and undrain", () => {
  test("a replica: draining, no reads, back when undrained", () => {
    const c = cluster();
    expect(c.drain("replica1")).toMatchObject({ phase: "draining", purpose: "maintenance" });
    expect(c.isDrained("replica1")).toBe(true);
    expect(c.balancer.snapshot()[0]).toMatchObject({ name: "replica1", reason: DRAINED });
    expect(c.undrain("replica1")).toBe(true);
    expect(c.drainOf("replica1")).toBeUndefined();
    expect(c.undrain("replica1")).toBe(false);
  });

  test("the primary is refused with a pointer to switchover; an unknown name is a 404", () => {
    const c = cluster();
    const e = refusal(() => c.drain("primary"));
    expect(e.status).toBe(409);
    expect(e.message).toMatch(/rwsplit switchover --to <replica>/);
    expect(refusal(() => c.drain("nope")).status).toBe(404);
    expect(refusal(() => c.drain("nope")).message).toMatch(/this proxy has primary, replica1, replica2/);
  });

  test("a drained replica that becomes the primary (failover) serves: its drain is cancelled", () => {
    const c = cluster();
    c.drain("replica2");
    c.applyTopology({ generation: 2, primary: "replica2", fenced: ["primary"] });
    expect(c.drainOf("replica2")).toBeUndefined();
    expect(c.roleOf("primary")).toBe("fenced");
  });
});

describe("add and remove", () => {
  test("an added backend gets a pool and a monitor loop, and waits for re-admission", () => {
    const c = cluster();
    c.add({ name: "replica3", host: "127.0.0.1", port: 4, weight: 2, priority: 0 });
    expect(c.upstreams.pools.has("replica3")).toBe(true);
    expect(c.upstreams.replicas.map((p) => p.endpoint.name)).toEqual(["replica1", "replica2", "replica3"]);
    expect(c.monitor.observation("replica3")?.lastError).toBe("not checked yet");
    expect(c.balancer.snapshot()[2]).toMatchObject({
      name: "replica3",
      weight: 2,
      reason: "added: not checked yet",
    });
    expect(c.backends().map((b) => b.name)).toEqual(["primary", "replica1", "replica2", "replica3"]);
  });

  test("a removed backend drains first and cannot be undrained; the primary cannot be removed", () => {
    const c = cluster();
    c.remove("replica1");
    expect(c.drainOf("replica1")).toMatchObject({ purpose: "removal", phase: "draining" });
    expect(refusal(() => c.undrain("replica1")).message).toMatch(/add it back to the file and reload/);
    expect(refusal(() => c.remove("primary")).status).toBe(409);
  });

  test("listed again while its removal drains: the same server stays, another address is refused", () => {
    const c = cluster();
    c.remove("replica1");
    expect(
      refusal(() => c.add({ name: "replica1", host: "127.0.0.1", port: 9, weight: 1, priority: 0 })).message,
    ).toMatch(/still draining from its removal/);
    c.add({ name: "replica1", host: "127.0.0.1", port: 2, weight: 5, priority: 0 });
    expect(c.drainOf("replica1")).toBeUndefined();
    expect(c.backend("replica1")?.weight).toBe(5);
    expect(c.balancer.snapshot()[0]).toMatchObject({ name: "replica1", weight: 5 });
    expect(c.balancer.snapshot()[0]!.reason).not.toBe(DRAINED);
  });

  test("weights and priorities follow the config", () => {
    const c = cluster();
    c.setWeight("replica2", 4);
    c.setPriority("replica2", 7);
    expect(c.backend("replica2")).toMatchObject({ weight: 4, priority: 7 });
    expect(c.balancer.snapshot()[1]!.weight).toBe(4);
  });
});
