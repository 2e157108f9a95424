import { describePins } from "../../routing/pins.js";
import type { BackendConnection } from "../backend-connection.js";
import type { OpenCursors } from "./cursors.js";
import type { Lease } from "./lease.js";
import type { SessionPin } from "./pin.js";
import type { SessionState } from "./session-state.js";
import type { ClientTransport } from "./transport.js";

/** What /sessions shows of a session. */
export interface Describable {
  readonly connectionId: number;
  readonly userName: string | null;
  readonly phase: string;
  readonly state: SessionState;
  readonly pin: SessionPin;
  readonly cursors: OpenCursors;
  readonly transport: ClientTransport;
}

/**
 * A session for the admin app's /sessions: who, where it is tied and why, what it set, the
 * statement running (backend, paused reads) and the bytes waiting each way (the relay stall
 * watchdog's view, issue #19). Nothing secret: no password, no statement text.
 */
export function describeSession(
  s: Describable,
  statement: Record<string, unknown>,
  bufferedFromClient: number,
): Record<string, unknown> {
  return {
    id: s.connectionId,
    user: s.userName,
    phase: s.phase,
    schema: s.state.schema,
    pinned: describePins(s.pin.bits),
    pin: s.pin.describe(),
    openCursors: s.cursors.ids(),
    vars: Object.fromEntries(s.state.vars),
    lastWriteGtid: s.state.lastWriteGtid,
    statement,
    clientPendingBytes: s.transport.pendingBytes,
    bufferedFromClient,
  };
}

/** The running statement's part of /sessions: where it runs and whether the client holds it up. */
export function describeRun(conn: BackendConnection | null, lease: Lease): Record<string, unknown> {
  if (conn === null) return { running: false };
  return {
    running: true,
    backend: lease.pool?.endpoint.name ?? null,
    route: lease.route,
    reason: lease.reason,
    backendPaused: conn.paused,
  };
}
