import type net from "node:net";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { StatementSample } from "../digests/sample.js";
import { CLIENT_ERRORS, type ClientErrorSpec, RwsplitError } from "../errors.js";
import { BufferReader } from "../protocol/buffer-reader.js";
import { toPackets } from "../protocol/buffer-writer.js";
import { Capability, WIRE_FORMAT_CAPABILITIES } from "../protocol/constants/capabilities.js";
import { Command, commandName } from "../protocol/constants/commands.js";
import { ServerStatus } from "../protocol/constants/server-status.js";
import { type Packet, PacketFramer } from "../protocol/framing.js";
import { encodeErr } from "../protocol/packets/err.js";
import { decodeOk, encodeOk } from "../protocol/packets/ok.js";
import { Captured, NOT_DONE, ResponseKind } from "../protocol/response-scanner.js";
import {
  embedsKill,
  type KillScope,
  type KillStatement,
  parseKill,
  processKill,
} from "../routing/kill-statement.js";
import { type RouteDecision, type RouteSession, route } from "../routing/router.js";
import { type RoutedStatement, routeStatement } from "../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../routing/statement-flags.js";
import type { BackendConnection, ConnectionStatement, RelaySink } from "./backend-connection.js";
import type { AcquireRequest, BackendPool } from "./backend-pool.js";
import { type AuthIo, type AuthResult, type AuthStep, ClientAuth } from "./client-auth.js";
import type { ProxyContext } from "./context.js";
import { OpenCursors, requestsCursor } from "./cursors.js";
import { decideKill, embeddedKillRefusal, preparedKillRefusal } from "./kill-policy.js";
import {
  boundFlagOffset,
  type ClientStatement,
  rememberOnConnection,
  StatementRegistry,
  withParamTypes,
} from "./prepared-statements.js";
import { type BackendKillOutcome, killOnBackend, type RunningStatement } from "./session-kill.js";
import { describePins, Pin, SessionState, varsSyncSql } from "./session-state.js";
import type { ReplicaRequest } from "./upstreams.js";
import type { ProxyUser } from "./user-directory.js";

/** Client session phases (STYLE.md principle 4). */
export const SessionPhase = {
  AUTH: "auth",
  /** Authenticated, no command in flight. */
  IDLE: "idle",
  /** A command is being served (backend acquisition, state sync, relay). */
  BUSY: "busy",
  /** The server asked for a LOCAL INFILE: client packets go to the backend until an empty one. */
  INFILE: "infile",
  CLOSED: "closed",
} as const;
export type SessionPhase = (typeof SessionPhase)[keyof typeof SessionPhase];

/** A command on its way to a backend. */
interface Dispatch {
  pool: BackendPool;
  route: "primary" | "replica";
  reason: string;
  command: number;
  kind: ResponseKind;
  bytes: Buffer;
  /** Rewrites the bytes for the chosen connection (statement ids, parameter types). */
  beforeSend: ((conn: BackendConnection) => Promise<Buffer> | Buffer) | null;
  prepare: InFlight["prepare"];
  /** COM_SET_OPTION: the multi-statements setting it asks for. */
  multiStatements: boolean | null;
  /** Pin bits to set once the statement ran (user variables, temp tables, locks). */
  pinAfter: number;
  /** The statement reads LAST_INSERT_ID(): sync the connection's value first. */
  usesLastInsertId: boolean;
  /** For reads on a replica: what the replica must satisfy, to retry elsewhere on failure. */
  replica: ReplicaRequest | null;
  /**
   * COM_STMT_EXECUTE / COM_STMT_FETCH whose response may open or close a cursor: the client
   * statement id (ids start at 1), else 0.
   */
  cursorStmt: number;
}

/** The statement in flight. */
interface InFlight {
  conn: BackendConnection;
  pool: BackendPool;
  route: "primary" | "replica";
  reason: string;
  command: number;
  startedMs: number;
  /** Some response bytes already reached the client (so a failure cannot be answered cleanly). */
  forwarded: boolean;
  /** Response chunks held back to rewrite (COM_STMT_PREPARE), else null. */
  held: Buffer[] | null;
  /** For COM_STMT_PREPARE: the SQL and what PREPARE_OK said. */
  prepare: {
    sql: string;
    payload: Buffer;
    routed: RoutedStatement;
    backendId: number;
    numParams: number;
    numColumns: number;
  } | null;
  errno: number;
  multiStatements: boolean | null;
  dispatch: Dispatch;
  bytes: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** Statements that carry SQL for the server to run later: PREPARE s FROM '...', EXECUTE IMMEDIATE '...'. */
const EMBEDS_SQL = F.PREPARE_SQL | F.EXECUTE_SQL;
/** An EXECUTE without COM_STMT_SEND_LONG_DATA before it (the usual case): nothing to allocate. */
const NO_LONG_DATA: readonly Buffer[] = Object.freeze([]);

/**
 * One client connection: authentication, then commands. Statements borrow a pooled backend
 * connection and give it back when their response is relayed, unless the session is pinned
 * (transaction, autocommit off, state that cannot be replayed). Session variables and schema
 * travel with the session: a connection is synced before it serves a statement.
 */
export class ClientSession implements RelaySink, AuthIo {
  phase: SessionPhase = SessionPhase.AUTH;
  readonly connectionId: number;
  readonly remoteHost: string;
  private socket: net.Socket;
  private readonly framer: PacketFramer;
  private readonly auth: ClientAuth;
  private user: ProxyUser | null = null;
  private capabilities = 0;
  private acquireReq: AcquireRequest | null = null;
  private state: SessionState = new SessionState(null, false);
  private readonly stmts = new StatementRegistry();
  /** Open server-side cursors, all on the `pinned` connection (Pin.CURSOR while any is open). */
  private readonly cursors = new OpenCursors();
  /** Why the session is tied to `pinned` (Pin bits). */
  pins = 0;
  /** `primary`: pinned while its pool was the primary (a topology change ends such a pin). */
  private pinned: { conn: BackendConnection; pool: BackendPool; primary: boolean } | null = null;
  private current: InFlight | null = null;
  /** The router's view of this session, rewritten before each statement (`route` keeps nothing). */
  private readonly routeSession: RouteSession = {
    pinned: null,
    pinReason: null,
    consistency: "session",
    hasUnreplicatedWrite: false,
  };
  private lastStatus: number = ServerStatus.AUTOCOMMIT;
  // digest: the statement being served, for the query digests (reported with onStatement).
  private readonly sample: StatementSample;
  private waitingDrain = false;
  secure = false;
  private readonly resumeBackend = () => {
    this.waitingDrain = false;
    this.current?.conn.socket.resume();
  };

