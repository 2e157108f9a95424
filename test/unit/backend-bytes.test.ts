import { describe, expect, test } from "vitest";
import { SessionHarness } from "../helpers/session-harness.js";

// rwsplit_bytes_total{backend,direction}: every connection of a pool bumps the pool's two plain
// integers per chunk (BackendConnection.bytes), Metrics reads them at scrape time.

function totals(h: SessionHarness) {
  return new Map([...h.upstreams.pools].map(([name, p]) => [name, { ...p.bytes }]));
}

describe("bytes to and from each backend", () => {
  test("a relayed read: in = the command's packet, out = exactly what the client received", async () => {
    const h = new SessionHarness();
    await h.login();
    // The first read may sync the connection's schema; measure a second one.
    expect(await h.value("SELECT 1")).toMatch(/^replica/);
    const before = totals(h);
    const sql = "SELECT 2";
    const packets = await h.query(sql);
    const after = totals(h);
    const delta = [...after].map(([name, b]) => ({
      name,
      in: b.in - before.get(name)!.in,
      out: b.out - before.get(name)!.out,
    }));
    const moved = delta.filter((d) => d.in > 0 || d.out > 0);
    expect(moved).toHaveLength(1);
    expect(moved[0]!.name).toMatch(/^replica/);
    // COM_QUERY: a 4-byte header, the command byte, the SQL.
    expect(moved[0]!.in).toBe(4 + 1 + sql.length);
    // Relayed as the backend sent it: header + payload of every packet.
    expect(moved[0]!.out).toBe(packets.reduce((n, p) => n + 4 + p.payload.length, 0));
  });

  test("the proxy's own statements count too, and the counts only grow", async () => {
    const h = new SessionHarness();
    await h.login();
    const before = totals(h);
    await h.query("SET @pin = 1");
    await h.query("BEGIN");
    await h.query("INSERT INTO t VALUES (1)");
    await h.query("COMMIT");
    const primary = h.upstreams.primary;
    expect(primary.bytes.in).toBeGreaterThan(before.get(primary.endpoint.name)!.in);
    expect(primary.bytes.out).toBeGreaterThan(before.get(primary.endpoint.name)!.out);
    for (const [name, b] of totals(h)) {
      expect(b.in).toBeGreaterThanOrEqual(before.get(name)!.in);
      expect(b.out).toBeGreaterThanOrEqual(before.get(name)!.out);
    }
  });
});
