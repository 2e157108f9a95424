import { describe, expect, test } from "vitest";
import { Capability } from "../../../src/protocol/constants/capabilities.js";
import { PacketFramer } from "../../../src/protocol/framing.js";
import {
  decodeAuthSwitchRequest,
  encodeAuthMoreData,
  encodeAuthSwitchRequest,
} from "../../../src/protocol/packets/auth-switch-request.js";
import {
  decodeHandshakeResponse41,
  encodeHandshakeResponse41,
  type HandshakeResponse41,
} from "../../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10, encodeHandshakeV10 } from "../../../src/protocol/packets/handshake-v10.js";
import {
  decodeSslRequest,
  encodeSslRequest,
  isSslRequest,
} from "../../../src/protocol/packets/ssl-request.js";
import { bytes, frames, hex, lenenc, lenencStr, u32 } from "../../helpers/wire.js";

/** The payload of a single framed packet, checking header length and sequence id. */
function payloadOf(framed: Buffer, seq: number): Buffer {
  const f = new PacketFramer();
  f.push(framed);
  const p = f.next()!;
  expect(p.seq).toBe(seq);
  expect(f.next()).toBeNull();
  expect(f.bufferedBytes).toBe(0);
  return Buffer.from(p.payload);
}

// Captured once from MariaDB 10.11 on 127.0.0.1:3306 (the greeting of a raw TCP connection).
const MARIADB_GREETING = hex(
  "64000000 0a 352e352e352d31302e31312e31392d4d6172696144422d302b6465623132753100 0a000000" +
    "7c3179322b226557 00 fef7 2d 0200 ff81 15 000000000000 1d000000 66784c4f2c2a2c3f393e6c28 00" +
    "6d7973716c5f6e61746976655f70617373776f726400",
);

// Captured once from the mariadb CLI (Connector/C 3.3) logging in as alice to db testdb against a
// fake server sending the greeting above; then with --ssl against the same greeting plus CLIENT_SSL.
const CLI_RESPONSE = hex(
  "d8000001 8ca2bf00 00000010 21 00000000000000000000000000000000000000 1d000000 616c69636500" +
    "14 63ccbd685c7593273f91222eb085600a93e7c2ef 7465737464620" +
    "0 6d7973716c5f6e61746976655f70617373776f726400" +
    "7f 035f6f73054c696e75780c5f636c69656e745f6e616d650a6c69626d617269616462045f70696405313639" +
    "34330f5f636c69656e745f76657273696f6e06332e332e3230095f706c6174666f726d067838365f36340c70" +
    "726f6772616d5f6e616d65056d7973716c0c5f7365727665725f686f7374093132372e302e302e31",
);
const CLI_SSL_REQUEST = hex("20000001 8caabf00 00000010 21 00000000000000000000000000000000000000 1d000000");

describe("HandshakeV10", () => {
  test("decodes MariaDB's real greeting", () => {
    const g = decodeHandshakeV10(payloadOf(MARIADB_GREETING, 0));
    expect(g).toEqual({
      protocolVersion: 10,
      serverVersion: "5.5.5-10.11.19-MariaDB-0+deb12u1",
      connectionId: 10,
      scramble: hex("7c3179322b226557 66784c4f2c2a2c3f393e6c28"),
      capabilities: 0x81fff7fe,
      // PROGRESS | STMT_BULK_OPERATIONS | EXTENDED_METADATA | CACHE_METADATA: CLIENT_MYSQL is clear.
      mariadbCapabilities: 0x1d,
      characterSet: 45,
      status: 0x0002,
      authPlugin: "mysql_native_password",
    });
    expect(g.scramble.length).toBe(20);
    expect(g.capabilities & Capability.SSL).toBe(0);
  });

  test("re-encodes the real greeting byte for byte, MariaDB's extended capabilities included", () => {
    const g = decodeHandshakeV10(payloadOf(MARIADB_GREETING, 0));
    expect(encodeHandshakeV10(0, g).toString("hex")).toBe(MARIADB_GREETING.toString("hex"));
  });

  test("a MySQL greeting (CLIENT_MYSQL set) has no extended capabilities, whatever the reserved bytes hold", () => {
    const g = decodeHandshakeV10(payloadOf(MARIADB_GREETING, 0));
    const mysql = encodeHandshakeV10(0, {
      ...g,
      capabilities: (g.capabilities | Capability.LONG_PASSWORD) >>> 0,
    });
    const reserved = 4 + 1 + 33 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
    expect(mysql.subarray(reserved, reserved + 10)).toEqual(Buffer.alloc(10));
    expect(decodeHandshakeV10(payloadOf(mysql, 0)).mariadbCapabilities).toBe(0);
  });

  test("round trip", () => {
    const h = {
      serverVersion: "8.0.36-rwsplit",
      connectionId: 0xfffffffe,
      scramble: Buffer.from("abcdefghijklmnopqrst"),
      capabilities:
        (Capability.PROTOCOL_41 |
          Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH |
          Capability.DEPRECATE_EOF) >>>
        0,
      mariadbCapabilities: 0,
      characterSet: 255,
      status: 0x0002,
      authPlugin: "caching_sha2_password",
    };
    expect(decodeHandshakeV10(payloadOf(encodeHandshakeV10(0, h), 0))).toEqual({ protocolVersion: 10, ...h });
  });

  test("the scramble must be 20 bytes", () => {
    expect(() =>
      encodeHandshakeV10(0, {
        serverVersion: "x",
        connectionId: 1,
        scramble: Buffer.alloc(8),
        capabilities: 0,
        characterSet: 45,
        status: 0,
        authPlugin: "",
      }),
    ).toThrow();
  });
});

