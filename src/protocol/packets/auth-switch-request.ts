import { BufferReader } from "../buffer-reader.js";
import { BufferWriter } from "../buffer-writer.js";

/**
 * AuthSwitchRequest: int<1> 0xFE, string<NUL> plugin name, string<EOF> plugin data (for the
 * native and caching_sha2 plugins: the 20-byte scramble followed by a NUL).
 * Told apart from an OK-as-EOF by the authentication phase it arrives in.
 */
export interface AuthSwitchRequest {
  plugin: string;
  data: Buffer;
}

export function decodeAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const r = new BufferReader(payload);
  r.u8();
  const plugin = r.nulString();
  let data = r.restBytes();
  if (data.length > 0 && data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}

export function encodeAuthSwitchRequest(seq: number, req: AuthSwitchRequest): Buffer {
  return new BufferWriter(64).u8(0xfe).nulString(req.plugin).bytes(req.data).u8(0).toPacket(seq);
}

/** AuthMoreData: int<1> 0x01, string<EOF> data (caching_sha2: fast-auth result, public key). */
export function encodeAuthMoreData(seq: number, data: Uint8Array): Buffer {
  return new BufferWriter(8 + data.length).u8(0x01).bytes(data).toPacket(seq);
}