  constructor(
    socket: net.Socket,
    private readonly ctx: ProxyContext,
    private readonly onClosed: (s: ClientSession) => void,
  ) {
    this.socket = socket;
    this.remoteHost = socket.remoteAddress?.replace(/^::ffff:/, "") ?? "unknown";
    this.connectionId = ctx.nextConnectionId();
    this.sample = new StatementSample(ctx.config.digests.max > 0); // digest:
    this.framer = new PacketFramer(ctx.config.limits.maxAllowedPacket);
    this.auth = new ClientAuth(ctx, this, this.connectionId);
    socket.setNoDelay(true);
    this.attachSocket(socket);
    socket.write(this.auth.greeting());
  }

  private attachSocket(socket: net.Socket): void {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => {});
    socket.on("close", () => this.onSocketClose());
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** A short description for logs and debug output. */
  /**
   * Whether this session has work on `pool` that a switchover must let finish: a statement
   * running there, or an open transaction (or autocommit=0) pinned there.
   */
  busyOn(pool: BackendPool): boolean {
    if (this.current !== null && this.current.pool === pool) return true;
    return (
      this.pinned !== null &&
      this.pinned.pool === pool &&
      (this.pins & (Pin.TRANSACTION | Pin.AUTOCOMMIT_OFF | Pin.LOCKS)) !== 0
    );
  }

  /** The user this session is logged in as; null while it authenticates. */
  get userName(): string | null {
    return this.user?.name ?? null;
  }

  /** For KILL: the statement this session has running on a backend connection, or null. */
  runningStatement(): RunningStatement | null {
    const cur = this.current;
    const req = this.acquireReq;
    if (cur === null || req === null) return null;
    return { pool: cur.pool, threadId: cur.conn.threadId, req, stillRunning: () => this.current === cur };
  }

  describe(): Record<string, unknown> {
    return {
      id: this.connectionId,
      user: this.user?.name ?? null,
      phase: this.phase,
      schema: this.state.schema,
      pinned: describePins(this.pins),
      openCursors: this.cursors.ids(),
      vars: Object.fromEntries(this.state.vars),
      lastWriteGtid: this.state.lastWriteGtid,
    };
  }

  private onData(chunk: Buffer): void {
    this.framer.push(chunk);
    this.pump();
  }

  private pump(): void {
    try {
      while (
        this.phase === SessionPhase.AUTH ||
        this.phase === SessionPhase.IDLE ||
        this.phase === SessionPhase.INFILE
      ) {
        const pkt = this.framer.next();
        if (pkt === null) return;
        if (this.phase === SessionPhase.AUTH) this.onAuthPacket(pkt);
        else if (this.phase === SessionPhase.INFILE) this.onInfilePacket(pkt);
        else this.onCommand(pkt);
      }
    } catch (e) {
      this.sendError(CLIENT_ERRORS.malformedPacket((e as Error).message), 0);
      this.close();
    }
  }

  // ---- authentication -------------------------------------------------------------------

  /** COM_CHANGE_USER continues its authentication here when it needs more packets. */
  private authContinuation: ((pkt: Packet) => void) | null = null;

  private onAuthPacket(pkt: Packet): void {
    if (this.authContinuation !== null) {
      this.authContinuation(pkt);
      return;
    }
    this.applyAuthStep(this.auth.onPacket(pkt));
  }

  private applyAuthStep(step: AuthStep): void {
    switch (step.kind) {
      case "continue":
        return;
      case "start-tls":
        this.startTls();
        return;
      case "fail":
        this.sendError(step.error, step.seq);
        this.close();
        return;
      case "done":
        this.loggedIn(step.result);
        return;
    }
  }

  private startTls(): void {
    const raw = this.socket;
    raw.removeAllListeners("data");
    raw.removeAllListeners("close");
    // Clients send their TLS ClientHello right behind the SSLRequest, often in the same
    // segment: those bytes are already in the framer and must reach the TLS layer first.
    const early = this.framer.drain();
    let transport: Duplex = raw;
    if (early.length > 0) {
      const feed = new Duplex({
        read() {},
        write(chunk: Buffer, _enc, cb) {
          raw.write(chunk, cb);
        },
        final(cb) {
          raw.end(cb);
        },
      });
      feed.push(early);
      raw.on("data", (d: Buffer) => feed.push(d));
      raw.on("end", () => feed.push(null));
      raw.on("close", () => feed.destroy());
      transport = feed;
    }
    const secure = new tls.TLSSocket(transport as net.Socket, {
      isServer: true,
      secureContext: this.ctx.tls!.secureContext,
    });
    this.socket = secure;
    this.secure = true;
    this.attachSocket(secure);
  }

  private loggedIn(r: AuthResult): void {
    this.user = r.user;
    this.capabilities = r.capabilities;
    const wireFlags = r.capabilities & (WIRE_FORMAT_CAPABILITIES | Capability.SESSION_TRACK);
    this.acquireReq = {
      key: { user: r.user.name, wireFlags, collation: r.collation },
      keyString: `${r.user.name}\u0000${wireFlags}\u0000${r.collation}`,
      credentials: this.ctx.users.credentials(r.user),
      schema: r.schema,
    };
    this.state = new SessionState(r.schema, (r.capabilities & Capability.MULTI_STATEMENTS) !== 0);
    if (!(r.capabilities & Capability.SESSION_TRACK)) this.pins |= Pin.NO_SESSION_TRACK;
    this.phase = SessionPhase.IDLE;
    this.socket.write(encodeOk(r.okSeq, { status: this.lastStatus }, this.capabilities));
  }

  // ---- commands -----------------------------------------------------------------------

  private onCommand(pkt: Packet): void {
    const p = pkt.payload;
    const cmd = p.length > 0 ? p[0]! : -1;
    this.sample.none(); // digest: no statement until query() / execute() says which
    switch (cmd) {
      case Command.QUERY:
        this.query(pkt);
        return;
      case Command.PING:
        this.replyOk(pkt.seq + 1);
        return;
      case Command.QUIT:
        this.close();
        return;
      case Command.INIT_DB:
        this.forward(pkt, ResponseKind.SIMPLE, "session");
        return;
      case Command.SET_OPTION: {
        // int<2> option: 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = OFF.
        const d = this.dispatch(cmd, ResponseKind.SIMPLE, pkt.frame ?? toPackets(p, pkt.seq), "session");
        d.multiStatements = p.length >= 3 ? p.readUInt16LE(1) === 0 : null;
        this.run(d);
        return;
      }
      case Command.FIELD_LIST:
        this.forward(pkt, ResponseKind.FIELD_LIST, "read");
        return;
      case Command.STATISTICS:
        this.forward(pkt, ResponseKind.STRING, "read");
        return;
      case Command.STMT_PREPARE:
        this.prepare(pkt);
        return;
      case Command.STMT_EXECUTE:
        this.execute(pkt);
        return;
      case Command.STMT_SEND_LONG_DATA:
        this.longData(pkt);
        return;
      case Command.STMT_FETCH:
        this.fetch(pkt);
        return;
      case Command.STMT_CLOSE: {
        const id = p.length >= 5 ? p.readUInt32LE(1) : 0;
        if (this.cursors.has(id)) this.closeCursor(id);
        this.stmts.delete(id);
        return;
      }
      case Command.STMT_RESET: {
        const id = p.length >= 5 ? p.readUInt32LE(1) : 0;
        const stmt = this.stmts.get(id);
        if (stmt === undefined) {
          this.sendError(CLIENT_ERRORS.unknownStatement(id, "COM_STMT_RESET"), pkt.seq + 1);
          return;
        }
        stmt.longData = [];
        if (this.cursors.has(id)) this.closeCursor(id);
        this.replyOk(pkt.seq + 1);
        return;
      }
      case Command.RESET_CONNECTION:
        this.resetConnection(pkt.seq + 1);
        return;
      case Command.CHANGE_USER:
        this.changeUser(pkt);
        return;
      case Command.PROCESS_KILL: {
        const stmt = processKill(p);
        if (stmt === null) {
          this.sendError(
            CLIENT_ERRORS.malformedPacket("COM_PROCESS_KILL needs int<4> connection id"),
            pkt.seq + 1,
          );
          return;
        }
        this.kill(stmt, pkt.seq + 1);
        return;
      }
      default:
        this.sendError(CLIENT_ERRORS.unknownCommand(cmd, commandName(cmd)), pkt.seq + 1);
        return;
    }
  }

