import { randomBytes } from "node:crypto";
import net from "node:net";
import { describe, expect, test } from "vitest";
import { type RelayMode, startRelay } from "../../bench/node-relay.js";

// The bench's node-relay (the floor target of issue #15) must copy every byte both ways in order,
// also when a write does not complete at once (its read buffer is then still in use) and when the
// reader is slow (backpressure), and close each side with the other.

const port = (s: net.Server) => (s.address() as net.AddressInfo).port;

async function listening(server: net.Server): Promise<net.Server> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

async function connect(p: number): Promise<net.Socket> {
  const s = net.connect(p, "127.0.0.1");
  await new Promise<void>((r, j) => s.once("connect", r).once("error", j));
  return s;
}

/** Reads from `s` until `n` bytes arrived, pausing now and then like a slow client. */
function readBytes(s: net.Socket, n: number, slow = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    s.on("data", (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) resolve(Buffer.concat(parts));
      else if (slow && parts.length % 8 === 0) {
        s.pause();
        setTimeout(() => s.resume(), 5);
      }
    });
    s.once("error", reject);
    s.once("close", () => (got < n ? reject(new Error(`closed after ${got} of ${n} bytes`)) : undefined));
  });
}

/** Runs `body` against a relay (in `mode`) in front of `upstream`; closes both afterwards. */
async function throughRelay(
  mode: RelayMode,
  upstream: net.Server,
  body: (relayPort: number) => Promise<void>,
): Promise<void> {
  await listening(upstream);
  const relay = await startRelay(
    { host: "127.0.0.1", port: 0 },
    { upstream: { host: "127.0.0.1", port: port(upstream) }, mode },
  );
  try {
    await body(port(relay));
  } finally {
    relay.close();
    upstream.close();
  }
}

describe.each<RelayMode>(["onread", "pipe"])("node-relay, %s", (mode) => {
  test("echoes megabytes both ways, in order, to a slow reader", async () => {
    await throughRelay(
      mode,
      net.createServer((s) => s.pipe(s)),
      async (relayPort) => {
        const c = await connect(relayPort);
        const data = randomBytes(6 * 1024 * 1024);
        const back = readBytes(c, data.length, true);
        // Many small writes and some large ones, so that some of the relay's writes stay pending.
        for (let at = 0; at < data.length; ) {
          const n = at < 64 * 1024 ? 100 : 300 * 1024;
          c.write(data.subarray(at, at + n));
          at += n;
        }
        expect((await back).equals(data)).toBe(true);
        c.destroy();
      },
    );
  });

  test("bytes sent while the way back is full arrive intact once the client reads again", async () => {
    await throughRelay(
      mode,
      net.createServer((s) => s.pipe(s)),
      async (relayPort) => {
        const c = await connect(relayPort);
        c.pause();
        // Fill the way back while the client reads nothing, then send small chunks one at a time,
        // each its own read in the relay, while its writes towards the client are held up.
        const bulk = randomBytes(8 * 1024 * 1024);
        c.write(bulk);
        await new Promise((r) => setTimeout(r, 200));
        const small: Buffer[] = [];
        for (let i = 0; i < 300; i++) {
          const b = randomBytes(100);
          small.push(b);
          c.write(b);
          await new Promise((r) => setImmediate(r));
        }
        const expected = Buffer.concat([bulk, ...small]);
        const back = readBytes(c, expected.length);
        c.resume();
        expect((await back).equals(expected)).toBe(true);
        c.destroy();
      },
    );
  });

  test("the server speaking first, then closing, reaches the client and closes it", async () => {
    const greeting = Buffer.from("hello from the server");
    await throughRelay(
      mode,
      net.createServer((s) => s.end(greeting)),
      async (relayPort) => {
        const c = await connect(relayPort);
        const got = readBytes(c, greeting.length);
        const closed = new Promise((r) => c.once("close", r));
        expect((await got).equals(greeting)).toBe(true);
        await closed;
      },
    );
  });

  test("a client that closes closes the upstream connection", async () => {
    let upstreamClosed: () => void = () => {};
    const closed = new Promise<void>((r) => {
      upstreamClosed = r;
    });
    const upstream = net.createServer((s) => {
      s.on("error", () => {});
      s.on("close", () => upstreamClosed());
      s.resume();
    });
    await throughRelay(mode, upstream, async (relayPort) => {
      const c = await connect(relayPort);
      c.end("bye");
      await closed;
    });
  });
});
