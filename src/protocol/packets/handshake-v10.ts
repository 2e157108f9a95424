import { RwsplitError } from "../../errors.js";
import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";
import { Capability } from "../constants/capabilities.js";

/**
 * Protocol::HandshakeV10, the server's greeting:
 * int<1> 10, string<NUL> server_version, int<4> connection_id, string[8] auth_plugin_data_part_1,
 * int<1> 0x00 filler, int<2> capability_flags_1, int<1> character_set, int<2> status_flags,
 * int<2> capability_flags_2, int<1> auth_plugin_data_len, string[10] reserved (MariaDB: 6 zero
 * bytes + int<4> extended capabilities), string[max(13, len - 8)] auth_plugin_data_part_2
 * (12 bytes + NUL), string<NUL> auth_plugin_name.
 */
export interface HandshakeV10 {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  /** The full 20-byte scramble (parts 1 and 2 joined, trailing NUL removed). */
  scramble: Buffer;
  capabilities: number;
  /**
   * MariaDB's extended capabilities (MariadbCapability): the last 4 of the 10 reserved bytes,
   * meaningful only when CLIENT_MYSQL (bit 0) is clear; 0 otherwise.
   */
  mariadbCapabilities: number;
  characterSet: number;
  status: number;
  authPlugin: string;
}

export function decodeHandshakeV10(payload: Buffer): HandshakeV10 {
  const r = new BufferReader(payload);
  const protocolVersion = r.u8();
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  const part1 = r.bytes(8);
  r.u8();
  let capabilities = r.u16();
  const characterSet = r.u8();
  const status = r.u16();
  capabilities = (capabilities | (r.u16() << 16)) >>> 0;
  const dataLen = r.u8();
  r.skip(6);
  const extended = r.u32();
  const mariadbCapabilities = capabilities & Capability.LONG_PASSWORD ? 0 : extended;
  let part2: Buffer = Buffer.alloc(0);
  if (capabilities & Capability.SECURE_CONNECTION) {
    part2 = r.bytes(Math.max(13, dataLen - 8));
    if (part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
  }
  const authPlugin = capabilities & Capability.PLUGIN_AUTH && r.remaining > 0 ? r.nulString() : "";
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    mariadbCapabilities,
    characterSet,
    status,
    authPlugin,
  };
}

export function encodeHandshakeV10(
  seq: number,
  h: Omit<HandshakeV10, "protocolVersion" | "mariadbCapabilities"> & { mariadbCapabilities?: number },
): Buffer {
  if (h.scramble.length !== 20) throw new RwsplitError("INTERNAL", "scramble must be 20 bytes");
  return new BufferWriter(128)
    .u8(10)
    .nulString(h.serverVersion)
    .u32(h.connectionId)
    .bytes(h.scramble.subarray(0, 8))
    .u8(0)
    .u16(h.capabilities & 0xffff)
    .u8(h.characterSet)
    .u16(h.status)
    .u16(h.capabilities >>> 16)
    .u8(21)
    .zeros(6)
    .u32(h.capabilities & Capability.LONG_PASSWORD ? 0 : (h.mariadbCapabilities ?? 0))
    .bytes(h.scramble.subarray(8))
    .u8(0)
    .nulString(h.authPlugin)
    .toPacket(seq);
}
