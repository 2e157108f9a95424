import net from "node:net";
import { describe, expect, test } from "vitest";
import { ReadBuffer } from "../../src/proxy/read-buffer.js";

/** Drives the `onread` options the way net.Socket does: buffer() once at setup, then per read. */
function feed(rb: ReadBuffer, chunks: Buffer[]): Buffer[] {
  const gen = rb.onread.buffer as () => Uint8Array;
  let buf = gen();
  const targets: Buffer[] = [];
  for (const c of chunks) {
    targets.push(buf as Buffer);
    Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).set(c);
    rb.onread.callback(c.length, buf);
    buf = gen();
  }
  return targets;
}

describe("ReadBuffer", () => {
  test("hands over views of one reused buffer while nobody keeps them", () => {
    const seen: string[] = [];
    const rb = new ReadBuffer((chunk) => seen.push(chunk.toString()), 16, 64);
    const targets = feed(rb, [Buffer.from("abc"), Buffer.from("defg"), Buffer.from("h")]);
    expect(seen).toEqual(["abc", "defg", "h"]);
    expect(targets[1]).toBe(targets[0]);
    expect(targets[2]).toBe(targets[0]);
  });

  test("a lent chunk is never overwritten: the next read goes to a new buffer", () => {
    const kept: Buffer[] = [];
    const rb = new ReadBuffer(
      (chunk) => {
        if (chunk.toString() === "keep") {
          kept.push(chunk);
          rb.lend();
        }
      },
      16,
      64,
    );
    const targets = feed(rb, [Buffer.from("keep"), Buffer.from("overwrite?"), Buffer.from("x")]);
    expect(kept[0]!.toString()).toBe("keep");
    expect(targets[1]).not.toBe(targets[0]);
    // Not lent again: the new buffer is reused.
    expect(targets[2]).toBe(targets[1]);
  });

  test("a read that fills the buffer makes the next one bigger, up to the maximum", () => {
    const sizes: number[] = [];
    const rb = new ReadBuffer(() => {}, 16, 64);
    const targets = feed(rb, [
      Buffer.alloc(16, 1),
      Buffer.alloc(64, 2),
      Buffer.alloc(64, 3),
      Buffer.alloc(1),
    ]);
    for (const t of targets) sizes.push(t.length);
    expect(sizes).toEqual([16, 64, 64, 64]);
  });

  test("over a real socket: every byte arrives, in order", async () => {
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const server = net.createServer((s) => s.end(payload));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const got: Buffer[] = [];
      const rb = new ReadBuffer((chunk) => got.push(Buffer.from(chunk)), 1024);
      const socket = net.connect({ host: "127.0.0.1", port, onread: rb.onread });
      await new Promise((r) => socket.once("close", r));
      expect(Buffer.concat(got).equals(payload)).toBe(true);
    } finally {
      server.close();
    }
  });
});
