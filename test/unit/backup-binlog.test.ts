import { describe, expect, test } from "vitest";
import {
  BinlogSummary,
  fileNumber,
  GTID_EVENT,
  GTID_LIST_EVENT,
  HEADER_BYTES,
  parseHeader,
} from "../../src/backup/binlog-events.js";
import { type ArchivedBinlog, planReplay, prunableBinlogs } from "../../src/backup/binlog-plan.js";

/** One event as the server writes it: v4 header, body, a 4-byte CRC32 (not checked here). */
function event(type: number, serverId: number, timestamp: number, body: Buffer): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32LE(timestamp, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(serverId, 5);
  h.writeUInt32LE(HEADER_BYTES + body.length + 4, 9);
  return Buffer.concat([h, body, Buffer.alloc(4)]);
}
const gtidBody = (domain: number, seq: bigint) => {
  const b = Buffer.alloc(13 + 6);
  b.writeBigUInt64LE(seq, 0);
  b.writeUInt32LE(domain, 8);
  return b;
};
const listBody = (entries: [number, number, bigint][]) => {
  const b = Buffer.alloc(4 + entries.length * 16);
  b.writeUInt32LE(entries.length, 0);
  entries.forEach(([d, s, q], i) => {
    b.writeUInt32LE(d, 4 + i * 16);
    b.writeUInt32LE(s, 8 + i * 16);
    b.writeBigUInt64LE(q, 12 + i * 16);
  });
  return b;
};

describe("binlog events", () => {
  test("a file's Gtid_list, last GTID per domain and times", () => {
    const events = [
      event(0x0f, 1, 100, Buffer.alloc(80)), // format description: skipped by length
      event(GTID_LIST_EVENT, 1, 100, listBody([[0, 1, 10n]])),
      event(GTID_EVENT, 1, 101, gtidBody(0, 11n)),
      event(0x1e, 1, 101, Buffer.alloc(40)), // a rows event
      event(GTID_EVENT, 3, 105, gtidBody(0, 12n)),
      event(GTID_EVENT, 2, 106, gtidBody(1, 7n)),
    ];
    const s = new BinlogSummary();
    for (const e of events) {
      const h = parseHeader(e)!;
      expect(h.length).toBe(e.length);
      s.add(h, e.subarray(HEADER_BYTES, h.length));
    }
    expect(s.startGtidList).toBe("0-1-10");
    expect(s.endPosition()).toBe("0-3-12,1-2-7");
    expect([s.firstTime, s.lastTime, s.transactions]).toEqual([101, 106, 3]);
  });

  test("the first file of a server has an empty Gtid_list", () => {
    const s = new BinlogSummary();
    const e = event(GTID_LIST_EVENT, 1, 1, listBody([]));
    s.add(parseHeader(e)!, e.subarray(HEADER_BYTES));
    expect(s.startGtidList).toBe("");
    expect(s.endPosition()).toBe("");
  });

  test("a header cut short is not an event", () => {
    expect(parseHeader(Buffer.alloc(10))).toBeNull();
  });

  test("file numbers", () => {
    expect(fileNumber("mariadb-bin.000012")).toBe(12);
    expect(fileNumber("mariadb-bin.index")).toBe(-1);
  });
});

const file = (
  server: string,
  n: number,
  start: string,
  end: string,
  groupStartedAt: string,
): ArchivedBinlog => ({
  server,
  file: `mariadb-bin.${String(n).padStart(6, "0")}`,
  bytes: 100,
  sha256: "0".repeat(64),
  startGtidList: start,
  endPosition: end,
  firstTime: null,
  lastTime: null,
  complete: true,
  archivedAt: groupStartedAt,
  groupStartedAt,
});

