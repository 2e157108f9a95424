import { describe, expect, test } from "vitest";
import type { Config } from "../../../src/config/types.js";
import { SessionTrack } from "../../../src/protocol/constants/server-status.js";
import type { BackendPool } from "../../../src/proxy/backend-pool.js";
import type { ReplicaChoice, ReplicaPicker, ReplicaRequest } from "../../../src/proxy/upstreams.js";
import { ScriptedLink } from "../../helpers/scripted-backend.js";
import { SessionHarness, settle } from "../../helpers/session-harness.js";
import { bytes, lenencStr, stateEntry } from "../../helpers/wire.js";

const gtidState = (gtid: string) =>
  stateEntry(SessionTrack.SYSTEM_VARIABLES, bytes(lenencStr("last_gtid"), lenencStr(gtid)));

// Read-your-writes across a user's connections (routing.consistency: user) in the session core,
// over scripted backends: which backend a new connection's read goes to after its user wrote on
// another connection, and the wait on a replica (MASTER_GTID_WAIT) before such a read.

function routing(over: Partial<Config["routing"]> = {}): Partial<Config> {
  return {
    routing: {
      consistency: "user",
      consistencyWindowMs: 10_000,
      consistencyWaitMs: 50,
      readFallback: "primary",
      ...over,
    },
  };
}

/**
 * A picker that knows GTID positions as a monitor would: `applied` per replica. `pickToWait` names
 * the replica to wait on, as the balanced picker would choose it.
 */
class PositionPicker implements ReplicaPicker {
  applied = new Map<string, number>();
  waitOn: string | null = "replica1";
  failed: string[] = [];
  constructor(private readonly replicas: () => readonly BackendPool[]) {}

  pick(req: ReplicaRequest): ReplicaChoice {
    const want = req.minGtid === null ? 0 : Number(req.minGtid.split("-")[2]);
    const pool = this.replicas().find((p) => (this.applied.get(p.endpoint.name) ?? 0) >= want);
    return pool === undefined ? { pool: null, reason: "none caught up" } : { pool };
  }

  pickToWait(): ReplicaChoice {
    const pool = this.replicas().find((p) => p.endpoint.name === this.waitOn);
    return pool === undefined ? { pool: null, reason: "none likely" } : { pool };
  }

  waitFailed(pool: BackendPool): void {
    this.failed.push(pool.endpoint.name);
  }

  done(): void {}
  markDown(): void {}
}

function withPositions(h: SessionHarness): PositionPicker {
  const picker = new PositionPicker(() => h.upstreams.replicas);
  h.upstreams.picker = picker;
  return picker;
}

/** The scripted replicas answer MASTER_GTID_WAIT: a row when caught up, none on timeout. */
function answerWaits(h: SessionHarness, caughtUp: (backend: string) => boolean): string[] {
  const waits: string[] = [];
  h.server.answers.push({
    match: /MASTER_GTID_WAIT/,
    answer: (link, sql) => {
      waits.push(`${link.backend}: ${sql}`);
      return link.resultSet(caughtUp(link.backend) ? ["1"] : []);
    },
  });
  return waits;
}

