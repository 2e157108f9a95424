import { describe, expect, test } from "vitest";
import { assessDivergence } from "../../src/ha/divergence.js";

describe("assessDivergence: is every GTID of the node's binlog in the primary's history?", () => {
  test.each<[string, string, string, string, string[]]>([
    // [title, node gtid_binlog_pos, primary gtid_binlog_state, primary gtid_current_pos, extra GTIDs]
    ["identical histories", "0-1-42", "0-1-42", "0-1-42", []],
    ["empty node binlog", "", "0-1-42", "0-1-42", []],
    ["both empty", "", "", "", []],
    [
      "clean failover: the new primary (server 2) took 0-1-42 and wrote on",
      "0-1-42",
      "0-1-42,0-2-50",
      "0-2-50",
      [],
    ],
    ["the node is behind on server 1's own stream", "0-1-40", "0-1-42,0-2-50", "0-2-50", []],
    [
      "lost commit: the node binlogged 0-1-43, the primary was promoted at 0-1-42 and wrote 0-2-43..50",
      "0-1-43",
      "0-1-42,0-2-50",
      "0-2-50",
      ["0-1-43"],
    ],
    ["the node is ahead of a primary that has not written since", "0-1-43", "0-1-42", "0-1-42", ["0-1-43"]],
    ["the same sequence number from another server", "0-1-43", "0-1-42,0-2-43", "0-2-43", ["0-1-43"]],
    [
      "a write on the isolated node after it had replicated from the new primary",
      "0-1-51",
      "0-1-42,0-2-55",
      "0-2-55",
      ["0-1-51"],
    ],
    ["a domain the primary never saw", "0-1-42,1-1-3", "0-1-42,0-2-50", "0-2-50", ["1-1-3"]],
    ["several domains, all contained", "0-1-42,1-1-3", "0-1-42,1-1-3,0-2-50", "0-2-50,1-1-3", []],
    [
      "a primary whose binlog starts after 0-1-42 (restored from a backup) cannot serve it: refused, as the server would",
      "0-1-42",
      "0-2-45",
      "0-2-45",
      ["0-1-42"],
    ],
    [
      "restored primary that has not written: gtid_current_pos holds the same GTID",
      "0-1-42",
      "",
      "0-1-42",
      [],
    ],
  ])("%s", (_title, nodeBinlogPos, primaryBinlogState, primaryCurrentPos, extra) => {
    const d = assessDivergence({ nodeBinlogPos, primaryBinlogState, primaryCurrentPos });
    expect(d.extra).toEqual(extra);
    expect(d.diverged).toBe(extra.length > 0);
  });

  test("the detail names the GTID and what the primary has from that server", () => {
    const d = assessDivergence({
      nodeBinlogPos: "0-1-43",
      primaryBinlogState: "0-1-42,0-2-50",
      primaryCurrentPos: "0-2-50",
    });
    expect(d.detail).toBe(
      "0-1-43 is not in the primary's history (its last from server 1 is 0-1-42, and it went on to 0-*-50)",
    );
  });

  test("unparsable input is treated as diverged", () => {
    const d = assessDivergence({
      nodeBinlogPos: "nope",
      primaryBinlogState: "0-1-1",
      primaryCurrentPos: "0-1-1",
    });
    expect(d.diverged).toBe(true);
    expect(d.detail).toMatch(/unparsable/);
  });
});
