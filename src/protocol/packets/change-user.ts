import { BufferReader } from "../buffer-reader.js";
import { Capability } from "../constants/capabilities.js";

/**
 * COM_CHANGE_USER: int<1> 0x11, string<NUL> user, auth_response (int<1> length + data under
 * CLIENT_SECURE_CONNECTION, else string<NUL>), string<NUL> schema, then optionally int<2>
 * character_set, string<NUL> auth plugin name (CLIENT_PLUGIN_AUTH) and connection attributes.
 */
export interface ChangeUserRequest {
  user: string;
  authResponse: Buffer;
  /** Null when the client asked for no default schema. */
  schema: string | null;
  /** The collation id, or null when the client did not send one. */
  collation: number | null;
  /** "" when the client did not name one. */
  plugin: string;
}

/** Decodes the payload (command byte included); throws on a truncated packet. */
export function decodeChangeUser(payload: Buffer, capabilities: number): ChangeUserRequest {
  const r = new BufferReader(payload, 1);
  const user = r.nulString();
  const authResponse = capabilities & Capability.SECURE_CONNECTION ? r.bytes(r.u8()) : r.nulBytes();
  const schema = r.remaining > 0 ? r.nulString() || null : null;
  const collation = r.remaining >= 2 ? r.u16() || null : null;
  const plugin = capabilities & Capability.PLUGIN_AUTH && r.remaining > 0 ? r.nulString() : "";
  return { user, authResponse, schema, collation, plugin };
}
