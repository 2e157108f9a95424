import { describe, expect, test } from "vitest";
import { RwsplitError } from "../../../src/errors.js";
import { type Packet, PacketFramer, packet } from "../../../src/protocol/framing.js";
import {
  around,
  bytes,
  type Chunking,
  everyChunking,
  frames,
  hex,
  inOneChunk,
  inPieces,
  MAX_PACKET,
  splitAt,
} from "../../helpers/wire.js";

interface Seen {
  seq: number;
  lastSeq: number;
  payload: Buffer;
  frame: Buffer | null;
}

/** Pushes chunks one by one, taking every packet the framer has after each. */
function frameAll(chunks: readonly Buffer[], framer = new PacketFramer()): Seen[] {
  const out: Seen[] = [];
  for (const c of chunks) {
    framer.push(c);
    for (let p: Packet | null = framer.next(); p !== null; p = framer.next()) out.push(p);
  }
  expect(framer.bufferedBytes).toBe(0);
  return out;
}

/** A payload whose bytes differ from their neighbours', so misplaced bytes show up. */
function patterned(length: number): Buffer {
  const pattern = Buffer.from(Array.from({ length: 251 }, (_, i) => i));
  return Buffer.alloc(length).fill(pattern);
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RwsplitError);
    return (e as RwsplitError).code;
  }
  return null;
}

describe("PacketFramer: small packets", () => {
  test("a single packet is returned as a view of the chunk (zero-copy)", () => {
    const chunk = frames(3, Buffer.from("\x03SELECT 1"));
    const f = new PacketFramer();
    f.push(chunk);
    const p = f.next()!;
    expect(p.seq).toBe(3);
    expect(p.lastSeq).toBe(3);
    expect(p.payload.toString("latin1")).toBe("\x03SELECT 1");
    expect(p.payload.buffer).toBe(chunk.buffer);
    expect(p.payload.byteOffset).toBe(chunk.byteOffset + 4);
    expect(p.frame).not.toBeNull();
    expect(p.frame!.buffer).toBe(chunk.buffer);
    expect(p.frame!.equals(chunk)).toBe(true);
    expect(f.next()).toBeNull();
    expect(f.bufferedBytes).toBe(0);
  });

  test("several packets in one chunk all come out, each sharing the chunk's memory", () => {
    const chunk = bytes(frames(0, hex("0e")), frames(1, Buffer.alloc(0)), frames(2, Buffer.from("abc")));
    const got = frameAll([chunk]);
    expect(got.map((p) => [p.seq, p.lastSeq, p.payload.toString("hex")])).toEqual([
      [0, 0, "0e"],
      [1, 1, ""],
      [2, 2, "616263"],
    ]);
    for (const p of got) {
      expect(p.payload.buffer).toBe(chunk.buffer);
      expect(p.frame!.buffer).toBe(chunk.buffer);
    }
  });

  // The stream: a 1-byte packet, an empty one, a 300-byte one, a 9-byte one.
  const payloads = [hex("01"), Buffer.alloc(0), patterned(300), Buffer.from("abcdefghi")];
  const stream = Buffer.concat(payloads.map((p, i) => frames(i + 7, p)));
  const starts: number[] = [];
  payloads.reduce((at, p) => {
    starts.push(at);
    return at + 4 + p.length;
  }, 0);

  test("the same packets whatever the chunking: whole, split at every offset, byte by byte", () => {
    for (const { name, chunks } of everyChunking(stream)) {
      const got = frameAll(chunks);
      expect(got.length, name).toBe(payloads.length);
      got.forEach((p, i) => {
        expect([p.seq, p.lastSeq], name).toEqual([i + 7, i + 7]);
        expect(p.payload.equals(payloads[i]!), name).toBe(true);
        // `frame` is there exactly when the packet (header included) lay whole in one chunk.
        const s = starts[i]!;
        const e = s + 4 + payloads[i]!.length;
        expect(p.frame !== null, name).toBe(inOneChunk(chunks, s, e));
        if (p.frame !== null) expect(p.frame.equals(stream.subarray(s, e)), name).toBe(true);
      });
    }
  });

  test("nothing comes out until the whole packet is there; bufferedBytes counts what waits", () => {
    const f = new PacketFramer();
    const b = frames(0, Buffer.from("hello"));
    f.push(b.subarray(0, 3));
    expect(f.next()).toBeNull();
    expect(f.bufferedBytes).toBe(3);
    f.push(b.subarray(3, 6));
    expect(f.next()).toBeNull();
    expect(f.bufferedBytes).toBe(6);
    f.push(Buffer.alloc(0));
    f.push(b.subarray(6));
    expect(f.next()!.payload.toString()).toBe("hello");
    expect(f.bufferedBytes).toBe(0);
  });

  test("drain() hands back the unread bytes across chunks", () => {
    const f = new PacketFramer();
    const b = bytes(frames(0, Buffer.from("one")), frames(1, Buffer.from("two")));
    f.push(b.subarray(0, 9));
    f.push(b.subarray(9));
    expect(f.next()!.payload.toString()).toBe("one");
    expect(f.drain().equals(b.subarray(7))).toBe(true);
    expect(f.bufferedBytes).toBe(0);
    expect(f.next()).toBeNull();
  });
});

