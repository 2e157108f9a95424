import { describe, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { Captured, ResponseKind } from "../../../src/protocol/response-scanner.js";
import { binaryRow, checkScan, columnDefPayload, eofPayload, hex, lenenc, Wire } from "../../helpers/wire.js";

/**
 * Server-side cursors: COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH
 * ("COM_STMT_EXECUTE Response", "COM_STMT_FETCH Response" in the MySQL internals manual; MariaDB
 * sends the terminators as OK packets with a 0xFE header under CLIENT_DEPRECATE_EOF). Every
 * stream is fed whole, split in two at every offset and byte by byte.
 */

const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const CURSOR = ServerStatus.CURSOR_EXISTS;
const LAST = ServerStatus.LAST_ROW_SENT;
const IN_TRANS = ServerStatus.IN_TRANS;
/** COM_STMT_EXECUTE responses are scanned as result sets, cursor or not. */
const EXECUTE_CURSOR = ResponseKind.RESULTSET;
const { FETCH } = ResponseKind;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

function idRows(from: number, n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => binaryRow([String(from + i)]));
}

/** EXECUTE that opened a cursor: column count, definitions, one terminator with CURSOR_EXISTS. */
function cursorOpened(columns: number, deprecateEof: boolean, status: number): Wire {
  const w = new Wire().packet(lenenc(columns), Captured.COLUMN_COUNT);
  for (let c = 0; c < columns; c++) w.packet(columnDefPayload(`c${c}`));
  return w.terminator(deprecateEof, status);
}

/** FETCH response: binary rows, then a terminator. */
function fetched(rows: readonly Buffer[], deprecateEof: boolean, status: number): Wire {
  const w = new Wire();
  for (const r of rows) w.packet(r);
  return w.terminator(deprecateEof, status);
}

describe("COM_STMT_EXECUTE that opens a cursor ends after the column definitions", () => {
  for (const [mode, deprecateEof] of modes) {
    test.each([
      ["1 column", 1, CURSOR | AUTOCOMMIT],
      ["3 columns", 3, CURSOR | AUTOCOMMIT],
      ["in a transaction", 2, CURSOR | IN_TRANS],
    ])(`%s (${mode})`, (_name, columns, status) => {
      checkScan(cursorOpened(columns, deprecateEof, status), EXECUTE_CURSOR, deprecateEof, { status });
    });

    test(`the next response's bytes are not part of it (${mode})`, () => {
      const w = cursorOpened(1, deprecateEof, CURSOR | AUTOCOMMIT);
      const end = w.length;
      w.raw(hex("0100000101"));
      checkScan(w, EXECUTE_CURSOR, deprecateEof, { status: CURSOR | AUTOCOMMIT, end });
    });
  }

  test("classic: without CURSOR_EXISTS the rows follow as usual (the server declined the cursor)", () => {
    const w = new Wire().resultSet({
      columns: 1,
      rows: idRows(1, 3),
      deprecateEof: false,
      status: AUTOCOMMIT,
    });
    checkScan(w, EXECUTE_CURSOR, false, { status: AUTOCOMMIT });
  });
});

describe("COM_STMT_FETCH: rows, then EOF / OK-as-EOF (or ERR)", () => {
  for (const [mode, deprecateEof] of modes) {
    test.each([
      ["a full batch, cursor still open", idRows(1, 4), CURSOR | AUTOCOMMIT],
      ["the last rows, LAST_ROW_SENT", idRows(5, 2), CURSOR | LAST | AUTOCOMMIT],
      ["no rows left, LAST_ROW_SENT", [], LAST | AUTOCOMMIT],
      ["one row with NULL", [binaryRow([null, "x"])], CURSOR | AUTOCOMMIT],
    ])(`%s (${mode})`, (_name, rows, status) => {
      checkScan(fetched(rows, deprecateEof, status), FETCH, deprecateEof, { status });
    });

    test(`ERR (no open cursor) (${mode})`, () => {
      const w = new Wire().err(1421, "HY000", "The statement (1) has no open cursor.");
      checkScan(w, FETCH, deprecateEof, { status: 0, errno: 1421 });
    });

    test(`ERR after some rows (${mode})`, () => {
      const w = new Wire();
      for (const r of idRows(1, 2)) w.packet(r);
      w.err(1317, "70100", "Query execution was interrupted");
      checkScan(w, FETCH, deprecateEof, { status: 0, errno: 1317 });
    });

    test(`the next response's bytes are not part of it (${mode})`, () => {
      const w = fetched(idRows(1, 2), deprecateEof, CURSOR | AUTOCOMMIT);
      const end = w.length;
      w.raw(hex("0700000200000002000000"));
      checkScan(w, FETCH, deprecateEof, { status: CURSOR | AUTOCOMMIT, end });
    });
  }

  test("classic: a row longer than 250 bytes, then the 5-byte EOF", () => {
    // Binary rows start with 0x00; only a packet shorter than 9 bytes led by 0xFE is an EOF.
    const w = new Wire();
    w.packet(binaryRow(["a".repeat(300)]));
    w.packet(eofPayload(LAST | AUTOCOMMIT), Captured.EOF);
    checkScan(w, FETCH, false, { status: LAST | AUTOCOMMIT });
  });
});
