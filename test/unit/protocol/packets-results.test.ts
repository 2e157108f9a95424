import { describe, expect, test } from "vitest";
import { RwsplitError } from "../../../src/errors.js";
import { Capability } from "../../../src/protocol/constants/capabilities.js";
import { ServerStatus, SessionTrack } from "../../../src/protocol/constants/server-status.js";
import { PacketFramer } from "../../../src/protocol/framing.js";
import {
  type ColumnDefinition,
  decodeColumnCount,
  decodeColumnDefinition,
  encodeColumnCount,
  encodeColumnDefinition,
} from "../../../src/protocol/packets/column-definition.js";
import { encodeEof, eofStatus, isEofPacket } from "../../../src/protocol/packets/eof.js";
import { decodeErr, encodeErr, isErrPacket } from "../../../src/protocol/packets/err.js";
import { decodeOk, encodeOk, isOkPacket, okStatus } from "../../../src/protocol/packets/ok.js";
import {
  decodeStmtPrepareOk,
  encodeStmtPrepareOk,
  STMT_ID_OFFSET,
} from "../../../src/protocol/packets/stmt-prepare-ok.js";
import {
  bytes,
  columnDefPayload,
  errPayload,
  hex,
  lenencStr,
  okPayload,
  stateEntry,
} from "../../helpers/wire.js";

/** The payload of a single framed packet, checking the sequence id. */
function payloadOf(framed: Buffer, seq: number): Buffer {
  const f = new PacketFramer();
  f.push(framed);
  const p = f.next()!;
  expect(p.seq).toBe(seq);
  expect(f.bufferedBytes).toBe(0);
  return Buffer.from(p.payload);
}

const TRACK = Capability.SESSION_TRACK;
const { AUTOCOMMIT, IN_TRANS, SESSION_STATE_CHANGED } = ServerStatus;