describe("PacketFramer: packets of 16 MiB and more", () => {
  /**
   * Whole, 64 KiB pieces, byte by byte around the packet boundaries, and split in two at each
   * of the continuation packet's header (every offset of 16 MiB would take minutes).
   */
  function bigChunkings(b: Buffer, boundaries: number[], continuationAt: number): Chunking[] {
    const near = around(boundaries, 5).filter((k) => k > 0 && k < b.length);
    const headerCuts = [0, 2, 4].map((d) => continuationAt + d);
    return [
      { name: "whole", chunks: [b] },
      { name: "64 KiB pieces", chunks: inPieces(b, 65536) },
      { name: "byte by byte near boundaries", chunks: splitAt(b, near, false) },
      ...headerCuts.map((k) => ({ name: `split at ${k}`, chunks: splitAt(b, [k], false) })),
    ];
  }

  // One patterned buffer serves every big test (filling 16 MiB is not free on a shared machine).
  const big = patterned(MAX_PACKET + 10);

  test("a payload of exactly 0xFFFFFF bytes is closed by an empty continuation packet", () => {
    const payload = big.subarray(0, MAX_PACKET);
    const b = bytes(frames(4, payload), frames(6, Buffer.from("next")));
    expect(b.length).toBe(4 + MAX_PACKET + 4 + 4 + 4);
    for (const { name, chunks } of bigChunkings(b, [0, MAX_PACKET + 4, MAX_PACKET + 8], MAX_PACKET + 4)) {
      const got = frameAll(chunks);
      expect(
        got.map((p) => [p.seq, p.lastSeq, p.payload.length]),
        name,
      ).toEqual([
        [4, 5, MAX_PACKET],
        [6, 6, 4],
      ]);
      expect(got[0]!.payload.equals(payload), name).toBe(true);
      expect(got[0]!.frame, name).toBeNull();
    }
  });

  test("16 MiB + a bit: two physical packets joined; seq of the first, lastSeq of the second (wrapping)", () => {
    const payload = big;
    const b = frames(255, payload);
    expect(b.length).toBe(4 + MAX_PACKET + 4 + 10);
    for (const { name, chunks } of bigChunkings(b, [0, MAX_PACKET + 4], MAX_PACKET + 4)) {
      const got = frameAll(chunks);
      expect(
        got.map((p) => [p.seq, p.lastSeq, p.frame]),
        name,
      ).toEqual([[255, 0, null]]);
      expect(got[0]!.payload.equals(payload), name).toBe(true);
    }
  });

  test("32 MiB arriving in 64 KiB chunks comes out once, intact (no per-chunk re-copying)", () => {
    const payload = patterned(32 * 1024 * 1024);
    const b = frames(0, payload);
    const f = new PacketFramer();
    const got: Packet[] = [];
    for (const c of inPieces(b, 65536)) {
      f.push(c);
      for (let p = f.next(); p !== null; p = f.next()) got.push(p);
    }
    expect(got.map((p) => [p.seq, p.lastSeq, p.payload.length])).toEqual([[0, 2, payload.length]]);
    expect(got[0]!.payload.equals(payload)).toBe(true);
  });
});

describe("PacketFramer: maxPayload", () => {
  test("a packet at the limit passes, one byte more is PACKET_TOO_LARGE", () => {
    const f = new PacketFramer(100);
    f.push(frames(0, Buffer.alloc(100)));
    expect(f.next()!.payload.length).toBe(100);
    f.push(frames(1, Buffer.alloc(101)));
    expect(codeOf(() => f.next())).toBe("PACKET_TOO_LARGE");
  });

  test("the announced length is refused as soon as the header is in, before the payload", () => {
    const f = new PacketFramer(100);
    f.push(hex("e80300 00 01 02"));
    expect(codeOf(() => f.next())).toBe("PACKET_TOO_LARGE");
  });

  test("the limit applies to the joined payload of continuation packets", () => {
    const b = frames(0, Buffer.alloc(MAX_PACKET + 10));
    const ok = new PacketFramer(MAX_PACKET + 10);
    expect(frameAll([b], ok)[0]!.payload.length).toBe(MAX_PACKET + 10);
    const f = new PacketFramer(MAX_PACKET + 9);
    f.push(b);
    expect(codeOf(() => f.next())).toBe("PACKET_TOO_LARGE");
  });
});

describe("packet()", () => {
  test("writes int<3> length and int<1> sequence id before the payload", () => {
    expect(packet(3, Buffer.from("\x0e")).toString("hex")).toBe("010000030e");
    expect(packet(0, Buffer.alloc(0)).toString("hex")).toBe("00000000");
    expect(
      packet(256 + 5, Buffer.alloc(0x10203))
        .subarray(0, 4)
        .toString("hex"),
    ).toBe("03020105");
  });

  test("round-trips through the framer", () => {
    const f = new PacketFramer();
    f.push(packet(9, Buffer.from("ping")));
    const p = f.next()!;
    expect([p.seq, p.payload.toString()]).toEqual([9, "ping"]);
  });
});
