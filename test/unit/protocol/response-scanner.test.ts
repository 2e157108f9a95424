import { describe, expect, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { Captured, ResponseKind, ResponseScanner } from "../../../src/protocol/response-scanner.js";
import {
  binaryRow,
  boundaryChunkings,
  checkScan,
  infilePayload,
  okPayload,
  textRow,
  Wire,
} from "../../helpers/wire.js";

/**
 * COM_QUERY / COM_STMT_EXECUTE responses ("COM_QUERY Response", "Text Resultset", "Binary
 * Protocol Resultset" in the MySQL internals manual). Every stream is fed whole, split in two at
 * every offset and byte by byte; `checkScan` asserts the end offset, status, errno and the
 * captured packets (type, payload, whether the payload lay whole in the chunk).
 */

const { RESULTSET } = ResponseKind;
const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const MORE = ServerStatus.MORE_RESULTS_EXISTS;
const IN_TRANS = ServerStatus.IN_TRANS;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

function rows(m: number, n: number): Buffer[] {
  return Array.from({ length: m }, (_, r) => textRow(Array.from({ length: n }, (_, c) => `r${r}c${c}`)));
}

describe("single packet responses", () => {
  test.each(modes)("OK (%s)", (_m, deprecateEof) => {
    const w = new Wire().ok({ affectedRows: 3, lastInsertId: 300, status: AUTOCOMMIT | IN_TRANS });
    checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT | IN_TRANS });
  });

  test("OK with large affected rows / insert id (multi-byte lenenc before the status)", () => {
    const w = new Wire().ok({ affectedRows: 70_000, lastInsertId: 2 ** 40, status: IN_TRANS, info: "x" });
    checkScan(w, RESULTSET, true, { status: IN_TRANS });
  });

  test("ERR", () => {
    const w = new Wire().err(1146, "42S02", "Table 'db.t' doesn't exist");
    checkScan(w, RESULTSET, false, { status: 0, errno: 1146 });
  });
});

describe("text result sets", () => {
  for (const [mode, deprecateEof] of modes) {
    test(`3 columns, 4 rows (${mode})`, () => {
      const w = new Wire().resultSet({ columns: 3, rows: rows(4, 3), deprecateEof, status: AUTOCOMMIT });
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT });
    });

    test(`no rows (${mode})`, () => {
      const w = new Wire().resultSet({ columns: 2, rows: [], deprecateEof, status: IN_TRANS });
      checkScan(w, RESULTSET, deprecateEof, { status: IN_TRANS });
    });

    test(`rows whose first byte looks like a header: NULL 0xFB, empty 0x00, 0xFC/0xFD lengths (${mode})`, () => {
      const odd = [
        textRow([null, "a"]),
        textRow([null, null]),
        textRow(["", "b"]),
        textRow(["x".repeat(251), null]),
        textRow(["y".repeat(0x10000), "c"]),
        // An ERR-looking or EOF-looking byte inside a row (not first) changes nothing.
        textRow(["\xff", "\xfe"]),
      ];
      const w = new Wire().resultSet({ columns: 2, rows: odd, deprecateEof, status: AUTOCOMMIT });
      // A 64 KiB row: split near every packet boundary rather than at every offset.
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT }, boundaryChunkings(w, 3));
    });

    test(`251 columns (column count is a 3-byte lenenc) (${mode})`, () => {
      const w = new Wire().resultSet({ columns: 251, rows: rows(1, 251), deprecateEof, status: 0 });
      checkScan(w, RESULTSET, deprecateEof, { status: 0 }, boundaryChunkings(w, 2));
    });

    test(`binary protocol rows (0x00 header, NULL bitmap) (${mode})`, () => {
      const bin = [binaryRow(["1", null, "abc"]), binaryRow([null, null, null]), binaryRow(["", "x", "y"])];
      const w = new Wire().resultSet({ columns: 3, rows: bin, deprecateEof, status: AUTOCOMMIT });
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT });
    });

    test(`ERR after some rows (query killed mid-stream) (${mode})`, () => {
      const w = new Wire();
      w.packet(Buffer.from([2]), Captured.COLUMN_COUNT);
      w.packet(Buffer.from("col a")).packet(Buffer.from("col b"));
      if (!deprecateEof) w.packet(Buffer.from([0xfe, 0, 0, 2, 0]), Captured.EOF);
      for (const r of rows(2, 2)) w.packet(r);
      w.err(1317, "70100", "Query execution was interrupted");
      checkScan(w, RESULTSET, deprecateEof, { status: deprecateEof ? 0 : AUTOCOMMIT, errno: 1317 });
    });
  }
});

describe("multiple result sets (SERVER_MORE_RESULTS_EXISTS)", () => {
  for (const [mode, deprecateEof] of modes) {
    test(`CALL: two result sets then the procedure's OK (${mode})`, () => {
      const w = new Wire()
        .resultSet({ columns: 1, rows: rows(2, 1), deprecateEof, status: AUTOCOMMIT | MORE })
        .resultSet({ columns: 2, rows: rows(1, 2), deprecateEof, status: AUTOCOMMIT | MORE })
        .ok({ status: AUTOCOMMIT });
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT });
    });

    test(`multi-statement: OK, result set, OK (${mode})`, () => {
      const w = new Wire()
        .ok({ affectedRows: 1, status: IN_TRANS | MORE })
        .resultSet({ columns: 1, rows: rows(1, 1), deprecateEof, status: IN_TRANS | MORE })
        .ok({ status: AUTOCOMMIT });
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT });
    });

    test(`multi-statement where the second fails: result set, ERR (${mode})`, () => {
      const w = new Wire()
        .resultSet({ columns: 1, rows: rows(1, 1), deprecateEof, status: AUTOCOMMIT | MORE })
        .err(1064, "42000", "You have an error in your SQL syntax");
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT | MORE, errno: 1064 });
    });
  }
});