describe("OK_Packet", () => {
  const cases: [string, Parameters<typeof encodeOk>[1], number][] = [
    ["plain, no CLIENT_SESSION_TRACK", { status: AUTOCOMMIT }, 0],
    ["info as string<EOF>", { affectedRows: 3, status: AUTOCOMMIT, info: "Rows matched: 3  Changed: 3" }, 0],
    [
      "CLIENT_SESSION_TRACK, info as string<lenenc>",
      { status: IN_TRANS, warnings: 2, info: "Records: 1" },
      TRACK,
    ],
    ["CLIENT_SESSION_TRACK, no info", { status: AUTOCOMMIT }, TRACK],
    ["0xFE header (end of rows under DEPRECATE_EOF)", { header: 0xfe, status: AUTOCOMMIT }, TRACK],
    ["2- and 3-byte lenenc counts", { affectedRows: 0xfb, lastInsertId: 0x10000, status: 0 }, 0],
    ["8-byte lenenc insert id", { affectedRows: 1, lastInsertId: 2 ** 40 + 5, status: AUTOCOMMIT }, TRACK],
  ];
  test.each(cases)("round trip: %s", (_name, ok, caps) => {
    const payload = payloadOf(encodeOk(3, ok, caps), 3);
    expect(decodeOk(payload, caps)).toEqual({
      header: ok.header ?? 0,
      affectedRows: ok.affectedRows ?? 0,
      lastInsertId: ok.lastInsertId ?? 0,
      status: ok.status,
      warnings: ok.warnings ?? 0,
      info: ok.info ?? "",
      sessionState: [],
    });
    expect(okStatus(payload)).toBe(ok.status);
    expect(isOkPacket(payload)).toBe(payload[0] === 0x00);
  });

  test("encodes the documented layout", () => {
    const ok = { affectedRows: 300, lastInsertId: 7, status: IN_TRANS, warnings: 1, info: "hi" };
    expect(payloadOf(encodeOk(1, ok, TRACK), 1).equals(okPayload({ ...ok, sessionTrack: true }))).toBe(true);
    expect(payloadOf(encodeOk(1, ok, 0), 1).equals(okPayload(ok))).toBe(true);
  });

  test("encodeOk cannot write session state, so it never claims SERVER_SESSION_STATE_CHANGED", () => {
    const payload = payloadOf(encodeOk(1, { status: AUTOCOMMIT | SESSION_STATE_CHANGED }, TRACK), 1);
    expect(decodeOk(payload, TRACK).status).toBe(AUTOCOMMIT);
  });

  test("real: MariaDB's OK after login", () => {
    const payload = payloadOf(hex("07000002 00 00 00 0200 0000"), 2);
    expect(decodeOk(payload, TRACK)).toMatchObject({
      affectedRows: 0,
      status: AUTOCOMMIT,
      info: "",
      sessionState: [],
    });
  });

  test("real: MariaDB's OK for COM_INIT_DB with the schema tracked", () => {
    const payload = payloadOf(
      hex("1e000001 000000 0240 0000 00 15 01 13 12 696e666f726d6174696f6e5f736368656d61"),
      1,
    );
    const ok = decodeOk(payload, TRACK);
    expect(ok.status).toBe(AUTOCOMMIT | SESSION_STATE_CHANGED);
    expect(ok.sessionState).toEqual([{ type: "schema", schema: "information_schema" }]);
  });

  test("session_state_info: every tracker type, several entries in one block", () => {
    const state = bytes(
      stateEntry(SessionTrack.SYSTEM_VARIABLES, bytes(lenencStr("autocommit"), lenencStr("OFF"))),
      stateEntry(
        SessionTrack.SYSTEM_VARIABLES,
        bytes(lenencStr("character_set_client"), lenencStr("utf8mb4")),
      ),
      stateEntry(SessionTrack.SCHEMA, lenencStr("shop")),
      // MySQL documents string<lenenc> "1"; MariaDB sends the bare "1".
      stateEntry(SessionTrack.STATE_CHANGE, lenencStr("1")),
      stateEntry(SessionTrack.STATE_CHANGE, Buffer.from("1")),
      // int<1> encoding specification (0: whitespace-separated list), string<lenenc> GTIDs.
      stateEntry(SessionTrack.GTIDS, bytes([0], lenencStr("3E11FA47-71CA-11E1-9E33-C80AA9429562:23"))),
      stateEntry(SessionTrack.TRANSACTION_CHARACTERISTICS, lenencStr("SET TRANSACTION READ ONLY;")),
      stateEntry(SessionTrack.TRANSACTION_STATE, lenencStr("T_______")),
      // An unknown tracker is skipped by its length; parsing goes on.
      stateEntry(0x20, Buffer.from("whatever")),
      stateEntry(SessionTrack.SCHEMA, lenencStr("")),
    );
    const status = AUTOCOMMIT | SESSION_STATE_CHANGED;
    const payload = okPayload({ status, info: "", sessionTrack: true, sessionState: state });
    const ok = decodeOk(payload, TRACK);
    expect(ok.status).toBe(status);
    expect(ok.sessionState).toEqual([
      { type: "variable", name: "autocommit", value: "OFF" },
      { type: "variable", name: "character_set_client", value: "utf8mb4" },
      { type: "schema", schema: "shop" },
      { type: "state-change", changed: true },
      { type: "state-change", changed: true },
      { type: "gtids", value: "3E11FA47-71CA-11E1-9E33-C80AA9429562:23" },
      { type: "transaction-characteristics", value: "SET TRANSACTION READ ONLY;" },
      { type: "transaction-state", value: "T_______" },
      { type: "unknown", code: 0x20 },
      { type: "schema", schema: "" },
    ]);
    expect(okStatus(payload)).toBe(status);
  });

  test("session state is read only when SERVER_SESSION_STATE_CHANGED is set", () => {
    const state = stateEntry(SessionTrack.SCHEMA, lenencStr("shop"));
    const payload = okPayload({ status: AUTOCOMMIT, info: "i", sessionTrack: true, sessionState: state });
    expect(decodeOk(payload, TRACK)).toMatchObject({ info: "i", sessionState: [] });
  });

  test("without CLIENT_SESSION_TRACK everything after the warnings is info", () => {
    const payload = okPayload({ status: AUTOCOMMIT, info: "\x05hello" });
    expect(decodeOk(payload, 0).info).toBe("\x05hello");
  });

  test("a truncated session state block is a PROTOCOL_VIOLATION", () => {
    const payload = bytes(
      okPayload({ status: SESSION_STATE_CHANGED, info: "", sessionTrack: true }),
      [0x10, 0x01],
    );
    expect(() => decodeOk(payload, TRACK)).toThrow(RwsplitError);
  });
});

describe("ERR_Packet", () => {
  test("round trip", () => {
    const err = {
      errno: 1045,
      sqlState: "28000",
      message: "Access denied for user 'x'@'h' (using password: YES)",
    };
    const framed = encodeErr(2, err);
    const payload = payloadOf(framed, 2);
    expect(payload.equals(errPayload(1045, "28000", err.message))).toBe(true);
    expect(isErrPacket(payload)).toBe(true);
    expect(decodeErr(payload)).toEqual(err);
  });

  test("real: MariaDB's ERR for a missing table", () => {
    const payload = payloadOf(
      hex(
        "2b000001 ff 7a04 23 3432533032 5461626c6520276e6f5f737563685f64622e742720646f65736e2774206578697374",
      ),
      1,
    );
    expect(decodeErr(payload)).toEqual({
      errno: 1146,
      sqlState: "42S02",
      message: "Table 'no_such_db.t' doesn't exist",
    });
  });

  test("without the '#' SQLSTATE marker (errors sent before the handshake settles) the state is HY000", () => {
    expect(decodeErr(bytes([0xff], [0x10, 0x04], "Too many connections"))).toEqual({
      errno: 1040,
      sqlState: "HY000",
      message: "Too many connections",
    });
  });

  test("isErrPacket needs 0xFF and an error code", () => {
    expect(isErrPacket(hex("ff10"))).toBe(false);
    expect(isErrPacket(hex("00ffff"))).toBe(false);
  });
});

