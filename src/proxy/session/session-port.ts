import type { StatementSample } from "../../digests/sample.js";
import type { ClientErrorSpec } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import type { RouteSession } from "../../routing/router.js";
import type { AcquireRequest } from "../backend-pool.js";
import type { AuthResult, AuthStep, ClientAuth } from "../client-auth.js";
import type { ProxyContext } from "../context.js";
import type { OpenCursors } from "./cursors.js";
import type { Dispatch } from "./dispatch.js";
import type { SessionPin } from "./pin.js";
import type { StatementRegistry } from "./prepared-statements.js";
import type { PreviousStatement } from "./previous-statement.js";
import type { SessionState } from "./session-state.js";

/**
 * What a command handler (src/proxy/commands/) may do with its session: a narrow port, never the
 * session class, so handlers and the session core import each other only through this file.
 */
export interface SessionPort {
  readonly ctx: ProxyContext;
  readonly connectionId: number;
  readonly state: SessionState;
  readonly stmts: StatementRegistry;
  readonly cursors: OpenCursors;
  readonly pin: SessionPin;
  /** The connection the previous statement ran on, for a statement about that one. */
  readonly previous: PreviousStatement;
  readonly auth: ClientAuth;
  /** Capabilities the client negotiated. */
  readonly capabilities: number;
  /** MariaDB's extended capabilities the client negotiated (MariadbCapability). */
  readonly mariadbCapabilities: number;
  readonly userName: string | null;
  /** How this session's backend connections are acquired (its user, pool key, credentials). */
  readonly login: AcquireRequest | null;
  /** Status flags of the last OK/EOF relayed. */
  lastStatus: number;
  // digest: the statement being served, for the query digests (reported with onStatement).
  readonly sample: StatementSample;
  /** The router's view of this session, as of now. */
  routeSession(): RouteSession;
  /** Runs a command on a backend (statement-run.ts): the session is busy until it is answered. */
  run(d: Dispatch): void;
  replyOk(seq: number): void;
  /** Bytes for the client as they are (packets the handler framed itself). */
  write(bytes: Buffer): void;
  sendError(spec: ClientErrorSpec, seq: number): void;
  /** The handler goes on asynchronously (KILL): client packets wait until `resume()`. */
  suspend(): void;
  /** The handler's async work is over: serve the client's next command. */
  resume(): void;
  /**
   * Drops the pin: the connection goes back to its pool when nothing lives on it, else it is
   * closed (`discard`: close it whatever it holds).
   */
  unpin(discard: boolean): void;
  /** COM_CHANGE_USER: authentication continues with the client's next packets. */
  reauthenticate(
    step: AuthStep,
    onDone: (r: AuthResult) => void,
    onRefused: (error: ClientErrorSpec, seq: number) => void,
  ): void;
  /** Logged in (again): the session starts over as `r.user`. */
  loggedIn(r: AuthResult): void;
  /** COM_CHANGE_USER refusals so far on this connection. */
  readonly changeUserRefusals: number;
  /**
   * COM_CHANGE_USER refused: the session's state starts over as the user it was, in its database,
   * and the client gets `error` a second later.
   */
  changeUserRefused(error: ClientErrorSpec, seq: number): void;
  /**
   * COM_RESET_CONNECTION or COM_CHANGE_USER: the server started the session over, so its backend
   * connections come without what only a login sets (login.ts restartedLogin).
   */
  restarted(): void;
  isClosed(): boolean;
  close(): void;
  /** During LOCAL INFILE: a packet of the client's file for the backend. */
  forwardInfile(pkt: Packet): void;
}
