import { CLIENT_ERRORS, type ClientErrorSpec, clientErrorFor, ERRNO, RwsplitError } from "../../errors.js";
import { decodeStmtPrepareOk } from "../../protocol/packets/stmt-prepare-ok.js";
import { Captured, NOT_DONE } from "../../protocol/response-scanner.js";
import { Pin } from "../../routing/pins.js";
import { replicaMaySend } from "../../routing/router.js";
import type { BackendConnection, RelaySink } from "../backend-connection.js";
import type { BackendPool } from "../backend-pool.js";
import type { RunningStatement } from "../context.js";
import { wallMs } from "../wall-clock.js";
import { describeRun } from "./describe.js";
import type { Dispatch, PrepareOkInfo, StatementOutcome } from "./dispatch.js";
import { endReadOnlyTransaction } from "./end-read-only.js";
import { HeldResponse } from "./held-response.js";
import { Lease } from "./lease.js";
import { pinsAfter, placeAfter } from "./placement.js";
import { RelayWriter } from "./relay-writer.js";
import type { SessionPort } from "./session-port.js";
import { relayedOkEof, syncConnection } from "./state-sync.js";
import type { ClientTransport } from "./transport.js";

/** What a run needs of its session beyond the command handlers' port. */
export interface RunHost extends SessionPort {
  readonly transport: ClientTransport;
  /** The statement is answered (or failed): idle since `now`, serve what the client sent next. */
  statementDone(now?: number): void;
  /** The server asked for the client's LOCAL INFILE data: client packets go to the backend. */
  enterInfile(): void;
}

/**
 * One statement's life on a backend: lease a connection where the router's plan says
 * (lease.ts; synchronously when an idle synced one is ready: the hot path), bring its session
 * state in step, send, relay the response to the client as it arrives, retry a read that failed
 * before any byte reached the client, then decide what the session is tied to (placement.ts).
 * One per session, reused for every statement, so the hot path allocates nothing.
 */
export class StatementRun implements RelaySink {
  private d: Dispatch | null = null;
  /** The connection the statement was sent on, until its response ends. */
  conn: BackendConnection | null = null;
  private readonly lease: Lease;
  private startedMs = 0;
  /** Some response bytes already reached the client (a failure cannot be answered cleanly). */
  private forwarded = false;
  private retried = false;
  /** The held ERR was answered by running the command once more (`steps.retryAfter`). */
  private ranAgain = false;
  private held: HeldResponse | null = null;
  private prepared: PrepareOkInfo | null = null;
  /** How the statement ended: the ERR's number (0: none), the last OK/EOF's status at the end. */
  private readonly outcome: StatementOutcome = { status: 0, errno: 0, warnings: 0, resultSet: false };
  /** When the stall watchdog first saw this run paused with a writable client (0: not seen). */
  private stalledSince = 0;
  /** What reaches the client: the backend's bytes, with OK/EOF as its own session would get them. */
  private readonly writer = new RelayWriter();

  constructor(private readonly host: RunHost) {
    this.lease = new Lease(host);
  }

  start(d: Dispatch): void {
    const host = this.host;
    this.d = d;
    const plan = d.plan;
    if (plan.target === "end_read_only") {
      void endReadOnlyTransaction(host).then((e) =>
        host.isClosed() ? void 0 : e ? this.done(d, e) : this.start({ ...d, plan: plan.next }),
      );
      return;
    }
    this.conn = null;
    this.forwarded = false;
    this.retried = false;
    this.ranAgain = false;
    this.outcome.errno = 0;
    this.stalledSince = 0;
    this.held = d.holdResponse ? new HeldResponse() : null;
    this.prepared = null;
    this.writer.reset();
    host.state.clearReported();
    const refusal = plan.target === "refuse" ? plan.error : this.lease.choose(plan, d.label, d.steps);
    if (refusal !== null) {
      if (plan.target !== "refuse") {
        host.sample.ran(host.userName ?? "", host.state.schema, 0); // digest:
        host.ctx.hooks.onStatement("replica", "none", "no_replica", 0, refusal.errno, host.sample);
      }
      this.done(d, refusal);
      return;
    }
    const lease = this.lease;
    if (lease.route === "primary" && host.pin.conn === null && host.ctx.upstreams.writesHeld) {
      void this.runAsync(null);
      return;
    }
    // One clock read for the pool's look at the connection's idle time and the statement's start.
    const at = performance.now();
    const ready = lease.ready(wallMs(at));
    if (ready !== null && d.steps?.before === undefined) {
      const lastId = d.statement?.usesLastInsertId === true && ready.lastInsertId !== host.state.lastInsertId;
      const bytes = lastId ? null : d.steps?.bytesFor !== undefined ? d.steps.bytesFor(ready) : d.bytes;
      if (bytes !== null) {
        this.send(ready, bytes, at);
        return;
      }
    }
    void this.runAsync(ready);
  }

