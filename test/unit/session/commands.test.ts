import { describe, expect, onTestFinished, test, vi } from "vitest";
import { Capability } from "../../../src/protocol/constants/capabilities.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import { poolKeyString } from "../../../src/proxy/backend-pool.js";
import { CHANGE_USER_REFUSAL_DELAY_MS } from "../../../src/proxy/session/client-session.js";
import { MemoryTransport } from "../../helpers/memory-transport.js";
import {
  changeUserBody,
  errOf,
  okOf,
  SessionHarness,
  settle,
  textValue,
} from "../../helpers/session-harness.js";

// One test (at least) per command family, each through the session port as in production.

async function loggedIn() {
  const h = new SessionHarness();
  expect((await h.login()).payload[0]).toBe(0x00);
  return h;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** COM_STMT_EXECUTE body for a statement without parameters. */
function executeBody(id: number, flags = 0): Buffer {
  return Buffer.concat([u32(id), Buffer.from([flags]), u32(1)]);
}

describe("query", () => {
  test("a multi-statement's result sets are relayed whole; an unknown command gets 1047 and the session goes on", async () => {
    const h = await loggedIn();
    const answer = await h.query("SELECT 1");
    expect(answer.length).toBe(5);
    const unknown = await h.command(0x13 /* COM_TABLE_DUMP */);
    expect(errOf(unknown)?.errno).toBe(1047);
    expect(await h.value("SELECT 1")).toMatch(/^replica/);
  });
});

describe("prepare and execute", () => {
  test("PREPARE on the primary with the proxy's id; EXECUTE of a read on a replica, prepared there first", async () => {
    const h = await loggedIn();
    const prep = await h.command(Command.STMT_PREPARE, "SELECT c FROM t WHERE id = 1");
    expect(prep[0]!.payload[0]).toBe(0x00);
    const id = prep[0]!.payload.readUInt32LE(1);
    expect(id).toBe(1);
    expect(h.server.log.find((c) => c.command === Command.STMT_PREPARE)?.backend).toBe("primary");
    const rows = await h.command(Command.STMT_EXECUTE, executeBody(id));
    expect(errOf(rows)).toBeNull();
    const ran = h.server.log.filter((c) => c.command === Command.STMT_EXECUTE).map((c) => c.backend);
    expect(ran).toEqual([expect.stringMatching(/^replica/)]);
    const preparedOn = h.server.log.filter((c) => c.command === Command.STMT_PREPARE).map((c) => c.backend);
    expect(preparedOn).toEqual(["primary", ran[0]]);
  });

  test("EXECUTE of an unknown statement id gets the server's 1243", async () => {
    const h = await loggedIn();
    expect(errOf(await h.command(Command.STMT_EXECUTE, executeBody(42)))?.errno).toBe(1243);
  });

  test("EXECUTE of a write goes to the primary; SEND_LONG_DATA goes with it", async () => {
    const h = await loggedIn();
    const prep = await h.command(Command.STMT_PREPARE, "INSERT INTO t VALUES (?)");
    const id = prep[0]!.payload.readUInt32LE(1);
    h.client.command(
      Command.STMT_SEND_LONG_DATA,
      Buffer.concat([u32(id), Buffer.from([0, 0]), Buffer.from("blob")]),
    );
    await settle();
    // stmt_id, flags, iteration_count, NULL bitmap (1 byte), new_params_bound_flag 1, type BLOB.
    const body = Buffer.concat([u32(id), Buffer.from([0]), u32(1), Buffer.from([0, 1, 0xfc, 0])]);
    expect(okOf(await h.command(Command.STMT_EXECUTE, body))).not.toBeNull();
    const sent = h.server.log.filter(
      (c) => c.command === Command.STMT_SEND_LONG_DATA || c.command === Command.STMT_EXECUTE,
    );
    expect(sent.map((c) => c.backend)).toEqual(["primary", "primary"]);
  });
});

describe("simple commands", () => {
  test("PING is answered by the proxy", async () => {
    const h = await loggedIn();
    expect(okOf(await h.command(Command.PING))).not.toBeNull();
    expect(h.server.log.some((c) => c.command === Command.PING)).toBe(false);
  });

  test("INIT_DB runs on the primary and the session follows the new schema", async () => {
    const h = await loggedIn();
    expect(okOf(await h.command(Command.INIT_DB, "other"))).not.toBeNull();
    expect(h.session.state.schema).toBe("other");
    // The next read runs on a replica connection in that schema (opened in it, or synced to it).
    await h.value("SELECT 1");
    const ran = h.server.log.at(-1)!;
    expect(ran.backend).toMatch(/^replica/);
    expect(h.server.links.find((l) => l.thread === ran.thread)?.schema).toBe("other");
  });

  test("SET_OPTION turns multi-statements on for the session", async () => {
    const h = await loggedIn();
    expect(okOf(await h.command(Command.SET_OPTION, Buffer.from([0, 0])))).not.toBeNull();
    expect(h.session.state.multiStatements).toBe(true);
  });

  test("FIELD_LIST and STATISTICS are relayed", async () => {
    const h = await loggedIn();
    const fields = await h.command(Command.FIELD_LIST, "t\0");
    expect(fields.at(-1)!.payload[0]).toBe(0xfe);
    const stats = await h.command(Command.STATISTICS);
    expect(stats[0]!.payload.toString()).toMatch(/^Uptime/);
  });

  test("STMT_RESET answers OK; STMT_CLOSE answers nothing and forgets the statement", async () => {
    const h = await loggedIn();
    const prep = await h.command(Command.STMT_PREPARE, "SELECT c FROM t");
    const id = prep[0]!.payload.readUInt32LE(1);
    expect(okOf(await h.command(Command.STMT_RESET, u32(id)))).not.toBeNull();
    h.client.command(Command.STMT_CLOSE, u32(id));
    await settle();
    expect(h.client.take()).toEqual([]);
    expect(errOf(await h.command(Command.STMT_RESET, u32(id)))?.errno).toBe(1243);
  });

  test("QUIT closes the session", async () => {
    const h = await loggedIn();
    h.client.command(Command.QUIT);
    await settle();
    expect(h.session.isClosed()).toBe(true);
    expect(h.client.ended).toBe(true);
  });
});

describe("fetch", () => {
  test("FETCH without an open cursor gets the server's 1421, without a backend", async () => {
    const h = await loggedIn();
    const prep = await h.command(Command.STMT_PREPARE, "SELECT c FROM t");
    const id = prep[0]!.payload.readUInt32LE(1);
    const before = h.server.log.length;
    expect(errOf(await h.command(Command.STMT_FETCH, Buffer.concat([u32(id), u32(10)])))?.errno).toBe(1421);
    expect(h.server.log.length).toBe(before);
  });
});

describe("reset-connection and change-user", () => {
  test("RESET_CONNECTION drops the pinned connection and the prepared statements", async () => {
    const h = await loggedIn();
    await h.query("BEGIN");
    const held = h.session.pin.conn!;
    await h.command(Command.STMT_PREPARE, "SELECT c FROM t");
    expect(okOf(await h.command(Command.RESET_CONNECTION))).not.toBeNull();
    expect(held.state).toBe("closed");
    expect(h.session.pin.free).toBe(true);
    expect(h.session.stmts.size).toBe(0);
  });

  test("RESET_CONNECTION keeps the session's database; its connections come without CLIENT_IGNORE_SPACE and CLIENT_INTERACTIVE, whose IGNORE_SPACE in sql_mode and interactive_timeout in wait_timeout the server drops", async () => {
    const h = new SessionHarness();
    expect((await h.login({ ignoreSpace: true, interactive: true })).payload[0]).toBe(0x00);
    expect(h.session.login!.key.wireFlags & Capability.IGNORE_SPACE).not.toBe(0);
    expect(h.session.login!.key.wireFlags & Capability.INTERACTIVE).not.toBe(0);
    expect(okOf(await h.command(Command.INIT_DB, "other"))).not.toBeNull();
    expect(okOf(await h.command(Command.RESET_CONNECTION))).not.toBeNull();
    expect(h.session.state.schema).toBe("other");
    expect(h.session.login!.key.wireFlags & Capability.IGNORE_SPACE).toBe(0);
    expect(h.session.login!.key.wireFlags & Capability.INTERACTIVE).toBe(0);
    expect(h.session.login!.keyString).toBe(poolKeyString(h.session.login!.key));
    expect(errOf(await h.query("SELECT 1"))).toBeNull();
  });

  test("RESET_CONNECTION and CHANGE_USER: no earlier statement is left to ask about (SHOW WARNINGS, ROW_COUNT())", async () => {
    const h = await loggedIn();
    // Whether the session has a connection to ask (given back at once).
    const left = () => {
      const key = h.session.login!.keyString;
      const there = h.session.previous.take("warnings", key, null, Date.now());
      there?.pool.release(there.conn, key);
      return there !== null;
    };
    expect(errOf(await h.query("INSERT INTO t VALUES (1)"))).toBeNull();
    expect(left()).toBe(true); // the write's connection, kept for the session
    expect(errOf(await h.query("INSERT INTO t VALUES (2)"))).toBeNull();
    expect(okOf(await h.command(Command.RESET_CONNECTION))).not.toBeNull();
    expect(left()).toBe(false);
    expect(errOf(await h.query("INSERT INTO t VALUES (3)"))).toBeNull();
    const body = changeUserBody(h.session, "other", "other-pass");
    expect(okOf(await h.command(Command.CHANGE_USER, body))).not.toBeNull();
    expect(left()).toBe(false);
  });

  test("RESET_CONNECTION: the database's character set is the global one until the next USE, even of the same database; a connection left so gets its database's back for another session", async () => {
    const h = await loggedIn();
    const sets = () =>
      h.server.log.filter((c) => c.sql?.includes("collation_database")).map((c) => `${c.backend}: ${c.sql}`);
    expect(okOf(await h.command(Command.RESET_CONNECTION))).not.toBeNull();
    expect(h.session.state.globalDatabaseCharset).toBe(true);
    expect(errOf(await h.query("INSERT INTO t VALUES (1)"))).toBeNull();
    expect(sets()).toEqual(["primary: SET SESSION collation_database = @@GLOBAL.collation_database"]);
    // A write's connection is kept for its session's next statement (previous-statement.ts): this
    // one asks about the write there, and lets it go.
    expect(errOf(await h.query("SHOW WARNINGS"))).toBeNull();
    // Another session in the same database, on the same pooled connection: back to the database's.
    const other = await h.connect();
    expect(errOf(await other.query("INSERT INTO t VALUES (2)"))).toBeNull();
    expect(sets().slice(1)).toEqual(["primary: SET SESSION collation_database = DEFAULT"]);
    other.close();
    // The connection is synced before the COM_INIT_DB (which may fail); after it, nothing to do.
    expect(okOf(await h.command(Command.INIT_DB, "app"))).not.toBeNull();
    expect(h.session.state.globalDatabaseCharset).toBe(false);
    expect(sets()).toHaveLength(3);
    expect(errOf(await h.query("INSERT INTO t VALUES (3)"))).toBeNull();
    expect(sets()).toHaveLength(3);
  });

  test("CHANGE_USER logs in again as another user; refused, the session goes on as the user it was (1045 a second later), and after three refusals the command is refused (1047), as MariaDB does", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const h = await loggedIn();
    // The scramble of the greeting is the one COM_CHANGE_USER answers (mysql_native_password).
    const body = (user: string, password: string) => changeUserBody(h.session, user, password);
    const ok = await h.command(Command.CHANGE_USER, body("other", "other-pass"));
    expect(okOf(ok)).not.toBeNull();
    expect(h.session.userName).toBe("other");
    await h.query("SET @v = 1");
    const refused = async () => {
      h.client.command(Command.CHANGE_USER, body("app", "wrong"));
      await settle();
      expect(h.client.take()).toEqual([]);
      await vi.advanceTimersByTimeAsync(CHANGE_USER_REFUSAL_DELAY_MS);
      await h.idle();
      return h.client.take();
    };
    for (let i = 0; i < 3; i++) {
      expect(errOf(await refused())?.errno).toBe(1045);
      expect(h.session.isClosed()).toBe(false);
      expect(h.session.userName).toBe("other");
    }
    // The session was reset (the pinning user variable is gone) and still serves.
    expect(h.session.pin.bits).toBe(0);
    expect(errOf(await h.query("SELECT 1"))).toBeNull();
    const fourth = await h.command(Command.CHANGE_USER, body("other", "other-pass"));
    expect(errOf(fourth)?.errno).toBe(1047);
    expect(h.session.userName).toBe("other");
  });
});

