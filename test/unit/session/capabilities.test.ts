import { describe, expect, test } from "vitest";
import {
  ASSUMED_MARIADB,
  Capability,
  MariadbCapability as M,
  offeredCapabilities,
  PROXY_SERVER_CAPABILITIES,
} from "../../../src/protocol/constants/capabilities.js";
import { decodeHandshakeV10 } from "../../../src/protocol/packets/handshake-v10.js";
import { MemoryTransport } from "../../helpers/memory-transport.js";
import { SessionHarness } from "../../helpers/session-harness.js";

// What rwsplit's greeting offers and what a session then has (issue #14): in front of a MariaDB
// primary, MariaDB's own set (CLIENT_MYSQL clear, the extended capabilities rwsplit implements
// and the primary has); in front of MySQL, MySQL's. Backend connections negotiate the client's
// extended capabilities that change the wire format, and are pooled by them.

const IMPLEMENTED = M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA | M.CACHE_METADATA;

describe("offeredCapabilities", () => {
  test.each([
    [
      "MariaDB 10.11 (0x1d: progress, bulk, extended metadata, metadata cache)",
      { mariadb: true, extended: 0x1d },
      IMPLEMENTED,
    ],
    [
      "MariaDB 10.5 (no metadata cache yet)",
      { mariadb: true, extended: 0x0d },
      M.STMT_BULK_OPERATIONS | M.EXTENDED_METADATA,
    ],
    ["MariaDB 11.5 (bulk unit results too: not offered)", { mariadb: true, extended: 0x3d }, IMPLEMENTED],
    ["MySQL 8", { mariadb: false, extended: 0 }, 0],
  ])("%s", (_name, primary, extended) => {
    const o = offeredCapabilities(primary);
    expect(o.extended).toBe(extended);
    // CLIENT_MYSQL (= CLIENT_LONG_PASSWORD) is what tells clients which of the two they talk to.
    expect((o.capabilities & Capability.LONG_PASSWORD) !== 0).toBe(!primary.mariadb);
    // zstd is MySQL's (8.0.18+); zlib compression is rwsplit's own in front of either.
    expect((o.capabilities & Capability.ZSTD_COMPRESSION_ALGORITHM) !== 0).toBe(!primary.mariadb);
    expect(o.capabilities & Capability.COMPRESS).toBe(Capability.COMPRESS);
    const rest = ~(Capability.LONG_PASSWORD | Capability.ZSTD_COMPRESSION_ALGORITHM);
    expect(o.capabilities & rest).toBe(PROXY_SERVER_CAPABILITIES & rest);
  });
});

function greetingOf(h: SessionHarness, client = h.client) {
  return decodeHandshakeV10(client.received[0]!.payload);
}

describe("a MariaDB primary", () => {
  test("the greeting clears CLIENT_MYSQL and offers bulk, extended metadata and metadata caching", () => {
    const h = new SessionHarness();
    const g = greetingOf(h);
    expect(g.capabilities & Capability.LONG_PASSWORD).toBe(0);
    expect(g.mariadbCapabilities).toBe(offeredCapabilities(ASSUMED_MARIADB).extended);
    expect(g.mariadbCapabilities).toBe(IMPLEMENTED);
  });

  test("a MariaDB connector's extended capabilities: what both have, on the session and its backend connections", async () => {
    const h = new SessionHarness();
    expect((await h.login({ mariadb: 0x3f })).payload[0]).toBe(0x00);
    expect(h.session.mariadbCapabilities).toBe(IMPLEMENTED);
    await h.query("SELECT 1");
    expect(h.server.links.length).toBeGreaterThan(0);
    for (const link of h.server.links) expect(link.mariadbFlags).toBe(IMPLEMENTED);
  });

  test("a MySQL client (CLIENT_MYSQL kept) has none, and is pooled apart from MariaDB connectors", async () => {
    const h = new SessionHarness();
    expect((await h.login()).payload[0]).toBe(0x00);
    expect(h.session.mariadbCapabilities).toBe(0);
    await h.query("INSERT INTO t VALUES (1)");
    const mysqlThread = h.server.log.at(-1)!.thread;
    // Same user, a MariaDB connector: another connection, with the extended capabilities.
    const t = new MemoryTransport();
    const s = h.open(t);
    expect((await h.login({ mariadb: IMPLEMENTED }, t)).payload[0]).toBe(0x00);
    t.command(3, "INSERT INTO t VALUES (2)");
    for (let i = 0; i < 50 && s.phase !== "idle"; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const second = h.server.log.at(-1)!;
    expect(second.sql).toBe("INSERT INTO t VALUES (2)");
    expect(second.thread).not.toBe(mysqlThread);
    const link = h.server.links.find((l) => l.thread === second.thread)!;
    expect(link.mariadbFlags).toBe(IMPLEMENTED);
  });
});

describe("a MySQL primary", () => {
  test("the greeting keeps CLIENT_LONG_PASSWORD and has no extended capabilities", () => {
    const h = new SessionHarness({}, { mysqlPrimary: true });
    const g = greetingOf(h);
    expect(g.capabilities & Capability.LONG_PASSWORD).not.toBe(0);
    expect(g.mariadbCapabilities).toBe(0);
    expect(g.serverVersion).toBe("8.0.36-scripted");
  });

  test("a client that sends extended capabilities anyway gets none", async () => {
    const h = new SessionHarness({}, { mysqlPrimary: true });
    expect((await h.login({ mariadb: IMPLEMENTED })).payload[0]).toBe(0x00);
    expect(h.session.mariadbCapabilities).toBe(0);
    await h.query("SELECT 1");
    for (const link of h.server.links) expect(link.mariadbFlags).toBe(0);
  });
});
