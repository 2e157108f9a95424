import { beforeAll, describe, expect, test } from "vitest";
import {
  CompressedReader,
  CompressedWriter,
  decodeFrameHeader,
  loadZstd,
  type PayloadCodec,
  zlibCodec,
  zstdCodec,
} from "../../../src/protocol/compression/index.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import { type Packet, PacketFramer, packet } from "../../../src/protocol/framing.js";
import { CompressedTransport } from "../../../src/proxy/session/compressed-transport.js";
import { MemoryTransport } from "../../helpers/memory-transport.js";
import { changeUserBody, SessionHarness, textValue } from "../../helpers/session-harness.js";

// The compressed protocol between a client and rwsplit (issue #14), through a whole session over
// memory: the login is plain, then every byte either way is a frame (frame.ts); each command's
// answer continues the frame sequence from the frame the command came in. Backends never see
// compression.

let zstdCodecFor: (level: number) => PayloadCodec;
beforeAll(async () => {
  const binding = await loadZstd();
  zstdCodecFor = (level) => zstdCodec(binding, level);
});

/** The client's side of a compressed session: frames out with CompressedWriter, in with CompressedReader. */
class CompressedClient {
  readonly writer: CompressedWriter;
  private readonly reader: CompressedReader;
  private readonly framer = new PacketFramer();
  /** Bytes of `written` already read. */
  private seen: number;
  /** Sequence ids of the frames received, in order. */
  readonly frameSeqs: number[] = [];
  /** Bytes received on the wire since the login. */
  wireBytes = 0;

  constructor(
    readonly h: SessionHarness,
    codec: PayloadCodec,
    /** Writes of the session before the compressed ones (greeting, login OK). */
    seen = h.client.written.length,
  ) {
    this.writer = new CompressedWriter({ codec });
    this.reader = new CompressedReader(codec);
    this.reader.onFrameEnd = (seq) => this.frameSeqs.push(seq);
    this.seen = seen;
  }

  /** `payloads` as commands, each in its own frame sequence (id 0), in one write. */
  frames(...payloads: Buffer[]): Buffer {
    return Buffer.concat(
      payloads.flatMap((p) => {
        this.writer.resetSequence(0);
        return this.writer.encode(packet(0, p));
      }),
    );
  }

  send(...payloads: Buffer[]): void {
    this.h.client.sendRaw(this.frames(...payloads));
  }

  /** What the session wrote since last asked, unframed and decompressed. */
  take(): Packet[] {
    const fresh = this.h.client.written.slice(this.seen);
    this.seen = this.h.client.written.length;
    this.h.client.take();
    for (const b of fresh) {
      this.wireBytes += b.length;
      for (const plain of this.reader.push(b)) this.framer.push(plain);
    }
    const out: Packet[] = [];
    for (let p = this.framer.next(); p !== null; p = this.framer.next()) out.push(p);
    return out;
  }

  async query(sql: string): Promise<Packet[]> {
    this.send(Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from(sql)]));
    await this.h.idle();
    return this.take();
  }
}

async function compressedSession(
  algorithm: "zlib" | "zstd",
): Promise<{ h: SessionHarness; c: CompressedClient }> {
  const h = new SessionHarness({}, { mysqlPrimary: algorithm === "zstd" });
  const ok = await h.login({ compress: algorithm, deprecateEof: true });
  await h.idle();
  expect(ok.payload[0]).toBe(0x00);
  expect(h.session.transport).toBeInstanceOf(CompressedTransport);
  return { h, c: new CompressedClient(h, algorithm === "zlib" ? zlibCodec() : zstdCodecFor(5)) };
}

