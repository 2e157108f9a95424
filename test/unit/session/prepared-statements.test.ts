import { describe, expect, test } from "vitest";
import { Command } from "../../../src/protocol/constants/commands.js";
import type { Packet } from "../../../src/protocol/framing.js";
import type { ClientSession } from "../../../src/proxy/session/client-session.js";
import { MemoryTransport } from "../../helpers/memory-transport.js";
import { changeUserBody, errOf, okOf, SessionHarness, settle } from "../../helpers/session-harness.js";

// Prepared statements as the server bounds them (issue #12, point 4): COM_STMT_CLOSE closes the
// backend statement unless another client statement still holds it there; what nobody holds is
// cached per connection up to a bound that follows max_prepared_stmt_count; a PREPARE past the
// server's limit closes cached statements and runs once more. The scripted backend counts open
// statements per server and answers 1461 past `maxPreparedStmtCount`.

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** COM_STMT_EXECUTE body for a statement without parameters. */
function executeBody(id: number, flags = 0): Buffer {
  return Buffer.concat([u32(id), Buffer.from([flags]), u32(1)]);
}

/** One client of the harness's proxy: its transport and session. */
class Client {
  constructor(
    readonly t: MemoryTransport,
    readonly s: ClientSession,
  ) {}

  async command(command: number, body: Buffer | string = Buffer.alloc(0)): Promise<Packet[]> {
    this.t.command(command, body);
    await settle();
    for (let i = 0; i < 400 && (this.s.phase === "busy" || this.s.phase === "infile"); i++) await settle();
    return this.t.take();
  }

  /** COM_STMT_PREPARE; the proxy's statement id (throws on ERR). */
  async prepare(sql: string): Promise<number> {
    const r = await this.command(Command.STMT_PREPARE, sql);
    const err = errOf(r);
    if (err !== null) throw new Error(`${sql}: ${err.errno} ${err.message}`);
    return r[0]!.payload.readUInt32LE(1);
  }

  async execute(id: number, flags = 0): Promise<Packet[]> {
    return this.command(Command.STMT_EXECUTE, executeBody(id, flags));
  }

  /** COM_STMT_CLOSE: no response. */
  async close(id: number): Promise<void> {
    expect(await this.command(Command.STMT_CLOSE, u32(id))).toEqual([]);
  }
}

async function harness(): Promise<{ h: SessionHarness; a: Client }> {
  const h = new SessionHarness();
  expect((await h.login()).payload[0]).toBe(0x00);
  return { h, a: new Client(h.client, h.session) };
}

/** Another session of the same proxy, logged in as the same user. */
async function another(h: SessionHarness): Promise<Client> {
  const t = new MemoryTransport();
  const s = h.open(t);
  expect((await h.login({}, t)).payload[0]).toBe(0x00);
  return new Client(t, s);
}

/** Every pool caches nothing: the last release closes on the server. */
function noCache(h: SessionHarness): void {
  for (const p of h.upstreams.all()) p.statementBudget.setServerLimit(3);
}

/** Backends that got COM_STMT_CLOSE, in order. */
function closesOn(h: SessionHarness): string[] {
  return h.server.log.filter((c) => c.command === Command.STMT_CLOSE).map((c) => c.backend);
}

function preparesOf(h: SessionHarness, sql: string): { backend: string; thread: number }[] {
  return h.server.log
    .filter((c) => c.command === Command.STMT_PREPARE && c.sql === sql)
    .map((c) => ({ backend: c.backend, thread: c.thread }));
}