describe("HandshakeResponse41", () => {
  test("decodes the mariadb CLI's real response (lenenc auth data, database, plugin, attributes)", () => {
    const r = decodeHandshakeResponse41(payloadOf(CLI_RESPONSE, 1));
    expect(r.capabilities).toBe(0x00bfa28c);
    // Connector/C 3.3's MARIADB_CLIENT_SUPPORTED_FLAGS, in the filler (it cleared CLIENT_MYSQL).
    expect(r.mariadbCapabilities).toBe(0x1d);
    for (const flag of [
      "PLUGIN_AUTH_LENENC_CLIENT_DATA",
      "CONNECT_WITH_DB",
      "PLUGIN_AUTH",
      "CONNECT_ATTRS",
    ] as const) {
      expect(r.capabilities & Capability[flag], flag).not.toBe(0);
    }
    expect(r.maxPacketSize).toBe(0x10000000);
    expect(r.characterSet).toBe(0x21);
    expect(r.username).toBe("alice");
    expect(r.authResponse.toString("hex")).toBe("63ccbd685c7593273f91222eb085600a93e7c2ef");
    expect(r.database).toBe("testdb");
    expect(r.authPlugin).toBe("mysql_native_password");
    expect(r.attributes).toEqual({
      _os: "Linux",
      _client_name: "libmariadb",
      _pid: "16943",
      _client_version: "3.3.20",
      _platform: "x86_64",
      program_name: "mysql",
      _server_host: "127.0.0.1",
    });
  });

  const base: HandshakeResponse41 = {
    capabilities: 0,
    mariadbCapabilities: 0,
    maxPacketSize: 1 << 24,
    characterSet: 45,
    username: "app",
    authResponse: Buffer.from("0123456789abcdefghij"),
    database: null,
    authPlugin: "",
    attributes: {},
  };
  const {
    PROTOCOL_41,
    SECURE_CONNECTION,
    PLUGIN_AUTH,
    PLUGIN_AUTH_LENENC_CLIENT_DATA,
    CONNECT_WITH_DB,
    CONNECT_ATTRS,
  } = Capability;
  const cases: [string, HandshakeResponse41][] = [
    [
      "PLUGIN_AUTH_LENENC_CLIENT_DATA, CONNECT_WITH_DB, CONNECT_ATTRS",
      {
        ...base,
        capabilities:
          PROTOCOL_41 |
          SECURE_CONNECTION |
          PLUGIN_AUTH |
          PLUGIN_AUTH_LENENC_CLIENT_DATA |
          CONNECT_WITH_DB |
          CONNECT_ATTRS,
        database: "shop",
        authPlugin: "mysql_native_password",
        attributes: { _client_name: "rwsplit", ключ: "значение" },
      },
    ],
    [
      "lenenc auth data over 250 bytes (an RSA-encrypted password)",
      {
        ...base,
        capabilities: PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | PLUGIN_AUTH_LENENC_CLIENT_DATA,
        authResponse: Buffer.alloc(256, 0xab),
        authPlugin: "caching_sha2_password",
      },
    ],
    [
      "SECURE_CONNECTION only: int<1> length auth data, no database",
      {
        ...base,
        capabilities: PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH,
        authPlugin: "mysql_native_password",
      },
    ],
    [
      "MariaDB's extended capabilities (CLIENT_MYSQL clear)",
      {
        ...base,
        capabilities: PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH,
        mariadbCapabilities: 0x1c,
        authPlugin: "mysql_native_password",
      },
    ],
    [
      "MySQL 8's zstd: int<1> zstd_compression_level after the attributes",
      {
        ...base,
        capabilities:
          Capability.LONG_PASSWORD |
          PROTOCOL_41 |
          SECURE_CONNECTION |
          PLUGIN_AUTH |
          CONNECT_ATTRS |
          Capability.ZSTD_COMPRESSION_ALGORITHM,
        authPlugin: "mysql_native_password",
        attributes: { _client_name: "libmysql" },
        zstdLevel: 7,
      },
    ],
    [
      "no SECURE_CONNECTION: string<NUL> auth data",
      { ...base, capabilities: PROTOCOL_41 | CONNECT_WITH_DB, database: "d" },
    ],
    [
      "empty auth response (empty password)",
      { ...base, capabilities: PROTOCOL_41 | SECURE_CONNECTION, authResponse: Buffer.alloc(0) },
    ],
    [
      "CONNECT_ATTRS with no attributes",
      {
        ...base,
        capabilities: PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH_LENENC_CLIENT_DATA | CONNECT_ATTRS,
      },
    ],
  ];
  test.each(cases)("round trip: %s", (_name, h) => {
    const back = decodeHandshakeResponse41(payloadOf(encodeHandshakeResponse41(1, h), 1));
    expect({ ...back, authResponse: back.authResponse.toString("hex") }).toEqual({
      ...h,
      authResponse: h.authResponse.toString("hex"),
    });
  });

  test("encodes the documented layout", () => {
    const h = cases[0]![1];
    const attrs = bytes(
      lenencStr("_client_name"),
      lenencStr("rwsplit"),
      lenencStr("ключ"),
      lenencStr("значение"),
    );
    const want = bytes(
      u32(h.capabilities),
      u32(1 << 24),
      [45],
      Buffer.alloc(23),
      "app\0",
      lenenc(20),
      h.authResponse,
      "shop\0",
      "mysql_native_password\0",
      lenenc(attrs.length),
      attrs,
    );
    expect(encodeHandshakeResponse41(1, h).toString("hex")).toBe(frames(1, want).toString("hex"));
  });

  test("CONNECT_WITH_DB with an empty database name decodes as no database", () => {
    const h = { ...base, capabilities: PROTOCOL_41 | SECURE_CONNECTION | CONNECT_WITH_DB, database: null };
    const payload = payloadOf(encodeHandshakeResponse41(1, h), 1);
    expect(payload[payload.length - 1]).toBe(0);
    expect(decodeHandshakeResponse41(payload).database).toBeNull();
  });
});

