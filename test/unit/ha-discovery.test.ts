import { describe, expect, test } from "vitest";
import { type BackendPosition, type Discovery, discoverTopology } from "../../src/ha/discovery.js";

// Three backends as in the sandbox: primary :1, replica1 :2, replica2 :3, all on 127.0.0.1.
const PORT: Record<string, number> = { primary: 1, replica1: 2, replica2: 3 };

function node(name: string, over: Partial<BackendPosition> = {}): BackendPosition {
  return {
    name,
    host: "127.0.0.1",
    port: PORT[name] ?? 9,
    reachable: true,
    error: null,
    readOnly: true,
    ioRunning: null,
    sqlRunning: null,
    gtidIoPos: null,
    gtidSlavePos: "",
    gtidCurrentPos: "0-1-10",
    gtidBinlogPos: "0-1-10",
    masterHost: null,
    masterPort: null,
    lastIoErrno: 0,
    lastIoError: "",
    lastSqlErrno: 0,
    lastSqlError: "",
    ...over,
  };
}

/** Writable, replicating from nobody. */
const root = (name: string) => node(name, { readOnly: false });
/** read_only, replicating from `from` (threads as given). */
const replicaOf = (name: string, from: string, io = "Yes", host = "127.0.0.1") =>
  node(name, { masterHost: host, masterPort: PORT[from] ?? 9, ioRunning: io, sqlRunning: true });
const down = (name: string) =>
  node(name, { reachable: false, error: "connect ECONNREFUSED (the node is down)", readOnly: null });
/** read_only, replicating from nobody (a fenced former primary, or RESET SLAVE ALL). */
const isolated = (name: string) => node(name, { readOnly: true });

type Row = [string, BackendPosition[], Pick<Discovery, "outcome" | "primary" | "fenced">, RegExp];