describe("a compressed session", () => {
  test("zlib: a query and its result set, the answer's frames numbered from 1", async () => {
    const { c } = await compressedSession("zlib");
    const r = await c.query("SELECT 1");
    expect(textValue(r)).toMatch(/^replica/);
    expect(c.frameSeqs[0]).toBe(1);
    expect(c.frameSeqs).toEqual(c.frameSeqs.map((_, i) => i + 1));
    // The packets inside keep their own sequence ids.
    expect(r.map((p) => p.seq)).toEqual(r.map((_, i) => i + 1));
  });

  test("pipelined commands, each in frame 0: each answer starts again at frame 1", async () => {
    const { h, c } = await compressedSession("zlib");
    c.send(
      Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from("SELECT 1")]),
      Buffer.from([Command.PING]),
      Buffer.concat([Buffer.from([Command.QUERY]), Buffer.from("INSERT INTO t VALUES (1)")]),
    );
    await h.idle();
    const r = c.take();
    // The result set, then PING's OK, then the INSERT's OK.
    expect(r.filter((p) => p.payload[0] === 0x00).length).toBe(2);
    const starts = c.frameSeqs.filter((s, i) => i === 0 || s <= c.frameSeqs[i - 1]!);
    expect(starts).toEqual([1, 1, 1]);
  });

  test("a large result crosses the wire compressed", async () => {
    const { c } = await compressedSession("zlib");
    const r = await c.query("SELECT BIG 200");
    const plain = r.reduce((n, p) => n + 4 + p.payload.length, 0);
    expect(plain).toBeGreaterThan(200_000);
    expect(c.wireBytes).toBeLessThan(plain / 10);
  });

  test("a command sent right behind the login, before its OK: read as the frame it is", async () => {
    const h = new SessionHarness();
    const c0 = new CompressedClient(h, zlibCodec());
    // Log in, and before the OK arrives send a compressed PING in the same turn.
    const login = h.login({ compress: "zlib" });
    h.client.sendRaw(c0.frames(Buffer.from([Command.PING])));
    expect((await login).payload[0]).toBe(0x00);
    await h.idle();
    // Written: the greeting, the plain login OK, then frames.
    const c = new CompressedClient(h, zlibCodec(), 2);
    // The PING's OK, in frame 1.
    const r = c.take();
    expect(r.map((p) => p.payload[0])).toEqual([0x00]);
    expect(c.frameSeqs).toEqual([1]);
  });

  test("zstd (a MySQL 8 client in front of MySQL): round trip at the client's level", async () => {
    const { h, c } = await compressedSession("zstd");
    const r = await c.query("SELECT BIG 50");
    expect(r.length).toBeGreaterThan(50);
    const first = h.client.written.at(-1)!;
    // A compressed frame: uncompressed length set, zstd's magic number at the payload's start.
    expect(decodeFrameHeader(first).uncompressedLength).toBeGreaterThan(0);
  });

  test("COM_CHANGE_USER is answered compressed, and the session stays compressed", async () => {
    const { h, c } = await compressedSession("zlib");
    const transport = h.session.transport;
    c.send(
      Buffer.concat([Buffer.from([Command.CHANGE_USER]), changeUserBody(h.session, "other", "other-pass")]),
    );
    await h.idle();
    expect(c.take().map((p) => p.payload[0])).toEqual([0x00]);
    expect(h.session.userName).toBe("other");
    expect(h.session.transport).toBe(transport);
    expect(textValue(await c.query("SELECT 1"))).toMatch(/^replica/);
  });

  test("a session without compression keeps its transport as it is: nothing in between", async () => {
    const h = new SessionHarness();
    await h.login();
    expect(h.session.transport).toBe(h.client);
  });
});

describe("CompressedTransport's writes", () => {
  const frameOf = (n: number) => packet(1, Buffer.alloc(n, 0x61));

  test("small writes in one turn become one frame", async () => {
    const inner = new MemoryTransport();
    const t = new CompressedTransport(inner, zlibCodec());
    t.attach({ data() {}, closed() {} });
    expect(t.write(frameOf(10))).toBe(true);
    expect(t.write(frameOf(20))).toBe(true);
    expect(inner.written).toHaveLength(0);
    await new Promise((r) => process.nextTick(r));
    expect(inner.written).toHaveLength(1);
    const plain = new CompressedReader(zlibCodec()).push(inner.written[0]!);
    expect(Buffer.concat(plain)).toEqual(Buffer.concat([frameOf(10), frameOf(20)]));
  });

  test("a client that cannot keep up: false until its transport drains, then true again", async () => {
    const inner = new MemoryTransport();
    const t = new CompressedTransport(inner, zlibCodec());
    t.attach({ data() {}, closed() {} });
    inner.congested = true;
    // A large write goes at once (no copy) and reports the full socket.
    expect(t.write(frameOf(20_000))).toBe(false);
    expect(t.write(frameOf(10))).toBe(false);
    let drained = false;
    t.onceDrained(() => {
      drained = true;
    });
    inner.drain();
    expect(drained).toBe(true);
    expect(t.write(frameOf(10))).toBe(true);
  });
});