  private async runAsync(ready: BackendConnection | null): Promise<void> {
    const host = this.host;
    const d = this.d!;
    const lease = this.lease;
    let conn: BackendConnection | null = ready;
    try {
      if (conn === null) conn = await lease.acquire();
      if (host.isClosed()) {
        lease.giveBack(conn, true);
        return;
      }
      await syncConnection(conn, host.state, d.statement?.usesLastInsertId === true);
      let bytes = d.bytes;
      const steps = d.steps;
      if (steps?.before !== undefined) await steps.before(conn);
      if (steps?.bytesFor !== undefined) {
        let b = steps.bytesFor(conn);
        if (b === null) {
          await steps.prepareOn!(conn);
          b = steps.bytesFor(conn)!;
        }
        bytes = b;
      }
      if (host.isClosed()) {
        lease.giveBack(conn, true);
        return;
      }
      this.send(conn, bytes);
    } catch (e) {
      if (conn !== null) lease.giveBack(conn, conn.busy);
      // The read counted in flight by the picker never ran.
      lease.readDone();
      this.fail(e);
    }
  }

  /**
   * The one place a statement leaves for a backend. Whatever pin, retry or fallback led here, a
   * statement that is not safe on a replica never goes to one: it is counted, logged, and sent
   * to the primary instead (inside a READ ONLY transaction on that replica: refused, as the server
   * refuses writes there).
   */
  private send(conn: BackendConnection, bytes: Buffer, at = performance.now()): void {
    const host = this.host;
    const d = this.d!;
    if (this.lease.pool !== host.ctx.upstreams.primary) {
      const inTxnThere = host.pin.conn === conn && host.pin.onReplica;
      if (!replicaMaySend(d.statement?.route ?? null, inTxnThere)) {
        this.blocked(conn, inTxnThere);
        return;
      }
    }
    this.conn = conn;
    this.startedMs = at;
    if (this.held === null && d.steps?.holdsFor?.(conn) === true) this.held = new HeldResponse();
    conn.relay(d.kind, this, bytes);
  }

  private blocked(conn: BackendConnection, inTxnThere: boolean): void {
    const host = this.host;
    const lease = this.lease;
    const backend = lease.pool!.endpoint.name;
    host.ctx.hooks.onReplicaWriteBlocked?.(backend, lease.reason);
    host.ctx.logger.error(
      { session: host.connectionId, backend, reason: lease.reason, pins: host.pin.bits },
      "a statement that is not safe on a replica was about to be sent to one; it was not (rwsplit_replica_writes_blocked_total)",
    );
    if (inTxnThere) {
      this.done(this.d!, CLIENT_ERRORS.writeInReadOnlyTransaction());
      return;
    }
    lease.giveBack(conn, false);
    lease.readDone();
    lease.toPrimary("replica_guard");
    void this.runAsync(null);
  }

  // ---- relay (RelaySink) ----------------------------------------------------------------

  onRelayData(chunk: Buffer, end: number): void {
    const conn = this.conn;
    if (conn === null) return;
    const host = this.host;
    const data = end === NOT_DONE || end === chunk.length ? chunk : chunk.subarray(0, end);
    if (this.held !== null) {
      this.held.push(data);
    } else if (data.length > 0 && !host.isClosed()) {
      this.forwarded = true;
      const t = host.transport;
      const flushed = this.writer.write(t, conn, data, end);
      // Not written through at once: the transport holds on to `data` until it is.
      if (t.pendingBytes > 0) conn.lendReadBuffer();
      // Backpressure: a slow client pauses the backend instead of the proxy buffering rows.
      if (!flushed) conn.pauseUntilDrained(t);
    }
    if (end === NOT_DONE) return;
    if (conn.scanner.awaitingInfile) {
      host.pin.bits |= Pin.LOCAL_INFILE;
      host.enterInfile();
      return;
    }
    this.finish(conn);
  }

