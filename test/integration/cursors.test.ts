import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { Command } from "../../src/protocol/constants/commands.js";
import { ServerStatus } from "../../src/protocol/constants/server-status.js";
import type { Packet } from "../../src/protocol/framing.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { RawClient } from "../helpers/raw-client.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Server-side cursors (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH) through
// the proxy, compared packet by packet with the same conversation held directly with the primary.
// mysql2 cannot open cursors: these tests speak the protocol with RawClient.

let sb: TestSandbox;
let proxy: TestApp;

const ROWS = 1000;
const CURSOR_TYPE_READ_ONLY = 0x01;
const { CURSOR_EXISTS, LAST_ROW_SENT } = ServerStatus;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 1 });
  proxy = await startApp(testConfig(sb.primary, sb.replicas));
  const c = await sb.connect(sb.primary);
  await c.query("CREATE TABLE app.cursor_t (id INT PRIMARY KEY, name VARCHAR(32))");
  const values = Array.from({ length: ROWS }, (_, i) => `(${i + 1}, 'row ${i + 1}')`).join(",");
  await c.query(`INSERT INTO app.cursor_t VALUES ${values}`);
  await c.query("CREATE TABLE app.cursor_side (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
  await c.end();
  await sb.waitForReplicas();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

/** One side of a comparison: a raw client and which EOF convention it negotiated. */
interface Side {
  c: RawClient;
  deprecateEof: boolean;
}

async function login(to: { host: string; port: number }, deprecateEof: boolean): Promise<Side> {
  const extra = deprecateEof ? Capability.DEPRECATE_EOF : 0;
  const { client, result } = await RawClient.login(to.host, to.port, "app", "app-pass", "app", extra);
  expect(RawClient.err(result)).toBeNull();
  return { c: client, deprecateEof };
}

const viaProxy = (deprecateEof: boolean) => login(proxy, deprecateEof);
const direct = (deprecateEof: boolean) => login(sb.primary, deprecateEof);

/** A packet as it can be compared: sequence id and payload bytes. */
const show = (p: Packet) => `${p.seq}:${p.payload.toString("hex")}`;

/** Status flags of an EOF_Packet or an OK_Packet with small affected rows / insert id: bytes 3-4. */
const statusOf = (p: Packet) => p.payload.readUInt16LE(3);

function isTerminator(p: Packet, deprecateEof: boolean): boolean {
  if (p.payload[0] === 0xff) return true;
  return p.payload[0] === 0xfe && p.payload.length < (deprecateEof ? 0xffffff : 9);
}

/** COM_STMT_PREPARE; returns the statement id and its column count. */
async function prepare(s: Side, sql: string): Promise<{ id: number; columns: number }> {
  const first = await s.c.command(Buffer.concat([Buffer.from([Command.STMT_PREPARE]), Buffer.from(sql)]));
  expect(RawClient.err(first)).toBeNull();
  const id = first.payload.readUInt32LE(1);
  const columns = first.payload.readUInt16LE(5);
  const params = first.payload.readUInt16LE(7);
  for (const n of [params, columns]) {
    for (let i = 0; i < n; i++) await s.c.read();
    if (n > 0 && !s.deprecateEof) await s.c.read();
  }
  return { id, columns };
}

/** COM_STMT_EXECUTE (no parameters) with the given flags; returns every response packet. */
async function execute(s: Side, id: number, flags: number): Promise<Packet[]> {
  const payload = Buffer.alloc(10);
  payload[0] = Command.STMT_EXECUTE;
  payload.writeUInt32LE(id, 1);
  payload[5] = flags;
  payload.writeUInt32LE(1, 6);
  const first = await s.c.command(payload);
  const out = [first];
  if (first.payload[0] === 0x00 || first.payload[0] === 0xff) return out;
  const columns = first.payload[0]!;
  for (let i = 0; i < columns; i++) out.push(await s.c.read());
  if (!s.deprecateEof) {
    const eof = await s.c.read();
    out.push(eof);
    if (statusOf(eof) & CURSOR_EXISTS) return out;
  }
  for (;;) {
    const p = await s.c.read();
    out.push(p);
    if (isTerminator(p, s.deprecateEof)) return out;
  }
}

/** COM_STMT_FETCH: int<1> 0x1c, int<4> stmt_id, int<4> num_rows; returns rows and terminator. */
async function fetch(s: Side, id: number, rows: number): Promise<Packet[]> {
  const payload = Buffer.alloc(9);
  payload[0] = Command.STMT_FETCH;
  payload.writeUInt32LE(id, 1);
  payload.writeUInt32LE(rows, 5);
  s.c.send(0, payload);
  const out: Packet[] = [];
  for (;;) {
    const p = await s.c.read();
    out.push(p);
    if (isTerminator(p, s.deprecateEof)) return out;
  }
}

function sendStmt(s: Side, command: number, id: number): void {
  const payload = Buffer.alloc(5);
  payload[0] = command;
  payload.writeUInt32LE(id, 1);
  s.c.send(0, payload);
}

/** Binary row of `SELECT id ...`: 0x00, 1-byte NULL bitmap, int<4> id. */
const idOf = (row: Packet) => row.payload.readInt32LE(2);

/** Fetches `batch` rows at a time until LAST_ROW_SENT; returns the transcript and the ids. */
async function fetchAll(
  s: Side,
  id: number,
  batch: number,
): Promise<{ transcript: string[]; ids: number[] }> {
  const transcript: string[] = [];
  const ids: number[] = [];
  for (let i = 0; i < ROWS / batch + 2; i++) {
    const got = await fetch(s, id, batch);
    transcript.push(...got.map(show));
    const end = got.at(-1)!;
    expect(RawClient.err(end)).toBeNull();
    ids.push(...got.slice(0, -1).map(idOf));
    if (statusOf(end) & LAST_ROW_SENT) return { transcript, ids };
  }
  throw new Error("the cursor never sent LAST_ROW_SENT");
}

function pinsOf(s: Side): unknown {
  const id = s.c.greeting!.connectionId;
  const info = proxy.server.sessionsInfo().find((x) => x.id === id);
  return info?.pinned;
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (from < to ? from + i : from - i));

describe.each(modes)("server-side cursors (%s)", (_mode, deprecateEof) => {
  /** The whole conversation for one full cursor scan, as `show` strings. */
  async function scan(s: Side): Promise<{ transcript: string[]; ids: number[] }> {
    const { id } = await prepare(s, "SELECT id FROM cursor_t ORDER BY id");
    const opened = await execute(s, id, CURSOR_TYPE_READ_ONLY);
    expect(statusOf(opened.at(-1)!) & CURSOR_EXISTS).toBe(CURSOR_EXISTS);
    const rest = await fetchAll(s, id, 100);
    sendStmt(s, Command.STMT_CLOSE, id);
    return { transcript: [...opened.map(show), ...rest.transcript], ids: rest.ids };
  }

  test("EXECUTE with a cursor, FETCH 100 at a time: byte-identical to direct, session pinned meanwhile", async () => {
    const d = await direct(deprecateEof);
    const p = await viaProxy(deprecateEof);
    try {
      const want = await scan(d);
      expect(want.ids).toEqual(range(1, ROWS));

      const { id } = await prepare(p, "SELECT id FROM cursor_t ORDER BY id");
      expect(pinsOf(p)).toEqual([]);
      const opened = await execute(p, id, CURSOR_TYPE_READ_ONLY);
      // Column count, one definition, the terminator with CURSOR_EXISTS: no rows.
      expect(opened.length).toBe(3);
      expect(pinsOf(p)).toEqual(["cursor"]);
      const rest = await fetchAll(p, id, 100);
      expect(pinsOf(p)).toEqual([]);
      sendStmt(p, Command.STMT_CLOSE, id);
      expect([...opened.map(show), ...rest.transcript]).toEqual(want.transcript);
      expect(rest.ids).toEqual(range(1, ROWS));
    } finally {
      d.c.close();
      p.c.close();
    }
  });

  test("a FETCH after the cursor ended gets the server's error, without a backend", async () => {
    const errs = [];
    for (const s of [await direct(deprecateEof), await viaProxy(deprecateEof)]) {
      const { id } = await prepare(s, "SELECT id FROM cursor_t WHERE id <= 5 ORDER BY id");
      await execute(s, id, CURSOR_TYPE_READ_ONLY);
      const all = await fetch(s, id, 10);
      expect(all.length).toBe(6);
      expect(statusOf(all.at(-1)!) & LAST_ROW_SENT).toBe(LAST_ROW_SENT);
      const after = await fetch(s, id, 10);
      errs.push(RawClient.err(after.at(-1)!));
      // And a FETCH of a statement that never had one.
      const { id: other } = await prepare(s, "SELECT 1");
      errs.push(RawClient.err((await fetch(s, other, 1)).at(-1)!));
      s.c.close();
    }
    for (const e of errs) {
      expect(e).toMatchObject({ errno: 1421, sqlState: "HY000" });
      expect(e!.message).toMatch(/^The statement \(\d+\) has no open cursor/);
    }
  });

  test("two cursors open at once on two statements", async () => {
    const transcripts: string[][] = [];
    for (const s of [await direct(deprecateEof), await viaProxy(deprecateEof)]) {
      const up = await prepare(s, "SELECT id FROM cursor_t ORDER BY id");
      const down = await prepare(s, "SELECT id FROM cursor_t ORDER BY id DESC");
      const t = [...(await execute(s, up.id, CURSOR_TYPE_READ_ONLY)).map(show)];
      t.push(...(await execute(s, down.id, CURSOR_TYPE_READ_ONLY)).map(show));
      const ups: number[] = [];
      const downs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const a = await fetch(s, up.id, 100);
        const b = await fetch(s, down.id, 100);
        t.push(...a.map(show), ...b.map(show));
        ups.push(...a.slice(0, -1).map(idOf));
        downs.push(...b.slice(0, -1).map(idOf));
      }
      expect(ups).toEqual(range(1, ROWS));
      expect(downs).toEqual(range(ROWS, 1));
      // Both are at their end now (all rows sent, LAST_ROW_SENT not yet seen): one empty fetch each.
      const lastUp = await fetch(s, up.id, 100);
      const lastDown = await fetch(s, down.id, 100);
      expect(statusOf(lastUp.at(-1)!) & LAST_ROW_SENT).toBe(LAST_ROW_SENT);
      expect(statusOf(lastDown.at(-1)!) & LAST_ROW_SENT).toBe(LAST_ROW_SENT);
      t.push(...lastUp.map(show), ...lastDown.map(show));
      transcripts.push(t);
      s.c.close();
    }
    expect(transcripts[1]).toEqual(transcripts[0]);
  });

  test("another session's traffic meanwhile is unaffected", async () => {
    const p = await viaProxy(deprecateEof);
    const other = await mysql.createConnection({
      host: proxy.host,
      port: proxy.port,
      user: "app",
      password: "app-pass",
      database: "app",
    });
    try {
      const { id } = await prepare(p, "SELECT id FROM cursor_t ORDER BY id");
      await execute(p, id, CURSOR_TYPE_READ_ONLY);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push(...(await fetch(p, id, 100)).slice(0, -1).map(idOf));
        const [ins] = await other.query("INSERT INTO cursor_side (v) VALUES (?)", [i]);
        expect((ins as mysql.ResultSetHeader).affectedRows).toBe(1);
        const [rows] = await other.execute("SELECT COUNT(*) AS n, MAX(id) AS m FROM cursor_t");
        expect(rows).toEqual([{ n: ROWS, m: ROWS }]);
        const [sel] = await other.query("SELECT name FROM cursor_t WHERE id = ?", [i + 1]);
        expect(sel).toEqual([{ name: `row ${i + 1}` }]);
      }
      const rest = await fetchAll(p, id, 100);
      expect([...ids, ...rest.ids]).toEqual(range(1, ROWS));
    } finally {
      await other.end();
      p.c.close();
    }
  });

  test("COM_STMT_CLOSE / COM_STMT_RESET in the middle, then a new EXECUTE works", async () => {
    const transcripts: string[][] = [];
    for (const [i, s] of [await direct(deprecateEof), await viaProxy(deprecateEof)].entries()) {
      const t: string[] = [];
      const sql = "SELECT id FROM cursor_t ORDER BY id";
      const a = await prepare(s, sql);
      await execute(s, a.id, CURSOR_TYPE_READ_ONLY);
      t.push(...(await fetch(s, a.id, 100)).map(show));
      sendStmt(s, Command.STMT_CLOSE, a.id);
      // The same SQL prepared again: a fresh cursor from the first row.
      const b = await prepare(s, sql);
      // (COM_STMT_CLOSE has no response: the PREPARE's shows it was handled.)
      if (i === 1) expect(pinsOf(s)).toEqual([]);
      t.push(...(await execute(s, b.id, CURSOR_TYPE_READ_ONLY)).map(show));
      t.push(...(await fetch(s, b.id, 100)).map(show));
      // COM_STMT_RESET closes it: FETCH has no cursor, a new EXECUTE starts over.
      sendStmt(s, Command.STMT_RESET, b.id);
      t.push(show(await s.c.read()));
      const none = RawClient.err((await fetch(s, b.id, 1)).at(-1)!);
      expect(none?.errno).toBe(1421);
      t.push(...(await execute(s, b.id, CURSOR_TYPE_READ_ONLY)).map(show));
      t.push(...(await fetch(s, b.id, 100)).map(show));
      // EXECUTE again while the cursor is open: the old one closes, a new one starts over.
      t.push(...(await execute(s, b.id, CURSOR_TYPE_READ_ONLY)).map(show));
      const all = await fetchAll(s, b.id, 300);
      expect(all.ids).toEqual(range(1, ROWS));
      t.push(...all.transcript);
      // A plain EXECUTE of it returns every row at once.
      const plain = await execute(s, b.id, 0);
      expect(plain.length).toBe(ROWS + (deprecateEof ? 3 : 4));
      t.push(...plain.map(show));
      transcripts.push(t);
      s.c.close();
    }
    expect(transcripts[1]).toEqual(transcripts[0]);
  });

  test("a cursor EXECUTE of a read runs on the primary (a pin on a replica would catch the session's writes)", async () => {
    const admin = await sb.connect(sb.primary);
    const [[row]] = (await admin.query("SELECT @@server_id AS id")) as unknown as [{ id: number }[]];
    await admin.end();
    const p = await viaProxy(deprecateEof);
    try {
      const { id } = await prepare(p, "SELECT CAST(@@server_id AS CHAR)");
      await execute(p, id, CURSOR_TYPE_READ_ONLY);
      const [first] = await fetch(p, id, 1);
      // Binary row: 0x00, 1-byte NULL bitmap, string<lenenc>.
      const len = first!.payload[2]!;
      expect(first!.payload.toString("utf8", 3, 3 + len)).toBe(String(row!.id));
    } finally {
      p.c.close();
    }
  });

  test("a cursor opened in a READ ONLY transaction (on a replica) ends with it: FETCH gets 1421, writes go to the primary", async () => {
    const p = await viaProxy(deprecateEof);
    try {
      const ok = async (sql: string) => {
        const r = await p.c.command(Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql)]));
        expect(RawClient.err(r)).toBeNull();
      };
      await ok("START TRANSACTION READ ONLY");
      const { id } = await prepare(p, "SELECT id FROM cursor_t ORDER BY id");
      const opened = await execute(p, id, CURSOR_TYPE_READ_ONLY);
      expect(statusOf(opened.at(-1)!) & CURSOR_EXISTS).toBe(CURSOR_EXISTS);
      expect(pinsOf(p)).toEqual(expect.arrayContaining(["transaction", "cursor"]));
      const some = await fetch(p, id, 10);
      expect(some.length).toBe(11);
      await ok("COMMIT");
      expect(pinsOf(p)).toEqual([]);
      expect(RawClient.err((await fetch(p, id, 10)).at(-1)!)).toMatchObject({ errno: 1421 });
      // Not stuck on the replica: a write succeeds (on a read_only replica it would get 1290).
      await ok("INSERT INTO cursor_side (v) VALUES (1)");
      // And the statement runs again, with a new cursor.
      await execute(p, id, CURSOR_TYPE_READ_ONLY);
      expect((await fetchAll(p, id, 500)).ids).toEqual(range(1, ROWS));
    } finally {
      p.c.close();
    }
  });

  test("a statement without a result set ignores the cursor flag (plain OK, no pin)", async () => {
    const p = await viaProxy(deprecateEof);
    try {
      const { id } = await prepare(p, "UPDATE cursor_side SET v = v WHERE id < 0");
      const r = await execute(p, id, CURSOR_TYPE_READ_ONLY);
      expect(r.length).toBe(1);
      expect(r[0]!.payload[0]).toBe(0x00);
      expect(pinsOf(p)).toEqual([]);
    } finally {
      p.c.close();
    }
  });
});

