import { CLIENT_ERRORS, type ClientErrorSpec } from "../../errors.js";
import {
  Capability,
  MARIADB_WIRE_FORMAT_CAPABILITIES,
  WIRE_FORMAT_CAPABILITIES,
} from "../../protocol/constants/capabilities.js";
import type { TrackingFilter } from "../../protocol/packets/ok-for-client.js";
import { type AcquireRequest, poolKeyString } from "../backend-pool.js";
import type { AuthResult, CompressionRequest } from "../client-auth.js";
import type { ProxyContext } from "../context.js";
import { CompressedTransport, codecFor } from "./compressed-transport.js";
import { SessionState } from "./session-state.js";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/**
 * What a session starts with once its client logged in (or changed user): how its backend
 * connections are leased (pool key: user, the wire-format flags that change the bytes relayed,
 * the login-only flags that set session variables, MariaDB's extended capabilities that change
 * the bytes, the collation) and its state (schema, multi-statements, the client's own session
 * tracking, as the server would start it). Backend connections always track the session
 * (CLIENT_SESSION_TRACK is not in the pool key); the client's OK packets are rewritten to what it
 * asked for (ok-for-client.ts).
 */
export function sessionStart(
  r: AuthResult,
  ctx: ProxyContext,
): { login: AcquireRequest; state: SessionState } {
  const wireFlags = r.capabilities & (WIRE_FORMAT_CAPABILITIES | LOGIN_ONLY_CAPABILITIES);
  const mariadbFlags = r.mariadbCapabilities & MARIADB_WIRE_FORMAT_CAPABILITIES;
  const globals = ctx.upstreams.globals.generation;
  const key = { user: r.user.name, wireFlags, mariadbFlags, collation: r.collation, globals };
  const login: AcquireRequest = {
    key,
    keyString: poolKeyString(key),
    credentials: ctx.users.credentials(r.user),
    schema: r.schema,
  };
  // Spelled out: a spread of the frozen defaults gives every session's object a hidden class of
  // its own (about 300 bytes more per connection).
  const d = ctx.serverDefaults().tracking;
  const tracking: TrackingFilter = {
    sessionTrack: (r.capabilities & Capability.SESSION_TRACK) !== 0,
    variables: d.variables,
    schema: d.schema,
    stateChange: d.stateChange,
    transactionInfo: d.transactionInfo,
  };
  const state = new SessionState(r.schema, (r.capabilities & Capability.MULTI_STATEMENTS) !== 0, tracking);
  return { login, state };
}

/**
 * Client flags the server applies to a session only as the connection logs in (sql_connect.cc):
 * CLIENT_IGNORE_SPACE puts IGNORE_SPACE into sql_mode, CLIENT_INTERACTIVE copies the global
 * interactive_timeout into wait_timeout. A COM_RESET_CONNECTION or a COM_CHANGE_USER (accepted or
 * refused) starts the session over from the global sql_mode and wait_timeout (MariaDB 10.11).
 * They are in the pool key: a backend connection logs in with them, and the server sets them up
 * there as on a direct connection, on the primary and on each replica with its own globals.
 */
const LOGIN_ONLY_CAPABILITIES = (Capability.IGNORE_SPACE | Capability.INTERACTIVE) >>> 0;

/**
 * The login a session leases with once the server has started it over (COM_RESET_CONNECTION,
 * COM_CHANGE_USER): backend connections logged in without the login-only flags, so that the next
 * statement sees what the server's own session would.
 */
export function restartedLogin(login: AcquireRequest, globals: number): AcquireRequest {
  const wireFlags = login.key.wireFlags & ~LOGIN_ONLY_CAPABILITIES;
  if (wireFlags === login.key.wireFlags && globals === login.key.globals) return login;
  const key = { ...login.key, wireFlags, globals };
  return { ...login, key, keyString: poolKeyString(key) };
}

/** What finishing a login needs of its session. */
export interface LoginHost {
  transport: ClientTransport;
  readonly handlers: TransportHandlers;
  isClosed(): boolean;
  /** Bytes already received behind the login (read as plain packets so far). */
  takeBuffered(): Buffer;
  feed(bytes: Buffer): void;
  sendError(spec: ClientErrorSpec, seq: number): void;
  close(): void;
  statementDone(): void;
}

/**
 * The login OK once what must come first is done: the user's writes through other rwsplit
 * instances are known (routing.consistency: user, shared through Redis), and the compression the
 * client asked for is ready. After the OK, a compressed session's bytes are frames, those that
 * came behind the login included; a plain session's reads move to buffers its transport owns.
 */
export async function sendLoginOk(
  host: LoginHost,
  ok: Buffer,
  shared: Promise<unknown> | null,
  compression: CompressionRequest | null,
): Promise<void> {
  let codec: Awaited<ReturnType<typeof codecFor>> | null = null;
  try {
    await shared;
    if (compression !== null) codec = await codecFor(compression);
  } catch (e) {
    if (host.isClosed()) return;
    // In place of the OK, with its sequence id.
    host.sendError(CLIENT_ERRORS.handshakeError(`compression unavailable: ${(e as Error).message}`), ok[3]!);
    host.close();
    return;
  }
  if (host.isClosed()) return;
  host.transport.write(ok);
  if (codec === null) host.transport.ownReads?.();
  else {
    const compressed = new CompressedTransport(host.transport, codec);
    compressed.attach(host.handlers);
    host.transport = compressed;
    const early = host.takeBuffered();
    try {
      if (early.length > 0) for (const b of compressed.unwrap(early)) host.feed(b);
    } catch (e) {
      host.sendError(CLIENT_ERRORS.malformedPacket((e as Error).message), 0);
      host.close();
      return;
    }
  }
  host.statementDone();
}
