import pino from "pino";
import { describe, expect, test, vi } from "vitest";
import { HaError } from "../../src/errors.js";
import type { BackendPosition } from "../../src/ha/discovery.js";
import { LocalCoordinator } from "../../src/ha/fleet.js";
import { HaManager, type HaOps, type NodeRef } from "../../src/ha/manager.js";
import type { BackendObservation } from "../../src/monitor/types.js";
import type { TopologyView } from "../../src/proxy/upstreams.js";
import { observation } from "../helpers/observation.js";
import { testConfig } from "../helpers/proxy.js";

const P = { host: "127.0.0.1", port: 1 };
const R1 = { host: "127.0.0.1", port: 2 };
const R2 = { host: "127.0.0.1", port: 3 };

function config() {
  const c = testConfig(P, [R1, R2]);
  c.failover = {
    ...c.failover,
    automatic: true,
    admin: { user: "f", password: "x" },
    replication: { user: "repl", password: "y" },
    detectMs: 2000,
  };
  return c;
}

function obs(name: string, over: Partial<BackendObservation> = {}): BackendObservation {
  return observation({ name, ...over });
}

/** Records every operation; `fail` makes the named operation throw. */
function fakeOps(fail: Partial<Record<keyof HaOps, string>> = {}, candidate = "replica2") {
  const calls: string[] = [];
  const step =
    (name: keyof HaOps) =>
    async (...args: unknown[]): Promise<never> => {
      const nodes = args.filter((a): a is NodeRef => typeof a === "object" && a !== null && "name" in a);
      calls.push(`${name}(${nodes.map((n) => n.name).join(",")})`);
      if (fail[name]) throw new Error(fail[name]);
      return undefined as never;
    };
  const ops: HaOps = {
    chooseCandidate: async (replicas) => {
      calls.push(`chooseCandidate(${replicas.map((r) => r.name).join(",")})`);
      return fail.chooseCandidate
        ? { name: null, reason: fail.chooseCandidate }
        : { name: candidate, reason: "most applied" };
    },
    waitApplied: step("waitApplied"),
    promote: step("promote"),
    repoint: step("repoint"),
    setReadOnly: step("setReadOnly"),
    binlogPos: async (n) => {
      calls.push(`binlogPos(${n.name})`);
      return "0-1-10";
    },
    waitForGtid: step("waitForGtid"),
    demote: step("demote"),
    checkDiverged: async (n) => {
      calls.push(`checkDiverged(${n.name})`);
      return fail.checkDiverged
        ? { diverged: true, detail: fail.checkDiverged }
        : { diverged: false, detail: "history is a prefix of the primary's" };
    },
  };
  return { ops, calls };
}