describe("consistency: user", () => {
  test("a new connection of the user that wrote reads from where the write is (no replica: the primary)", async () => {
    const h = new SessionHarness(routing());
    const writer = await h.connect();
    await writer.query("INSERT INTO t VALUES (1)");
    writer.close();
    const reader = await h.connect();
    expect(reader.session.state.lastWriteGtid).toBeNull();
    expect(await reader.value("SELECT 1")).toBe("primary");
    expect(h.reported.statements.at(-1)?.reason).toBe("consistency_fallback");
  });

  test("another user's reads still go to the replicas", async () => {
    const h = new SessionHarness(routing());
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    const other = await h.connect({ user: "other", password: "other-pass" });
    expect(["replica1", "replica2"]).toContain(await other.value("SELECT 1"));
  });

  test("the read waits for the user's last write on a replica the monitor has seen it on", async () => {
    const h = new SessionHarness(routing());
    const picker = withPositions(h);
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    const gtid = h.ctx.userWrites!.record("app")!.text;
    const seq = Number(gtid.split("-")[2]);
    picker.applied.set("replica2", seq);
    expect(await (await h.connect()).value("SELECT 1")).toBe("replica2");
    expect(h.reported.waits).toEqual([]);
  });

  test("not seen by the monitor yet: MASTER_GTID_WAIT on a replica, then the read there", async () => {
    const h = new SessionHarness(routing());
    withPositions(h);
    const waits = answerWaits(h, () => true);
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    const gtid = h.ctx.userWrites!.record("app")!.text;
    const reader = await h.connect();
    expect(await reader.value("SELECT 1")).toBe("replica1");
    expect(waits).toEqual([`replica1: SELECT 1 FROM DUAL WHERE MASTER_GTID_WAIT('${gtid}', 0.050) = 0`]);
    expect(h.reported.waits).toEqual([{ backend: "replica1", result: "caught_up" }]);
    expect(h.reported.statements.at(-1)).toMatchObject({
      route: "replica",
      backend: "replica1",
      reason: "read",
    });
  });

  test("the wait times out: the read goes to the primary, and that replica is not waited on again", async () => {
    const h = new SessionHarness(routing());
    const picker = withPositions(h);
    answerWaits(h, () => false);
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    const reader = await h.connect();
    expect(await reader.value("SELECT 1")).toBe("primary");
    expect(h.reported.waits).toEqual([{ backend: "replica1", result: "timeout" }]);
    expect(h.reported.statements.at(-1)).toMatchObject({ route: "primary", reason: "consistency_fallback" });
    expect(picker.failed).toEqual(["replica1"]);
    // Nothing of the wait reached the client: the next statement works as usual.
    expect(await reader.value("SELECT 2")).toBe("primary");
  });

  test("the wait fails (no MASTER_GTID_WAIT on this server): the primary", async () => {
    const h = new SessionHarness(routing());
    withPositions(h);
    h.server.answers.push({
      match: /MASTER_GTID_WAIT/,
      answer: () => ScriptedLink.err(1305, "42000", "FUNCTION MASTER_GTID_WAIT does not exist"),
    });
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    expect(await (await h.connect()).value("SELECT 1")).toBe("primary");
    expect(h.reported.waits).toEqual([{ backend: "replica1", result: "error" }]);
  });

  test("consistency_wait 0: no wait, straight to the primary", async () => {
    const h = new SessionHarness(routing({ consistencyWaitMs: 0 }));
    withPositions(h);
    const waits = answerWaits(h, () => true);
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    expect(await (await h.connect()).value("SELECT 1")).toBe("primary");
    expect(waits).toEqual([]);
  });

  test("past the window the user's connections read from any replica again", async () => {
    const h = new SessionHarness(routing({ consistencyWindowMs: 30 }));
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    expect(await (await h.connect()).value("SELECT 1")).toBe("primary");
    await new Promise((r) => setTimeout(r, 40));
    await settle();
    expect(["replica1", "replica2"]).toContain(await (await h.connect()).value("SELECT 1"));
  });

  test("the writing session itself keeps read-your-writes after the window (as with session)", async () => {
    const h = new SessionHarness(routing({ consistencyWindowMs: 30 }));
    const c = await h.connect();
    await c.query("INSERT INTO t VALUES (1)");
    await new Promise((r) => setTimeout(r, 40));
    expect(await c.value("SELECT 1")).toBe("primary");
  });

  test("a writing transaction counts at its COMMIT, whose OK carries the GTID", async () => {
    const h = new SessionHarness(routing());
    h.server.answers.push({
      match: /^COMMIT/,
      answer: (link) => {
        link.inTrans = false;
        return link.okWith(gtidState(h.server.nextGtid()));
      },
    });
    const c = await h.connect();
    await c.query("BEGIN");
    await c.query("COMMIT");
    expect(h.ctx.userWrites!.record("app")?.text).toMatch(/^0-1-\d+$/);
  });
});

describe("consistency: session (unchanged)", () => {
  test("another connection of the same user reads from the replicas", async () => {
    const h = new SessionHarness(routing({ consistency: "session" }));
    expect(h.ctx.userWrites).toBeUndefined();
    await (await h.connect()).query("INSERT INTO t VALUES (1)");
    expect(["replica1", "replica2"]).toContain(await (await h.connect()).value("SELECT 1"));
  });

  test("the session's own read after its write waits on a replica too", async () => {
    const h = new SessionHarness(routing({ consistency: "session" }));
    withPositions(h);
    answerWaits(h, () => true);
    const c = await h.connect();
    await c.query("INSERT INTO t VALUES (1)");
    expect(await c.value("SELECT 1")).toBe("replica1");
    expect(h.reported.waits).toEqual([{ backend: "replica1", result: "caught_up" }]);
  });
});