test("the connection holding a cursor is lost: the next FETCH gets 2013, then the cursor is gone", async () => {
  const p = await viaProxy(true);
  try {
    const { id } = await prepare(p, "SELECT id FROM cursor_t ORDER BY id");
    await execute(p, id, CURSOR_TYPE_READ_ONLY);
    expect((await fetch(p, id, 100)).length).toBe(101);
    expect(pinsOf(p)).toEqual(["cursor"]);
    // Kill every app connection on the primary: the pinned one among them.
    const admin = await sb.connect(sb.primary);
    const [threads] = await admin.query("SELECT id FROM information_schema.processlist WHERE user = 'app'");
    for (const t of threads as { id: number }[]) await admin.query(`KILL CONNECTION ${t.id}`);
    await admin.end();
    await new Promise((r) => setTimeout(r, 200));
    const lost = RawClient.err((await fetch(p, id, 100)).at(-1)!);
    expect(lost?.errno).toBe(2013);
    expect(lost?.message).toMatch(/open cursor was lost/);
    expect(pinsOf(p)).toEqual([]);
    expect(RawClient.err((await fetch(p, id, 100)).at(-1)!)?.errno).toBe(1421);
    // The statement still works: it is prepared again on a new connection.
    await execute(p, id, CURSOR_TYPE_READ_ONLY);
    const all = await fetchAll(p, id, 250);
    expect(all.ids).toEqual(range(1, ROWS));
  } finally {
    p.c.close();
  }
});