describe("COM_STMT_CLOSE closes on the backend", () => {
  test("on every connection the statement ran on", async () => {
    const { h, a } = await harness();
    noCache(h);
    const id = await a.prepare("SELECT c FROM t WHERE id = 1");
    expect(errOf(await a.execute(id))).toBeNull();
    const replica = h.server.log.find((c) => c.command === Command.STMT_EXECUTE)!.backend;
    expect(h.server.openStatements("primary")).toBe(1);
    expect(h.server.openStatements(replica)).toBe(1);
    await a.close(id);
    expect(h.server.openStatements("primary")).toBe(0);
    expect(h.server.openStatements(replica)).toBe(0);
    expect(closesOn(h).sort()).toEqual(["primary", replica].sort());
    expect(h.upstreams.primary.stats().statements).toMatchObject({ prepared: 0, cached: 0 });
  });

  test("within the cache's bound it stays prepared, and the next PREPARE of it shares it", async () => {
    const { h, a } = await harness();
    const id = await a.prepare("INSERT INTO t VALUES (1)");
    await a.close(id);
    expect(h.server.openStatements("primary")).toBe(1);
    expect(h.upstreams.primary.stats().statements).toMatchObject({ prepared: 1, cached: 1 });
    // The server prepares the client's PREPARE anew; the duplicate is closed at once.
    const again = await a.prepare("INSERT INTO t VALUES (1)");
    expect(h.server.openStatements("primary")).toBe(1);
    expect(h.upstreams.primary.stats().statements).toMatchObject({ prepared: 1, cached: 0 });
    expect(okOf(await a.execute(again))).not.toBeNull();
  });

  test("two sessions share a backend statement: closing it in one keeps it for the other", async () => {
    const { h, a } = await harness();
    noCache(h);
    const b = await another(h);
    const sql = "INSERT INTO t VALUES (2)";
    const idA = await a.prepare(sql);
    const idB = await b.prepare(sql);
    expect(h.server.openStatements("primary")).toBe(1);
    await a.close(idA);
    expect(h.server.openStatements("primary")).toBe(1);
    const before = preparesOf(h, sql).length;
    expect(okOf(await b.execute(idB))).not.toBeNull();
    expect(preparesOf(h, sql).length).toBe(before);
    await b.close(idB);
    expect(h.server.openStatements("primary")).toBe(0);
  });

  test("a shared statement gets each client statement's own parameter types", async () => {
    const { h, a } = await harness();
    const b = await another(h);
    const sql = "INSERT INTO t VALUES (?)";
    const idA = await a.prepare(sql);
    const idB = await b.prepare(sql);
    expect(h.server.openStatements("primary")).toBe(1);
    // int<4> stmt_id, int<1> flags, int<4> iterations, null bitmap, new_params_bound_flag, [types], values.
    const head = (id: number, bound: number) => Buffer.concat([executeBody(id), Buffer.from([0x00, bound])]);
    const LONG = Buffer.from([0x03, 0x00]);
    const VAR_STRING = Buffer.from([0xfd, 0x00]);
    const sent = () => h.server.log.filter((c) => c.command === Command.STMT_EXECUTE).at(-1)!.payload;
    await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 1), LONG, u32(7)]));
    await b.command(Command.STMT_EXECUTE, Buffer.concat([head(idB, 1), VAR_STRING, Buffer.from([1, 0x78])]));
    // a sends no types: the server statement last had b's, so a's go with it.
    await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 0), u32(8)]));
    expect([...sent().subarray(11, 14)]).toEqual([1, 0x03, 0x00]);
    expect(sent().subarray(14)).toEqual(u32(8));
    await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 0), u32(9)]));
    expect(sent()[11]).toBe(0);
  });

  test("types added that take an EXECUTE past 0xFFFFFF bytes: the response numbered after the client's packets", async () => {
    const { h, a } = await harness();
    const b = await another(h);
    const sql = "INSERT INTO t VALUES (?)";
    const idA = await a.prepare(sql);
    const idB = await b.prepare(sql);
    const head = (id: number, bound: number) => Buffer.concat([executeBody(id), Buffer.from([0x00, bound])]);
    const VAR_STRING = Buffer.from([0xfd, 0x00]);
    const LONG = Buffer.from([0x03, 0x00]);
    const sent = () => h.server.log.filter((c) => c.command === Command.STMT_EXECUTE).at(-1)!.payload;
    await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 1), VAR_STRING, Buffer.from([1, 0x78])]));
    await b.command(Command.STMT_EXECUTE, Buffer.concat([head(idB, 1), LONG, u32(7)]));
    // a sends no types, in one packet of 0xFFFFFE bytes (command byte, 11 bytes of head, a string
    // of 4 + n bytes); with a's types put back it is 0x1000000 bytes: two packets to the server.
    const n = 0xfffffe - 16;
    const value = Buffer.alloc(4 + n, 0x61);
    value[0] = 0xfd;
    value.writeUIntLE(n, 1, 3);
    const response = await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 0), value]));
    expect(sent().length).toBe(0x1000000);
    expect(sent().subarray(10, 14)).toEqual(Buffer.from([0, 1, 0xfd, 0x00]));
    expect(okOf(response)).not.toBeNull();
    // The client sent one packet (0): the server's answer is packet 1 for it, as a direct one is.
    expect(response.map((p) => p.seq)).toEqual([1]);
    // The next EXECUTE, the same size without a change of types: as the client sent it.
    const again = await a.command(Command.STMT_EXECUTE, Buffer.concat([head(idA, 0), value]));
    expect(sent().length).toBe(0xfffffe);
    expect(again.map((p) => p.seq)).toEqual([1]);
  });

  test("a session's end, COM_RESET_CONNECTION and COM_CHANGE_USER let go of its statements", async () => {
    const { h, a } = await harness();
    noCache(h);
    await a.prepare("INSERT INTO t VALUES (3)");
    await a.prepare("INSERT INTO t VALUES (4)");
    expect(h.server.openStatements("primary")).toBe(2);
    expect(okOf(await a.command(Command.RESET_CONNECTION))).not.toBeNull();
    expect(h.server.openStatements("primary")).toBe(0);

    await a.prepare("INSERT INTO t VALUES (5)");
    const body = changeUserBody(h.session, "other", "other-pass");
    expect(h.server.openStatements("primary")).toBe(1);
    expect(okOf(await a.command(Command.CHANGE_USER, body))).not.toBeNull();
    expect(h.server.openStatements("primary")).toBe(0);

    await a.prepare("INSERT INTO t VALUES (6)");
    expect(h.server.openStatements("primary")).toBe(1);
    a.t.command(Command.QUIT);
    await settle();
    expect(a.s.isClosed()).toBe(true);
    expect(h.server.openStatements("primary")).toBe(0);
  });

  test("a statement whose cursor was closed with it is prepared again for the others that held it", async () => {
    const { h, a } = await harness();
    const sql = "SELECT c FROM t WHERE id = 7";
    const first = await a.prepare(sql);
    const second = await a.prepare(sql);
    expect(h.server.openStatements("primary")).toBe(1);
    await a.execute(first, 0x01); // CURSOR_TYPE_READ_ONLY: pinned to the primary
    expect(a.s.cursors.has(first)).toBe(true);
    await a.close(first); // closes the backend statement, and the cursor with it
    expect(h.server.openStatements("primary")).toBe(0);
    // With a cursor too: on the same primary connection, which prepares it again.
    const rows = await a.execute(second, 0x01);
    expect(errOf(rows)).toBeNull();
    expect(a.s.cursors.has(second)).toBe(true);
    expect(preparesOf(h, sql).length).toBe(3);
    expect(h.server.openStatements("primary")).toBe(1);
  });
});