  /** A command for the primary (or the pinned connection). */
  private dispatch(command: number, kind: ResponseKind, bytes: Buffer, reason: string): Dispatch {
    return this.planned({ target: "primary", reason: "write" }, command, kind, bytes, reason);
  }

  /** Turns a routing decision into a pool: the pinned one, the primary, or a replica. */
  private planned(
    decision: RouteDecision,
    command: number,
    kind: ResponseKind,
    bytes: Buffer,
    reason: string,
  ): Dispatch {
    const d: Dispatch = {
      pool: this.ctx.upstreams.primary,
      route: "primary",
      reason,
      command,
      kind,
      bytes,
      beforeSend: null,
      prepare: null,
      multiStatements: null,
      pinAfter: 0,
      usesLastInsertId: false,
      replica: null,
      cursorStmt: 0,
    };
    const pinned = this.pinned;
    if (pinned !== null) {
      // The primary changed under a pinned session: the old primary must not be written to, and
      // the state held there (transaction, temp tables, variables) cannot follow. Closing the
      // connection makes `acquire` report exactly that.
      if (pinned.primary && pinned.pool !== this.ctx.upstreams.primary) pinned.conn.destroy();
      d.pool = pinned.pool;
      d.route = pinned.pool === this.ctx.upstreams.primary ? "primary" : "replica";
      d.reason = "pinned";
      return d;
    }
    if (decision.target === "replica") {
      const req = {
        maxLagMs: decision.maxLagMs,
        minGtid: decision.requireCaughtUp ? this.state.lastWriteGtid : null,
        exclude: null,
        user: this.acquireReq?.key.user ?? null,
      };
      const choice = this.ctx.upstreams.picker.pick(req);
      if (choice.pool !== null) {
        d.pool = choice.pool;
        d.route = "replica";
        d.reason = decision.reason;
        d.replica = req;
      } else {
        d.reason = req.minGtid !== null ? "consistency_fallback" : "no_replica";
      }
    }
    return d;
  }

  /** COM_QUERY: classify, route, run. */
  private query(pkt: Packet): void {
    const s = routeStatement(pkt.payload, 1);
    this.sample.query(pkt.payload, 1, s.route.kind); // digest:
    // KILL names one of rwsplit's connection ids: never forwarded (the classifier's flag: other
    // statements pay one bit test, and PREPARE/EXECUTE IMMEDIATE a look into their literal).
    if (hasFlag(s.flags, F.KILL)) {
      this.kill(parseKill(pkt.payload, 1), pkt.seq + 1);
      return;
    }
    if ((s.flags & EMBEDS_SQL) !== 0 && embedsKill(pkt.payload, 1)) {
      this.sendError(embeddedKillRefusal(), pkt.seq + 1);
      return;
    }
    this.run(this.routed(s, Command.QUERY, pkt.frame ?? toPackets(pkt.payload, pkt.seq)));
  }

  /** The dispatch for a classified statement (COM_QUERY, or COM_STMT_EXECUTE of its SQL). */
  private routed(s: RoutedStatement, command: number, bytes: Buffer): Dispatch {
    const rs = this.routeSession;
    rs.pinned = this.pinned === null ? null : "primary";
    rs.consistency = this.ctx.config.routing.consistency;
    rs.hasUnreplicatedWrite = this.state.lastWriteGtid !== null;
    const decision = route(s.route, rs);
    const d = this.planned(decision, command, ResponseKind.RESULTSET, bytes, decision.reason);
    d.pinAfter = s.pinAfter;
    d.usesLastInsertId = s.usesLastInsertId;
    return d;
  }

  private forward(pkt: Packet, kind: ResponseKind, reason: string): void {
    const bytes = pkt.frame ?? toPackets(pkt.payload, pkt.seq);
    this.run(this.dispatch(pkt.payload[0]!, kind, bytes, reason));
  }

  /**
   * Acquires a connection (synchronously when an idle, synced one is ready: the hot path), syncs
   * session state if it lags, then relays the command.
   */
  private run(d: Dispatch): void {
    this.phase = SessionPhase.BUSY;
    if (d.route === "primary" && this.pinned === null && this.ctx.upstreams.writesHeld) {
      this.runAsync(d, null);
      return;
    }
    const ready = this.readyConnection(d.pool);
    if (
      ready !== null &&
      d.beforeSend === null &&
      (!d.usesLastInsertId || ready.lastInsertId === this.state.lastInsertId)
    ) {
      this.send(ready, d, d.bytes);
      return;
    }
    this.runAsync(d, ready);
  }

  private async runAsync(d: Dispatch, ready: BackendConnection | null): Promise<void> {
    let conn: BackendConnection | null = ready;
    try {
      if (conn === null) conn = await this.acquireFor(d);
      if (this.isClosed()) {
        this.giveBack(conn, d.pool, true);
        return;
      }
      await this.sync(conn, d);
      const out = d.beforeSend !== null ? await d.beforeSend(conn) : d.bytes;
      if (this.isClosed()) {
        this.giveBack(conn, d.pool, true);
        return;
      }
      this.send(conn, d, out);
    } catch (e) {
      if (conn !== null) this.giveBack(conn, d.pool, conn.busy);
      // The read counted in flight by the picker never ran.
      if (d.route === "replica" && d.replica !== null && this.pinned === null)
        this.ctx.upstreams.picker.done(d.pool);
      this.failStatement(e, 1);
    }
  }

