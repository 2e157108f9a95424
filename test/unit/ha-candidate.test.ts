import { describe, expect, test } from "vitest";
import { chooseCandidate, receivedPosition } from "../../src/ha/candidate.js";
import type { NodePosition } from "../../src/ha/node-position.js";
import { formatGtidPos } from "../../src/monitor/gtid.js";

/** A healthy replica of 127.0.0.1:13306 that received `io` and applied `applied` (default: all of it). */
function replica(name: string, io: string, extra: Partial<NodePosition> = {}): NodePosition {
  return {
    name,
    reachable: true,
    error: null,
    readOnly: true,
    ioRunning: "Connecting",
    sqlRunning: true,
    gtidIoPos: io,
    gtidSlavePos: io,
    gtidCurrentPos: io,
    gtidBinlogPos: io,
    masterHost: "127.0.0.1",
    masterPort: 13306,
    lastIoErrno: 2003,
    lastIoError: "error reconnecting to master",
    lastSqlErrno: 0,
    lastSqlError: "",
    ...extra,
  };
}

const down = (name: string): NodePosition => ({
  ...replica(name, ""),
  reachable: false,
  error: "connect ECONNREFUSED 127.0.0.1:13307 (the node is down)",
  readOnly: null,
  ioRunning: null,
  sqlRunning: null,
  gtidIoPos: null,
  gtidSlavePos: null,
  masterHost: null,
  masterPort: null,
});

const PRIORITY: Record<string, number> = { r1: 0, r2: 0, r3: 0, hi: 10, lo: -1 };
const prio = (name: string) => PRIORITY[name] ?? 0;

describe("chooseCandidate: most received, then priority, then configuration order", () => {
  test.each<[string, NodePosition[], string | null, RegExp]>([
    [
      "the replica that received the most wins",
      [replica("r1", "0-1-40"), replica("r2", "0-1-42"), replica("r3", "0-1-41")],
      "r2",
      /r2 received the most \(0-1-42\); behind: r1 0-1-40, r3 0-1-41/,
    ],
    [
      "received beats applied: r1 received 42 but applied 38, r2 applied all 41 it received",
      [replica("r1", "0-1-42", { gtidSlavePos: "0-1-38" }), replica("r2", "0-1-41")],
      "r1",
      /r1 received the most \(0-1-42\)/,
    ],
    [
      "a SQL thread stopped without an error is still a candidate (waitApplied starts it)",
      [replica("r1", "0-1-42", { sqlRunning: false, gtidSlavePos: "0-1-30" }), replica("r2", "0-1-41")],
      "r1",
      /r1 received the most/,
    ],
    [
      "a SQL thread stopped with an error is skipped, even if it received the most",
      [
        replica("r1", "0-1-42", { sqlRunning: false, lastSqlErrno: 1062, lastSqlError: "Duplicate entry" }),
        replica("r2", "0-1-41"),
      ],
      "r2",
      /r2 received the most \(0-1-41\); skipped r1: SQL thread stopped with error 1062 \(Duplicate entry\)/,
    ],
    [
      "an unreachable node is skipped",
      [down("r1"), replica("r2", "0-1-5")],
      "r2",
      /skipped r1: unreachable \(connect ECONNREFUSED/,
    ],
    [
      "a node with no master configured (the old primary, a promoted node) is skipped",
      [
        replica("r1", "0-1-9", { masterHost: null, ioRunning: null, sqlRunning: null }),
        replica("r2", "0-1-5"),
      ],
      "r2",
      /skipped r1: not a replica/,
    ],
    [
      "equal positions: the higher priority wins",
      [replica("r1", "0-1-42"), replica("hi", "0-1-42"), replica("r3", "0-1-41")],
      "hi",
      /r1, hi received the same \(0-1-42\); hi has the highest priority \(10\); behind: r3 0-1-41/,
    ],
    [
      "priority only breaks ties: a higher priority that received less loses",
      [replica("r1", "0-1-42"), replica("hi", "0-1-41")],
      "r1",
      /r1 received the most/,
    ],
    [
      "equal positions and priorities: configuration order",
      [replica("r2", "0-1-42"), replica("r1", "0-1-42")],
      "r2",
      /at equal priority; r2 comes first in the configuration/,
    ],
    [
      "negative priority loses a tie",
      [replica("lo", "0-1-7"), replica("r2", "0-1-7")],
      "r2",
      /r2 has the highest priority \(0\)/,
    ],
    [
      "Gtid_IO_Pos empty (IO thread never started): falls back to gtid_slave_pos",
      [replica("r1", "", { gtidSlavePos: "0-1-50" }), replica("r2", "0-1-49")],
      "r1",
      /r1 received the most \(0-1-50\)/,
    ],
    [
      "several domains: one covering the other in every domain wins",
      [replica("r1", "0-1-10,1-1-5"), replica("r2", "0-1-10,1-1-7")],
      "r2",
      /r2 received the most \(0-1-10,1-1-7\)/,
    ],
    [
      "a domain missing on one side counts as nothing received in it",
      [replica("r1", "0-1-10"), replica("r2", "0-1-10,1-1-1")],
      "r2",
      /r2 received the most/,
    ],
    [
      "ahead in one domain, behind in another: diverged, no choice",
      [replica("r1", "0-1-11,1-1-5"), replica("r2", "0-1-10,1-1-7")],
      null,
      /diverged histories: r1 0-1-11,1-1-5, r2 0-1-10,1-1-7; refusing to choose/,
    ],
    [
      "the same sequence number from different servers: diverged, no choice",
      [replica("r1", "0-1-10"), replica("r2", "0-3-10")],
      null,
      /diverged histories/,
    ],
    [
      "an unparsable position is skipped",
      [replica("r1", "garbage"), replica("r2", "0-1-3")],
      "r2",
      /skipped r1: unparsable GTID position/,
    ],
    [
      "nothing eligible: the reason lists every node",
      [down("r1"), down("r2")],
      null,
      /no replica can be promoted: r1: .*; r2: /,
    ],
    ["no replicas at all", [], null, /none configured/],
    [
      "nothing received yet anywhere: equal, configuration order",
      [replica("r1", ""), replica("r2", "")],
      "r1",
      /r1, r2 received the same \(nothing\)/,
    ],
  ])("%s", (_title, positions, name, reason) => {
    const choice = chooseCandidate(positions, prio);
    expect(choice.name).toBe(name);
    expect(choice.reason).toMatch(reason);
  });

  test("a priority function returning NaN counts as 0", () => {
    expect(
      chooseCandidate([replica("r1", "0-1-1"), replica("r2", "0-1-1")], (n) => (n === "r1" ? Number.NaN : 1))
        .name,
    ).toBe("r2");
  });
});

describe("receivedPosition", () => {
  test.each<[string | null, string | null, string | null]>([
    ["0-1-42", "0-1-40", "0-1-42"],
    ["", "0-1-40", "0-1-40"],
    [null, "0-1-40", "0-1-40"],
    ["0-1-42", "0-1-40,1-2-3", "0-1-42,1-2-3"],
    ["0-1-42", "", "0-1-42"],
    ["x", "0-1-1", null],
  ])("Gtid_IO_Pos %s, gtid_slave_pos %s → %s", (io, applied, want) => {
    const got = receivedPosition(replica("r", "", { gtidIoPos: io, gtidSlavePos: applied }));
    expect(got === null ? null : formatGtidPos(got)).toBe(want);
  });
});