  onPacket(type: Captured, buf: Buffer, start: number, end: number, at: number): void {
    const conn = this.conn;
    if (conn === null) return;
    const host = this.host;
    if (type === Captured.OK || type === Captured.EOF) {
      host.lastStatus = conn.scanner.status;
      const statement = this.d?.statement ?? null;
      const forClient = relayedOkEof(host, conn, type === Captured.OK, buf, start, end, statement);
      if (forClient !== null) (this.held ?? this.writer).edit(forClient, at, conn.scanner.packetEnd);
    } else if (type === Captured.ERR) {
      this.outcome.errno = end - start >= 3 ? buf.readUInt16LE(start + 1) : 0;
    } else if (type === Captured.PREPARE_OK && this.held !== null) {
      const ok = decodeStmtPrepareOk(buf.subarray(start, end));
      this.prepared = { backendId: ok.statementId, numColumns: ok.numColumns, numParams: ok.numParams };
    } else if (type === Captured.COLUMN_COUNT || type === Captured.COLUMN_DEF) {
      // Viewed only for a command that reads them (a view costs ~50 ns).
      const steps = this.d?.steps;
      if (steps?.onColumns !== undefined) steps.onColumns(conn, type, buf.subarray(start, end));
    }
  }

  onRelayError(err: RwsplitError): void {
    const conn = this.conn;
    if (conn === null) return;
    const host = this.host;
    const lease = this.lease;
    const pool = lease.pool!;
    const backend = pool.endpoint.name;
    this.conn = null;
    if (host.pin.conn === conn) host.unpin(true);
    host.sample.ran(host.userName ?? "", host.state.schema, conn.scanner.rows); // digest:
    host.ctx.hooks.onStatement(lease.route, backend, lease.reason, 0, ERRNO.CR_SERVER_LOST, host.sample);
    host.ctx.hooks.onBackendFailure?.(backend);
    if (lease.replica !== null) {
      lease.readDone();
      host.ctx.upstreams.picker.markDown(pool, err.message);
      if (!this.forwarded && this.retryRead(pool)) return;
    }
    if (this.forwarded) {
      // Mid-result: the client's parser is inside a result set; closing is the honest answer.
      this.d = null;
      host.close();
      return;
    }
    this.done(this.d!, CLIENT_ERRORS.lostConnection(err.message));
  }

  /**
   * A read failed on a replica before any byte reached the client: run it once more, on another
   * replica or the primary. The client sees only the delay.
   */
  private retryRead(failed: BackendPool): boolean {
    if (this.retried || this.lease.reason === "retry") return false;
    this.retried = true;
    this.held = this.d!.holdResponse ? new HeldResponse() : null;
    this.lease.elsewhere(failed);
    void this.runAsync(null);
    return true;
  }

  private finish(conn: BackendConnection): void {
    const host = this.host;
    const d = this.d!;
    const outcome = this.outcome;
    if (this.held !== null && outcome.errno !== 0 && !this.ranAgain && d.steps?.retryAfter !== undefined) {
      const room = d.steps.retryAfter(conn, this.held.bytes(), outcome.errno);
      if (room !== null) {
        this.ranAgain = true;
        void this.runAgain(conn, room);
        return;
      }
    }
    const lease = this.lease;
    const pool = lease.pool!;
    this.conn = null;
    this.d = null;
    outcome.status = host.lastStatus;
    outcome.warnings = conn.scanner.warnings;
    outcome.resultSet = conn.scanner.resultSet;
    const pins = pinsAfter(host, conn, pool, d, outcome);
    host.pin.bits = pins;
    lease.readDone();
    host.sample.ran(host.userName ?? "", host.state.schema, conn.scanner.rows); // digest:
    // One clock read for the duration, the digests, the pool and the session's idle time.
    const end = performance.now();
    const now = wallMs(end);
    host.ctx.hooks.onStatement(
      lease.route,
      pool.endpoint.name,
      lease.reason,
      (end - this.startedMs) * 1e6,
      outcome.errno,
      host.sample, // digest:
      now,
    );
    if (d.steps?.settle !== undefined) {
      void this.settle(conn, pool, d, { ...outcome });
      return;
    }
    if (this.held !== null) this.flushHeld(conn, d);
    placeAfter(host, conn, pool, d, outcome, pins, now);
    this.done(d, null, now);
  }

