import { describe, expect, test } from "vitest";
import { framed } from "../../bench/stress/client.js";
import { normaliseResponse, withoutGtid } from "../../bench/stress/normalise.js";
import { ClientPlan, lengthForPayload } from "../../bench/stress/plan.js";
import { PacketHeads, ResponseEnd, type ResponseKind } from "../../bench/stress/wire.js";
import {
  boundaryChunkings,
  bytes,
  type Chunking,
  columnDefPayload,
  eofPayload,
  errPayload,
  everyChunking,
  lenenc,
  lenencStr,
  okPayload,
  prepareOkPayload,
  stateEntry,
  textRow,
  u16,
  Wire,
} from "../helpers/wire.js";

// The stress harness (bench/stress/) finds response boundaries with its own small walker, apart
// from the proxy's ResponseScanner: checked here against streams built from the manual's layouts
// (test/helpers/wire.ts), cut at every offset.

const MORE = 0x0008;
const AUTOCOMMIT = 0x0002;
const CURSOR_EXISTS = 0x0040;
const STATE_CHANGED = 0x4000;

/** Feeds chunks until the response ends; where it ended and what the walker saw. */
function walk(kind: ResponseKind, deprecateEof: boolean, chunks: Buffer[]) {
  const heads = new PacketHeads();
  const end = new ResponseEnd(deprecateEof);
  end.begin(kind);
  let base = 0;
  for (const c of chunks) {
    const used = heads.push(c, 0, (p) => end.push(p));
    if (end.done) return { end: base + used, status: end.status, errno: end.errno, state: end };
    base += c.length;
  }
  return { end: -1, status: end.status, errno: end.errno, state: end };
}

function checkAll(wire: Wire, kind: ResponseKind, deprecateEof: boolean, chunkings: Iterable<Chunking>) {
  for (const { name, chunks } of chunkings) {
    const r = walk(kind, deprecateEof, chunks);
    expect(r.end, name).toBe(wire.length);
  }
  return walk(kind, deprecateEof, [wire.bytes()]);
}

const textResult = (deprecateEof: boolean, status: number, rows = 3) =>
  new Wire().resultSet({
    columns: 2,
    rows: Array.from({ length: rows }, (_, i) => textRow([String(i), `row ${i}`])),
    deprecateEof,
    status,
  });

