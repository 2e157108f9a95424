import { describe, expect, test } from "vitest";
import {
  compareGtidPos,
  formatGtidPos,
  type GtidPosition,
  gtidCovers,
  parseGtid,
  parseGtidPos,
} from "../../src/monitor/gtid.js";

function pos(text: string): GtidPosition {
  const p = parseGtidPos(text);
  if (!p) throw new Error(`bad test position ${text}`);
  return p;
}

describe("parseGtidPos", () => {
  test.each([
    ["", ""],
    ["   ", ""],
    ["0-1-100", "0-1-100"],
    ["1-2-5,0-1-100", "0-1-100,1-2-5"],
    ["0-1-5,\n1-2-7", "0-1-5,1-2-7"],
    [" 0-1-5 , 1-2-7 ", "0-1-5,1-2-7"],
    // gtid_binlog_state style: two servers in one domain; the position is the highest seq.
    ["0-1-100,0-2-101", "0-2-101"],
    ["0-2-101,0-1-100", "0-2-101"],
    ["4294967295-4294967295-18446744073709551615", "4294967295-4294967295-18446744073709551615"],
  ])("%j parses to %j", (text, canonical) => {
    expect(formatGtidPos(pos(text))).toBe(canonical);
  });

  test("NULL and undefined are the empty position", () => {
    expect(parseGtidPos(null)?.size).toBe(0);
    expect(parseGtidPos(undefined)?.size).toBe(0);
  });

  test.each([
    "0-1",
    "0-1-2-3",
    "a-1-2",
    "0-1-100,",
    ",0-1-100",
    "0--1-100",
    "-0-1-100",
    "0-1-1e3",
    "4294967296-1-1",
    "0-4294967296-1",
    "0-1-18446744073709551616",
  ])("%j is malformed", (text) => {
    expect(parseGtidPos(text)).toBeNull();
  });

  test("sequence numbers beyond 2^53 stay exact", () => {
    expect(parseGtid("0-1-9007199254740993")?.seq).toBe(9007199254740993n);
  });
});

describe("gtidCovers(have, want)", () => {
  test.each([
    ["0-1-100", "0-1-100", true],
    ["0-1-100", "0-1-99", true],
    ["0-1-99", "0-1-100", false],
    // Only the sequence matters within a domain: a failover changes the server id.
    ["0-2-100", "0-1-99", true],
    ["0-1-100,1-1-5", "0-1-100", true],
    // A domain the replica has never seen.
    ["0-1-100", "0-1-100,1-1-5", false],
    ["0-1-100,1-1-4", "0-1-100,1-1-5", false],
    ["", "", true],
    ["0-1-1", "", true],
    ["", "0-1-1", false],
  ])("covers(%j, %j) = %s", (have, want, expected) => {
    expect(gtidCovers(pos(have), pos(want))).toBe(expected);
  });
});

describe("compareGtidPos(a, b)", () => {
  test.each([
    ["0-1-100", "0-1-100", "equal"],
    ["0-1-100", "0-1-99", "ahead"],
    ["0-1-99", "0-1-100", "behind"],
    ["", "", "equal"],
    ["", "0-1-1", "behind"],
    ["0-1-1", "", "ahead"],
    ["0-1-100,1-1-5", "1-1-5,0-1-100", "equal"],
    // Missing domain on one side: nothing of it applied there.
    ["0-1-100,1-1-5", "0-1-100", "ahead"],
    ["0-1-100", "0-1-100,1-1-5", "behind"],
    ["0-1-101,1-1-5", "0-1-100,1-1-6", "diverged"],
    ["0-1-100", "1-1-5", "diverged"],
    // The same sequence number written by two servers: two histories.
    ["0-1-100", "0-2-100", "diverged"],
    ["0-2-101", "0-1-100", "ahead"],
  ])("compare(%j, %j) = %s", (a, b, expected) => {
    expect(compareGtidPos(pos(a), pos(b))).toBe(expected);
  });
});
