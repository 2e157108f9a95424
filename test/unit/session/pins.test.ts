import { describe, expect, test } from "vitest";
import { Command } from "../../../src/protocol/constants/commands.js";
import { errOf, okOf, SessionHarness, settle } from "../../helpers/session-harness.js";

// The session core over memory and scripted backends: where statements go, and what the session
// is tied to after each (one test per pin kind). The scripted SELECT answers with the name of the
// backend that ran it.

async function loggedIn(o: Parameters<SessionHarness["login"]>[0] = {}) {
  const h = new SessionHarness();
  const ok = await h.login(o);
  expect(ok.payload[0]).toBe(0x00);
  return h;
}

const REPLICAS = ["replica1", "replica2"];

describe("routing", () => {
  test("reads go to the replicas, writes to the primary, and nothing is pinned", async () => {
    const h = await loggedIn();
    expect(REPLICAS).toContain(await h.value("SELECT 1"));
    expect(REPLICAS).toContain(await h.value("SELECT 2"));
    expect(okOf(await h.query("INSERT INTO t VALUES (1)"))).not.toBeNull();
    expect(h.server.where("INSERT INTO t VALUES (1)")).toEqual(["primary"]);
    expect(h.session.pin.free).toBe(true);
  });

  test("read-your-writes without a monitor: the read after a write goes to the primary", async () => {
    const h = await loggedIn();
    await h.query("INSERT INTO t VALUES (1)");
    expect(h.session.state.lastWriteGtid).toMatch(/^0-1-\d+$/);
    expect(await h.value("SELECT 1")).toBe("primary");
    expect(h.reported.statements.at(-1)?.reason).toBe("consistency_fallback");
  });
});

