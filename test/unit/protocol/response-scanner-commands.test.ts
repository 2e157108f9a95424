import { describe, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { Captured, ResponseKind } from "../../../src/protocol/response-scanner.js";
import { checkScan, columnDefPayload, eofPayload, hex, prepareOkPayload, Wire } from "../../helpers/wire.js";

/**
 * Responses other than plain COM_QUERY: COM_STMT_PREPARE, COM_FIELD_LIST, single-packet commands,
 * COM_STATISTICS, and real bytes captured once from MariaDB 10.11 (127.0.0.1:3306, read-only
 * commands), each fed whole, split at every offset and byte by byte.
 */

const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const { COLUMN_COUNT, OK, EOF, ERR, PREPARE_OK } = Captured;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

/** PREPARE_OK, param_def * p, [EOF], column_def * c, [EOF] (the EOFs only for non-empty groups). */
function prepareResponse(params: number, columns: number, deprecateEof: boolean): Wire {
  const w = new Wire().packet(prepareOkPayload(7, columns, params, 1), PREPARE_OK);
  for (let p = 0; p < params; p++) w.packet(columnDefPayload("?", 0xfd, 63));
  // The EOFs of a prepare response are skipped by length: nothing in them matters to the relay.
  if (params > 0 && !deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
  for (let c = 0; c < columns; c++) w.packet(columnDefPayload(`c${c}`));
  if (columns > 0 && !deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
  return w;
}

describe("COM_STMT_PREPARE", () => {
  for (const [mode, deprecateEof] of modes) {
    test.each([
      [2, 3],
      [0, 2],
      [2, 0],
      [0, 0],
      [1, 1],
    ])(`%d params, %d columns (${mode})`, (params, columns) => {
      checkScan(prepareResponse(params, columns, deprecateEof), ResponseKind.PREPARE, deprecateEof, {
        status: 0,
      });
    });
  }

  test("ERR", () => {
    const w = new Wire().err(1064, "42000", "You have an error in your SQL syntax");
    checkScan(w, ResponseKind.PREPARE, false, { status: 0, errno: 1064 });
  });

  test("a prepare response followed by trailing bytes ends where it should", () => {
    const w = prepareResponse(1, 1, false);
    const end = w.length;
    w.raw(hex("0100000101"));
    checkScan(w, ResponseKind.PREPARE, false, { status: 0, end });
  });
});

describe("COM_FIELD_LIST", () => {
  test("column definitions closed by EOF (classic)", () => {
    const w = new Wire().packet(columnDefPayload("a")).packet(columnDefPayload("b"));
    w.packet(eofPayload(AUTOCOMMIT), EOF);
    checkScan(w, ResponseKind.FIELD_LIST, false, { status: AUTOCOMMIT });
  });

  test("column definitions closed by a 7-byte OK with 0xFE header (CLIENT_DEPRECATE_EOF)", () => {
    const w = new Wire().packet(columnDefPayload("a"));
    w.ok({ header: 0xfe, status: AUTOCOMMIT });
    checkScan(w, ResponseKind.FIELD_LIST, true, { status: AUTOCOMMIT });
  });

  test.each(modes)("ERR (%s)", (_m, deprecateEof) => {
    const w = new Wire().err(1146, "42S02", "Table 'db.nope' doesn't exist");
    checkScan(w, ResponseKind.FIELD_LIST, deprecateEof, { status: 0, errno: 1146 });
  });
});

describe("SIMPLE: one OK, ERR or EOF (COM_PING, COM_INIT_DB, COM_SET_OPTION, ...)", () => {
  test.each(modes)("OK (%s)", (_m, deprecateEof) => {
    checkScan(new Wire().ok({ status: AUTOCOMMIT }), ResponseKind.SIMPLE, deprecateEof, {
      status: AUTOCOMMIT,
    });
  });

  test.each(modes)("ERR (%s)", (_m, deprecateEof) => {
    const w = new Wire().err(1049, "42000", "Unknown database 'nope'");
    checkScan(w, ResponseKind.SIMPLE, deprecateEof, { status: 0, errno: 1049 });
  });

  test("COM_SET_OPTION's EOF (classic)", () => {
    const w = new Wire().packet(eofPayload(AUTOCOMMIT), EOF);
    checkScan(w, ResponseKind.SIMPLE, false, { status: AUTOCOMMIT });
  });

  test("COM_SET_OPTION's OK with 0xFE header (CLIENT_DEPRECATE_EOF)", () => {
    const w = new Wire().ok({ header: 0xfe, status: AUTOCOMMIT });
    checkScan(w, ResponseKind.SIMPLE, true, { status: AUTOCOMMIT });
  });

  test("real: COM_INIT_DB's OK with session state (schema changed) from MariaDB", () => {
    // 00 header, 00 affected, 00 insert id, 0240 status (AUTOCOMMIT|SESSION_STATE_CHANGED),
    // 0000 warnings, 00 info, 15 session state: 01 SCHEMA, 13 len, 12 "information_schema".
    const w = Wire.parse(
      hex("1e000001 000000 0240 0000 00 15 01 13 12 696e666f726d6174696f6e5f736368656d61"),
      [OK],
    );
    checkScan(w, ResponseKind.SIMPLE, true, { status: 0x4002 });
  });
});

describe("STRING: COM_STATISTICS", () => {
  test("one string packet, not decoded", () => {
    const w = new Wire().packet(Buffer.from("Uptime: 12188  Threads: 1  Questions: 15  Slow queries: 0"));
    checkScan(w, ResponseKind.STRING, false, { status: 0 });
  });

  test("ERR", () => {
    checkScan(new Wire().err(1227), ResponseKind.STRING, false, { status: 0, errno: 1227 });
  });

  test("real bytes from MariaDB", () => {
    const w = Wire.parse(
      hex(
        "74000001557074696d653a2031323230302020546872656164733a203220205175657374696f6e733a2032352020536c6f7720717565726965733a203020204f70656e733a20313720204f70656e207461626c65733a20313020205175657269657320706572207365636f6e64206176673a20302e303032",
      ),
      [null],
    );
    checkScan(w, ResponseKind.STRING, false, { status: 0 });
  });
});

describe("real result sets captured from MariaDB 10.11", () => {
  // SELECT 1 AS a, NULL AS b, 'x' AS c UNION ALL SELECT 2, 'yy', NULL
  test("text result set, CLIENT_DEPRECATE_EOF: rows end with OK 0xFE", () => {
    const stream = hex(
      "0100000103 17000002036465660000000161000c3f0002000000038100000000 " +
        "17000003036465660000000162000c2d0008000000fd0000270000 " +
        "17000004036465660000000163000c2d0004000000fd0000270000 050000050131fb0178 " +
        "060000060132027979fb 07000007fe000002000000",
    );
    const w = Wire.parse(stream, [COLUMN_COUNT, null, null, null, null, null, OK]);
    checkScan(w, ResponseKind.RESULTSET, true, { status: AUTOCOMMIT });
  });

  test("text result set, classic: EOF after the columns and after the rows", () => {
    const stream = hex(
      "0100000103 17000002036465660000000161000c3f0002000000038100000000 " +
        "17000003036465660000000162000c2d0008000000fd0000270000 " +
        "17000004036465660000000163000c2d0004000000fd0000270000 05000005fe00000200 " +
        "050000060131fb0178 060000070132027979fb 05000008fe00000200",
    );
    const w = Wire.parse(stream, [COLUMN_COUNT, null, null, null, EOF, null, null, EOF]);
    checkScan(w, ResponseKind.RESULTSET, false, { status: AUTOCOMMIT });
  });

  // SELECT 1 AS a; SELECT 'b' AS b (CLIENT_MULTI_STATEMENTS)
  test("two statements, CLIENT_DEPRECATE_EOF: the first OK 0xFE carries MORE_RESULTS_EXISTS", () => {
    const stream = hex(
      "0100000101 17000002036465660000000161000c3f0001000000038100000000 020000030131 " +
        "07000004fe00000a000000 0100000501 " +
        "17000006036465660000000162000c2d0004000000fd0100270000 020000070162 " +
        "07000008fe000002000000",
    );
    const w = Wire.parse(stream, [COLUMN_COUNT, null, null, OK, COLUMN_COUNT, null, null, OK]);
    checkScan(w, ResponseKind.RESULTSET, true, { status: AUTOCOMMIT });
  });

  test("two statements, classic: both EOFs of the first result set carry MORE_RESULTS_EXISTS", () => {
    const stream = hex(
      "0100000101 17000002036465660000000161000c3f0001000000038100000000 05000003fe00000a00 " +
        "020000040131 05000005fe00000a00 0100000601 " +
        "17000007036465660000000162000c2d0004000000fd0100270000 05000008fe00000200 020000090162 " +
        "0500000afe00000200",
    );
    const w = Wire.parse(stream, [COLUMN_COUNT, null, EOF, null, EOF, COLUMN_COUNT, null, EOF, null, EOF]);
    checkScan(w, ResponseKind.RESULTSET, false, { status: AUTOCOMMIT });
  });

  // COM_STMT_PREPARE "SELECT ? AS p, 1 AS q": PREPARE_OK (2 columns, 1 param), param, columns.
  test("prepare, CLIENT_DEPRECATE_EOF", () => {
    const stream = hex(
      "0c000001000200000002000100000000 " +
        "17000002036465660000000170000c3f0000000000068000000000 " +
        "17000003036465660000000170000c3f0000000000068000000000 " +
        "17000004036465660000000171000c3f0001000000038100000000",
    );
    checkScan(Wire.parse(stream, [PREPARE_OK, null, null, null]), ResponseKind.PREPARE, true, { status: 0 });
  });

  test("prepare, classic", () => {
    const stream = hex(
      "0c000001000200000002000100000000 " +
        "17000002036465660000000170000c3f0000000000068000000000 05000003fe00000200 " +
        "17000004036465660000000170000c3f0000000000068000000000 " +
        "17000005036465660000000171000c3f0001000000038100000000 05000006fe00000200",
    );
    const w = Wire.parse(stream, [PREPARE_OK, null, null, null, null, null]);
    checkScan(w, ResponseKind.PREPARE, false, { status: 0 });
  });

  test("ERR 1146 for a missing table", () => {
    const stream = hex(
      "2b000001ff7a042334325330325461626c6520276e6f5f737563685f64622e742720646f65736e2774206578697374",
    );
    checkScan(Wire.parse(stream, [ERR]), ResponseKind.RESULTSET, false, { status: 0, errno: 1146 });
  });
});