  /** A pinned or idle, already-synced connection, or null when async work is needed. */
  private readyConnection(pool: BackendPool): BackendConnection | null {
    const pinned = this.pinned;
    if (pinned !== null && pinned.pool === pool) return pinned.conn.state === "closed" ? null : pinned.conn;
    const conn = pool.tryAcquire(this.acquireReq!.keyString, Date.now());
    if (conn === null) return null;
    if (conn.syncedOwner === this.state && conn.syncedVersion === this.state.version) return conn;
    if (this.inSync(conn)) {
      conn.syncedOwner = this.state;
      conn.syncedVersion = this.state.version;
      return conn;
    }
    pool.release(conn, this.acquireReq!.keyString);
    return null;
  }

  /**
   * The connection for `d`. A statement for the primary (not pinned) waits while a failover or
   * switchover holds writes, and when the primary refuses connections while a failover may
   * replace it, keeps retrying on whatever is primary: up to `failover.holdWritesMs` in all.
   * Nothing has been sent at this point, so waiting and retrying are safe.
   */
  private async acquireFor(d: Dispatch): Promise<BackendConnection> {
    const up = this.ctx.upstreams;
    if (d.route === "replica" && d.replica !== null && this.pinned === null) return this.acquireReplica(d);
    if (d.route !== "primary" || this.pinned !== null) return this.acquire(d.pool);
    const fo = this.ctx.config.failover;
    const deadline = Date.now() + fo.holdWritesMs;
    const mayFailOver = fo.automatic && fo.admin !== undefined;
    for (;;) {
      if (up.writesHeld && !(await up.writesReady(Math.max(0, deadline - Date.now())))) {
        throw new RwsplitError(
          "NO_BACKEND",
          `writes were held ${fo.holdWritesMs} ms for a primary change that has not finished; retry, and check /backends`,
        );
      }
      d.pool = up.primary;
      try {
        return await this.acquire(d.pool);
      } catch (e) {
        const refused = e instanceof RwsplitError && e.code === "BACKEND_CONNECT_FAILED";
        if (refused) this.ctx.hooks.onBackendFailure?.(d.pool.endpoint.name);
        const retry = mayFailOver && refused && Date.now() < deadline;
        if (!retry || this.isClosed()) throw e;
        await up.topologyChange(Math.min(250, deadline - Date.now()));
      }
    }
  }

  /**
   * A replica connection for a read. A replica that refuses connections is marked down at once
   * and the read goes to another replica, else to the primary: nothing was sent yet.
   */
  private async acquireReplica(d: Dispatch): Promise<BackendConnection> {
    const picker = this.ctx.upstreams.picker;
    for (;;) {
      try {
        return await this.acquire(d.pool);
      } catch (e) {
        if (!(e instanceof RwsplitError && e.code === "BACKEND_CONNECT_FAILED") || this.isClosed()) throw e;
        this.ctx.hooks.onBackendFailure?.(d.pool.endpoint.name);
        picker.done(d.pool);
        picker.markDown(d.pool, e.message);
        const choice = picker.pick({ ...d.replica!, exclude: d.pool.endpoint.name });
        d.reason = "retry";
        if (choice.pool !== null) {
          d.pool = choice.pool;
          continue;
        }
        d.pool = this.ctx.upstreams.primary;
        d.route = "primary";
        d.replica = null;
        return this.acquireFor(d);
      }
    }
  }

  private async acquire(pool: BackendPool): Promise<BackendConnection> {
    const pinned = this.pinned;
    if (pinned !== null && pinned.pool === pool) {
      if (pinned.conn.state !== "closed") return pinned.conn;
      const held = this.pins & ~(Pin.NO_SESSION_TRACK | Pin.LOCAL_INFILE);
      const lost = describePins(held);
      const primaryChanged = pinned.primary && pinned.pool !== this.ctx.upstreams.primary;
      this.unpin();
      if (held === Pin.CURSOR) {
        throw new RwsplitError(
          "SESSION_LOST",
          `${primaryChanged ? "the primary changed (failover or switchover), and " : ""}the backend connection holding this session's open cursor was lost: the cursor is gone; execute the statement again`,
        );
      }
      if (lost.length > 0) {
        throw new RwsplitError(
          "SESSION_LOST",
          `${primaryChanged ? "the primary changed (failover or switchover), and " : ""}the backend connection holding this session's ${lost.join(", ")} was lost: an open transaction was rolled back (nothing since BEGIN was committed) and session state set on it is gone; start the transaction again`,
        );
      }
      if (primaryChanged) pool = this.ctx.upstreams.primary;
    }
    const req = this.acquireReq!;
    return pool.acquire({ ...req, schema: this.state.schema });
  }

  private inSync(conn: BackendConnection): boolean {
    const s = this.state;
    if (conn.schema !== s.schema && s.schema !== null) return false;
    if (conn.multiStatements !== s.multiStatements) return false;
    if (conn.vars.size !== s.vars.size) return false;
    for (const [k, v] of s.vars) if (conn.vars.get(k) !== v) return false;
    return true;
  }

  /** Brings a connection's schema, variables and options to the session's. */
  private async sync(conn: BackendConnection, d: Dispatch): Promise<void> {
    const s = this.state;
    if (d.usesLastInsertId && conn.lastInsertId !== s.lastInsertId) {
      // LAST_INSERT_ID(expr) sets the connection's value: this session's id, on any connection.
      const r = await conn.query(`DO LAST_INSERT_ID(${s.lastInsertId})`);
      if (r.err) throw new BackendStatementError(r.err);
      conn.lastInsertId = s.lastInsertId;
    }
    if (conn.syncedOwner === s && conn.syncedVersion === s.version) return;
    if (s.schema !== null && conn.schema !== s.schema) {
      const payload = Buffer.concat([Buffer.from([Command.INIT_DB]), Buffer.from(s.schema, "utf8")]);
      const r = await conn.command(payload);
      if (r.err) throw new BackendStatementError(r.err);
      conn.schema = s.schema;
    }
    const sql = varsSyncSql(s.vars, conn.vars);
    if (sql !== null) {
      const r = await conn.query(sql);
      if (r.err) throw new BackendStatementError(r.err);
      conn.vars.clear();
      for (const [k, v] of s.vars) conn.vars.set(k, v);
    }
    if (conn.multiStatements !== s.multiStatements) {
      // COM_SET_OPTION: int<2> 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = OFF.
      const r = await conn.command(Buffer.from([Command.SET_OPTION, s.multiStatements ? 0 : 1, 0]));
      if (r.err) throw new BackendStatementError(r.err);
      conn.multiStatements = s.multiStatements;
    }
    conn.syncedOwner = s;
    conn.syncedVersion = s.version;
  }

  private send(conn: BackendConnection, d: Dispatch, bytes: Buffer): void {
    this.current = {
      conn,
      pool: d.pool,
      route: d.route,
      reason: d.reason,
      command: d.command,
      startedMs: performance.now(),
      forwarded: false,
      held: d.kind === ResponseKind.PREPARE ? [] : null,
      prepare: d.prepare,
      errno: 0,
      multiStatements: d.multiStatements,
      dispatch: d,
      bytes,
    };
    conn.relay(d.kind, this, bytes);
  }

