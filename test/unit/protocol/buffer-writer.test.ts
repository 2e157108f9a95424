import { describe, expect, test } from "vitest";
import { BufferReader } from "../../../src/protocol/buffer-reader.js";
import { BufferWriter, MAX_PAYLOAD, toPackets } from "../../../src/protocol/buffer-writer.js";
import { frames, hex, lenenc } from "../../helpers/wire.js";

describe("BufferWriter", () => {
  test("reserves the 4-byte header and fills it in last", () => {
    const w = new BufferWriter().u8(0x03).string("SELECT 1");
    expect(w.payloadLength).toBe(9);
    expect(w.payload().toString("latin1")).toBe("\x03SELECT 1");
    expect(w.toPacket(5).toString("hex")).toBe(`09000005${Buffer.from("\x03SELECT 1").toString("hex")}`);
  });

  test("an empty payload is a bare header", () => {
    expect(new BufferWriter().toPacket(1).toString("hex")).toBe("00000001");
  });

  test("fixed-width integers are little-endian and truncated to their width", () => {
    const w = new BufferWriter(16).u8(0x1ff).u16(0x1_0203).u24(0x0102_0304).u32(0xffff_fffe).u32(-1);
    expect(w.payload().toString("hex")).toBe("ff 0302 040302 feffffff ffffffff".replace(/ /g, ""));
  });

  test("strings: UTF-8 bytes, NUL-terminated, and length-encoded by byte count", () => {
    const w = new BufferWriter(16)
      .string("é")
      .nulString("ab")
      .lenencString("日本")
      .lenencBytes(hex("0001"))
      .bytes(hex("ff"))
      .zeros(3);
    expect(w.payload().toString("hex")).toBe("c3a9 616200 06e697a5e69cac 020001 ff 000000".replace(/ /g, ""));
  });

  test("grows past its initial size without losing what was written", () => {
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i & 0xff));
    const w = new BufferWriter(16).u8(1).bytes(data).u8(2);
    const p = w.toPacket(0);
    expect(p.readUIntLE(0, 3)).toBe(10_002);
    expect(p.subarray(4).equals(Buffer.concat([hex("01"), data, hex("02")]))).toBe(true);
  });

  // int<lenenc>: < 0xFB one byte; 0xFC + int<2>; 0xFD + int<3>; 0xFE + int<8>.
  const boundaries: [number, string][] = [
    [0, "00"],
    [250, "fa"],
    [251, "fcfb00"],
    [0xffff, "fcffff"],
    [0x10000, "fd000001"],
    [0xffffff, "fdffffff"],
    [0x1000000, "fe0000000100000000"],
    [2 ** 32, "fe0000000001000000"],
    [2 ** 40, "fe0000000000010000"],
    [Number.MAX_SAFE_INTEGER, "feffffffffffff1f00"],
  ];
  test.each(boundaries)("lenenc(%d) is %s and reads back", (v, want) => {
    const out = new BufferWriter().lenenc(v).payload();
    expect(out.toString("hex")).toBe(want);
    expect(out.equals(lenenc(v))).toBe(true);
    const r = new BufferReader(out);
    expect(r.lenenc()).toBe(v);
    expect(r.remaining).toBe(0);
  });
});

describe("splitting at 0xFFFFFF (continuation packets)", () => {
  // One 16 MiB buffer for all cases; contents checked through views, not copies.
  const big = Buffer.alloc(MAX_PAYLOAD + 1, 7);
  big[0] = 1;
  big[MAX_PAYLOAD - 1] = 2;
  big[MAX_PAYLOAD] = 9;

  test("0xFFFFFE bytes still fit one packet", () => {
    const payload = big.subarray(0, MAX_PAYLOAD - 1);
    const p = new BufferWriter().bytes(payload).toPacket(3);
    expect(p.length).toBe(4 + MAX_PAYLOAD - 1);
    expect(p.subarray(0, 4).toString("hex")).toBe("feffff03");
    expect(p.subarray(4).equals(payload)).toBe(true);
  });

  test("exactly 0xFFFFFF bytes: a full packet, then an empty one with the next sequence id", () => {
    const payload = big.subarray(0, MAX_PAYLOAD);
    const p = new BufferWriter().bytes(payload).toPacket(255);
    expect(p.length).toBe(4 + MAX_PAYLOAD + 4);
    expect(p.subarray(0, 4).toString("hex")).toBe("ffffffff");
    expect(p.subarray(4, 4 + MAX_PAYLOAD).equals(payload)).toBe(true);
    expect(p.subarray(4 + MAX_PAYLOAD).toString("hex")).toBe("00000000");
  });

  test("0xFFFFFF + 1 bytes: the last byte goes in a second packet", () => {
    const p = new BufferWriter().bytes(big).toPacket(0);
    expect(p.subarray(0, 4).toString("hex")).toBe("ffffff00");
    expect(p.subarray(4, 4 + MAX_PAYLOAD).equals(big.subarray(0, MAX_PAYLOAD))).toBe(true);
    expect(p.subarray(4 + MAX_PAYLOAD).toString("hex")).toBe("0100000109");
  });

  test("toPackets: a multiple of 0xFFFFFF ends with an empty packet", () => {
    const payload = Buffer.allocUnsafe(2 * MAX_PAYLOAD);
    const p = toPackets(payload, 10);
    expect(p.length).toBe(2 * MAX_PAYLOAD + 3 * 4);
    expect(p.subarray(0, 4).toString("hex")).toBe("ffffff0a");
    expect(p.subarray(4 + MAX_PAYLOAD, 8 + MAX_PAYLOAD).toString("hex")).toBe("ffffff0b");
    expect(p.subarray(8 + 2 * MAX_PAYLOAD).toString("hex")).toBe("0000000c");
    expect(p.subarray(4, 4 + MAX_PAYLOAD).equals(payload.subarray(0, MAX_PAYLOAD))).toBe(true);
    expect(p.subarray(8 + MAX_PAYLOAD, 8 + 2 * MAX_PAYLOAD).equals(payload.subarray(MAX_PAYLOAD))).toBe(true);
  });

  test("toPackets agrees with an independent framing, small and empty payloads included", () => {
    expect(toPackets(hex("0e"), 0).toString("hex")).toBe("010000000e");
    expect(toPackets(Buffer.alloc(0), 4).toString("hex")).toBe("00000004");
    const odd = Buffer.from("x".repeat(1000));
    expect(toPackets(odd, 255).equals(frames(255, odd))).toBe(true);
  });
});