describe("SSLRequest", () => {
  test("the mariadb CLI's real SSLRequest is recognised and decoded", () => {
    const payload = payloadOf(CLI_SSL_REQUEST, 1);
    expect(isSslRequest(payload)).toBe(true);
    expect(decodeSslRequest(payload)).toEqual({
      capabilities: 0x00bfaa8c,
      maxPacketSize: 0x10000000,
      characterSet: 0x21,
    });
    // A full HandshakeResponse41 is longer, and one without CLIENT_SSL is not an SSLRequest.
    expect(isSslRequest(payloadOf(CLI_RESPONSE, 1))).toBe(false);
    const noSsl = Buffer.from(payload);
    noSsl.writeUInt32LE(payload.readUInt32LE(0) & ~Capability.SSL);
    expect(isSslRequest(noSsl)).toBe(false);
  });

  test("round trip; CLIENT_SSL is always set", () => {
    const req = { capabilities: Capability.PROTOCOL_41, maxPacketSize: 1 << 24, characterSet: 45 };
    const framed = encodeSslRequest(1, req);
    expect(framed.length).toBe(4 + 32);
    const payload = payloadOf(framed, 1);
    expect(isSslRequest(payload)).toBe(true);
    expect(decodeSslRequest(payload)).toEqual({
      ...req,
      capabilities: Capability.PROTOCOL_41 | Capability.SSL,
    });
  });
});

describe("AuthSwitchRequest / AuthMoreData", () => {
  test("round trip: 0xFE, plugin name, 20-byte scramble + NUL", () => {
    const req = { plugin: "mysql_native_password", data: Buffer.from("abcdefghijklmnopqrst") };
    const framed = encodeAuthSwitchRequest(2, req);
    expect(framed.toString("hex")).toBe(
      frames(2, bytes([0xfe], "mysql_native_password\0", "abcdefghijklmnopqrst", [0])).toString("hex"),
    );
    expect(decodeAuthSwitchRequest(payloadOf(framed, 2))).toEqual(req);
  });

  test("data without the trailing NUL (some servers) and with no data at all", () => {
    expect(decodeAuthSwitchRequest(bytes([0xfe], "p\0", "xyz"))).toEqual({
      plugin: "p",
      data: Buffer.from("xyz"),
    });
    expect(decodeAuthSwitchRequest(bytes([0xfe], "old_password"))).toEqual({
      plugin: "old_password",
      data: Buffer.alloc(0),
    });
  });

  test("AuthMoreData: 0x01 then the data (caching_sha2 fast-auth success is 01 03)", () => {
    expect(encodeAuthMoreData(4, hex("03")).toString("hex")).toBe("020000040103");
  });
});