describe("planReplay", () => {
  const a = [
    file("primary.1", 1, "", "0-1-10", "2026-01-01T00:00:00Z"),
    file("primary.1", 2, "0-1-10", "0-1-20", "2026-01-01T00:00:00Z"),
    file("primary.1", 3, "0-1-20", "0-1-31", "2026-01-01T00:00:00Z"),
  ];

  test("one primary: from the file holding the backup's GTID to the target", () => {
    expect(planReplay(a, "0-1-15", "0-1-25")).toEqual({
      ok: true,
      segments: [
        {
          server: "primary.1",
          files: ["mariadb-bin.000002", "mariadb-bin.000003"],
          start: "0-1-15",
          stop: "0-1-25",
        },
      ],
    });
  });

  test("no target: everything archived", () => {
    const p = planReplay(a, "0-1-20", null);
    expect(p).toEqual({
      ok: true,
      segments: [{ server: "primary.1", files: ["mariadb-bin.000003"], start: "0-1-20", stop: null }],
    });
  });

  test("after a failover: the old primary up to where the new one's archive starts, then the new one", () => {
    // primary.1 also archived 0-1-31, which replica2 never received (lost in the failover).
    const b = [
      file("replica2.2", 4, "0-1-30", "0-3-40", "2026-01-02T00:00:00Z"),
      file("replica2.2", 5, "0-3-40", "0-3-55", "2026-01-02T00:00:00Z"),
    ];
    expect(planReplay([...b, ...a], "0-1-15", "0-3-50")).toEqual({
      ok: true,
      segments: [
        {
          server: "primary.1",
          files: ["mariadb-bin.000002", "mariadb-bin.000003"],
          start: "0-1-15",
          stop: "0-1-30",
        },
        {
          server: "replica2.2",
          files: ["mariadb-bin.000004", "mariadb-bin.000005"],
          start: "0-1-30",
          stop: "0-3-50",
        },
      ],
    });
  });

  test("a target inside the old primary's part needs only that part", () => {
    const b = [file("replica2.2", 4, "0-1-30", "0-3-40", "2026-01-02T00:00:00Z")];
    expect(planReplay([...a, ...b], "0-1-15", "0-1-18")).toEqual({
      ok: true,
      segments: [
        {
          server: "primary.1",
          files: ["mariadb-bin.000002", "mariadb-bin.000003"],
          start: "0-1-15",
          stop: "0-1-18",
        },
      ],
    });
  });

  test("a backup newer than where the new primary's archive starts skips the old primary", () => {
    const b = [file("replica2.2", 4, "0-1-30", "0-3-40", "2026-01-02T00:00:00Z")];
    expect(planReplay([...a, ...b], "0-1-30", null)).toEqual({
      ok: true,
      segments: [{ server: "replica2.2", files: ["mariadb-bin.000004"], start: "0-1-30", stop: null }],
    });
  });

  test("a gap is refused", () => {
    const p = planReplay([file("primary.1", 7, "0-1-50", "0-1-60", "2026-01-01T00:00:00Z")], "0-1-15", null);
    expect(p.ok).toBe(false);
    expect(!p.ok && p.why).toMatch(/never archived/);
  });

  test("a target beyond the archive is refused", () => {
    const p = planReplay(a, "0-1-15", "0-1-99");
    expect(!p.ok && p.why).toMatch(/archive ends at 0-1-31, before 0-1-99/);
  });

  test("a target the backup already holds is refused", () => {
    const p = planReplay(a, "0-1-15", "0-1-12");
    expect(!p.ok && p.why).toMatch(/already at 0-1-15/);
  });
});

describe("prunableBinlogs", () => {
  const a = [
    file("primary.1", 1, "", "0-1-10", "2026-01-01T00:00:00Z"),
    file("primary.1", 2, "0-1-10", "0-1-20", "2026-01-01T00:00:00Z"),
    file("primary.1", 3, "0-1-20", "0-1-31", "2026-01-01T00:00:00Z"),
  ];
  const b = [
    file("replica2.2", 4, "0-1-30", "0-3-40", "2026-01-02T00:00:00Z"),
    file("replica2.2", 5, "0-3-40", "0-3-55", "2026-01-02T00:00:00Z"),
  ];
  const names = (fs: { server: string; file: string }[]) => fs.map((f) => `${f.server}/${f.file}`);
  test.each([
    ["0-1-5", []],
    ["0-1-10", ["primary.1/mariadb-bin.000001"]],
    ["0-1-25", ["primary.1/mariadb-bin.000001", "primary.1/mariadb-bin.000002"]],
    // The old primary's archive ends before the backup and a later group took over: all of it.
    [
      "0-3-41",
      [
        "primary.1/mariadb-bin.000001",
        "primary.1/mariadb-bin.000002",
        "primary.1/mariadb-bin.000003",
        "replica2.2/mariadb-bin.000004",
      ],
    ],
  ])("the oldest kept backup at %s", (oldest, want) => {
    expect(names(prunableBinlogs([...a, ...b], oldest))).toEqual(want);
  });
  test("the newest file of the last group is never pruned", () => {
    expect(names(prunableBinlogs(a, "0-1-99"))).toEqual([
      "primary.1/mariadb-bin.000001",
      "primary.1/mariadb-bin.000002",
    ]);
  });
});
