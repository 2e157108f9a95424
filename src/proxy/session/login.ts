import {
  Capability,
  MARIADB_WIRE_FORMAT_CAPABILITIES,
  WIRE_FORMAT_CAPABILITIES,
} from "../../protocol/constants/capabilities.js";
import { type AcquireRequest, poolKeyString } from "../backend-pool.js";
import type { AuthResult } from "../client-auth.js";
import type { ProxyContext } from "../context.js";
import { SessionState } from "./session-state.js";

/**
 * What a session starts with once its client logged in (or changed user): how its backend
 * connections are leased (pool key: user, the wire-format flags that change the bytes relayed,
 * MariaDB's extended capabilities that do, the collation) and its state (schema, multi-statements, the client's own session tracking,
 * as the server would start it). Backend connections always track the session
 * (CLIENT_SESSION_TRACK is not in the pool key); the client's OK packets are rewritten to what it
 * asked for (ok-for-client.ts).
 */
export function sessionStart(
  r: AuthResult,
  ctx: ProxyContext,
): { login: AcquireRequest; state: SessionState } {
  const wireFlags = r.capabilities & WIRE_FORMAT_CAPABILITIES;
  const mariadbFlags = r.mariadbCapabilities & MARIADB_WIRE_FORMAT_CAPABILITIES;
  const key = { user: r.user.name, wireFlags, mariadbFlags, collation: r.collation };
  const login: AcquireRequest = {
    key,
    keyString: poolKeyString(key),
    credentials: ctx.users.credentials(r.user),
    schema: r.schema,
  };
  const tracking = {
    ...ctx.serverDefaults().tracking,
    sessionTrack: (r.capabilities & Capability.SESSION_TRACK) !== 0,
  };
  const state = new SessionState(r.schema, (r.capabilities & Capability.MULTI_STATEMENTS) !== 0, tracking);
  return { login, state };
}
