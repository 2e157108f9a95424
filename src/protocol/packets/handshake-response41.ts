import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";
import { Capability } from "../constants/capabilities.js";

/**
 * Protocol::HandshakeResponse41: int<4> client_flag, int<4> max_packet_size, int<1>
 * character_set, string[23] filler (MariaDB: 19 + int<4> extended capabilities, read when
 * CLIENT_MYSQL is clear), string<NUL> username, auth_response (int<lenenc> length under
 * CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, else int<1> length under CLIENT_SECURE_CONNECTION, else
 * string<NUL>), string<NUL> database (if CLIENT_CONNECT_WITH_DB), string<NUL> client_plugin_name
 * (if CLIENT_PLUGIN_AUTH), int<lenenc> attributes length + (string<lenenc> key, string<lenenc>
 * value)* (if CLIENT_CONNECT_ATTRS), int<1> zstd_compression_level (if
 * CLIENT_ZSTD_COMPRESSION_ALGORITHM, MySQL 8.0.18+).
 */
export interface HandshakeResponse41 {
  capabilities: number;
  /** MariaDB's extended capabilities (MariadbCapability); 0 when CLIENT_MYSQL is set. */
  mariadbCapabilities?: number;
  maxPacketSize: number;
  characterSet: number;
  username: string;
  authResponse: Buffer;
  database: string | null;
  authPlugin: string;
  attributes: Record<string, string>;
  /** zstd_compression_level (CLIENT_ZSTD_COMPRESSION_ALGORITHM), when sent. */
  zstdLevel?: number;
}

export function decodeHandshakeResponse41(payload: Buffer): HandshakeResponse41 {
  const r = new BufferReader(payload);
  const capabilities = r.u32();
  const maxPacketSize = r.u32();
  const characterSet = r.u8();
  r.skip(19);
  const extended = r.u32();
  const mariadbCapabilities = capabilities & Capability.LONG_PASSWORD ? 0 : extended;
  const username = r.nulString();
  let authResponse: Buffer;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes();
  else if (capabilities & Capability.SECURE_CONNECTION) authResponse = r.bytes(r.u8());
  else authResponse = r.nulBytes();
  let database: string | null = null;
  if (capabilities & Capability.CONNECT_WITH_DB && r.remaining > 0) {
    database = r.nulString();
    if (database === "") database = null;
  }
  let authPlugin = "";
  if (capabilities & Capability.PLUGIN_AUTH && r.remaining > 0) authPlugin = r.nulString();
  const attributes: Record<string, string> = {};
  if (capabilities & Capability.CONNECT_ATTRS && r.remaining > 0) {
    const attrs = new BufferReader(r.lenencBytes());
    while (attrs.remaining > 0) {
      const key = attrs.lenencString();
      attributes[key] = attrs.lenencString();
    }
  }
  const zstdLevel =
    capabilities & Capability.ZSTD_COMPRESSION_ALGORITHM && r.remaining > 0 ? r.u8() : undefined;
  return {
    capabilities,
    mariadbCapabilities,
    maxPacketSize,
    characterSet,
    username,
    authResponse,
    database,
    authPlugin,
    attributes,
    ...(zstdLevel === undefined ? {} : { zstdLevel }),
  };
}

export function encodeHandshakeResponse41(seq: number, h: HandshakeResponse41): Buffer {
  const w = new BufferWriter(128)
    .u32(h.capabilities)
    .u32(h.maxPacketSize)
    .u8(h.characterSet)
    .zeros(19)
    .u32(h.capabilities & Capability.LONG_PASSWORD ? 0 : (h.mariadbCapabilities ?? 0))
    .nulString(h.username);
  if (h.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(h.authResponse);
  else if (h.capabilities & Capability.SECURE_CONNECTION) w.u8(h.authResponse.length).bytes(h.authResponse);
  else w.bytes(h.authResponse).u8(0);
  if (h.capabilities & Capability.CONNECT_WITH_DB) w.nulString(h.database ?? "");
  if (h.capabilities & Capability.PLUGIN_AUTH) w.nulString(h.authPlugin);
  if (h.capabilities & Capability.CONNECT_ATTRS) {
    const attrs = new BufferWriter(64);
    for (const [k, v] of Object.entries(h.attributes)) attrs.lenencString(k).lenencString(v);
    w.lenencBytes(attrs.payload());
  }
  if (h.capabilities & Capability.ZSTD_COMPRESSION_ALGORITHM) w.u8(h.zstdLevel ?? 3);
  return w.toPacket(seq);
}