describe("the cache: least recently released first", () => {
  test("beyond the bound the statement released longest ago closes; a reused one counts as new", async () => {
    const { h, a } = await harness();
    // max_prepared_stmt_count 8 over one connection: 2 cached statements.
    h.upstreams.primary.statementBudget.setServerLimit(8);
    expect(h.upstreams.primary.stats().statements.cachePerConnection).toBe(2);
    const sqls = [1, 2, 3, 4].map((n) => `SELECT c FROM t WHERE id = ${n}`);
    const ids: number[] = [];
    for (const sql of sqls) ids.push(await a.prepare(sql));
    await a.close(ids[1]!);
    await a.close(ids[0]!);
    await a.close(ids[2]!); // cached: 2, 1, 3 -> 2 closes
    expect(h.server.statementsOn("primary")).toEqual([sqls[0], sqls[2], sqls[3]]);
    const reused = await a.prepare(sqls[0]!); // held again: cached 3
    await a.close(reused); // cached: 3, 1
    await a.close(ids[3]!); // cached: 3, 1, 4 -> 3 closes
    expect(h.server.statementsOn("primary")).toEqual([sqls[0], sqls[3]]);
  });

  test("a lower max_prepared_stmt_count (from the monitor) closes what idle connections cache beyond it", async () => {
    const { h, a } = await harness();
    for (const n of [1, 2, 3]) await a.close(await a.prepare(`INSERT INTO t VALUES (${n})`));
    expect(h.server.openStatements("primary")).toBe(3);
    h.upstreams.primary.statementBudget.setServerLimit(3);
    expect(h.server.openStatements("primary")).toBe(0);
  });
});

