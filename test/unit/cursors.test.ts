import { describe, expect, test } from "vitest";
import { ServerStatus } from "../../src/protocol/constants/server-status.js";
import {
  type CursorEvent,
  cursorOpenAfter,
  OpenCursors,
  requestsCursor,
} from "../../src/proxy/session/cursors.js";

const CURSOR = ServerStatus.CURSOR_EXISTS;
const LAST = ServerStatus.LAST_ROW_SENT;
const AC = ServerStatus.AUTOCOMMIT;

/** COM_STMT_EXECUTE payload: 0x17, int<4> stmt_id, int<1> flags, int<4> iteration_count. */
function execute(flags: number): Buffer {
  return Buffer.from([0x17, 1, 0, 0, 0, flags, 1, 0, 0, 0]);
}

describe("requestsCursor: the flags byte of COM_STMT_EXECUTE", () => {
  test.each([
    ["CURSOR_TYPE_NO_CURSOR", execute(0x00), false],
    ["CURSOR_TYPE_READ_ONLY", execute(0x01), true],
    ["CURSOR_TYPE_FOR_UPDATE", execute(0x02), true],
    ["CURSOR_TYPE_SCROLLABLE", execute(0x04), true],
    ["MariaDB PARAMETER_COUNT_AVAILABLE alone is not a cursor", execute(0x08), false],
    ["PARAMETER_COUNT_AVAILABLE | READ_ONLY", execute(0x09), true],
    ["payload cut before the flags", Buffer.from([0x17, 1, 0, 0, 0]), false],
  ])("%s", (_name, payload, want) => {
    expect(requestsCursor(payload)).toBe(want);
  });
});

describe("cursorOpenAfter: open/close transitions", () => {
  const cases: [string, boolean, CursorEvent, boolean][] = [
    [
      "EXECUTE opens a cursor (CURSOR_EXISTS)",
      false,
      { kind: "execute", status: CURSOR | AC, errno: 0 },
      true,
    ],
    [
      "EXECUTE without result set ignores the flag (plain OK)",
      false,
      { kind: "execute", status: AC, errno: 0 },
      false,
    ],
    ["EXECUTE again closes the previous cursor", true, { kind: "execute", status: AC, errno: 0 }, false],
    [
      "EXECUTE again with a cursor: a new one is open",
      true,
      { kind: "execute", status: CURSOR | AC, errno: 0 },
      true,
    ],
    [
      "EXECUTE ERR leaves no cursor where there was none",
      false,
      { kind: "execute", status: 0, errno: 1146 },
      false,
    ],
    [
      "EXECUTE ERR keeps the old one (the server may still hold it)",
      true,
      { kind: "execute", status: 0, errno: 1146 },
      true,
    ],
    ["FETCH with rows left keeps it", true, { kind: "fetch", status: CURSOR | AC, errno: 0 }, true],
    [
      "FETCH with LAST_ROW_SENT closes it",
      true,
      { kind: "fetch", status: CURSOR | LAST | AC, errno: 0 },
      false,
    ],
    ["FETCH ERR 1421 (no open cursor) closes it", true, { kind: "fetch", status: 0, errno: 1421 }, false],
    ["FETCH ERR 1243 (unknown statement) closes it", true, { kind: "fetch", status: 0, errno: 1243 }, false],
    ["FETCH ERR 1317 (interrupted) keeps it", true, { kind: "fetch", status: 0, errno: 1317 }, true],
    ["COM_STMT_RESET closes it", true, { kind: "reset" }, false],
    ["COM_STMT_CLOSE closes it", true, { kind: "close" }, false],
    ["COM_STMT_CLOSE without a cursor", false, { kind: "close" }, false],
  ];
  test.each(cases)("%s", (_name, open, event, want) => {
    expect(cursorOpenAfter(open, event)).toBe(want);
  });
});

describe("OpenCursors", () => {
  const opened: CursorEvent = { kind: "execute", status: CURSOR | AC, errno: 0 };

  test("two statements, two cursors; each closes on its own", () => {
    const c = new OpenCursors();
    c.apply(1, 10, opened);
    c.apply(2, 20, opened);
    expect(c.ids()).toEqual([1, 2]);
    expect(c.backendId(2)).toBe(20);
    c.apply(1, 10, { kind: "fetch", status: LAST | AC, errno: 0 });
    expect(c.has(1)).toBe(false);
    expect(c.size).toBe(1);
    c.apply(2, 20, { kind: "close" });
    expect(c.size).toBe(0);
  });

  test("an EXECUTE through a shared backend statement closes the other client statement's cursor", () => {
    const c = new OpenCursors();
    c.apply(1, 10, opened);
    c.apply(2, 10, { kind: "execute", status: AC, errno: 0 });
    expect(c.ids()).toEqual([]);
    c.apply(1, 10, opened);
    c.apply(2, 10, opened);
    expect(c.ids()).toEqual([2]);
  });

  test("clear drops everything (the pinned connection was released or lost)", () => {
    const c = new OpenCursors();
    c.apply(1, 10, opened);
    c.clear();
    expect(c.has(1)).toBe(false);
    expect(c.backendId(1)).toBeUndefined();
  });
});
