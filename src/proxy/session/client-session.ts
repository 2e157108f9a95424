import { StatementSample } from "../../digests/sample.js";
import { CLIENT_ERRORS, type ClientErrorSpec, PacketTooLargeError } from "../../errors.js";
import { toPackets } from "../../protocol/buffer-writer.js";
import { ServerStatus, STATUS_CLEAR_SET } from "../../protocol/constants/server-status.js";
import { type Packet, PacketFramer } from "../../protocol/framing.js";
import { encodeErr } from "../../protocol/packets/err.js";
import { encodeOk } from "../../protocol/packets/ok.js";
import type { RouteSession } from "../../routing/router.js";
import type { AcquireRequest, BackendPool } from "../backend-pool.js";
import { type AuthIo, type AuthResult, type AuthStep, ClientAuth } from "../client-auth.js";
import { commandHandler, infilePacket } from "../commands/index.js";
import type { ProxyContext, RunningStatement, SessionHandle } from "../context.js";
import type { ProxyUser } from "../user-directory.js";
import { AuthFlow, type AuthHost } from "./auth-flow.js";
import { CompressedTransport } from "./compressed-transport.js";
import { OpenCursors } from "./cursors.js";
import { describeSession } from "./describe.js";
import type { Dispatch } from "./dispatch.js";
import { type LoginHost, restartedLogin, sendLoginOk, sessionStart } from "./login.js";
import { SessionPin } from "./pin.js";
import { StatementRegistry } from "./prepared-statements.js";
import { PreviousStatement } from "./previous-statement.js";
import { SessionState } from "./session-state.js";
import { type RunHost, StatementRun } from "./statement-run.js";
import type { ClientTransport, TransportHandlers } from "./transport.js";

/** MariaDB answers a refused COM_CHANGE_USER after a second (sql_parse.cc), as does rwsplit. */
export const CHANGE_USER_REFUSAL_DELAY_MS = 1000;

/** Client session phases (STYLE.md principle 4). */
export const SessionPhase = {
  AUTH: "auth",
  /** Authenticated, no command in flight. */
  IDLE: "idle",
  /** A command is being served (backend acquisition, state sync, relay, an async handler). */
  BUSY: "busy",
  /** The server asked for a LOCAL INFILE: client packets go to the backend until an empty one. */
  INFILE: "infile",
  CLOSED: "closed",
} as const;
export type SessionPhase = (typeof SessionPhase)[keyof typeof SessionPhase];

/** What each phase does with the client's next packet; null leaves it queued in the framer. */
const PHASE_INPUT = {
  auth: "auth",
  idle: "command",
  busy: null,
  infile: "infile",
  closed: null,
} as const satisfies Record<SessionPhase, "auth" | "command" | "infile" | null>;

/**
 * One client connection: authentication (auth-flow.ts), then commands, each served by its handler
 * (src/proxy/commands/) through the session port, statements on backends by a StatementRun. The
 * transport is an interface: a Node socket in production (node-transport.ts), memory in tests.
 */
export class ClientSession implements RunHost, SessionHandle, AuthIo, AuthHost, LoginHost, TransportHandlers {
  phase: SessionPhase = SessionPhase.AUTH;
  readonly connectionId: number;
  readonly auth: ClientAuth;
  state: SessionState = new SessionState(null, false);
  readonly stmts = new StatementRegistry();
  readonly cursors = new OpenCursors();
  readonly pin = new SessionPin();
  /** Made for the first statement: an idle connection holds none (issue #15). */
  private previousStatement: PreviousStatement | null = null;
  capabilities = 0;
  mariadbCapabilities = 0;
  login: AcquireRequest | null = null;
  lastStatus: number = ServerStatus.AUTOCOMMIT;
  /** When the client last sent bytes or was last answered (wait_timeout counts from here). */
  private lastActiveAt = Date.now();
  private statementSample: StatementSample | null = null; // digest: made for the first command
  private user: ProxyUser | null = null;
  /** COM_CHANGE_USERs refused on this connection (SessionPort). */
  changeUserRefusals = 0;
  private readonly framer: PacketFramer;
  private runner: StatementRun | null = null; // made for the first statement (issue #15)
  private readonly authFlow = new AuthFlow(this);
  /** What the transport calls (`data`, `closed`): the session itself, no closures (issue #15). */
  readonly handlers: TransportHandlers = this;
  /** The router's view of this session, rewritten before each statement (`route` keeps nothing). */
  private readonly routeView: RouteSession = {
    pinned: null,
    consistency: "session",
    hasUnreplicatedWrite: false,
  };