describe("cursors (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY)", () => {
  const CURSOR = ServerStatus.CURSOR_EXISTS;

  test("classic: the EOF after the columns carries SERVER_STATUS_CURSOR_EXISTS and ends the response", () => {
    // No rows and no second EOF follow: rows come later through COM_STMT_FETCH.
    const c = new Wire();
    c.packet(Buffer.from([2]), Captured.COLUMN_COUNT);
    c.packet(Buffer.from("def a")).packet(Buffer.from("def b"));
    c.packet(Buffer.from([0xfe, 0, 0, (CURSOR | AUTOCOMMIT) & 0xff, 0]), Captured.EOF);
    checkScan(c, RESULTSET, false, { status: CURSOR | AUTOCOMMIT });
  });

  test("CLIENT_DEPRECATE_EOF: the 0xFE terminator after the columns ends it too", () => {
    const c = new Wire();
    c.packet(Buffer.from([1]), Captured.COLUMN_COUNT);
    c.packet(Buffer.from("def a"));
    c.ok({ header: 0xfe, status: CURSOR | AUTOCOMMIT });
    checkScan(c, RESULTSET, true, { status: CURSOR | AUTOCOMMIT });
  });
});

describe("LOCAL INFILE", () => {
  test.each(modes)(
    "request 0xFB stops the scan; after infileSent() the OK ends it (%s)",
    (_m, deprecateEof) => {
      const w = new Wire().packet(infilePayload("/tmp/data.csv"), Captured.INFILE_REQUEST);
      const infileAt = w.length;
      // The client's file goes to the server; its answer comes with the next sequence ids.
      w.seq += 2;
      w.ok({
        affectedRows: 10,
        status: AUTOCOMMIT,
        info: "Records: 10  Deleted: 0  Skipped: 0  Warnings: 0",
      });
      checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT, infileAt });
    },
  );

  test("a refused file ends with ERR", () => {
    const w = new Wire().packet(infilePayload("x"), Captured.INFILE_REQUEST);
    const infileAt = w.length;
    w.err(1148, "42000", "The used command is not allowed with this MariaDB version");
    checkScan(w, RESULTSET, false, { status: 0, errno: 1148, infileAt });
  });

  test("awaitingInfile is what the relay checks when scan() returns", () => {
    const s = new ResponseScanner(false, { onPacket() {} });
    s.begin(RESULTSET);
    const req = new Wire().packet(infilePayload("f")).bytes();
    expect(s.scan(req)).toBe(req.length);
    expect(s.awaitingInfile).toBe(true);
    expect(s.idle).toBe(false);
    s.infileSent();
    expect(s.awaitingInfile).toBe(false);
    const ok = new Wire(3).ok({ status: AUTOCOMMIT }).bytes();
    expect(s.scan(ok)).toBe(ok.length);
    expect(s.idle).toBe(true);
  });
});

describe("the end offset", () => {
  test.each(modes)("bytes after the response are not consumed (%s)", (_m, deprecateEof) => {
    const w = new Wire().resultSet({ columns: 1, rows: rows(2, 1), deprecateEof, status: AUTOCOMMIT });
    const end = w.length;
    w.raw(Buffer.from([0x07, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]));
    checkScan(w, RESULTSET, deprecateEof, { status: AUTOCOMMIT, end });
  });

  test("a second response in the same chunk is scanned from the returned offset", () => {
    const first = new Wire().resultSet({ columns: 1, rows: rows(1, 1), deprecateEof: true, status: 0 });
    const second = new Wire().ok({ affectedRows: 1, status: AUTOCOMMIT, info: "second" });
    const chunk = Buffer.concat([first.bytes(), second.bytes()]);
    const seen: Captured[] = [];
    const s = new ResponseScanner(true, { onPacket: (t) => seen.push(t) });
    s.begin(RESULTSET);
    const end = s.scan(chunk);
    expect(end).toBe(first.length);
    s.begin(ResponseKind.SIMPLE);
    expect(s.scan(chunk, end)).toBe(chunk.length);
    expect(seen).toEqual([Captured.COLUMN_COUNT, Captured.OK, Captured.OK]);
    expect(s.status).toBe(AUTOCOMMIT);
  });

  test("begin() clears errno from the previous response", () => {
    const s = new ResponseScanner(false, { onPacket() {} });
    s.begin(RESULTSET);
    s.scan(new Wire().err(1045).bytes());
    expect(s.errno).toBe(1045);
    s.begin(RESULTSET);
    s.scan(new Wire().ok({ status: AUTOCOMMIT }).bytes());
    expect(s.errno).toBe(0);
  });

  test("an OK's info string does not confuse the status read (status sits after two lenencs)", () => {
    const payload = okPayload({ affectedRows: 0xfc, lastInsertId: 0x10000, status: IN_TRANS, info: "\xfe" });
    const w = new Wire().packet(payload, Captured.OK);
    checkScan(w, RESULTSET, false, { status: IN_TRANS });
  });
});