  // ---- relay (RelaySink) ----------------------------------------------------------------

  onRelayData(chunk: Buffer, end: number): void {
    const cur = this.current;
    if (cur === null) return;
    const data = end === NOT_DONE || end === chunk.length ? chunk : chunk.subarray(0, end);
    if (cur.held !== null) {
      // `data` is a view of the connection's read buffer: what is held back is copied.
      cur.held.push(Buffer.from(data));
    } else if (data.length > 0 && this.phase !== SessionPhase.CLOSED) {
      cur.forwarded = true;
      const flushed = this.socket.write(data);
      // Not written through at once: the socket holds on to `data` until it is.
      if (this.socket.writableLength > 0) cur.conn.lendReadBuffer();
      if (!flushed && !this.waitingDrain) {
        // Backpressure: a slow client pauses the backend instead of the proxy buffering rows.
        this.waitingDrain = true;
        cur.conn.socket.pause();
        this.socket.once("drain", this.resumeBackend);
      }
    }
    if (end === NOT_DONE) return;
    if (cur.conn.scanner.awaitingInfile) {
      this.pins |= Pin.LOCAL_INFILE;
      this.phase = SessionPhase.INFILE;
      this.pump();
      return;
    }
    this.finish(cur);
  }

  onPacket(type: Captured, payload: Buffer, _inChunk: boolean): void {
    const cur = this.current;
    if (cur === null) return;
    if (type === Captured.OK) {
      this.lastStatus = cur.conn.scanner.status;
      if (payload[0] === 0x00) this.trackOk(cur.conn, payload);
      else if (this.lastStatus & ServerStatus.SESSION_STATE_CHANGED) this.trackOk(cur.conn, payload);
    } else if (type === Captured.EOF) {
      this.lastStatus = cur.conn.scanner.status;
    } else if (type === Captured.ERR) {
      cur.errno = payload.length >= 3 ? payload.readUInt16LE(1) : 0;
    } else if (type === Captured.PREPARE_OK && cur.prepare !== null) {
      cur.prepare.backendId = payload.readUInt32LE(1);
      cur.prepare.numColumns = payload.readUInt16LE(5);
      cur.prepare.numParams = payload.readUInt16LE(7);
    }
  }

  /** Reads what an OK packet says about the session: last insert id, tracked state changes. */
  private trackOk(conn: BackendConnection, payload: Buffer): void {
    // Fast check: affected_rows and last_insert_id are single bytes < 0xFB almost always.
    const status = this.lastStatus;
    if (!(status & ServerStatus.SESSION_STATE_CHANGED) && payload[1]! < 0xfb && payload[2] === 0) return;
    const ok = decodeOk(payload, conn.capabilities);
    if (ok.lastInsertId !== 0) {
      this.state.lastInsertId = ok.lastInsertId;
      conn.lastInsertId = ok.lastInsertId;
    }
    if (ok.sessionState.length === 0) return;
    const before = this.state.version;
    if (this.state.apply(ok.sessionState)) this.pins |= Pin.UNTRACKED_STATE;
    if (this.state.version !== before) {
      // The connection made the change itself: it is in sync with the new state.
      conn.schema = this.state.schema;
      conn.vars.clear();
      for (const [k, v] of this.state.vars) conn.vars.set(k, v);
      conn.syncedOwner = this.state;
      conn.syncedVersion = this.state.version;
    }
  }

  onRelayError(err: RwsplitError): void {
    const cur = this.current;
    if (cur === null) return;
    this.current = null;
    if (this.pinned?.conn === cur.conn) this.unpin();
    if (this.waitingDrain) {
      this.socket.off("drain", this.resumeBackend);
      this.waitingDrain = false;
    }
    this.sample.ran(this.user?.name ?? "", this.state.schema, cur.conn.scanner.rows); // digest:
    this.ctx.hooks.onStatement(cur.route, cur.pool.endpoint.name, cur.reason, 0, 2013, this.sample);
    this.ctx.hooks.onBackendFailure?.(cur.pool.endpoint.name);
    const d = cur.dispatch;
    if (cur.route === "replica" && d.replica !== null) {
      this.ctx.upstreams.picker.done(cur.pool);
      this.ctx.upstreams.picker.markDown(cur.pool, err.message);
      if (!cur.forwarded && this.retryRead(d, cur.pool, cur.bytes)) return;
    }
    if (cur.forwarded) {
      // Mid-result: the client's parser is inside a result set; closing is the honest answer.
      this.close();
      return;
    }
    this.phase = SessionPhase.IDLE;
    this.sendError(CLIENT_ERRORS.lostConnection(err.message), 1);
    this.pump();
  }

  /**
   * A read failed on a replica before any byte reached the client: run it once more, on another
   * replica or the primary. The client sees only the delay.
   */
  private retryRead(d: Dispatch, failed: BackendPool, bytes: Buffer): boolean {
    if (d.reason.startsWith("retry")) return false;
    const choice = this.ctx.upstreams.picker.pick({ ...d.replica!, exclude: failed.endpoint.name });
    const retry: Dispatch = { ...d, bytes, reason: "retry", beforeSend: null };
    if (choice.pool !== null) retry.pool = choice.pool;
    else {
      retry.pool = this.ctx.upstreams.primary;
      retry.route = "primary";
      retry.replica = null;
    }
    this.run(retry);
    return true;
  }

  private finish(cur: InFlight): void {
    this.current = null;
    if (cur.held !== null) this.flushPrepare(cur);
    const status = this.lastStatus;
    let pins = this.pins & ~(Pin.TRANSACTION | Pin.AUTOCOMMIT_OFF | Pin.LOCAL_INFILE);
    if (status & ServerStatus.IN_TRANS) pins |= Pin.TRANSACTION;
    if (!(status & ServerStatus.AUTOCOMMIT)) pins |= Pin.AUTOCOMMIT_OFF;
    if (cur.multiStatements !== null && cur.errno === 0) {
      // COM_SET_OPTION ran on this connection: the session and the connection agree.
      this.state.setMultiStatements(cur.multiStatements);
      cur.conn.multiStatements = cur.multiStatements;
      if (cur.conn.syncedOwner === this.state) cur.conn.syncedVersion = this.state.version;
    }
    if (cur.errno === 0) pins |= cur.dispatch.pinAfter;
    if (cur.dispatch.cursorStmt !== 0) pins = this.cursorResponse(cur, pins);
    if (pins & Pin.CURSOR && !(pins & Pin.TRANSACTION) && cur.pool !== this.ctx.upstreams.primary) {
      // Cursors on a replica were opened inside a READ ONLY transaction pinned there: they end
      // with it, or the session's next statements (writes too) would stay on the replica.
      this.dropCursorsOn(cur.conn);
      pins &= ~Pin.CURSOR;
    }
    this.pins = pins;
    if (cur.route === "replica" && this.pinned === null) this.ctx.upstreams.picker.done(cur.pool);
    this.sample.ran(this.user?.name ?? "", this.state.schema, cur.conn.scanner.rows); // digest:
    this.ctx.hooks.onStatement(
      cur.route,
      cur.pool.endpoint.name,
      cur.reason,
      (performance.now() - cur.startedMs) * 1e6,
      cur.errno,
      this.sample, // digest:
    );
    if (pins !== 0) {
      if (this.pinned === null)
        this.pinned = { conn: cur.conn, pool: cur.pool, primary: cur.pool === this.ctx.upstreams.primary };
    } else if (this.pinned !== null) {
      this.unpin();
    } else {
      cur.pool.release(cur.conn, this.acquireReq!.keyString);
    }
    if (this.phase === SessionPhase.CLOSED) return;
    this.phase = SessionPhase.IDLE;
    if (this.ctx.draining()) {
      this.close();
      return;
    }
    this.pump();
  }