  constructor(
    /** The client's connection; a CompressedTransport over it once the login asked for compression. */
    public transport: ClientTransport,
    readonly ctx: ProxyContext,
    private readonly onClosed: (s: ClientSession) => void,
  ) {
    this.connectionId = ctx.nextConnectionId();
    // The server refuses a packet of its max_allowed_packet bytes or more (ERR 1153, and closes
    // the connection; a session's value is the global one when it connects): so does rwsplit with
    // the primary's, instead of sending it on to a backend that would drop the connection.
    const serverMax = ctx.upstreams.primary.serverMaxAllowedPacket ?? ctx.serverDefaults().maxAllowedPacket;
    this.framer = new PacketFramer(Math.min(ctx.config.limits.maxAllowedPacket, serverMax - 1));
    this.auth = new ClientAuth(ctx, this, this.connectionId);
    transport.attach(this);
    transport.write(this.auth.greeting());
  }

  /** What the digests learn of the statement being served. */
  get sample(): StatementSample {
    if (this.statementSample === null)
      this.statementSample = new StatementSample(this.ctx.config.digests.max > 0);
    return this.statementSample;
  }

  /** Where the server keeps what the session may ask about its earlier statements. */
  get previous(): PreviousStatement {
    if (this.previousStatement === null) this.previousStatement = new PreviousStatement();
    return this.previousStatement;
  }

  get remoteHost(): string {
    return this.transport.remoteHost;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get userName(): string | null {
    return this.user?.name ?? null;
  }

  write(bytes: Buffer): void {
    this.transport.write(bytes);
  }

  routeSession(): RouteSession {
    const v = this.routeView;
    v.pinned = this.pin.where;
    v.consistency = this.ctx.config.routing.consistency;
    v.hasUnreplicatedWrite =
      this.state.lastWriteGtid !== null ||
      // ryw: another connection of this user wrote within routing.consistency_window
      (v.consistency === "user" && this.user !== null && this.ctx.userWrites?.record(this.user.name) != null);
    return v;
  }

  // ---- input ------------------------------------------------------------------------------

  /** Bytes from the client (TransportHandlers). */
  data(chunk: Buffer): void {
    this.framer.push(chunk);
    this.pump();
    // Idle now (else statementDone sets it when answered): one clock read per statement.
    if (this.phase === SessionPhase.IDLE) this.lastActiveAt = Date.now();
  }

  /** The client's connection closed or failed (TransportHandlers). */
  closed(): void {
    this.onTransportClosed();
  }

  private pump(): void {
    try {
      for (let input = PHASE_INPUT[this.phase]; input !== null; input = PHASE_INPUT[this.phase]) {
        const pkt = this.framer.next();
        if (pkt === null) return;
        this.transport.packetRead?.(this.framer.bufferedBytes);
        if (input === "command") {
          this.sample.none(); // digest: no statement until query() / execute() says which
          commandHandler(pkt.payload.length > 0 ? pkt.payload[0]! : -1)(this, pkt);
        } else if (input === "infile") infilePacket(this, pkt);
        else this.authFlow.onPacket(pkt);
      }
    } catch (e) {
      if (e instanceof PacketTooLargeError) {
        this.sendError(CLIENT_ERRORS.packetTooLarge(e.limit + 1), (e.seq + 1) & 0xff);
      } else this.sendError(CLIENT_ERRORS.malformedPacket((e as Error).message), 0);
      this.close();
    }
  }

  reauthenticate(
    step: AuthStep,
    onDone: (r: AuthResult) => void,
    onRefused: (error: ClientErrorSpec, seq: number) => void,
  ): void {
    this.authFlow.reauthenticate(step, onDone, onRefused);
  }

  changeUserRefused(error: ClientErrorSpec, seq: number): void {
    this.changeUserRefusals++;
    // As MariaDB: the session's state starts over (no session variable; the command has dropped
    // the pin, prepared statements and cursors) as its user, in its database, with the character
    // set it logged in with, and the global database character set (as after COM_RESET_CONNECTION).
    const login = this.login!;
    ({ login: this.login, state: this.state } = sessionStart(
      {
        user: this.user!,
        compression: null,
        capabilities: this.capabilities,
        mariadbCapabilities: this.mariadbCapabilities,
        collation: login.key.collation,
        schema: this.state.schema,
        okSeq: 0,
      },
      this.ctx,
    ));
    this.state.globalDatabaseCharset = true;
    this.phase = SessionPhase.BUSY;
    // The server answers a refused COM_CHANGE_USER a second later, against password guessing.
    setTimeout(() => {
      if (this.phase === SessionPhase.CLOSED) return;
      this.sendError(error, seq);
      this.statementDone();
    }, CHANGE_USER_REFUSAL_DELAY_MS).unref();
  }

  restarted(): void {
    this.login = restartedLogin(this.login!, this.ctx.upstreams.globals.generation);
    // The server starts the session's diagnostics over too: no earlier statement to ask about.
    this.previousStatement?.close();
  }

  enterAuth(): void {
    this.phase = SessionPhase.AUTH;
  }

  takeBuffered(): Buffer {
    return this.framer.drain();
  }

  loggedIn(r: AuthResult): void {
    this.user = r.user;
    this.capabilities = r.capabilities;
    this.mariadbCapabilities = r.mariadbCapabilities;
    ({ login: this.login, state: this.state } = sessionStart(r, this.ctx));
    this.phase = SessionPhase.IDLE;
    this.lastActiveAt = Date.now();
    const ok = encodeOk(r.okSeq, { status: this.lastStatus }, this.capabilities);
    // ryw: the user's writes through other rwsplit instances (Redis) are known before its first statement.
    const shared = this.ctx.userWrites?.loggingIn(r.user.name) ?? null;
    // The first login's OK is the last plain packet; COM_CHANGE_USER keeps what the login chose.
    const compression = this.transport instanceof CompressedTransport ? null : r.compression;
    if (shared !== null || compression !== null) {
      this.phase = SessionPhase.BUSY;
      void sendLoginOk(this, ok, shared, compression);
      return;
    }
    this.transport.write(ok);
    this.transport.ownReads?.();
  }

  /** Bytes for the framer (the login's early bytes, unwrapped from compressed frames). */
  feed(bytes: Buffer): void {
    this.framer.push(bytes);
  }

  // ---- commands (the port's side) -----------------------------------------------------------

  private statementRun(): StatementRun {
    if (this.runner === null) this.runner = new StatementRun(this);
    return this.runner;
  }

  run(d: Dispatch): void {
    this.phase = SessionPhase.BUSY;
    this.statementRun().start(d);
  }

  suspend(): void {
    this.phase = SessionPhase.BUSY;
  }

  resume(): void {
    this.statementDone();
  }

  statementDone(now = Date.now()): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.lastActiveAt = now;
    this.phase = SessionPhase.IDLE;
    if (this.ctx.draining()) {
      this.close();
      return;
    }
    this.pump();
  }

