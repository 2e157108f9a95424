import { Duplex } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nativeToken } from "../../src/protocol/auth/native-password.js";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { Command } from "../../src/protocol/constants/commands.js";
import { type Packet, PacketFramer, packet } from "../../src/protocol/framing.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";
import { startProxy, type TestProxy, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #19: a result stalled until the client timed out, with the next response sitting unread
// in the proxy's backend socket. The sequence: the client socket could not take the last chunk
// of a large result at once (write() returned false), so the backend socket was paused; the
// response was complete, so the statement finished; the client's 'drain' came after that, and
// the handler resumed "the current statement's backend", which no longer existed. The backend
// connection stayed paused, and the session's next statement on it (pinned, or whoever leased
// it from the pool next) never got its answer read.
//
// The client here is a stream whose every write is congested (highWaterMark 1, each write
// acknowledged on the next turn of the event loop), so each relayed chunk, the last included,
// takes the backpressure path: the exact states of the stall, every time.

let sandbox: TestSandbox;
let proxy: TestProxy;

beforeAll(async () => {
  sandbox = await startSandbox({ replicas: 0 });
  proxy = await startProxy(testConfig(sandbox.primary, []));
});

afterAll(async () => {
  await proxy?.close();
  await sandbox?.down();
});

/** A client connection as a stream: what the proxy writes is parsed into packets, always congested. */
class CongestedClient extends Duplex {
  readonly remoteAddress = "127.0.0.1";
  private readonly framer = new PacketFramer();
  private readonly packets: Packet[] = [];
  private wake: (() => void) | null = null;
  writes = 0;

  constructor() {
    super({ writableHighWaterMark: 1, allowHalfOpen: false });
  }

  setNoDelay(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.writes++;
    this.framer.push(Buffer.from(chunk));
    for (let p = this.framer.next(); p !== null; p = this.framer.next()) this.packets.push(p);
    this.wake?.();
    // Taken, but only on the next turn: until then the proxy sees a full socket.
    setImmediate(() => done());
  }

  send(seq: number, payload: Buffer): void {
    this.push(packet(seq, payload));
  }

  /** The next packet from the proxy, or an error naming the stall. */
  async next(what: string, timeoutMs = 5000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    while (this.packets.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`stalled: no answer to ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
    return this.packets.shift()!;
  }

  /** Reads a whole text result set (CLIENT_DEPRECATE_EOF not asked): returns its row count. */
  async resultRows(what: string): Promise<number> {
    const first = await this.next(what);
    if (first.payload[0] === 0x00) return 0;
    if (first.payload[0] === 0xff) throw new Error(`${what}: ${first.payload.toString("utf8", 9)}`);
    let eofs = 0;
    let rows = 0;
    for (;;) {
      const p = await this.next(what);
      const isEof = p.payload[0] === 0xfe && p.payload.length < 9;
      if (isEof && ++eofs === 2) return rows;
      if (!isEof && eofs === 1) rows++;
    }
  }
}

async function login(): Promise<CongestedClient> {
  const client = new CongestedClient();
  // The server's accept path, with this stream in place of a TCP socket.
  (proxy.server as unknown as { accept(s: Duplex): void }).accept(client);
  const greeting = decodeHandshakeV10((await client.next("the greeting")).payload);
  client.send(
    1,
    encodeHandshakeResponse41(1, {
      capabilities:
        Capability.PROTOCOL_41 |
        Capability.SECURE_CONNECTION |
        Capability.PLUGIN_AUTH |
        Capability.LONG_PASSWORD |
        Capability.TRANSACTIONS |
        Capability.MULTI_RESULTS |
        Capability.SESSION_TRACK |
        Capability.CONNECT_WITH_DB,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      username: "app",
      authResponse: nativeToken("app-pass", greeting.scramble),
      database: "app",
      authPlugin: "mysql_native_password",
      attributes: {},
    }).subarray(4),
  );
  const ok = await client.next("the login");
  expect(ok.payload[0]).toBe(0x00);
  return client;
}

function query(sql: string): Buffer {
  return Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql, "utf8")]);
}

const LARGE = "SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000";

describe("relay backpressure (issue #19)", () => {
  test("after a large result relayed to a congested client, the pinned connection answers the next statement", async () => {
    const c = await login();
    try {
      c.send(0, query("SET @pin = 1"));
      expect((await c.next("SET @pin")).payload[0]).toBe(0x00);
      for (let i = 0; i < 3; i++) {
        const before = c.writes;
        c.send(0, query(LARGE));
        expect(await c.resultRows(`large result #${i}`)).toBe(20_000);
        // Many chunks, each written into a full socket: the backpressure path was taken.
        expect(c.writes - before).toBeGreaterThan(10);
        // A client takes a moment with the rows before its next statement: the last drain comes
        // while the session is idle.
        await new Promise((r) => setTimeout(r, 20));
        c.send(0, query("SELECT 1"));
        expect(await c.resultRows(`SELECT 1 after large result #${i}`)).toBe(1);
      }
    } finally {
      c.destroy();
    }
  });

  test("a pooled connection released after a large result serves the next session", async () => {
    for (let i = 0; i < 3; i++) {
      const c = await login();
      try {
        c.send(0, query(LARGE));
        expect(await c.resultRows(`large result #${i}`)).toBe(20_000);
        await new Promise((r) => setTimeout(r, 20));
        c.send(0, query("SELECT 1"));
        expect(await c.resultRows(`SELECT 1 after large result #${i}`)).toBe(1);
      } finally {
        c.destroy();
      }
    }
  });
});