describe("kill", () => {
  test("KILL of an unknown id: 1094; of another user's session: 1095; KILL QUERY of an idle session: OK", async () => {
    const h = await loggedIn();
    expect(errOf(await h.query("KILL 999"))?.errno).toBe(1094);
    const otherClient = new MemoryTransport();
    const other = h.open(otherClient);
    await h.login({ user: "other", password: "other-pass" }, otherClient);
    expect(errOf(await h.query(`KILL ${other.connectionId}`))?.errno).toBe(1095);
    const mineClient = new MemoryTransport();
    const mine = h.open(mineClient);
    await h.login({}, mineClient);
    expect(okOf(await h.query(`KILL QUERY ${mine.connectionId}`))).not.toBeNull();
    expect(mine.isClosed()).toBe(false);
    expect(okOf(await h.query(`KILL ${mine.connectionId}`))).not.toBeNull();
    expect(mine.isClosed()).toBe(true);
  });
});

describe("malformed input", () => {
  test("a COM_PROCESS_KILL without its id gets 1835 and the session goes on", async () => {
    const h = await loggedIn();
    expect(errOf(await h.command(Command.PROCESS_KILL, Buffer.from([1])))?.errno).toBe(1835);
    expect(textValue(await h.query("SELECT 1"))).toMatch(/^replica/);
  });
});