  enterInfile(): void {
    this.phase = SessionPhase.INFILE;
    this.pump();
  }

  forwardInfile(pkt: Packet): void {
    const last = pkt.payload.length === 0;
    if (last) this.phase = SessionPhase.BUSY;
    this.statementRun().forwardInfile(pkt.frame ?? toPackets(pkt.payload, pkt.seq), last);
  }

  replyOk(seq: number): void {
    // The server clears a statement's own flags when the next command starts (SERVER_STATUS_CLEAR_SET).
    const status = this.lastStatus & ~STATUS_CLEAR_SET;
    this.transport.write(encodeOk(seq, { status }, this.capabilities));
  }

  sendError(spec: ClientErrorSpec, seq: number): void {
    this.ctx.hooks.onClientError(spec.errno);
    if (this.phase === SessionPhase.CLOSED) return;
    this.transport.write(encodeErr(seq, spec));
  }

  unpin(discard: boolean): void {
    // Cursors live on the pinned connection: released or lost, they are gone.
    this.cursors.clear();
    this.pin.release(discard, this.login?.keyString ?? "");
  }

  // ---- what others see -------------------------------------------------------------------

  runningStatement(): RunningStatement | null {
    return this.runner?.running() ?? null;
  }

  /** Work on `pool` a switchover lets finish: a running statement, a transaction pinned there. */
  busyOn(pool: BackendPool): boolean {
    return this.runner?.running()?.pool === pool || this.pin.holdsWorkOn(pool);
  }

  /** The stall watchdog's look at this session (issue #19); true when it just reported a stall. */
  checkStall(now: number, warnMs: number): boolean {
    return this.phase === SessionPhase.BUSY && this.runner?.checkStall(now, warnMs) === true;
  }

  /** Since when the session waits for its client's next command (wait_timeout), or null. */
  idleSince(): number | null {
    return this.phase === SessionPhase.IDLE ? this.lastActiveAt : null;
  }

  describe(): Record<string, unknown> {
    return describeSession(this, this.runner?.describe() ?? { running: false }, this.framer.bufferedBytes);
  }

  isClosed(): boolean {
    return this.phase === SessionPhase.CLOSED;
  }

  close(): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.transport.end();
    this.onTransportClosed();
  }

  private onTransportClosed(): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.phase = SessionPhase.CLOSED;
    // A connection mid-response or holding session state cannot go back to a pool.
    this.runner?.abandon();
    this.pin.letGo()?.destroy();
    this.previousStatement?.close();
    // Its prepared statements are let go on the connections that stay (closed there unless cached).
    this.stmts.clear();
    this.transport.destroy();
    this.onClosed(this);
  }
}
