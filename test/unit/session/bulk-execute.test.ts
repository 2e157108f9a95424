import { describe, expect, test } from "vitest";
import { MariadbCapability } from "../../../src/protocol/constants/capabilities.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import { packet } from "../../../src/protocol/framing.js";
import { LAST_STATEMENT_ID } from "../../../src/proxy/session/prepared-statements.js";
import { errOf, okOf, SessionHarness } from "../../helpers/session-harness.js";

// COM_STMT_BULK_EXECUTE (0xFA, MARIADB_CLIENT_STMT_BULK_OPERATIONS): a prepared statement run for
// many rows in one command, routed as a write (issue #14), with the connection's statement id
// and, when the client relies on types that connection never got, the types put in.

const BULK = MariadbCapability.STMT_BULK_OPERATIONS;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** Rows of one INT parameter: indicator 0 (a value follows), int<4>. */
function rows(...values: number[]): Buffer {
  return Buffer.concat(values.map((v) => Buffer.concat([Buffer.from([0]), u32(v)])));
}

/** COM_STMT_BULK_EXECUTE of `id`, types sent (LONG) unless `withTypes` is false. */
function bulkBody(id: number, withTypes = true): Buffer {
  const flags = Buffer.from([withTypes ? 128 : 0, 0]);
  const types = withTypes ? Buffer.from([0x03, 0x00]) : Buffer.alloc(0);
  return Buffer.concat([u32(id), flags, types, rows(1, 2, 3)]);
}

async function loggedIn(mariadb = BULK): Promise<SessionHarness> {
  const h = new SessionHarness();
  expect((await h.login({ mariadb, deprecateEof: true })).payload[0]).toBe(0x00);
  return h;
}

async function prepare(h: SessionHarness, sql: string): Promise<number> {
  const r = await h.command(Command.STMT_PREPARE, sql);
  expect(errOf(r)).toBeNull();
  return r[0]!.payload.readUInt32LE(1);
}

const bulks = (h: SessionHarness) => h.server.log.filter((c) => c.command === Command.STMT_BULK_EXECUTE);

describe("COM_STMT_BULK_EXECUTE", () => {
  test("goes to the primary, with the primary's statement id; the client gets the OK", async () => {
    const h = await loggedIn();
    const id = await prepare(h, "INSERT INTO t VALUES (?)");
    const r = await h.command(Command.STMT_BULK_EXECUTE, bulkBody(id));
    expect(okOf(r)?.affectedRows).toBe(3);
    const sent = bulks(h);
    expect(sent.map((c) => c.backend)).toEqual(["primary"]);
    const prepared = h.server.log.find((c) => c.command === Command.STMT_PREPARE)!;
    expect(prepared.backend).toBe("primary");
    expect(h.reported.statements.at(-1)).toMatchObject({ route: "primary", reason: "write" });
  });

  test("a read statement run in bulk is a write all the same: never on a replica", async () => {
    const h = await loggedIn();
    const id = await prepare(h, "SELECT c FROM t WHERE id = ?");
    await h.command(Command.STMT_BULK_EXECUTE, bulkBody(id));
    expect(bulks(h).map((c) => c.backend)).toEqual(["primary"]);
  });

  test("statement id -1, pipelined behind its PREPARE", async () => {
    const h = await loggedIn();
    const prep = Buffer.concat([
      Buffer.from([Command.STMT_PREPARE]),
      Buffer.from("INSERT INTO t VALUES (?)"),
    ]);
    const bulk = Buffer.concat([Buffer.from([Command.STMT_BULK_EXECUTE]), bulkBody(LAST_STATEMENT_ID)]);
    h.client.sendRaw(Buffer.concat([packet(0, prep), packet(0, bulk)]));
    await h.idle();
    const got = h.client.take();
    expect(got.some((p) => p.payload[0] === 0xff)).toBe(false);
    expect(bulks(h)[0]!.payload.readUInt32LE(1)).not.toBe(LAST_STATEMENT_ID);
  });

  test("without types, on a connection that never got them: the client's last types are put in", async () => {
    const h = await loggedIn();
    const id = await prepare(h, "INSERT INTO t VALUES (?)");
    await h.command(Command.STMT_BULK_EXECUTE, bulkBody(id, true));
    // The next bulk runs without types; make it land on a fresh primary connection.
    for (const l of h.server.links) l.kill();
    await new Promise((r) => setTimeout(r, 10));
    await h.command(Command.STMT_BULK_EXECUTE, bulkBody(id, false));
    const last = bulks(h).at(-1)!.payload;
    expect(last.readUInt16LE(5) & 128).toBe(128);
    expect(last.subarray(7, 9)).toEqual(Buffer.from([0x03, 0x00]));
    expect(last.subarray(9)).toEqual(rows(1, 2, 3));
  });

  test("a client that did not negotiate bulk operations gets the server's 1295", async () => {
    const h = await loggedIn(MariadbCapability.EXTENDED_METADATA);
    const id = await prepare(h, "INSERT INTO t VALUES (?)");
    const r = await h.command(Command.STMT_BULK_EXECUTE, bulkBody(id));
    expect(errOf(r)).toMatchObject({ errno: 1295, sqlState: "HY000" });
    expect(bulks(h)).toEqual([]);
  });

  test("an unknown statement: 1243, as the server words it", async () => {
    const h = await loggedIn();
    const r = await h.command(Command.STMT_BULK_EXECUTE, bulkBody(99));
    expect(errOf(r)).toMatchObject({
      errno: 1243,
      message: "Unknown prepared statement handler (99) given to mysqld_stmt_execute",
    });
  });
});
