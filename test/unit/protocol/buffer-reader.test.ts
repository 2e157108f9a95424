import { describe, expect, test } from "vitest";
import { RwsplitError } from "../../../src/errors.js";
import { BufferReader } from "../../../src/protocol/buffer-reader.js";
import { bytes, hex, lenenc, lenencStr } from "../../helpers/wire.js";

function violation(fn: () => unknown): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RwsplitError);
  expect((caught as RwsplitError).code).toBe("PROTOCOL_VIOLATION");
}

describe("BufferReader", () => {
  test("fixed-width little-endian integers, unsigned", () => {
    const r = new BufferReader(hex("ff 0302 040302 feffffff"));
    expect(r.u8()).toBe(0xff);
    expect(r.u16()).toBe(0x0203);
    expect(r.u24()).toBe(0x020304);
    expect(r.u32()).toBe(0xfffffffe);
    expect(r.remaining).toBe(0);
  });

  test.each([0, 250, 251, 0xffff, 0x10000, 0xffffff, 0x1000000, 2 ** 40, Number.MAX_SAFE_INTEGER])(
    "int<lenenc> %d",
    (v) => {
      const r = new BufferReader(bytes(lenenc(v), [0x2a]));
      expect(r.lenenc()).toBe(v);
      expect(r.u8()).toBe(0x2a);
    },
  );

  test("0xFB is a NULL length-encoded integer (NULL column in a text row)", () => {
    const r = new BufferReader(hex("fb fb 05"));
    expect(r.lenencOrNull()).toBeNull();
    violation(() => r.lenenc());
    expect(r.lenencOrNull()).toBe(5);
  });

  test("0xFF is not a length-encoded integer", () => {
    violation(() => new BufferReader(hex("ff")).lenencOrNull());
  });

  test("strings: fixed, length-encoded, NUL-terminated, rest of packet", () => {
    const buf = bytes("abc", lenencStr("日本"), lenencStr(""), "user\0", "db\0", "the rest");
    const r = new BufferReader(buf);
    expect(r.bytes(3).toString()).toBe("abc");
    expect(r.lenencString()).toBe("日本");
    expect(r.lenencBytes().length).toBe(0);
    expect(r.nulString()).toBe("user");
    expect(r.nulBytes().toString()).toBe("db");
    expect(r.restString()).toBe("the rest");
    expect(r.remaining).toBe(0);
    expect(r.restBytes().length).toBe(0);
  });

  test("bytes are views of the packet, not copies", () => {
    const buf = hex("0102030405");
    const v = new BufferReader(buf).bytes(3);
    expect(v.buffer).toBe(buf.buffer);
    expect(v.byteOffset).toBe(buf.byteOffset);
  });

  test("a NUL-terminated string missing its NUL at the end of the packet is taken whole", () => {
    const r = new BufferReader(Buffer.from("mysql_native_password"));
    expect(r.nulString()).toBe("mysql_native_password");
    expect(r.remaining).toBe(0);
    expect(r.nulString()).toBe("");
  });

  test("skip and the start/end window: nothing is read outside it", () => {
    const buf = Buffer.from("xxab\0cdyy");
    const r = new BufferReader(buf, 2, 7);
    expect(r.remaining).toBe(5);
    expect(r.nulString()).toBe("ab");
    r.skip(1);
    expect(r.offset).toBe(6);
    expect(r.nulString()).toBe("d");
    expect(r.remaining).toBe(0);
    violation(() => r.u8());
    const w = new BufferReader(buf, 0, 3);
    expect(w.nulString()).toBe("xxa");
    expect(new BufferReader(buf, 4, 9).restString()).toBe("\0cdyy");
  });

  describe("a short packet is a PROTOCOL_VIOLATION, never a silent wrong value", () => {
    const cases: [string, string, (r: BufferReader) => unknown][] = [
      ["u8 at the end", "", (r) => r.u8()],
      ["u16 of 1 byte", "01", (r) => r.u16()],
      ["u24 of 2 bytes", "0102", (r) => r.u24()],
      ["u32 of 3 bytes", "010203", (r) => r.u32()],
      ["lenenc 0xFC with 1 byte", "fc01", (r) => r.lenenc()],
      ["lenenc 0xFD with 2 bytes", "fd0102", (r) => r.lenenc()],
      ["lenenc 0xFE with 7 bytes", "fe01020304050607", (r) => r.lenenc()],
      ["bytes(5) with 4 left", "01020304", (r) => r.bytes(5)],
      ["string<lenenc> longer than the packet", "05616263", (r) => r.lenencString()],
      ["string<lenenc> with no length", "", (r) => r.lenencBytes()],
      ["skip past the end", "0102", (r) => r.skip(3)],
    ];
    test.each(cases)("%s", (_name, bytesHex, read) => {
      const r = new BufferReader(hex(bytesHex));
      violation(() => read(r));
    });
  });
});
