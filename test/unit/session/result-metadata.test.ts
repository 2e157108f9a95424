import { describe, expect, test } from "vitest";
import { MariadbCapability } from "../../../src/protocol/constants/capabilities.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import type { Packet } from "../../../src/protocol/framing.js";
import { decodeColumnDefinition } from "../../../src/protocol/packets/column-definition.js";
import { rewriteResponse } from "../../../src/protocol/result-metadata.js";
import type { ClientSession } from "../../../src/proxy/session/client-session.js";
import { MemoryTransport } from "../../helpers/memory-transport.js";
import { errOf, SessionHarness, settle } from "../../helpers/session-harness.js";
import { bytes, columnDefPayload, eofPayload, lenenc, textRow, Wire } from "../../helpers/wire.js";

// MARIADB_CLIENT_CACHE_METADATA through rwsplit (issue #14). The server skips a prepared
// statement's column definitions when they did not change since it last sent them for that
// statement on that connection; the client then uses the ones it got last. rwsplit runs one
// client statement on several connections and shares connection statements between clients, so
// it tracks both sides and fills a skip in when the client's columns differ from the
// connection's (src/protocol/result-metadata.ts). The scripted server plays an ALTER TABLE by
// renaming the column (`server.columnName`).

const CACHE = MariadbCapability.CACHE_METADATA;
/** Routed to the primary by its hint: both sessions' statements meet on one connection. */
const ON_PRIMARY = "/* rwsplit: route=primary */ SELECT c FROM t";

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

class Client {
  constructor(
    readonly t: MemoryTransport,
    readonly s: ClientSession,
  ) {}

  async command(command: number, body: Buffer | string): Promise<Packet[]> {
    this.t.command(command, body);
    await settle();
    for (let i = 0; i < 400 && this.s.phase === "busy"; i++) await settle();
    return this.t.take();
  }

  async prepare(sql: string): Promise<number> {
    const r = await this.command(Command.STMT_PREPARE, sql);
    expect(errOf(r)).toBeNull();
    return r[0]!.payload.readUInt32LE(1);
  }

  execute(id: number): Promise<Packet[]> {
    return this.command(Command.STMT_EXECUTE, Buffer.concat([u32(id), Buffer.from([0]), u32(1)]));
  }
}

async function client(h: SessionHarness, deprecateEof: boolean, mariadb = CACHE): Promise<Client> {
  const t = new MemoryTransport();
  const s = h.open(t);
  expect((await h.login({ mariadb, deprecateEof }, t)).payload[0]).toBe(0x00);
  return new Client(t, s);
}

/** The column count packet's metadata_follows byte and the column names that follow it. */
function columnsOf(packets: readonly Packet[]): { follows: number; names: string[] } {
  const count = packets[0]!.payload;
  const names: string[] = [];
  for (const p of packets.slice(1)) {
    if (p.payload[0] !== 0x03) break; // "def": a column definition
    names.push(decodeColumnDefinition(p.payload).name);
  }
  return { follows: count[count.length - 1]!, names };
}

/** Sequence ids go 1, 2, 3, ... over the whole answer. */
function expectSequential(packets: readonly Packet[]): void {
  expect(packets.map((p) => p.seq)).toEqual(packets.map((_, i) => i + 1));
}

const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

describe("metadata skipping through rwsplit", () => {
  for (const [mode, deprecateEof] of modes) {
    test(`prepared on the primary, run on a replica: the replica's skip is relayed as it is (${mode})`, async () => {
      const h = new SessionHarness();
      const a = await client(h, deprecateEof);
      const id = await a.prepare("SELECT c FROM t WHERE id = 1");
      const r = await a.execute(id);
      const ran = h.server.log.filter((c) => c.command === Command.STMT_EXECUTE);
      expect(ran[0]!.backend).not.toBe("primary");
      expect(columnsOf(r)).toEqual({ follows: 0, names: [] });
      expectSequential(r);
    });

    test(`an ALTER seen by another session first: the skip is filled in for this one (${mode})`, async () => {
      const h = new SessionHarness();
      const a = await client(h, deprecateEof);
      const b = await client(h, deprecateEof);
      const idA = await a.prepare(ON_PRIMARY);
      const idB = await b.prepare(ON_PRIMARY);
      expect(h.server.openStatements("primary")).toBe(1);
      h.server.columnName = "c1";
      // A runs first: the server sends the new columns, and remembers them.
      const ra = await a.execute(idA);
      expect(columnsOf(ra)).toEqual({ follows: 1, names: ["c1"] });
      // B still has c0; the server would skip (it sent c1 last): rwsplit puts c1 in.
      const rb = await b.execute(idB);
      expect(columnsOf(rb)).toEqual({ follows: 1, names: ["c1"] });
      expectSequential(rb);
      expect(errOf(rb)).toBeNull();
      // Now both have c1: skips pass through again.
      expect(columnsOf(await b.execute(idB))).toEqual({ follows: 0, names: [] });
      expect(columnsOf(await a.execute(idA))).toEqual({ follows: 0, names: [] });
    });
  }

  test("a client without MARIADB_CLIENT_CACHE_METADATA gets no metadata_follows byte and every definition", async () => {
    const h = new SessionHarness();
    const a = await client(h, true, MariadbCapability.EXTENDED_METADATA);
    const id = await a.prepare("SELECT c FROM t WHERE id = 1");
    const r = await a.execute(id);
    expect(r[0]!.payload).toEqual(Buffer.from([1]));
    expect(decodeColumnDefinition(r[1]!.payload).name).toBe("c0");
  });
});

describe("rewriteResponse", () => {
  test("a skip filled in: the byte set, the definitions after the count, later sequence ids moved", () => {
    const held = new Wire()
      .packet(bytes(lenenc(2), [0]))
      .packet(eofPayload(2))
      .packet(textRow(["a", "b"]))
      .packet(eofPayload(2))
      .bytes();
    const defs = [columnDefPayload("x"), columnDefPayload("y")];
    const want = new Wire()
      .packet(bytes(lenenc(2), [1]))
      .packet(defs[0]!)
      .packet(defs[1]!)
      .packet(eofPayload(2))
      .packet(textRow(["a", "b"]))
      .packet(eofPayload(2))
      .bytes();
    expect(rewriteResponse(held, [], defs).toString("hex")).toBe(want.toString("hex"));
  });

  test("definitions that followed, or no insert asked: only the edits", () => {
    const held = new Wire()
      .packet(bytes(lenenc(1), [1]))
      .packet(columnDefPayload("x"))
      .bytes();
    expect(rewriteResponse(held, [], [columnDefPayload("y")])).toBe(held);
    const ok = new Wire().packet(Buffer.from([0, 0, 0, 2, 0, 0, 0])).bytes();
    const edited = rewriteResponse(ok, [{ end: 11, payload: Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]) }]);
    expect(edited.toString("hex")).toBe("0800000100000002000000" + "00");
  });
});