describe("pins", () => {
  test("TRANSACTION: BEGIN pins to a primary connection; reads follow; COMMIT frees it", async () => {
    const h = await loggedIn();
    await h.query("BEGIN");
    expect(h.session.pin.where).toBe("primary");
    expect(await h.value("SELECT 1")).toBe("primary");
    const thread = h.server.log.at(-1)!.thread;
    await h.query("INSERT INTO t VALUES (1)");
    expect(h.server.log.at(-1)!.thread).toBe(thread);
    await h.query("COMMIT");
    expect(h.session.pin.free).toBe(true);
  });

  test("AUTOCOMMIT_OFF: SET autocommit=0 pins to the primary until autocommit is back", async () => {
    const h = await loggedIn();
    await h.query("SET autocommit=0");
    expect(h.session.pin.where).toBe("primary");
    expect(await h.value("SELECT 1")).toBe("primary");
    await h.query("SET autocommit=1");
    expect(h.session.pin.free).toBe(true);
  });

  test("TEMP_TABLES, USER_VARIABLES, LOCKS: pinned to the primary connection that holds them", async () => {
    for (const sql of ["CREATE TEMPORARY TABLE tmp (i INT)", "SET @a = 1", "SELECT GET_LOCK('x', 1)"]) {
      const h = await loggedIn();
      await h.query(sql);
      expect(h.session.pin.where, sql).toBe("primary");
      expect(await h.value("SELECT 1"), sql).toBe("primary");
    }
  });

  test("UNTRACKED_STATE: state the server reports changing on a replica moves the session to the primary", async () => {
    const h = await loggedIn();
    // A read whose function changed session state the classifier could not see.
    h.server.answers.push({
      match: /^SELECT f\(\)/,
      answer: (link) => link.okWith(Buffer.from([0x02, 0x01, 0x31])),
    });
    await h.query("SELECT f()");
    expect(h.session.pin.where).toBe("primary");
    expect(h.session.pin.conn).toBeNull();
    await h.query("INSERT INTO t VALUES (1)");
    expect(h.server.where("INSERT INTO t VALUES (1)")).toEqual(["primary"]);
    expect(h.session.pin.conn?.endpoint.name).toBe("primary");
  });

  test("a client without CLIENT_SESSION_TRACK (issue #12, PyMySQL): reads on replicas, writes on the primary", async () => {
    const h = await loggedIn({ sessionTrack: false, multiStatements: true });
    expect(REPLICAS).toContain(await h.value("SELECT @@server_id"));
    const created = await h.query("CREATE TABLE t (i INT)");
    expect(errOf(created)).toBeNull();
    expect(h.server.where("CREATE TABLE t (i INT)")).toEqual(["primary"]);
    expect(h.reported.replicaWritesBlocked).toEqual([]);
  });

  test("READ ONLY transaction: pinned to one replica; a write there is refused with 1792; COMMIT frees it", async () => {
    const h = await loggedIn();
    await h.query("START TRANSACTION READ ONLY");
    expect(h.session.pin.where).toBe("replica");
    const replica = h.session.pin.conn!.endpoint.name;
    expect(await h.value("SELECT 1")).toBe(replica);
    const refused = errOf(await h.query("INSERT INTO t VALUES (1)"));
    expect(refused?.errno).toBe(1792);
    expect(refused?.sqlState).toBe("25006");
    expect(h.server.where("INSERT INTO t VALUES (1)")).toEqual([]);
    await h.query("COMMIT");
    expect(h.server.where("COMMIT")).toEqual([replica]);
    expect(h.session.pin.free).toBe(true);
  });

  test("CURSOR: an EXECUTE with a cursor runs on the primary and pins there until the rows are fetched", async () => {
    const h = await loggedIn();
    const prep = await h.command(Command.STMT_PREPARE, "SELECT c FROM t");
    const id = prep[0]!.payload.readUInt32LE(1);
    const exec = Buffer.alloc(9);
    exec.writeUInt32LE(id, 0);
    exec[4] = 0x01; // CURSOR_TYPE_READ_ONLY
    exec.writeUInt32LE(1, 5);
    await h.command(Command.STMT_EXECUTE, exec);
    expect(h.session.pin.where).toBe("primary");
    expect(h.session.cursors.ids()).toEqual([id]);
    const fetch = Buffer.alloc(8);
    fetch.writeUInt32LE(id, 0);
    fetch.writeUInt32LE(10, 4);
    const rows = await h.command(Command.STMT_FETCH, fetch);
    expect(rows.length).toBe(4); // 3 rows, then the EOF with LAST_ROW_SENT
    expect(h.session.cursors.size).toBe(0);
    expect(h.session.pin.free).toBe(true);
  });

  test("LOCAL_INFILE: the client's file goes to the backend that asked, then the OK", async () => {
    const h = await loggedIn();
    h.client.command(Command.QUERY, "LOAD DATA LOCAL INFILE 'data.csv' INTO TABLE t");
    await settle();
    expect(h.session.phase).toBe("infile");
    const request = h.client.take();
    expect(request[0]!.payload[0]).toBe(0xfb);
    h.client.send(2, Buffer.from("1\n2\n3\n"));
    h.client.send(3, Buffer.alloc(0));
    await h.idle();
    const ok = okOf(h.client.take());
    expect(ok?.affectedRows).toBe(3);
    expect(h.session.pin.free).toBe(true);
  });
});

describe("the send-time guard", () => {
  test("a write planned for a replica is sent to the primary instead, and counted", async () => {
    const h = await loggedIn();
    const { routeStatement } = await import("../../../src/routing/statement.js");
    const { toPackets } = await import("../../../src/protocol/buffer-writer.js");
    const { ResponseKind } = await import("../../../src/protocol/response-scanner.js");
    const sql = Buffer.from("\x03INSERT INTO t VALUES (9)", "latin1");
    // A plan that is wrong on purpose: what a routing bug would produce.
    h.session.run({
      command: Command.QUERY,
      kind: ResponseKind.RESULTSET,
      bytes: toPackets(sql, 0),
      plan: {
        target: "replica",
        reason: "read",
        maxLagMs: null,
        requireCaughtUp: false,
        pinOnReplica: false,
      },
      label: null,
      statement: routeStatement(sql, 1),
      steps: null,
      holdResponse: false,
    });
    await h.idle();
    expect(okOf(h.client.take())).not.toBeNull();
    expect(h.server.where("INSERT INTO t VALUES (9)")).toEqual(["primary"]);
    expect(h.reported.replicaWritesBlocked.length).toBe(1);
    expect(h.reported.statements.at(-1)?.reason).toBe("replica_guard");
  });
});
