import { randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { RwsplitError } from "../../../src/errors.js";
import {
  CompressedReader,
  CompressedWriter,
  decodeFrameHeader,
  encodeFrame,
  loadZstd,
  MAX_FRAME_PAYLOAD,
  type PayloadCodec,
  type ZstdBinding,
  zlibCodec,
  zstdCodec,
  zstdContentSize,
} from "../../../src/protocol/compression/index.js";

/**
 * The compressed protocol's frames (frame.ts), against reference frames: the example of MySQL's
 * protocol documentation (page_protocol_basic_compression_packet), zlib's own compress() output
 * and the zstd CLI's. Every decoder test feeds the bytes split at every offset.
 */

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// COM_QUERY `select "012345678901234567890123456789012345"` as a packet: 4 + 46 = 50 bytes.
const QUERY_PACKET = Buffer.concat([
  hex("2e000000 03"),
  Buffer.from('select "012345678901234567890123456789012345"'),
]);
// The same with CLIENT_COMPRESS, from the MySQL documentation: 7-byte header (34 bytes of
// payload, compressed sequence id 0, 50 bytes uncompressed), then compress() of the packet.
const QUERY_FRAME = hex(`
  22 00 00 00 32 00 00 78 9c d3 63 60 60 60 2e 4e
  cd 49 4d 2e 51 50 32 30 34 32 36 31 35 33 b7 b0
  c4 cd 52 02 00 0c d1 0a 6c`);
// `zstd -3 -c` of QUERY_PACKET (zstd 1.5.4 CLI: content size and checksum in the frame).
const QUERY_ZSTD = hex(
  "28b52ffd2432f50000c02e0000000373656c6563742022303132333435363738392201006b97268b4950ac",
);
// COM_PING (1 byte packet), under MIN_COMPRESS_LENGTH: sent as it is, uncompressed length 0.
const PING_PACKET = hex("01000000 0e");
const PING_FRAME = hex("05 00 00 00 00 00 00 01000000 0e");

let zstd: ZstdBinding;
beforeAll(async () => {
  zstd = await loadZstd();
});

/** Everything a reader yields for `stream` cut into `chunks`, joined. */
function readAll(codec: PayloadCodec, chunks: Buffer[]): { bytes: Buffer; reader: CompressedReader } {
  const reader = new CompressedReader(codec);
  const out: Buffer[] = [];
  for (const c of chunks) out.push(...reader.push(c));
  return { bytes: Buffer.concat(out), reader };
}

/** `stream` split at each offset into two chunks, plus byte by byte. */
function everySplit(stream: Buffer): Buffer[][] {
  const splits: Buffer[][] = [];
  for (let i = 0; i <= stream.length; i++) splits.push([stream.subarray(0, i), stream.subarray(i)]);
  splits.push([...stream].map((b) => Buffer.from([b])));
  return splits;
}

function violation(run: () => unknown): RwsplitError {
  try {
    run();
  } catch (e) {
    if (e instanceof RwsplitError) return e;
    throw e;
  }
  throw new Error("expected a PROTOCOL_VIOLATION");
}

describe("frame header", () => {
  it("is int<3> payload length, int<1> sequence id, int<3> uncompressed length", () => {
    expect(decodeFrameHeader(QUERY_FRAME)).toEqual({ length: 34, seq: 0, uncompressedLength: 50 });
    expect(decodeFrameHeader(hex("ffffff 07 010000"))).toEqual({
      length: 0xffffff,
      seq: 7,
      uncompressedLength: 1,
    });
    expect(encodeFrame(0, QUERY_FRAME.subarray(7), 50)).toEqual(QUERY_FRAME);
  });
});

describe("CompressedWriter", () => {
  it("produces the documentation's frame for the documentation's query (zlib level 6)", () => {
    expect(new CompressedWriter().encode(QUERY_PACKET)).toEqual([QUERY_FRAME]);
  });

  it("sends payloads under 50 bytes as they are, with uncompressed length 0", () => {
    expect(new CompressedWriter().encode(PING_PACKET)).toEqual([PING_FRAME]);
    const w = new CompressedWriter();
    const justUnder = Buffer.alloc(49, 0x61);
    expect(decodeFrameHeader(w.encode(justUnder)[0]!)).toEqual({ length: 49, seq: 0, uncompressedLength: 0 });
    expect(decodeFrameHeader(w.encode(Buffer.alloc(50, 0x61))[0]!).uncompressedLength).toBe(50);
  });

  it("sends a payload that would not shrink as it is", () => {
    const noise = randomBytes(4096);
    const [frame] = new CompressedWriter().encode(noise);
    expect(decodeFrameHeader(frame!)).toEqual({ length: 4096, seq: 0, uncompressedLength: 0 });
    expect(frame!.subarray(7)).toEqual(noise);
  });

  it("numbers frames from the sequence it was reset to, wrapping at 256", () => {
    const w = new CompressedWriter();
    expect(w.encode(PING_PACKET).map((f) => f[3])).toEqual([0]);
    expect(w.encode(PING_PACKET).map((f) => f[3])).toEqual([1]);
    w.resetSequence(255);
    expect([...w.encode(PING_PACKET), ...w.encode(PING_PACKET)].map((f) => f[3])).toEqual([255, 0]);
    w.resetSequence();
    expect(w.seq).toBe(0);
  });

  it("cuts more than 16 MiB into frames of at most 0xFFFFFF bytes, each numbered", () => {
    const big = Buffer.alloc(MAX_FRAME_PAYLOAD + 1000, 0x5a);
    const w = new CompressedWriter();
    w.resetSequence(1);
    const frames = w.encode(big);
    expect(frames.map((f) => decodeFrameHeader(f))).toEqual([
      { length: expect.any(Number), seq: 1, uncompressedLength: MAX_FRAME_PAYLOAD },
      { length: expect.any(Number), seq: 2, uncompressedLength: 1000 },
    ]);
    expect(readAll(zlibCodec(), frames).bytes.equals(big)).toBe(true);
  });

  it("joins a list of buffers into one stream (one frame for a whole response)", () => {
    const frames = new CompressedWriter().encode([PING_PACKET, QUERY_PACKET]);
    expect(frames).toHaveLength(1);
    expect(readAll(zlibCodec(), frames).bytes).toEqual(Buffer.concat([PING_PACKET, QUERY_PACKET]));
  });

  it("compresses with zstd when asked, and the zstd CLI's frame reads back the same", () => {
    const codec = zstdCodec(zstd, 3);
    const [frame] = new CompressedWriter({ codec }).encode(QUERY_PACKET);
    expect(decodeFrameHeader(frame!).uncompressedLength).toBe(50);
    expect(zstdContentSize(frame!.subarray(7))).toBe(50);
    expect(readAll(codec, [frame!]).bytes).toEqual(QUERY_PACKET);
  });
});

describe("CompressedReader, split at every offset", () => {
  const stream = Buffer.concat([
    QUERY_FRAME,
    PING_FRAME,
    // zlib's own compress() of a longer run, in frame 2.
    encodeFrame(2, deflateSync(Buffer.alloc(300, 0x41)), 300),
    // An empty frame is legal and yields nothing.
    hex("000000 03 000000"),
    encodeFrame(4, QUERY_PACKET, 0),
  ]);
  const want = Buffer.concat([QUERY_PACKET, PING_PACKET, Buffer.alloc(300, 0x41), QUERY_PACKET]);

  it("zlib: the documentation's frame, a stored frame, zlib output, an empty frame", () => {
    for (const chunks of everySplit(stream)) {
      const { bytes, reader } = readAll(zlibCodec(), chunks);
      expect(bytes).toEqual(want);
      expect([reader.lastSeq, reader.frameCount, reader.idle]).toEqual([4, 5, true]);
    }
  });

  it("zstd: the CLI's frame (with checksum) and a stored frame", () => {
    const z = Buffer.concat([encodeFrame(0, QUERY_ZSTD, 50), PING_FRAME]);
    for (const chunks of everySplit(z)) {
      expect(readAll(zstdCodec(zstd), chunks).bytes).toEqual(Buffer.concat([QUERY_PACKET, PING_PACKET]));
    }
  });

  it("passes uncompressed frames on as they arrive, without copying", () => {
    const reader = new CompressedReader();
    const chunk = Buffer.concat([PING_FRAME, QUERY_FRAME.subarray(0, 10)]);
    const [out] = reader.push(chunk);
    expect(out).toEqual(PING_PACKET);
    expect(out!.buffer).toBe(chunk.buffer);
    expect(reader.idle).toBe(false);
    // A large uncompressed frame streams out piece by piece.
    const big = new CompressedReader();
    const frame = encodeFrame(0, randomBytes(100_000), 0);
    expect(big.push(frame.subarray(0, 50_007))[0]!.length).toBe(50_000);
    expect(big.push(frame.subarray(50_007))[0]!.length).toBe(50_000);
  });

  it("reads more than 16 MiB in frames of up to 0xFFFFFF, chunks of any size", () => {
    const data = Buffer.alloc(MAX_FRAME_PAYLOAD * 2 + 12345);
    for (let i = 0; i < data.length; i += 4096) data[i] = i & 0xff;
    const frames = Buffer.concat(new CompressedWriter().encode(data));
    const chunks: Buffer[] = [];
    for (let at = 0, n = 1; at < frames.length; at += n, n = (n * 7 + 13) % 65_536) {
      chunks.push(frames.subarray(at, at + n));
    }
    const { bytes, reader } = readAll(zlibCodec(), chunks);
    expect(bytes.equals(data)).toBe(true);
    expect(reader.lastSeq).toBe(2);
  });
});

describe("CompressedReader refuses frames that lie", () => {
  it.each([
    ["garbage instead of zlib", encodeFrame(0, Buffer.from("not zlib at all"), 50)],
    ["inflates to more than announced", encodeFrame(0, deflateSync(Buffer.alloc(1000)), 999)],
    ["inflates to less than announced", encodeFrame(0, deflateSync(Buffer.alloc(1000)), 1001)],
  ])("zlib: %s", (_what, frame) => {
    expect(violation(() => new CompressedReader().push(frame)).code).toBe("PROTOCOL_VIOLATION");
  });

  it("zstd: a frame whose content size disagrees with the header, or no zstd frame at all", () => {
    const r = () => new CompressedReader(zstdCodec(zstd));
    expect(violation(() => r().push(encodeFrame(0, QUERY_ZSTD, 49))).message).toMatch(
      /says 50 bytes, header said 49/,
    );
    expect(violation(() => r().push(encodeFrame(0, deflateSync(QUERY_PACKET), 50))).message).toMatch(
      /not a zstd frame/,
    );
  });

  it("a small frame claiming a huge size cannot make the reader allocate it", () => {
    // 16 MiB of zeros deflate to ~16 KB; the header says 1000: inflating stops at 1000 bytes.
    const bomb = encodeFrame(0, deflateSync(Buffer.alloc(MAX_FRAME_PAYLOAD)), 1000);
    expect(violation(() => new CompressedReader().push(bomb)).code).toBe("PROTOCOL_VIOLATION");
  });
});

describe("zstdContentSize (RFC 8878 frame header)", () => {
  it("reads the sizes the zstd CLI and the binding write, or says there is none", () => {
    expect(zstdContentSize(QUERY_ZSTD)).toBe(50);
    expect(zstdContentSize(zstd.compress(Buffer.alloc(300), 3))).toBe(300);
    expect(zstdContentSize(zstd.compress(Buffer.alloc(70_000), 3))).toBe(70_000);
    // Frame header descriptor 0x00: no content size (streaming), window descriptor follows.
    expect(zstdContentSize(hex("28b52ffd 00 58 0000"))).toBeNull();
    expect(zstdContentSize(Buffer.from("hello"))).toBeUndefined();
  });
});

describe("round trip (property)", () => {
  it("whatever the bytes, the codec, the writes and the chunking", () => {
    const codecs: PayloadCodec[] = [zlibCodec(), zlibCodec(1), zstdCodec(zstd, 3), zstdCodec(zstd, 1)];
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 300 }),
            // Compressible runs, so that real compressed frames are common.
            fc
              .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 3000 }))
              .map(([b, n]) => new Uint8Array(n).fill(b)),
          ),
          { maxLength: 8 },
        ),
        fc.integer({ min: 0, max: codecs.length - 1 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 255 }),
        (writes, which, cuts, firstSeq) => {
          const codec = codecs[which]!;
          const w = new CompressedWriter({ codec });
          w.resetSequence(firstSeq);
          const frames = writes.flatMap((d) => w.encode(d));
          const stream = Buffer.concat(frames);
          const chunks: Buffer[] = [];
          for (let at = 0, i = 0; at < stream.length; i++) {
            const n = cuts[i % cuts.length]!;
            chunks.push(stream.subarray(at, at + n));
            at += n;
          }
          const { bytes, reader } = readAll(codec, chunks);
          expect(bytes).toEqual(Buffer.concat(writes));
          const nonEmpty = writes.filter((d) => d.length > 0).length;
          expect(reader.frameCount).toBe(nonEmpty);
          if (nonEmpty > 0) expect(reader.lastSeq).toBe((firstSeq + nonEmpty - 1) & 0xff);
        },
      ),
      { numRuns: 300 },
    );
  });
});
