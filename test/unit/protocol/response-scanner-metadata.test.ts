import { describe, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { Captured, ResponseKind } from "../../../src/protocol/response-scanner.js";
import {
  binaryRow,
  bytes,
  checkScan,
  columnDefPayload,
  eofPayload,
  everyChunking,
  lenenc,
  prepareOkPayload,
  textRow,
  Wire,
} from "../../helpers/wire.js";

/**
 * MariaDB's MARIADB_CLIENT_CACHE_METADATA (10.6+, "Prepare Statement Skipping Metadata" in its
 * protocol docs, checked against 10.11): every column count is followed by int<1>
 * metadata_follows; a prepared statement's result whose columns did not change since the server
 * last sent them for that statement skips them, `column_count(n) 00, [EOF], rows, terminator`
 * (the EOF after the skipped definitions is still there without CLIENT_DEPRECATE_EOF). Every
 * stream is fed whole, split in two at every offset and byte by byte.
 */

const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

/** A result set under CACHE_METADATA; `follows` false skips the definitions. */
function resultSet(
  columns: number,
  follows: boolean,
  deprecateEof: boolean,
  rows: number,
  defs?: Captured,
): Wire {
  const w = new Wire().packet(bytes(lenenc(columns), [follows ? 1 : 0]), Captured.COLUMN_COUNT);
  if (follows) for (let c = 0; c < columns; c++) w.packet(columnDefPayload(`c${c}`), defs);
  if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT), Captured.EOF);
  for (let r = 0; r < rows; r++) w.packet(binaryRow(Array.from({ length: columns }, (_, i) => `${r}:${i}`)));
  return w.terminator(deprecateEof, AUTOCOMMIT);
}

describe("column counts with metadata_follows", () => {
  for (const [mode, deprecateEof] of modes) {
    test(`definitions skipped (0): rows follow the count (${mode})`, () => {
      checkScan(
        resultSet(3, false, deprecateEof, 2),
        ResponseKind.RESULTSET,
        deprecateEof,
        { status: AUTOCOMMIT },
        undefined,
        {
          cacheMetadata: true,
        },
      );
    });

    test(`definitions sent (1) (${mode})`, () => {
      checkScan(
        resultSet(2, true, deprecateEof, 3),
        ResponseKind.RESULTSET,
        deprecateEof,
        { status: AUTOCOMMIT },
        undefined,
        {
          cacheMetadata: true,
        },
      );
    });

    test(`a text result always has them: follows 1 (${mode})`, () => {
      const w = new Wire()
        .packet(bytes(lenenc(1), [1]), Captured.COLUMN_COUNT)
        .packet(columnDefPayload("c0"));
      if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT), Captured.EOF);
      w.packet(textRow(["x"])).terminator(deprecateEof, AUTOCOMMIT);
      checkScan(w, ResponseKind.RESULTSET, deprecateEof, { status: AUTOCOMMIT }, undefined, {
        cacheMetadata: true,
      });
    });

    test(`captureColumns hands the definitions over (${mode})`, () => {
      checkScan(
        resultSet(2, true, deprecateEof, 1, Captured.COLUMN_DEF),
        ResponseKind.RESULTSET,
        deprecateEof,
        { status: AUTOCOMMIT },
        undefined,
        { cacheMetadata: true, captureColumns: true },
      );
    });

    test(`captureColumns hands a PREPARE's columns over, not its parameters (${mode})`, () => {
      const w = new Wire()
        .packet(prepareOkPayload(7, 2, 1), Captured.PREPARE_OK)
        .packet(columnDefPayload("?"));
      if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
      w.packet(columnDefPayload("a"), Captured.COLUMN_DEF).packet(columnDefPayload("b"), Captured.COLUMN_DEF);
      if (!deprecateEof) w.packet(eofPayload(AUTOCOMMIT));
      // The PREPARE's EOFs are skipped, not captured; its status stays the scanner's last.
      checkScan(w, ResponseKind.PREPARE, deprecateEof, { status: 0 }, everyChunking(w.bytes()), {
        cacheMetadata: true,
        captureColumns: true,
      });
    });
  }

  test("a 2-byte column count (300 columns), skipped definitions", () => {
    const w = new Wire().packet(bytes(lenenc(300), [0]), Captured.COLUMN_COUNT);
    w.packet(binaryRow(Array.from({ length: 300 }, () => "v")));
    w.terminator(true, AUTOCOMMIT);
    checkScan(w, ResponseKind.RESULTSET, true, { status: AUTOCOMMIT }, undefined, { cacheMetadata: true });
  });
});
