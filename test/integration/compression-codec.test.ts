import net from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { nativeToken } from "../../src/protocol/auth/native-password.js";
import {
  CompressedReader,
  CompressedWriter,
  decodeFrameHeader,
} from "../../src/protocol/compression/index.js";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { type Packet, PacketFramer, packet } from "../../src/protocol/framing.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// The pure codec (src/protocol/compression) as a client of MariaDB's own compressed protocol:
// the server reads our frames, and we read its, with the sequence ids frame.ts describes.

let sb: TestSandbox;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 0 });
});

afterAll(async () => {
  await sb?.down();
});

/** A client that logs in plain, then speaks through CompressedWriter / CompressedReader. */
class CompressedClient {
  private readonly plain = new PacketFramer();
  private readonly framer = new PacketFramer(1 << 30);
  private readonly reader = new CompressedReader();
  readonly writer = new CompressedWriter();
  private compressed = false;
  private wake: (() => void) | null = null;
  /** Every frame header the server sent, in order. */
  readonly serverFrames: { seq: number; compressed: boolean }[] = [];

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      if (!this.compressed) this.plain.push(chunk);
      else this.onCompressed(chunk);
      this.wake?.();
    });
    socket.on("error", () => {});
  }

  /** Frame headers are read here too (the reader would hide them), only to check their ids. */
  private headerBytes = Buffer.alloc(0);
  private skip = 0;
  private onCompressed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const need = 7 - this.headerBytes.length;
      this.headerBytes = Buffer.concat([this.headerBytes, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.headerBytes.length === 7) {
        const h = decodeFrameHeader(this.headerBytes);
        this.serverFrames.push({ seq: h.seq, compressed: h.uncompressedLength > 0 });
        this.skip = h.length;
        this.headerBytes = Buffer.alloc(0);
      }
    }
    for (const bytes of this.reader.push(chunk)) this.framer.push(bytes);
  }

  static async login(port: number): Promise<CompressedClient> {
    const socket = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const c = new CompressedClient(socket);
    const greeting = decodeHandshakeV10((await c.next(c.plain)).payload);
    expect(greeting.capabilities & Capability.COMPRESS).toBeTruthy();
    const { user, password } = sb.credentials.app;
    socket.write(
      encodeHandshakeResponse41(1, {
        capabilities:
          Capability.PROTOCOL_41 |
          Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH |
          Capability.LONG_PASSWORD |
          Capability.TRANSACTIONS |
          Capability.MULTI_RESULTS |
          Capability.COMPRESS,
        maxPacketSize: 1 << 30,
        characterSet: 45,
        username: user,
        authResponse: nativeToken(password, greeting.scramble),
        database: null,
        authPlugin: "mysql_native_password",
        attributes: {},
      }),
    );
    // The login's OK is the last plain packet; compression starts behind it.
    const ok = await c.next(c.plain);
    expect(ok.payload[0]).toBe(0x00);
    c.compressed = true;
    return c;
  }

  private async next(framer: PacketFramer): Promise<Packet> {
    for (;;) {
      const p = framer.next();
      if (p !== null) return p;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no packet within 10 s")), 10_000);
        this.wake = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** A COM_QUERY in compressed frames starting at id 0; the text of the first column of each row. */
  async query(sql: string): Promise<string[]> {
    this.writer.resetSequence(0);
    for (const f of this.writer.encode(packet(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)])))) {
      this.socket.write(f);
    }
    const first = await this.next(this.framer);
    if (first.payload[0] === 0xff) throw new Error(first.payload.subarray(9).toString());
    const columns = first.payload[0]!;
    for (let i = 0; i < columns; i++) await this.next(this.framer);
    await this.next(this.framer); // EOF after the column definitions
    const rows: string[] = [];
    for (;;) {
      const p = await this.next(this.framer);
      if (p.payload[0] === 0xfe && p.payload.length < 9) return rows;
      rows.push(lenencText(p.payload));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The first lenenc string of a text row (lengths up to 3 bytes, enough here). */
function lenencText(p: Buffer): string {
  const b = p[0]!;
  if (b < 0xfb) return p.subarray(1, 1 + b).toString();
  if (b === 0xfc) return p.subarray(3, 3 + p.readUInt16LE(1)).toString();
  return p.subarray(4, 4 + p.readUIntLE(1, 3)).toString();
}

describe("the codec against MariaDB's compressed protocol", () => {
  test("a query in frame 0 is answered in frame 1, then each command starts again at 0", async () => {
    const c = await CompressedClient.login(sb.primary.port);
    expect(await c.query("SELECT 'hello'")).toEqual(["hello"]);
    expect(c.serverFrames.map((f) => f.seq)).toEqual([1]);
    expect(await c.query("SELECT 'again'")).toEqual(["again"]);
    expect(c.serverFrames.map((f) => f.seq)).toEqual([1, 1]);
    c.close();
  });

  test("a compressed query (over 50 bytes) and a compressed multi-frame answer", async () => {
    const c = await CompressedClient.login(sb.primary.port);
    const long = `SELECT REPEAT('ab', 3000000) /* ${"padding ".repeat(10)} */`;
    const [row] = await c.query(long);
    expect(row).toBe("ab".repeat(3_000_000));
    // The answer is 6 MB in frames numbered from 1, compressed (it is very compressible).
    const ids = c.serverFrames.map((f) => f.seq);
    expect(ids[0]).toBe(1);
    expect(ids).toEqual(ids.map((_, i) => (1 + i) & 0xff));
    expect(c.serverFrames.some((f) => f.compressed)).toBe(true);
    c.close();
  });

  test("many rows, read back in order", async () => {
    const c = await CompressedClient.login(sb.primary.port);
    const rows = await c.query("SELECT seq FROM app.seq_1_to_20000");
    expect(rows).toHaveLength(20_000);
    expect(rows[19_999]).toBe("20000");
    c.close();
  });
});