describe.each([false, true])("ResponseEnd (CLIENT_DEPRECATE_EOF %s)", (deprecateEof) => {
  test("OK and ERR end a response at once", () => {
    const ok = new Wire().ok({ status: AUTOCOMMIT, sessionTrack: true, info: "" });
    expect(checkAll(ok, "results", deprecateEof, everyChunking(ok.bytes())).status).toBe(AUTOCOMMIT);
    const err = new Wire().err(1146, "42S02", "Table 'app.x' doesn't exist");
    expect(checkAll(err, "results", deprecateEof, everyChunking(err.bytes())).errno).toBe(1146);
    expect(checkAll(ok, "ok", deprecateEof, everyChunking(ok.bytes())).status).toBe(AUTOCOMMIT);
  });

  test("a text result set, and an empty one", () => {
    const w = textResult(deprecateEof, AUTOCOMMIT);
    expect(checkAll(w, "results", deprecateEof, everyChunking(w.bytes())).state.resultSets).toBe(1);
    const empty = textResult(deprecateEof, AUTOCOMMIT, 0);
    checkAll(empty, "results", deprecateEof, everyChunking(empty.bytes()));
  });

  test("results chained by SERVER_MORE_RESULTS_EXISTS (multi-statement, CALL)", () => {
    const w = textResult(deprecateEof, AUTOCOMMIT | MORE);
    w.resultSet({ columns: 1, rows: [textRow(["x"])], deprecateEof, status: AUTOCOMMIT | MORE });
    w.ok({ status: AUTOCOMMIT, sessionTrack: true });
    expect(checkAll(w, "results", deprecateEof, everyChunking(w.bytes())).state.resultSets).toBe(2);
    // An error ends it wherever it comes.
    const e = textResult(deprecateEof, AUTOCOMMIT | MORE).err(1146, "42S02", "no such table");
    checkAll(e, "results", deprecateEof, everyChunking(e.bytes()));
  });

  test("an error in the middle of rows ends the response", () => {
    const w = new Wire().packet(lenenc(1)).packet(columnDefPayload("a"));
    if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
    w.packet(textRow(["1"])).err(1317, "70100", "Query execution was interrupted");
    expect(checkAll(w, "results", deprecateEof, everyChunking(w.bytes())).errno).toBe(1317);
  });

  test("COM_STMT_EXECUTE that opens a cursor ends after the column definitions", () => {
    const w = new Wire().packet(lenenc(1)).packet(columnDefPayload("a"));
    w.terminator(deprecateEof, AUTOCOMMIT | CURSOR_EXISTS);
    checkAll(w, "results", deprecateEof, everyChunking(w.bytes()));
  });

  test("COM_STMT_FETCH: rows, then the terminator", () => {
    const w = new Wire(1);
    for (let i = 0; i < 3; i++) w.packet(bytes([0x00, 0x00], u16(i)));
    w.terminator(deprecateEof, AUTOCOMMIT | CURSOR_EXISTS);
    checkAll(w, "fetch", deprecateEof, everyChunking(w.bytes()));
  });

  test.each([
    [2, 3],
    [0, 0],
    [2, 0],
    [0, 3],
  ])("COM_STMT_PREPARE with %i parameters and %i columns", (params, columns) => {
    const w = new Wire().packet(prepareOkPayload(7, columns, params));
    for (const n of [params, columns]) {
      for (let i = 0; i < n; i++) w.packet(columnDefPayload(`c${i}`));
      if (n > 0 && !deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
    }
    const r = checkAll(w, "prepare", deprecateEof, everyChunking(w.bytes()));
    expect(r.state.prepared).toEqual({ id: 7, columns, params });
  });

  test("rows over 16 MiB, and a row starting with 0xFE, are rows", () => {
    // A text row of one value of 16 MiB: lenenc 0xFE + 8 bytes, then the value (two packets).
    const big = Buffer.alloc(1 << 24, 0x61);
    const w = new Wire().packet(lenenc(1)).packet(columnDefPayload("v"));
    if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
    w.packet(textRow([big]));
    // A payload of exactly 0xFFFFFF bytes: continued by an empty packet.
    w.packet(textRow([big.subarray(0, lengthForPayload(0xffffff, 0)!)]));
    w.terminator(deprecateEof, AUTOCOMMIT);
    checkAll(w, "results", deprecateEof, boundaryChunkings(w, 2));
  });
});

describe("normaliseResponse", () => {
  const okWithGtid = (gtid: string, extra = "") =>
    new Wire()
      .ok({
        status: AUTOCOMMIT | STATE_CHANGED,
        sessionTrack: true,
        sessionState: Buffer.concat([
          stateEntry(0, Buffer.concat([lenencStr("last_gtid"), lenencStr(gtid)])),
          ...(extra ? [stateEntry(0, Buffer.concat([lenencStr(extra), lenencStr("1")]))] : []),
        ]),
      })
      .bytes();

  test("each side's own GTID in last_gtid is replaced; lengths may differ", () => {
    const a = normaliseResponse(okWithGtid("0-1-9"), false);
    const b = normaliseResponse(okWithGtid("0-1-10"), false);
    expect(a.equals(b)).toBe(true);
    // Nothing else is: another tracked variable still counts.
    expect(normaliseResponse(okWithGtid("0-1-9", "autocommit"), false).equals(b)).toBe(false);
    expect(withoutGtid(okPayload({ status: AUTOCOMMIT, sessionTrack: true }))).toBeNull();
  });

  test("the PREPARE_OK statement id is zeroed", () => {
    const p = (id: number) => new Wire().packet(prepareOkPayload(id, 0, 0)).bytes();
    expect(normaliseResponse(p(1), true).equals(normaliseResponse(p(40), true))).toBe(true);
    expect(p(1).equals(p(40))).toBe(false);
  });

  test("an ERR naming the side's own statement id (1421), and only that id", () => {
    const err = (id: number) =>
      new Wire(1).err(1421, "HY000", `The statement (${id}) has no open cursor.`).bytes();
    expect(normaliseResponse(err(4), false, 4).equals(normaliseResponse(err(12), false, 12))).toBe(true);
    expect(normaliseResponse(err(4), false, 5).equals(normaliseResponse(err(12), false, 12))).toBe(false);
  });

  test("COM_PING's OK: the previous statement's leftover flags are cleared, the session's are not", () => {
    const ping = (status: number) => new Wire().ok({ status, sessionTrack: true }).bytes();
    const NO_INDEX_USED = 0x0020;
    const IN_TRANS = 0x0001;
    expect(normaliseResponse(ping(AUTOCOMMIT | NO_INDEX_USED), false, null, true)).toEqual(ping(AUTOCOMMIT));
    expect(normaliseResponse(ping(AUTOCOMMIT | NO_INDEX_USED), false, null, false)).toEqual(
      ping(AUTOCOMMIT | NO_INDEX_USED),
    );
    expect(normaliseResponse(ping(IN_TRANS), false, null, true)).toEqual(ping(IN_TRANS));
  });

  test("everything else is left as it is", () => {
    const w = textResult(false, AUTOCOMMIT).bytes();
    expect(normaliseResponse(w, false, 3)).toBe(w);
    const e = new Wire(1).packet(errPayload(1146, "42S02", "Table (3) doesn't exist")).bytes();
    expect(normaliseResponse(e, false, null)).toBe(e);
  });
});

describe("stress plan", () => {
  const opts = { maxBytes: 34 << 20, scenes: [3, 10] as [number, number] };
  const epochs = (seed: number, client: number) => {
    const p = new ClientPlan(seed, client, opts);
    return Array.from({ length: 5 }, () => p.nextEpoch());
  };

  test("is a function of the seed and the client only (a seed replays)", () => {
    expect(JSON.stringify(epochs(42, 1))).toBe(JSON.stringify(epochs(42, 1)));
    expect(JSON.stringify(epochs(42, 1))).not.toBe(JSON.stringify(epochs(42, 2)));
    expect(JSON.stringify(epochs(42, 1))).not.toBe(JSON.stringify(epochs(43, 1)));
  });

  test("prepares before it executes, and never exceeds its size budget", () => {
    for (let seed = 1; seed < 200; seed++) {
      for (const e of epochs(seed, seed % 4)) {
        const prepared = new Set<string>();
        for (const s of e.steps) {
          const a = s.action;
          if (a.op === "prepare") prepared.add(a.stmt);
          if (a.op === "close") prepared.delete(a.stmt);
          if (a.op === "execute" || a.op === "fetch") expect(prepared.has(a.stmt), s.what).toBe(true);
          if (a.op === "execute") {
            for (const p of a.params) {
              if ("size" in p) expect(p.size).toBeLessThanOrEqual(opts.maxBytes);
              if (p.type === "int") expect(Number.isInteger(p.value), s.what).toBe(true);
            }
          }
          // Every number in the SQL is an integer (a fraction would be a plan bug, not a relay one).
          if (a.op === "query") expect(a.sql, s.what).not.toMatch(/\d\.\d/);
        }
      }
    }
  });
});

test("framed: payloads of 0xFFFFFF bytes and more are continued, the last piece may be empty", () => {
  const sizes = (n: number) =>
    framed(0, Buffer.alloc(n))
      .filter((_, i) => i % 2 === 1)
      .map((b) => b.length);
  expect(sizes(10)).toEqual([10]);
  expect(sizes(0xffffff)).toEqual([0xffffff, 0]);
  expect(sizes(0xffffff + 5)).toEqual([0xffffff, 5]);
  expect(
    framed(3, Buffer.alloc(0xffffff))
      .filter((_, i) => i % 2 === 0)
      .map((h) => h[3]),
  ).toEqual([3, 4]);
});