function harness(
  opts: {
    ops?: HaOps | null;
    coordinator?: LocalCoordinator;
    now?: () => number;
    work?: () => number;
    readPositions?: () => Promise<BackendPosition[]>;
  } = {},
) {
  const applied: TopologyView[] = [];
  const events: string[] = [];
  const rechecks: string[] = [];
  const latest = new Map<string, BackendObservation>();
  const ha = new HaManager({
    config: config(),
    coordinator: opts.coordinator ?? new LocalCoordinator(),
    ops: opts.ops === undefined ? fakeOps().ops : opts.ops,
    target: {
      apply: (t) => applied.push(t),
      holdWrites: () => events.push("hold"),
      releaseWrites: () => events.push("release"),
      primaryWork: opts.work ?? (() => 0),
      recheck: (name) => rechecks.push(name),
    },
    observation: (n) => latest.get(n),
    logger: pino({ level: "silent" }),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.readPositions ? { readPositions: opts.readPositions } : {}),
  });
  return { ha, applied, events, latest, rechecks };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe("HaManager", () => {
  test("starts on the configured primary, generation 1", async () => {
    const h = harness();
    await h.ha.start();
    expect(h.applied).toEqual([{ generation: 1, primary: "primary", fenced: [] }]);
    await h.ha.stop();
  });

  test("failover: primary down past failover.detect and lost by the replicas → best replica promoted, old primary fenced", async () => {
    let now = 10_000;
    const { ops, calls } = fakeOps();
    const h = harness({ ops, now: () => now });
    await h.ha.start();
    h.latest.set("replica1", obs("replica1", { ioState: "Connecting", replicating: false }));
    h.latest.set("replica2", obs("replica2", { ioState: "Connecting", replicating: false }));
    const primaryDown = (at: number) =>
      obs("primary", {
        role: "primary",
        up: false,
        checkedAt: at,
        checkDurationMs: 0,
        lastError: "connect ECONNREFUSED",
      });
    h.ha.onObservation(primaryDown(now));
    now += 1500;
    h.ha.onObservation(primaryDown(now));
    await settle();
    expect(calls).toEqual([]);
    now += 600;
    h.ha.onObservation(primaryDown(now));
    await settle();
    expect(calls).toEqual([
      "chooseCandidate(replica1,replica2)",
      "waitApplied(replica2)",
      "promote(replica2)",
      "repoint(replica1,replica2)",
    ]);
    expect(h.applied.at(-1)).toEqual({ generation: 2, primary: "replica2", fenced: ["primary"] });
    expect(h.events).toEqual(["hold", "release"]);
    const st = h.ha.status();
    expect(st.history[0]).toMatchObject({
      kind: "failover",
      ok: true,
      from: "primary",
      to: "replica2",
      sinceDownMs: 2100,
    });
    await h.ha.stop();
  });

  test("a replica that cannot be repointed is excluded and reported, the failover still completes", async () => {
    const { ops } = fakeOps({ repoint: "Access denied" });
    const h = harness({ ops });
    await h.ha.start();
    const r = await h.ha.failover("test");
    expect(r.ok).toBe(true);
    expect(r.excluded).toEqual([{ name: "replica1", error: "Access denied" }]);
    await h.ha.stop();
  });

  test("no candidate: the failover fails, writes are released, the topology stays", async () => {
    const { ops } = fakeOps({ chooseCandidate: "every replica unreachable" });
    const h = harness({ ops });
    await h.ha.start();
    await expect(h.ha.failover("test")).rejects.toThrow(
      /no replica can be promoted: every replica unreachable/,
    );
    expect(h.events).toEqual(["hold", "release"]);
    expect(h.applied).toHaveLength(1);
    expect(h.ha.status().history[0]).toMatchObject({ ok: false });
    await h.ha.stop();
  });

  test("two instances sharing one coordinator: exactly one promotes, both apply the same topology", async () => {
    const shared = new LocalCoordinator();
    const a = fakeOps();
    const b = fakeOps();
    const ha1 = harness({ ops: a.ops, coordinator: shared });
    const ha2 = harness({ ops: b.ops, coordinator: shared });
    await ha1.ha.start();
    await ha2.ha.start();
    const results = await Promise.allSettled([ha1.ha.failover("x"), ha2.ha.failover("x")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const promotes = [...a.calls, ...b.calls].filter((c) => c.startsWith("promote"));
    expect(promotes).toEqual(["promote(replica2)"]);
    expect(ha1.applied.at(-1)).toEqual(ha2.applied.at(-1));
    expect(ha1.applied.at(-1)?.generation).toBe(2);
    await ha1.ha.stop();
  });

  test("switchover: hold writes, wait for the primary's work, read_only, catch up, promote, repoint, demote", async () => {
    const { ops, calls } = fakeOps();
    let work = 2;
    const h = harness({ ops, work: () => (work > 0 ? work-- : 0) });
    await h.ha.start();
    h.latest.set("replica1", obs("replica1"));
    const r = await h.ha.switchover("replica1");
    expect(r.ok).toBe(true);
    expect(calls).toEqual([
      "setReadOnly(primary)",
      "binlogPos(primary)",
      "waitForGtid(replica1)",
      "promote(replica1)",
      "repoint(replica2,replica1)",
      "demote(primary,replica1)",
    ]);
    expect(h.applied.at(-1)).toEqual({ generation: 2, primary: "replica1", fenced: [] });
    expect(h.events).toEqual(["hold", "release"]);
    await h.ha.stop();
  });

  test("switchover that cannot catch up is abandoned: the old primary is writable again", async () => {
    const { ops, calls } = fakeOps({ waitForGtid: "timed out" });
    const h = harness({ ops });
    await h.ha.start();
    h.latest.set("replica1", obs("replica1"));
    await expect(h.ha.switchover("replica1")).rejects.toThrow(/timed out/);
    expect(calls.at(-1)).toBe("setReadOnly(primary)");
    expect(h.applied).toHaveLength(1);
    expect(h.ha.status().history[0]?.steps.join("\n")).toMatch(/abandoned/);
    await h.ha.stop();
  });

  test("switchover refuses bad targets with a status for the admin API", async () => {
    const h = harness();
    await h.ha.start();
    await expect(h.ha.switchover("nope")).rejects.toMatchObject({ status: 400 });
    await expect(h.ha.switchover("primary")).rejects.toMatchObject({ status: 400 });
    h.latest.set("replica1", obs("replica1", { replicating: false, lastError: "IO thread stopped" }));
    await expect(h.ha.switchover("replica1")).rejects.toMatchObject({ status: 409 });
    await h.ha.stop();
  });

  test("rejoin refuses a diverged former primary and leaves it fenced", async () => {
    const { ops } = fakeOps({ checkDiverged: "0-1-11 is not on replica2" });
    const h = harness({ ops });
    await h.ha.start();
    await h.ha.failover("x");
    await expect(h.ha.rejoin("primary")).rejects.toThrow(/diverged/);
    expect(h.ha.topology().fenced).toEqual(["primary"]);
    await h.ha.stop();
  });

  test("rejoin of a clean former primary unfences it", async () => {
    const { ops, calls } = fakeOps();
    const h = harness({ ops });
    await h.ha.start();
    await h.ha.failover("x");
    const r = await h.ha.rejoin("primary");
    expect(r.ok).toBe(true);
    expect(calls.slice(-2)).toEqual(["checkDiverged(primary)", "demote(primary,replica2)"]);
    expect(h.applied.at(-1)).toEqual({ generation: 3, primary: "replica2", fenced: [] });
    await h.ha.stop();
  });

  test("without failover.user nothing changes the topology", async () => {
    const h = harness({ ops: null });
    await h.ha.start();
    await expect(h.ha.failover("x")).rejects.toBeInstanceOf(HaError);
    expect(h.ha.status().automaticFailover).toBe(false);
    await h.ha.stop();
  });

  test("a data-path failure on the primary has the monitor check it now (once per burst); other backends do not", async () => {
    let now = 10_000;
    const h = harness({ now: () => now });
    await h.ha.start();
    h.ha.onBackendFailure("primary");
    h.ha.onBackendFailure("primary");
    h.ha.onBackendFailure("replica1");
    expect(h.rechecks).toEqual(["primary"]);
    now += 100;
    h.ha.onBackendFailure("primary");
    expect(h.rechecks).toEqual(["primary", "primary"]);
    await h.ha.failover("x");
    now += 100;
    h.ha.onBackendFailure("primary");
    h.ha.onBackendFailure("replica2");
    expect(h.rechecks).toEqual(["primary", "primary", "replica2"]);
    await h.ha.stop();
    now += 100;
    h.ha.onBackendFailure("replica2");
    expect(h.rechecks).toHaveLength(3);
  });

  test("a fenced former primary that comes back writable is set read_only", async () => {
    const { ops, calls } = fakeOps();
    const h = harness({ ops });
    await h.ha.start();
    await h.ha.failover("x");
    h.ha.onObservation(obs("primary", { role: "fenced", readOnly: false, replicating: null }));
    h.ha.onObservation(obs("primary", { role: "fenced", readOnly: false, replicating: null }));
    await settle();
    expect(calls.filter((c) => c === "setReadOnly(primary)")).toHaveLength(1);
    await h.ha.stop();
  });
});

/** A backend as discovery reads it: `from` names the backend it replicates from; no `from` and writable: a root. */
function pos(
  name: string,
  port: number,
  over: Partial<BackendPosition> & { from?: number } = {},
): BackendPosition {
  const { from, ...rest } = over;
  return {
    name,
    host: "127.0.0.1",
    port,
    reachable: true,
    error: null,
    readOnly: from !== undefined,
    ioRunning: from === undefined ? null : "Yes",
    sqlRunning: from === undefined ? null : true,
    gtidIoPos: null,
    gtidSlavePos: null,
    gtidCurrentPos: null,
    gtidBinlogPos: null,
    masterHost: from === undefined ? null : "127.0.0.1",
    masterPort: from ?? null,
    lastIoErrno: null,
    lastIoError: null,
    lastSqlErrno: null,
    lastSqlError: null,
    ...rest,
  };
}

/** After a failover to replica2 (port 3): the old primary (port 1) down, replica1 (2) under replica2. */
const afterFailover = async () => [
  pos("primary", 1, { reachable: false, error: "ECONNREFUSED", readOnly: null }),
  pos("replica1", 2, { from: 3 }),
  pos("replica2", 3),
];
const fresh = async () => [
  pos("primary", 1),
  pos("replica1", 2, { from: 1 }),
  pos("replica2", 3, { from: 1 }),
];

describe("HaManager: topology discovery at start", () => {
  test("servers that say the primary moved: generation 2 published, old primary fenced", async () => {
    const h = harness({ readPositions: afterFailover });
    await h.ha.start();
    expect(h.applied).toEqual([
      { generation: 1, primary: "primary", fenced: [] },
      { generation: 2, primary: "replica2", fenced: ["primary"] },
    ]);
    expect(h.ha.topology()).toMatchObject({ generation: 2, reason: "discovered" });
    expect(h.ha.status().discovery).toMatchObject({ outcome: "discovered", primary: "replica2" });
    await h.ha.stop();
  });

  test("servers that agree with the config: nothing published, generation stays 1", async () => {
    const h = harness({ readPositions: fresh });
    await h.ha.start();
    expect(h.applied).toEqual([{ generation: 1, primary: "primary", fenced: [] }]);
    expect(h.ha.topology().reason).toBe("initial");
    expect(h.ha.status().discovery?.outcome).toBe("configured");
    await h.ha.stop();
  });

  test("ambiguous servers: the configured primary stays", async () => {
    const h = harness({
      // Two writable servers and no replica to tell them apart.
      readPositions: async () => [
        pos("primary", 1),
        pos("replica1", 2),
        pos("replica2", 3, { readOnly: true }),
      ],
    });
    await h.ha.start();
    expect(h.applied).toEqual([{ generation: 1, primary: "primary", fenced: [] }]);
    expect(h.ha.status().discovery).toMatchObject({ outcome: "ambiguous", primary: "primary" });
    await h.ha.stop();
  });

  test("not without failover.user, and not when the fleet already shares a record", async () => {
    const read = vi.fn(afterFailover);
    const none = harness({ ops: null, readPositions: read });
    await none.ha.start();
    await none.ha.stop();
    const shared = new LocalCoordinator();
    const first = harness({ coordinator: shared });
    await first.ha.start();
    await first.ha.failover("x");
    const later = harness({ coordinator: shared, readPositions: read });
    await later.ha.start();
    expect(read).not.toHaveBeenCalled();
    expect(later.applied).toEqual([{ generation: 2, primary: "replica2", fenced: ["primary"] }]);
  });

  test("a fleet starting together publishes once; every instance adopts it", async () => {
    const shared = new LocalCoordinator();
    const a = harness({ coordinator: shared, readPositions: afterFailover });
    const b = harness({ coordinator: shared, readPositions: afterFailover });
    await Promise.all([a.ha.start(), b.ha.start()]);
    expect(shared.current()).toMatchObject({ generation: 2, primary: "replica2", reason: "discovered" });
    expect(a.applied.at(-1)).toEqual(b.applied.at(-1));
    await a.ha.stop();
    await b.ha.stop();
  });

  test("lock held (another instance, or Redis away): retried with backoff until published", async () => {
    vi.useFakeTimers();
    try {
      const shared = new LocalCoordinator();
      const h = harness({ coordinator: shared, readPositions: afterFailover });
      const held = await shared.tryAcquire(60_000);
      await h.ha.start();
      expect(h.ha.topology().generation).toBe(1);
      await vi.advanceTimersByTimeAsync(1000);
      expect(h.ha.topology().generation).toBe(1);
      await shared.release(held!);
      await vi.advanceTimersByTimeAsync(2000);
      expect(h.ha.topology()).toMatchObject({ generation: 2, primary: "replica2" });
      await h.ha.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});