  private unpin(): void {
    const p = this.pinned;
    this.pinned = null;
    this.pins &= Pin.NO_SESSION_TRACK;
    // Cursors live on the pinned connection: released or lost, they are gone.
    this.cursors.clear();
    if (p === null) return;
    if (p.conn.state !== "closed") p.pool.release(p.conn, this.acquireReq!.keyString);
  }

  // ---- LOCAL INFILE -------------------------------------------------------------------------

  private onInfilePacket(pkt: Packet): void {
    const conn = this.current?.conn;
    if (conn === undefined) return;
    const last = pkt.payload.length === 0;
    conn.forwardInfile(pkt.frame ?? toPackets(pkt.payload, pkt.seq), last, this);
    if (last) this.phase = SessionPhase.BUSY;
  }

  // ---- prepared statements ------------------------------------------------------------------

  private prepare(pkt: Packet): void {
    const routed = routeStatement(pkt.payload, 1);
    if (hasFlag(routed.flags, F.KILL)) {
      this.sendError(preparedKillRefusal(), pkt.seq + 1);
      return;
    }
    const bytes = pkt.frame ?? toPackets(pkt.payload, pkt.seq);
    const d = this.dispatch(Command.STMT_PREPARE, ResponseKind.PREPARE, bytes, "prepare");
    d.prepare = {
      sql: pkt.payload.toString("utf8", 1),
      payload: Buffer.from(pkt.payload),
      routed,
      backendId: -1,
      numParams: 0,
      numColumns: 0,
    };
    this.run(d);
  }

  private flushPrepare(cur: InFlight): void {
    const held = Buffer.concat(cur.held!);
    const prep = cur.prepare;
    if (prep !== null && prep.backendId >= 0 && held[4] === 0x00) {
      const stmt = this.stmts.add(prep.sql, prep.payload, prep.numParams, prep.numColumns, prep.routed);
      rememberOnConnection(cur.conn, prep.sql, prep.backendId, prep.numParams, closeOnServer);
      // PREPARE_OK is the first packet: header (4) + 0x00, then int<4> statement_id.
      held.writeUInt32LE(stmt.id, 5);
    }
    if (held.length > 0) this.socket.write(held);
  }

  private execute(pkt: Packet): void {
    const p = pkt.payload;
    const clientId = p.length >= 5 ? p.readUInt32LE(1) : 0;
    const stmt = this.stmts.get(clientId);
    if (stmt === undefined) {
      this.sendError(CLIENT_ERRORS.unknownStatement(clientId, "COM_STMT_EXECUTE"), pkt.seq + 1);
      return;
    }
    const flagAt = boundFlagOffset(stmt.numParams);
    const bound = flagAt >= 0 && p.length > flagAt && p[flagAt] === 1;
    if (bound) stmt.paramTypes = Buffer.from(p.subarray(flagAt + 1, flagAt + 1 + stmt.numParams * 2));
    const longData = stmt.longData.length > 0 ? stmt.longData : NO_LONG_DATA;
    if (longData !== NO_LONG_DATA) stmt.longData = [];
    const cursor = requestsCursor(p);
    this.sample.prepared(stmt, stmt.preparePayload, 1, stmt.routed.route.kind); // digest:
    const d = cursor ? this.cursorExecute(stmt) : this.routed(stmt.routed, Command.STMT_EXECUTE, EMPTY);
    // Any EXECUTE of a statement closes its open cursor; one with the flag may open a new one.
    if (cursor || this.cursors.size > 0) d.cursorStmt = clientId;
    const ready = this.readyConnection(d.pool);
    this.phase = SessionPhase.BUSY;
    // Only a missing statement needs a round trip first; everything else is rewritten in place.
    const have = ready?.statements.get(stmt.sql);
    if (have !== undefined) {
      this.send(ready!, d, this.executeBytes(ready!, have, stmt, pkt, bound, longData));
      return;
    }
    d.beforeSend = (conn) => this.executeOn(conn, stmt, pkt, bound, longData);
    this.runAsync(d, ready);
  }

  /**
   * An EXECUTE that asks for a cursor goes to the primary, read or not: the cursor pins the session
   * to its connection until it closes, and a pin on a replica would send the session's writes in
   * the meantime to that replica (and tie it to a replica that lag or a topology change may take
   * away). A session already pinned runs it on its pinned connection, as every statement.
   */
  private cursorExecute(stmt: ClientStatement): Dispatch {
    const d = this.planned(
      { target: "primary", reason: "needs_primary" },
      Command.STMT_EXECUTE,
      ResponseKind.RESULTSET,
      EMPTY,
      "cursor",
    );
    d.pinAfter = stmt.routed.pinAfter;
    d.usesLastInsertId = stmt.routed.usesLastInsertId;
    return d;
  }

  /**
   * COM_STMT_FETCH: int<1> 0x1c, int<4> stmt_id, int<4> num_rows. Sent, with the statement id
   * rewritten, to the pinned connection that holds the cursor. Without an open cursor the proxy
   * answers as the server would, without a backend.
   */
  private fetch(pkt: Packet): void {
    const p = pkt.payload;
    if (p.length < 9) {
      this.sendError(
        CLIENT_ERRORS.malformedPacket("COM_STMT_FETCH needs int<4> stmt_id, int<4> num_rows"),
        pkt.seq + 1,
      );
      return;
    }
    const clientId = p.readUInt32LE(1);
    if (this.stmts.get(clientId) === undefined) {
      this.sendError(CLIENT_ERRORS.unknownStatement(clientId, "COM_STMT_FETCH"), pkt.seq + 1);
      return;
    }
    const backendId = this.cursors.backendId(clientId);
    if (backendId === undefined) {
      this.sendError(CLIENT_ERRORS.noOpenCursor(clientId), pkt.seq + 1);
      return;
    }
    p.writeUInt32LE(backendId, 1);
    const d = this.dispatch(
      Command.STMT_FETCH,
      ResponseKind.FETCH,
      pkt.frame ?? toPackets(p, pkt.seq),
      "cursor",
    );
    d.cursorStmt = clientId;
    this.run(d);
  }