  /**
   * What the statement changed that rwsplit learns from the connection itself (variables read
   * back), before the client hears the end (a held response) or its next command is read.
   * `conn` stays this run's until then, so that a client hanging up closes it.
   */
  private async settle(
    conn: BackendConnection,
    pool: BackendPool,
    d: Dispatch,
    outcome: StatementOutcome,
  ): Promise<void> {
    const host = this.host;
    this.conn = conn;
    try {
      await d.steps!.settle!(conn, outcome);
    } catch (e) {
      // What the statement left on the connection is unknown: the session stays there.
      host.ctx.logger.warn(
        { session: host.connectionId, err: (e as Error).message },
        "could not read back session state",
      );
      host.pin.bits |= Pin.UNTRACKED_STATE;
    }
    if (this.conn !== conn) return; // the session closed meanwhile (abandon() closed conn)
    this.conn = null;
    if (this.held !== null) this.flushHeld(conn, d);
    placeAfter(host, conn, pool, d, outcome, host.pin.bits);
    this.done(d, null);
  }

  /**
   * A held ERR the steps can make room for (PREPARE past max_prepared_stmt_count): once `room`
   * is made, the same bytes again on the same connection (nothing reached the client yet); else
   * the ERR as it came.
   */
  private async runAgain(conn: BackendConnection, room: Promise<boolean>): Promise<void> {
    let again = false;
    try {
      again = await room;
    } catch {
      again = false;
    }
    // The session closed meanwhile (abandon() let the connection go).
    if (this.conn !== conn) return;
    if (again && conn.state !== "closed") {
      this.held = new HeldResponse();
      this.prepared = null;
      this.outcome.errno = 0;
      this.send(conn, this.d!.bytes);
      return;
    }
    this.finish(conn);
  }

  /** PREPARE: the whole response was held back; the client gets it rewritten. */
  private flushHeld(conn: BackendConnection, d: Dispatch): void {
    const out = this.held!.forClient(d, conn, this.prepared);
    this.held = null;
    if (out.length > 0 && !this.host.isClosed()) this.host.transport.write(out);
  }

  /** A packet of the client's LOCAL INFILE data; the empty one ends it and the answer follows. */
  forwardInfile(bytes: Buffer, last: boolean): void {
    this.conn?.forwardInfile(bytes, last, this);
  }

  private fail(e: unknown): void {
    const host = this.host;
    const d = this.d;
    this.d = null;
    if (host.isClosed() || d === null) return;
    if (!(e instanceof RwsplitError)) {
      host.ctx.logger.error({ err: e, session: host.connectionId }, "unexpected error serving a statement");
    }
    this.done(d, clientErrorFor(e));
  }

  /** The statement is over: the command ends (answering `error` if any), or its caller goes on. */
  private done(d: Dispatch, error: ClientErrorSpec | null, now?: number): void {
    this.d = null;
    if (d.onDone !== undefined) {
      d.onDone(error);
      return;
    }
    if (error !== null) this.host.sendError(error, 1);
    this.host.statementDone(now);
  }

  /** For KILL: the statement running on a backend connection, or null. */
  running(): RunningStatement | null {
    const conn = this.conn;
    const login = this.host.login;
    if (conn === null || login === null) return null;
    return {
      pool: this.lease.pool!,
      threadId: conn.threadId,
      req: login,
      stillRunning: () => this.conn === conn,
    };
  }

  /** The session closed: a connection mid-response cannot go back to a pool. */
  abandon(): void {
    const conn = this.conn;
    this.conn = null;
    this.d = null;
    conn?.destroy();
  }

  /**
   * The stall watchdog (issue #19): reading from the backend is paused for this client, yet the
   * client can take more. Past `warnMs` it is reported once and reading resumes. Returns true
   * when it reports a stall.
   */
  checkStall(now: number, warnMs: number): boolean {
    const conn = this.conn;
    if (conn === null || !conn.paused || this.host.transport.pendingBytes > 0) {
      this.stalledSince = 0;
      return false;
    }
    if (this.stalledSince === 0) {
      this.stalledSince = now;
      return false;
    }
    if (now - this.stalledSince < warnMs) return false;
    this.stalledSince = now;
    conn.endBackpressure();
    return true;
  }

  describe(): Record<string, unknown> {
    return describeRun(this.conn, this.lease);
  }
}
