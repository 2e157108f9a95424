import { BufferWriter } from "../buffer-writer.js";
import { Capability } from "../constants/capabilities.js";

/**
 * Protocol::SSLRequest: the first 32 bytes of a HandshakeResponse41 (int<4> client_flag with
 * CLIENT_SSL, int<4> max_packet_size, int<1> character_set, string[23] filler), sent in the clear
 * before the TLS handshake; the full response follows over TLS with the next sequence id.
 */
export interface SslRequest {
  capabilities: number;
  maxPacketSize: number;
  characterSet: number;
}

export function isSslRequest(payload: Buffer): boolean {
  return payload.length === 32 && (payload.readUInt32LE(0) & Capability.SSL) !== 0;
}

export function decodeSslRequest(payload: Buffer): SslRequest {
  return {
    capabilities: payload.readUInt32LE(0),
    maxPacketSize: payload.readUInt32LE(4),
    characterSet: payload[8]!,
  };
}

export function encodeSslRequest(seq: number, req: SslRequest): Buffer {
  return new BufferWriter(40)
    .u32(req.capabilities | Capability.SSL)
    .u32(req.maxPacketSize)
    .u8(req.characterSet)
    .zeros(23)
    .toPacket(seq);
}