  /** Applies an EXECUTE or FETCH response to the open cursors; returns `pins` with Pin.CURSOR set or not. */
  private cursorResponse(cur: InFlight, pins: number): number {
    const id = cur.dispatch.cursorStmt;
    const stmt = this.stmts.get(id);
    const backendId = stmt === undefined ? -1 : (cur.conn.statements.get(stmt.sql)?.id ?? -1);
    const kind = cur.command === Command.STMT_FETCH ? "fetch" : "execute";
    this.cursors.apply(id, backendId, { kind, status: this.lastStatus, errno: cur.errno });
    return this.cursors.size > 0 ? pins | Pin.CURSOR : pins & ~Pin.CURSOR;
  }

  /**
   * COM_STMT_CLOSE / COM_STMT_RESET of a statement with an open cursor: the cursor closes on the
   * server too. Closing the backend statement does that without a round trip (COM_STMT_CLOSE has
   * no response, and the session is idle, so the pinned connection is too); the connection
   * prepares the statement again when it next runs it.
   */
  private closeCursor(id: number): void {
    const backendId = this.cursors.backendId(id)!;
    this.cursors.apply(id, backendId, { kind: "close" });
    const pinned = this.pinned;
    if (pinned !== null && pinned.conn.state !== "closed") {
      for (const [sql, have] of pinned.conn.statements) {
        if (have.id !== backendId) continue;
        pinned.conn.statements.delete(sql);
        closeOnServer(pinned.conn, backendId);
        break;
      }
    }
    if (this.cursors.size > 0) return;
    this.pins &= ~Pin.CURSOR;
    if (this.pins === 0) this.unpin();
  }

  /** Closes every open cursor on `conn` (their backend statements too); a later FETCH gets 1421. */
  private dropCursorsOn(conn: BackendConnection): void {
    for (const id of this.cursors.ids()) {
      const backendId = this.cursors.backendId(id);
      if (backendId === undefined || conn.state === "closed") continue;
      for (const [sql, have] of conn.statements) {
        if (have.id !== backendId) continue;
        conn.statements.delete(sql);
        closeOnServer(conn, backendId);
        break;
      }
    }
    this.cursors.clear();
  }

  /** The EXECUTE for `conn`, preparing the statement there first when it lacks it. */
  private async executeOn(
    conn: BackendConnection,
    stmt: ClientStatement,
    pkt: Packet,
    bound: boolean,
    longData: readonly Buffer[],
  ): Promise<Buffer> {
    let have = conn.statements.get(stmt.sql);
    if (have === undefined) {
      await this.prepareOn(conn, stmt.sql, stmt.preparePayload);
      have = conn.statements.get(stmt.sql)!;
    }
    return this.executeBytes(conn, have, stmt, pkt, bound, longData);
  }

  /**
   * The client's EXECUTE rewritten in place for `conn`: its statement id there, and the parameter
   * types when this connection never received them. Long data goes first.
   */
  private executeBytes(
    conn: BackendConnection,
    have: ConnectionStatement,
    stmt: ClientStatement,
    pkt: Packet,
    bound: boolean,
    longData: readonly Buffer[],
  ): Buffer {
    const p = pkt.payload;
    const flagAt = boundFlagOffset(stmt.numParams);
    let payload = p;
    if (flagAt >= 0 && !bound && !have.typesSent && stmt.paramTypes !== null) {
      payload = withParamTypes(p, stmt.numParams, stmt.paramTypes);
    }
    if (flagAt >= 0 && (bound || payload !== p)) have.typesSent = true;
    payload.writeUInt32LE(have.id, 1);
    for (const ld of longData) {
      ld.writeUInt32LE(have.id, 5);
      conn.sendNoReply(ld);
    }
    return payload === p && pkt.frame !== null ? pkt.frame : toPackets(payload, pkt.seq);
  }

  /** Prepares a statement on a connection that lacks it (the client never sees this). */
  private async prepareOn(conn: BackendConnection, sql: string, preparePayload: Buffer): Promise<void> {
    const r = await conn.command(preparePayload, ResponseKind.PREPARE);
    if (r.err) throw new BackendStatementError(r.err);
    const ok = r.captured.find((c) => c.type === Captured.PREPARE_OK);
    if (ok === undefined)
      throw new RwsplitError("PROTOCOL_VIOLATION", "COM_STMT_PREPARE answered without PREPARE_OK");
    rememberOnConnection(conn, sql, ok.payload.readUInt32LE(1), ok.payload.readUInt16LE(7), closeOnServer);
  }

  private longData(pkt: Packet): void {
    const p = pkt.payload;
    const stmt = p.length >= 5 ? this.stmts.get(p.readUInt32LE(1)) : undefined;
    // COM_STMT_SEND_LONG_DATA has no response, not even an error (the EXECUTE reports it).
    if (stmt === undefined) return;
    stmt.longData.push(Buffer.from(pkt.frame ?? toPackets(p, pkt.seq)));
  }

  // ---- session commands -------------------------------------------------------------------

  private resetConnection(seq: number): void {
    const pinned = this.pinned;
    this.pinned = null;
    this.pins &= Pin.NO_SESSION_TRACK;
    if (pinned !== null) pinned.conn.destroy();
    this.stmts.clear();
    this.cursors.clear();
    this.state.reset(this.user?.defaultSchema ?? this.acquireReq?.schema ?? null, this.state.multiStatements);
    this.lastStatus = ServerStatus.AUTOCOMMIT;
    if (this.pins & Pin.NO_SESSION_TRACK) {
      const bytes = toPackets(Buffer.from([Command.RESET_CONNECTION]), 0);
      this.run(this.dispatch(Command.RESET_CONNECTION, ResponseKind.SIMPLE, bytes, "session"));
      return;
    }
    this.replyOk(seq);
  }

  /**
   * COM_CHANGE_USER: int<1> 0x11, string<NUL> user, auth_response (int<1> length + data under
   * CLIENT_SECURE_CONNECTION), string<NUL> schema, int<2> character_set, string<NUL> plugin,
   * connection attributes. The session is reset and continues as the new user.
   */
  private changeUser(pkt: Packet): void {
    const r = new BufferReader(pkt.payload, 1);
    let user: string;
    let token: Buffer;
    let schema: string | null;
    let plugin = "";
    let collation = this.acquireReq!.key.collation;
    try {
      user = r.nulString();
      token = this.capabilities & Capability.SECURE_CONNECTION ? r.bytes(r.u8()) : r.nulBytes();
      schema = r.remaining > 0 ? r.nulString() || null : null;
      if (r.remaining >= 2) collation = r.u16() || collation;
      if (this.capabilities & Capability.PLUGIN_AUTH && r.remaining > 0) plugin = r.nulString();
    } catch (e) {
      this.sendError(CLIENT_ERRORS.malformedPacket(`COM_CHANGE_USER: ${(e as Error).message}`), pkt.seq + 1);
      return;
    }
    this.phase = SessionPhase.AUTH;
    const step = this.auth.changeUser(user, token, plugin, pkt.seq + 1);
    const finish = (s: AuthStep) => {
      this.authContinuation = null;
      if (s.kind === "done") {
        const pinned = this.pinned;
        this.pinned = null;
        if (pinned !== null) pinned.conn.destroy();
        this.stmts.clear();
        this.cursors.clear();
        this.pins &= ~Pin.CURSOR;
        this.loggedIn({
          ...s.result,
          capabilities: this.capabilities,
          collation,
          schema: schema ?? s.result.user.defaultSchema,
        });
      } else if (s.kind === "fail") {
        this.sendError(s.error, s.seq);
        this.close();
      }
    };
    if (step.kind === "continue") {
      this.authContinuation = (next: Packet) => finish(this.auth.onPacket(next));
      return;
    }
    finish(step);
  }

