import { describe, expect, test } from "vitest";
import { Command } from "../../../src/protocol/constants/commands.js";
import { SessionHarness, settle, textValue } from "../../helpers/session-harness.js";

// The relay and backpressure (issue #19), deterministic: a client that cannot take a chunk at
// once pauses the backend; the pause never outlives the response; the watchdog catches a relay
// paused while its client could take more.

async function pinnedSession() {
  const h = new SessionHarness();
  expect((await h.login()).payload[0]).toBe(0x00);
  await h.query("SET @pin = 1");
  expect(h.session.pin.where).toBe("primary");
  const link = h.server.links.find((l) => l.thread === h.session.pin.conn!.threadId)!;
  return { h, link };
}

/** Waits for the client to have received a whole result set ending in EOF after rows. */
async function resultRows(h: SessionHarness): Promise<number> {
  for (let turn = 0; turn < 2000; turn++) {
    await settle(1);
    if (h.session.phase === "idle") break;
    if (h.client.congested && h.client.drainWaiters > 0) h.client.drain();
  }
  return h.client.take().filter((p, i) => i > 2 && p.payload[0] !== 0xfe).length;
}

describe("relay backpressure", () => {
  test("the last chunk of a result written to a congested client: the backend is not left paused", async () => {
    const { h, link } = await pinnedSession();
    h.server.chunkSize = 16 * 1024;
    for (let i = 0; i < 3; i++) {
      h.client.congested = true;
      h.client.command(Command.QUERY, "SELECT BIG 300");
      // The client drains whenever the proxy waits for it, so the result goes through chunk by
      // chunk, every chunk (the last one too) through the backpressure path.
      const rows = await resultRows(h);
      expect(rows).toBe(300);
      expect(link.paused).toBe(false);
      // The drain after the response ends, while the session is idle, has nothing to resume.
      h.client.congested = false;
      expect(await h.value("SELECT 1")).toBe("primary");
    }
  });

  test("a connection released to the pool after a congested relay serves the next statement", async () => {
    const h = new SessionHarness();
    await h.login();
    h.server.chunkSize = 16 * 1024;
    h.client.congested = true;
    h.client.command(Command.QUERY, "SELECT BIG 300");
    expect(await resultRows(h)).toBe(300);
    h.client.congested = false;
    for (const l of h.server.links) expect(l.paused, `link ${l.thread}`).toBe(false);
    for (let i = 0; i < 4; i++) expect(await h.value("SELECT 1")).toMatch(/^replica/);
  });

  test("a connection released while its last client has not read the end yet serves the next session at once", async () => {
    const h = new SessionHarness();
    await h.login();
    h.server.chunkSize = 16 * 1024;
    h.client.congested = true;
    h.client.command(Command.QUERY, "SELECT BIG 300");
    // A slow client: it reads each time the proxy waits, then is slow again, so the last chunk
    // too finds it congested, and after the response it is busy with the rows, reading nothing.
    for (let turn = 0; turn < 2000; turn++) {
      await settle(1);
      if (h.session.phase === "idle") break;
      if (h.client.drainWaiters > 0) {
        h.client.drain();
        h.client.congested = true;
      }
    }
    expect(h.session.phase).toBe("idle");
    expect(h.client.pendingBytes).toBeGreaterThan(0);
    // Another client of the same user gets that connection from the pool (on one of its reads).
    const { MemoryTransport } = await import("../../helpers/memory-transport.js");
    const other = new MemoryTransport();
    const b = h.open(other);
    await h.login({}, other);
    for (let i = 0; i < 2; i++) {
      other.command(Command.QUERY, "SELECT 1");
      for (let turn = 0; turn < 50 && b.phase !== "idle"; turn++) await settle(1);
      expect(b.phase, `read ${i} of the other session`).toBe("idle");
      expect(textValue(other.take())).toMatch(/^replica/);
    }
  });

  test("the stall watchdog reports a relay paused while its client can take more, and resumes it", async () => {
    const { h, link } = await pinnedSession();
    h.server.chunkSize = 16 * 1024;
    h.client.congested = true;
    h.client.command(Command.QUERY, "SELECT BIG 300");
    for (let turn = 0; turn < 20 && !link.paused; turn++) await settle(1);
    expect(link.paused).toBe(true);
    // The client took everything but its drain never came.
    h.client.loseDrain();
    const t0 = Date.now();
    expect(h.session.checkStall(t0, 5000)).toBe(false);
    expect(h.session.checkStall(t0 + 4000, 5000)).toBe(false);
    expect(h.session.checkStall(t0 + 5001, 5000)).toBe(true);
    expect(link.paused).toBe(false);
    expect(await resultRows(h)).toBe(300);
    expect(textValue(await h.query("SELECT 1"))).toBe("primary");
  });
});