describe("discoverTopology", () => {
  test.each<Row>([
    [
      "fresh cluster: the configured primary is the root both replicas follow",
      [root("primary"), replicaOf("replica1", "primary"), replicaOf("replica2", "primary")],
      { outcome: "configured", primary: "primary", fenced: [] },
      /the servers agree: primary is writable.*replica1, replica2 replicate from it/,
    ],
    [
      "after a failover, the old primary still down: the root the other replica follows",
      [down("primary"), replicaOf("replica1", "replica2"), root("replica2")],
      { outcome: "discovered", primary: "replica2", fenced: ["primary"] },
      /replica2 is writable, replicates from nobody, and replica1 replicates from it/,
    ],
    [
      "after a failover, the old primary restarted writable with nobody under it: fenced (split brain)",
      [root("primary"), replicaOf("replica1", "replica2"), root("replica2")],
      { outcome: "discovered", primary: "replica2", fenced: ["primary"] },
      /primary also writable with no replica: fenced/,
    ],
    [
      "after a failover, the old primary fenced read_only by the previous instance",
      [isolated("primary"), replicaOf("replica1", "replica2"), root("replica2")],
      { outcome: "discovered", primary: "replica2", fenced: ["primary"] },
      /replica2 is writable/,
    ],
    [
      "after a switchover: the configured primary replicates from the new one (rule 1: follow the chain)",
      [replicaOf("primary", "replica1"), root("replica1"), replicaOf("replica2", "replica1")],
      { outcome: "discovered", primary: "replica1", fenced: [] },
      /primary replicates from replica1/,
    ],
    [
      "after a switchover, the other replica not repointed: the chain still decides",
      [replicaOf("primary", "replica1"), root("replica1"), replicaOf("replica2", "primary")],
      { outcome: "discovered", primary: "replica1", fenced: [] },
      /primary replicates from replica1/,
    ],
    [
      "after a failover and a rejoin: the old primary is a replica of the new one",
      [replicaOf("primary", "replica2"), replicaOf("replica1", "replica2"), root("replica2")],
      { outcome: "discovered", primary: "replica2", fenced: [] },
      /primary replicates from replica2/,
    ],
    [
      "two-node cluster after a failover: the old primary fenced read_only, the replica writable",
      [isolated("primary"), root("replica1")],
      { outcome: "discovered", primary: "replica1", fenced: ["primary"] },
      /replica1 is the only writable backend and primary is read_only/,
    ],
    [
      "the configured primary has replicas and another backend is writable alone: that one is fenced",
      [root("primary"), replicaOf("replica1", "primary"), root("replica2")],
      { outcome: "discovered", primary: "primary", fenced: ["replica2"] },
      /replica2 also writable with no replica: fenced/,
    ],
    [
      "configured primary down, replicas still pointed at it (not failed over yet): nothing to discover",
      [
        down("primary"),
        replicaOf("replica1", "primary", "Connecting"),
        replicaOf("replica2", "primary", "Connecting"),
      ],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /no reachable backend is writable/,
    ],
    [
      "a lone writable replica next to an unreachable primary is not evidence of a failover",
      [down("primary"), root("replica1"), down("replica2")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /no backend replicates from it and primary is unreachable: not enough/,
    ],
    [
      "a failover that left one replica on the dead old primary: ambiguous",
      [down("primary"), replicaOf("replica1", "primary", "Connecting"), root("replica2")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /replica2 is writable and replicates from nobody, but replica1 replicates from primary/,
    ],
    [
      "split brain with replicas on both sides: nothing decided, nothing fenced",
      [
        root("primary"),
        replicaOf("replica1", "primary"),
        root("replica2"),
        replicaOf("replica3", "replica2"),
      ],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /primary and replica2 are all writable.*each with replicas/,
    ],
    [
      "two writable servers and no replica to tell them apart",
      [root("primary"), root("replica1")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /no replica tells them apart/,
    ],
    [
      "nothing answers",
      [down("primary"), down("replica1"), down("replica2")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /no backend answered; keeping the configured primary primary/,
    ],
    [
      "everything read_only",
      [isolated("primary"), replicaOf("replica1", "primary"), replicaOf("replica2", "primary")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /no reachable backend is writable/,
    ],
    [
      "the configured primary's chain ends outside the config: ambiguous",
      [
        replicaOf("primary", "elsewhere", "Yes", "10.0.0.9"),
        root("replica1"),
        replicaOf("replica2", "replica1"),
      ],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /replica1 is writable and replicates from nobody, but primary replicates from 10\.0\.0\.9:9/,
    ],
    [
      "a replica of an address outside the config does not stop the configured primary being confirmed",
      [
        root("primary"),
        replicaOf("replica1", "primary"),
        replicaOf("replica2", "elsewhere", "Yes", "10.0.0.9"),
      ],
      { outcome: "configured", primary: "primary", fenced: [] },
      /but replica2 replicates from 10\.0\.0\.9:9: not a replica of it/,
    ],
    [
      "Master_Host localhost matches a backend configured as 127.0.0.1",
      [down("primary"), replicaOf("replica1", "replica2", "Yes", "localhost"), root("replica2")],
      { outcome: "discovered", primary: "replica2", fenced: ["primary"] },
      /replica1 replicates from it/,
    ],
    [
      "a replication loop is no chain to follow",
      [replicaOf("primary", "replica1"), replicaOf("replica1", "primary"), root("replica2")],
      { outcome: "ambiguous", primary: "primary", fenced: [] },
      /replica2 is writable and replicates from nobody, but primary replicates from replica1/,
    ],
  ])("%s", (_name, positions, want, reason) => {
    const d = discoverTopology(positions, "primary");
    expect({ outcome: d.outcome, primary: d.primary, fenced: d.fenced }).toEqual(want);
    expect(d.reason).toMatch(reason);
    expect(d.seen).toHaveLength(positions.length);
  });

  test("what was seen names every backend's state", () => {
    const d = discoverTopology(
      [down("primary"), replicaOf("replica1", "replica2"), root("replica2")],
      "primary",
    );
    expect(d.seen).toEqual([
      "primary: unreachable (connect ECONNREFUSED (the node is down))",
      "replica1: read_only, replicates from replica2 (127.0.0.1:3), IO Yes, SQL Yes",
      "replica2: writable, replicates from nobody",
    ]);
  });
});
