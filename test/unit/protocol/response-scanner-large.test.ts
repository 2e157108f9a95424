import { describe, expect, test } from "vitest";
import { ServerStatus } from "../../../src/protocol/constants/server-status.js";
import { ResponseKind } from "../../../src/protocol/response-scanner.js";
import {
  binaryRow,
  boundaryChunkings,
  checkScan,
  lenenc,
  MAX_PACKET,
  textRow,
  Wire,
} from "../../helpers/wire.js";

/**
 * Rows over 16 MiB: the row's payload is cut into physical packets of 0xFFFFFF bytes plus a last,
 * shorter one. The first byte of a continuation packet is row data, so the scanner must not read
 * it as a terminator: a continuation starting 0xFE with under 9 bytes looks exactly like an EOF
 * (or, under CLIENT_DEPRECATE_EOF, like a short OK-as-EOF), one starting 0xFF like an ERR.
 * Streams are fed whole, in 64 KiB pieces, byte by byte near every packet boundary and split in
 * two at each offset near one.
 */

const AUTOCOMMIT = ServerStatus.AUTOCOMMIT;
const MORE = ServerStatus.MORE_RESULTS_EXISTS;
const modes = [
  ["classic EOF", false],
  ["CLIENT_DEPRECATE_EOF", true],
] as const;

/**
 * A two-column text row: a big value (string<lenenc> with a 0xFD or, from 16 MiB on, a 0xFE
 * length) then a short one, built in place (no copies of the big value). Each continuation
 * packet's first bytes are overwritten with `continuationStarts` (they fall in row data).
 */
function bigTextRow(bigLength: number, shortLength: number, continuationStarts: Buffer): Buffer {
  const prefix = lenenc(bigLength);
  const row = Buffer.alloc(prefix.length + bigLength + 1 + shortLength, 0x61);
  prefix.copy(row, 0);
  row[prefix.length + bigLength] = shortLength;
  for (let at = MAX_PACKET; at < row.length; at += MAX_PACKET) {
    continuationStarts.copy(row, at, 0, Math.min(continuationStarts.length, row.length - at));
  }
  return row;
}

const EOF_LOOKALIKE = Buffer.from([0xfe, 0, 0, 2, 0]);
const OK_LOOKALIKE = Buffer.from([0xfe, 0, 0, 2, 0, 0, 0]);

/** Builds a big row once and shares it between the two EOF modes (filling 16 MiB is not free). */
function once(build: () => Buffer): () => Buffer {
  let row: Buffer | null = null;
  return () => {
    row ??= build();
    return row;
  };
}

// 4 + (0xFFFFFF - 10) + 1 + 10 = 0xFFFFFF + 5 bytes: the continuation carries the last 5.
const eofLike = once(() => bigTextRow(MAX_PACKET - 10, 10, EOF_LOOKALIKE));
const startsFe = once(() => bigTextRow(2 ** 24, 10, OK_LOOKALIKE));
const errLike = once(() => bigTextRow(MAX_PACKET - 12, 10, Buffer.from([0xff, 0x7a, 0x04])));
const exactlyMax = once(() => bigTextRow(MAX_PACKET - 15, 10, Buffer.alloc(0)));
/** Binary row: 0x00 header, 1-byte NULL bitmap (2nd column NULL), 0xFD + int<3> length, value. */
const binary = once(() => {
  const row = Buffer.alloc(6 + MAX_PACKET, 0x62);
  row.set([0x00, 0b1000, 0xfd, 0xff, 0xff, 0xff]);
  EOF_LOOKALIKE.copy(row, MAX_PACKET);
  return row;
});

describe("a row spanning continuation packets", () => {
  for (const [mode, deprecateEof] of modes) {
    const scan = (w: Wire, radius = 5) =>
      checkScan(
        w,
        ResponseKind.RESULTSET,
        deprecateEof,
        { status: AUTOCOMMIT },
        boundaryChunkings(w, radius),
      );

    test(`a 5-byte continuation that looks like an EOF: fe 0000 0200 (${mode})`, () => {
      const row = eofLike();
      expect(row.length).toBe(MAX_PACKET + 5);
      scan(
        new Wire().resultSet({
          columns: 2,
          rows: [textRow(["s", null]), row],
          deprecateEof,
          status: AUTOCOMMIT,
        }),
      );
    });

    test(`a row starting 0xFE (a value over 16 MiB), continuation looking like an OK-as-EOF (${mode})`, () => {
      const row = startsFe();
      expect(row[0]).toBe(0xfe);
      const w = new Wire().resultSet({ columns: 2, rows: [row], deprecateEof, status: AUTOCOMMIT | MORE });
      scan(w.ok({ status: AUTOCOMMIT }));
    });

    test(`a continuation that looks like an ERR: ff 7a04 (${mode})`, () => {
      const row = errLike();
      expect(row.length).toBe(MAX_PACKET + 3);
      scan(
        new Wire().resultSet({
          columns: 2,
          rows: [row, textRow([null, "x"])],
          deprecateEof,
          status: AUTOCOMMIT,
        }),
      );
    });

    test(`a row of exactly 0xFFFFFF bytes is closed by an empty continuation packet (${mode})`, () => {
      const row = exactlyMax();
      expect(row.length).toBe(MAX_PACKET);
      const w = new Wire().resultSet({
        columns: 2,
        rows: [row, textRow(["a", "b"])],
        deprecateEof,
        status: AUTOCOMMIT,
      });
      // count, 2 definitions, [EOF], the row's 2 packets, the next row, the terminator.
      expect(w.starts.length).toBe(1 + 2 + (deprecateEof ? 0 : 1) + 2 + 1 + 1);
      scan(w);
    });

    test(`a binary row over 16 MiB (0x00 header) whose continuation looks like an EOF (${mode})`, () => {
      const row = binary();
      // Header and NULL bitmap as binaryRow() writes them; 6 bytes spill into the continuation.
      expect(row.subarray(0, 2).equals(binaryRow([Buffer.alloc(1), null]).subarray(0, 2))).toBe(true);
      expect(row.length - MAX_PACKET).toBe(6);
      scan(new Wire().resultSet({ columns: 2, rows: [row], deprecateEof, status: AUTOCOMMIT }));
    });
  }

  for (const [mode, deprecateEof] of modes) {
    test(`COM_STMT_FETCH: a binary row over 16 MiB whose continuation looks like an EOF (${mode})`, () => {
      // A cursor's rows come without column count or definitions: the scan starts at the rows.
      const status = ServerStatus.CURSOR_EXISTS | AUTOCOMMIT;
      const w = new Wire()
        .packet(binary())
        .packet(binaryRow(["x", null]))
        .terminator(deprecateEof, status);
      checkScan(w, ResponseKind.FETCH, deprecateEof, { status }, boundaryChunkings(w));
    });
  }

  test("a 32 MiB row: two full packets then a short one, every continuation starting 0xFE (classic)", () => {
    const row = bigTextRow(2 * MAX_PACKET - 15, 10, EOF_LOOKALIKE);
    expect(row.length).toBe(2 * MAX_PACKET + 5);
    const w = new Wire().resultSet({ columns: 2, rows: [row], deprecateEof: false, status: AUTOCOMMIT });
    checkScan(w, ResponseKind.RESULTSET, false, { status: AUTOCOMMIT }, boundaryChunkings(w, 2));
  });
});