describe("EOF_Packet", () => {
  test("encodes 0xFE, warnings, status; status reads back", () => {
    const framed = encodeEof(5, AUTOCOMMIT | ServerStatus.MORE_RESULTS_EXISTS, 3);
    expect(framed.toString("hex")).toBe("05000005fe03000a00");
    const payload = payloadOf(framed, 5);
    expect(isEofPacket(payload)).toBe(true);
    expect(eofStatus(payload)).toBe(0x000a);
  });

  test("told apart from a row by length: a 0xFE row carries an 8-byte length, so 9+ bytes", () => {
    expect(isEofPacket(bytes([0xfe], Buffer.alloc(8)))).toBe(false);
    expect(isEofPacket(hex("fe00000200"))).toBe(true);
    expect(isEofPacket(hex("fe"))).toBe(true);
    expect(eofStatus(hex("fe"))).toBe(0);
    expect(isEofPacket(hex("0000000200"))).toBe(false);
  });
});

describe("Column Definition and column count", () => {
  const col: ColumnDefinition = {
    catalog: "def",
    schema: "shop",
    table: "o",
    orgTable: "orders",
    name: "total",
    orgName: "total_amount",
    characterSet: 63,
    columnLength: 12,
    type: 0xf6,
    flags: 0x1001,
    decimals: 2,
  };

  test("round trip", () => {
    expect(decodeColumnDefinition(payloadOf(encodeColumnDefinition(2, col), 2))).toEqual(col);
  });

  test("encodes the documented layout (the same bytes the test builder writes)", () => {
    const c = { ...col, schema: "db", table: "t", orgTable: "t", name: "a", orgName: "a" };
    const built = columnDefPayload("a", 0xf6, 63);
    // The fixed-length tail: 0x0C, charset(2), length(4), type(1), flags(2), decimals(1), filler(2).
    built.writeUInt32LE(12, built.length - 10);
    built.writeUInt16LE(0x1001, built.length - 5);
    built[built.length - 3] = 2;
    expect(payloadOf(encodeColumnDefinition(2, c), 2).toString("hex")).toBe(built.toString("hex"));
  });

  test("real: MariaDB's definitions for `1 AS a` and `'x' AS c`", () => {
    expect(decodeColumnDefinition(hex("036465660000000161000c3f0002000000038100000000"))).toEqual({
      catalog: "def",
      schema: "",
      table: "",
      orgTable: "",
      name: "a",
      orgName: "",
      characterSet: 63,
      columnLength: 2,
      type: 0x03,
      flags: 0x0081,
      decimals: 0,
    });
    expect(decodeColumnDefinition(hex("036465660000000163000c2d0004000000fd0000270000"))).toMatchObject({
      name: "c",
      characterSet: 45,
      type: 0xfd,
      decimals: 0x27,
    });
  });

  test.each([1, 250, 251, 4096, 0x10000])("column count %d round trip", (n) => {
    expect(decodeColumnCount(payloadOf(encodeColumnCount(1, n), 1))).toBe(n);
  });

  test("a NULL column count is a PROTOCOL_VIOLATION", () => {
    expect(() => decodeColumnCount(hex("fb"))).toThrow(RwsplitError);
  });
});

describe("COM_STMT_PREPARE_OK", () => {
  test("round trip", () => {
    const ok = { statementId: 0xfffffff0, numColumns: 3, numParams: 65535, warnings: 1 };
    const framed = encodeStmtPrepareOk(1, ok);
    expect(framed.length).toBe(4 + 12);
    expect(decodeStmtPrepareOk(payloadOf(framed, 1))).toEqual(ok);
  });

  test("real: MariaDB's answer to `SELECT ? AS p, 1 AS q`", () => {
    const payload = payloadOf(hex("0c000001 00 02000000 0200 0100 00 0000"), 1);
    expect(decodeStmtPrepareOk(payload)).toEqual({
      statementId: 2,
      numColumns: 2,
      numParams: 1,
      warnings: 0,
    });
  });

  test("the statement id can be rewritten in place at STMT_ID_OFFSET", () => {
    const payload = payloadOf(
      encodeStmtPrepareOk(1, { statementId: 7, numColumns: 0, numParams: 0, warnings: 0 }),
      1,
    );
    payload.writeUInt32LE(99, STMT_ID_OFFSET);
    expect(decodeStmtPrepareOk(payload).statementId).toBe(99);
  });

  test("a 9-byte PREPARE_OK (no reserved byte and warnings) decodes with 0 warnings", () => {
    expect(decodeStmtPrepareOk(hex("00 01000000 0100 0000"))).toEqual({
      statementId: 1,
      numColumns: 1,
      numParams: 0,
      warnings: 0,
    });
  });
});