describe("ER 1461: the server is at max_prepared_stmt_count", () => {
  test("a PREPARE closes the connection's cached statements and runs once more", async () => {
    const { h, a } = await harness();
    h.server.maxPreparedStmtCount.primary = 3;
    for (const n of [1, 2, 3]) await a.close(await a.prepare(`INSERT INTO t VALUES (${n})`));
    expect(h.server.openStatements("primary")).toBe(3);
    const id = await a.prepare("INSERT INTO t VALUES (4)");
    expect(h.reported.clientErrors).toEqual([]);
    expect(preparesOf(h, "INSERT INTO t VALUES (4)").length).toBe(2);
    expect(h.server.statementsOn("primary")).toEqual(["INSERT INTO t VALUES (4)"]);
    // The limit the ERR named is the budget's now: nothing more is cached.
    expect(h.upstreams.primary.stats().statements).toMatchObject({ serverLimit: 3, cachePerConnection: 0 });
    expect(okOf(await a.execute(id))).not.toBeNull();
    await a.close(id);
    expect(h.server.openStatements("primary")).toBe(0);
  });

  test("with nothing cached there, the backend's idle connections close theirs (confirmed by a ping) first", async () => {
    const { h, a } = await harness();
    h.server.maxPreparedStmtCount.primary = 3;
    const b = await another(h);
    await a.command(Command.QUERY, "BEGIN"); // a holds one primary connection
    for (const n of [1, 2, 3]) await b.close(await b.prepare(`INSERT INTO t VALUES (${n})`));
    const cachedOn = h.server.log.find((c) => c.command === Command.STMT_PREPARE)!.thread;
    await a.command(Command.QUERY, "COMMIT"); // its connection is idle again, and b's next
    const sql = "INSERT INTO t VALUES (4)";
    await b.prepare(sql);
    const tries = preparesOf(h, sql);
    expect(tries.length).toBe(2);
    expect(tries[0]!.thread).not.toBe(cachedOn);
    expect(tries[1]!.thread).toBe(tries[0]!.thread);
    const there = h.server.log.filter((c) => c.thread === cachedOn).map((c) => c.command);
    expect(there.slice(-4)).toEqual([
      Command.STMT_CLOSE,
      Command.STMT_CLOSE,
      Command.STMT_CLOSE,
      Command.PING,
    ]);
    expect(h.server.statementsOn("primary")).toEqual([sql]);
  });

  test("nothing to close: the client gets the server's 1461", async () => {
    const { h, a } = await harness();
    h.server.maxPreparedStmtCount.primary = 1;
    await a.prepare("INSERT INTO t VALUES (1)");
    const r = await a.command(Command.STMT_PREPARE, "INSERT INTO t VALUES (2)");
    expect(errOf(r)?.errno).toBe(1461);
    expect(preparesOf(h, "INSERT INTO t VALUES (2)").length).toBe(1);
  });

  test("an EXECUTE that prepares on a replica makes room there the same way", async () => {
    const { h, a } = await harness();
    const [replica1, replica2] = h.upstreams.replicas;
    h.upstreams.picker.markDown(replica2!, "test: every read on replica1");
    h.server.maxPreparedStmtCount.replica1 = 2;
    for (const n of [1, 2]) {
      const id = await a.prepare(`SELECT c FROM t WHERE id = ${n}`);
      expect(errOf(await a.execute(id))).toBeNull();
      await a.close(id);
    }
    expect(h.server.openStatements("replica1")).toBe(2);
    const sql = "SELECT c FROM t WHERE id = 3";
    const id = await a.prepare(sql);
    expect(errOf(await a.execute(id))).toBeNull();
    expect(preparesOf(h, sql).map((p) => p.backend)).toEqual(["primary", "replica1", "replica1"]);
    expect(h.server.statementsOn("replica1")).toEqual([sql]);
    expect(replica1!.stats().statements.serverLimit).toBe(2);
  });
});