  // ---- KILL -----------------------------------------------------------------------------------

  /** KILL [QUERY] n or COM_PROCESS_KILL, n one of rwsplit's connection ids (kill-policy.ts). */
  private kill(stmt: KillStatement, seq: number): void {
    const target = stmt.kind === "thread" ? (this.ctx.session(stmt.id) ?? null) : null;
    const decision = decideKill(
      stmt,
      { id: this.connectionId, user: this.user!.name },
      target === null ? null : { id: target.connectionId, user: target.userName },
    );
    if (decision.action === "refuse") {
      this.sendError(decision.error, seq);
      return;
    }
    const scope = decision.scope;
    if (decision.self) {
      // What the server answers its own connection's KILL: the KILL itself is what it interrupts.
      this.ctx.logger.info(
        { issuer: this.connectionId, target: this.connectionId, user: this.user!.name, scope },
        "KILL of the issuing connection",
      );
      if (scope === "query") {
        this.sendError(CLIENT_ERRORS.queryInterrupted(), seq);
        return;
      }
      this.sendError(CLIENT_ERRORS.connectionKilled(), seq);
      this.close();
      return;
    }
    this.phase = SessionPhase.BUSY;
    void this.killOther(target!, scope, seq);
  }

  private async killOther(target: ClientSession, scope: KillScope, seq: number): Promise<void> {
    const running = target.runningStatement();
    // KILL CONNECTION: the client goes at once; its backend connections are destroyed with it,
    // and the thread that was running a statement is killed on the server below, so the statement
    // stops (a closed socket alone does not stop a running statement).
    if (scope === "connection") target.close();
    let outcome: BackendKillOutcome | null = null;
    if (running !== null) outcome = await killOnBackend(this.ctx, running, scope);
    const log = {
      issuer: this.connectionId,
      target: target.connectionId,
      user: this.user?.name ?? null,
      scope,
      backend: running?.pool.endpoint.name ?? null,
      backendThread: running?.threadId ?? null,
      outcome: outcome?.kind ?? "idle",
    };
    if (outcome?.kind === "error") {
      this.ctx.logger.warn({ ...log, reason: outcome.reason }, "KILL could not reach the backend");
    } else {
      this.ctx.logger.info(log, "KILL");
    }
    if (this.isClosed()) return;
    this.phase = SessionPhase.IDLE;
    if (outcome?.kind === "error" && scope === "query") {
      // The statement may still be running: say so rather than OK.
      this.sendError(
        CLIENT_ERRORS.backendUnavailable(
          `KILL QUERY ${target.connectionId} did not reach it: ${outcome.reason}`,
        ),
        seq,
      );
    } else {
      this.replyOk(seq);
    }
    if (this.ctx.draining()) {
      this.close();
      return;
    }
    this.pump();
  }

  // ---- replies and errors -------------------------------------------------------------------

  private replyOk(seq: number): void {
    // The last status may come from a cursor's EXECUTE or FETCH: those bits describe that statement.
    const status = this.lastStatus & ~(ServerStatus.CURSOR_EXISTS | ServerStatus.LAST_ROW_SENT);
    this.socket.write(encodeOk(seq, { status }, this.capabilities));
  }

  private sendError(spec: ClientErrorSpec, seq: number): void {
    this.ctx.hooks.onClientError(spec.errno);
    if (this.phase === SessionPhase.CLOSED) return;
    this.socket.write(encodeErr(seq, spec));
  }

  private failStatement(e: unknown, seq: number): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.phase = SessionPhase.IDLE;
    if (e instanceof BackendStatementError) {
      this.sendError(e.err, seq);
    } else if (e instanceof RwsplitError) {
      switch (e.code) {
        case "POOL_EXHAUSTED":
          this.sendError({ errno: 1040, sqlState: "08004", message: e.message }, seq);
          break;
        case "SHUTTING_DOWN":
          this.sendError(CLIENT_ERRORS.shuttingDown(), seq);
          break;
        case "BACKEND_LOST":
          this.sendError(CLIENT_ERRORS.lostConnection(e.message), seq);
          break;
        case "SESSION_LOST":
          this.sendError(CLIENT_ERRORS.sessionLost(e.message), seq);
          break;
        default:
          this.sendError(CLIENT_ERRORS.backendUnavailable(e.message), seq);
      }
    } else {
      this.ctx.logger.error({ err: e, session: this.connectionId }, "unexpected error serving a statement");
      this.sendError(CLIENT_ERRORS.backendUnavailable(String(e)), seq);
    }
    this.pump();
  }

  private giveBack(conn: BackendConnection, pool: BackendPool, broken: boolean): void {
    if (this.pinned?.conn === conn) return;
    if (broken) conn.destroy();
    else pool.release(conn, this.acquireReq!.keyString);
  }

  /** A method, not a field read, so the compiler does not narrow it across awaits. */
  private isClosed(): boolean {
    return this.phase === SessionPhase.CLOSED;
  }

  close(): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.socket.end();
    this.onSocketClose();
  }

  private onSocketClose(): void {
    if (this.phase === SessionPhase.CLOSED) return;
    this.phase = SessionPhase.CLOSED;
    const cur = this.current;
    this.current = null;
    // A connection mid-response or holding a transaction cannot go back to the pool.
    if (cur !== null) cur.conn.destroy();
    const pinned = this.pinned;
    this.pinned = null;
    if (pinned !== null && pinned.conn !== cur?.conn) pinned.conn.destroy();
    this.socket.destroy();
    this.onClosed(this);
  }
}

/** A backend's ERR for one of the proxy's own statements, passed to the client as it is. */
class BackendStatementError extends Error {
  constructor(readonly err: ClientErrorSpec) {
    super(err.message);
  }
}

function closeOnServer(conn: BackendConnection, id: number): void {
  const payload = Buffer.allocUnsafe(5);
  payload[0] = Command.STMT_CLOSE;
  payload.writeUInt32LE(id, 1);
  conn.sendNoReply(toPackets(payload, 0));
}
