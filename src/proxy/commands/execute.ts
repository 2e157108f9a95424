import { CLIENT_ERRORS, RwsplitError } from "../../errors.js";
import { toPackets } from "../../protocol/buffer-writer.js";
import { MariadbCapability } from "../../protocol/constants/capabilities.js";
import { Command } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import { decodeStmtPrepareOk } from "../../protocol/packets/stmt-prepare-ok.js";
import { Captured, ResponseKind } from "../../protocol/response-scanner.js";
import { type PacketEdit, rewriteResponse } from "../../protocol/result-metadata.js";
import { sequenceShift, shiftSequenceIds } from "../../protocol/sequence-shift.js";
import { type RoutePlan, route, routeCommand } from "../../routing/router.js";
import type { BackendConnection } from "../backend-connection.js";
import { requestsCursor } from "../session/cursors.js";
import type { CommandSteps, Dispatch, PrepareOkInfo, StatementOutcome } from "../session/dispatch.js";
import {
  boundFlagOffset,
  type ClientStatement,
  holdOn,
  statementOn,
  withParamTypes,
} from "../session/prepared-statements.js";
import type { SessionPort } from "../session/session-port.js";
import { BackendStatementError } from "../session/state-sync.js";
import { ER_MAX_PREPARED_STMT_COUNT_REACHED } from "../statement-budget.js";
import type { ConnectionStatement } from "../statement-cache.js";
import { cursorResponse } from "./fetch.js";
import { makeRoomFor } from "./prepare.js";
import { ResultColumns } from "./result-columns.js";
import { setSteps } from "./set.js";

const EMPTY = Buffer.alloc(0);
/** An EXECUTE without COM_STMT_SEND_LONG_DATA before it (the usual case): nothing to allocate. */
const NO_LONG_DATA: readonly Buffer[] = Object.freeze([]);

/**
 * COM_STMT_EXECUTE: int<1> 0x17, int<4> stmt_id, int<1> flags, int<4> iteration_count, then the
 * parameters. Routed by the statement's SQL (classified at PREPARE); sent to any connection with
 * the statement id it has there, prepared there first if it lacks it. An EXECUTE that asks for a
 * cursor goes to the primary, read or not: the cursor pins the session to its connection until
 * it closes, and a pin on a replica would take the session's writes there meanwhile.
 */
export function execute(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  const given = p.length >= 5 ? p.readUInt32LE(1) : 0;
  // The id as given, or LAST_STATEMENT_ID (0xFFFFFFFF): the statement prepared last.
  const stmt = s.stmts.get(given);
  if (stmt === undefined) {
    s.sendError(CLIENT_ERRORS.unknownStatement(given, "mysqld_stmt_execute"), pkt.seq + 1);
    return;
  }
  const clientId = stmt.id;
  const flagAt = boundFlagOffset(stmt.numParams);
  const bound = flagAt >= 0 && p.length > flagAt && p[flagAt] === 1;
  if (bound) keepParamTypes(stmt, p, flagAt + 1);
  const longData = stmt.longData.length > 0 ? stmt.longData : NO_LONG_DATA;
  if (longData !== NO_LONG_DATA) stmt.longData = [];
  const cursor = requestsCursor(p);
  s.sample.prepared(stmt, stmt.preparePayload, 1, stmt.routed.route.kind); // digest:
  // Any EXECUTE of a statement closes its open cursor; one with the flag may open a new one.
  const cursorStmt = cursor || s.cursors.size > 0 ? clientId : 0;
  const rs = s.routeSession();
  const plan = cursor && rs.pinned === null ? routeCommand(rs) : route(stmt.routed.route, rs);
  const set = setSteps(s, stmt.routed, stmt.preparePayload);
  s.run(stepsOf(s, stmt, plan).next(pkt, bound, longData, cursorStmt, set, plan, cursor ? "cursor" : null));
}

/** The statement's steps, made at its first EXECUTE: nothing is allocated per EXECUTE. */
function stepsOf(s: SessionPort, stmt: ClientStatement, plan: RoutePlan): ExecuteSteps {
  const have = stmt.execution;
  if (have instanceof ExecuteSteps) return have;
  const steps = new ExecuteSteps(s, stmt, plan);
  stmt.execution = steps;
  return steps;
}

/**
 * Most connectors send the parameter types with every EXECUTE: compared in place with the last
 * ones, copied only when they changed.
 */
function keepParamTypes(stmt: ClientStatement, p: Buffer, at: number): void {
  const end = Math.min(at + stmt.numParams * 2, p.length);
  const have = stmt.paramTypes;
  if (have !== null && have.length === end - at) {
    let i = 0;
    while (i < have.length && have[i] === p[at + i]) i++;
    if (i === have.length) return;
  }
  stmt.paramTypes = Buffer.from(p.subarray(at, end));
}

/** One EXECUTE's run as statement-run.ts sees it: a dispatch whose fields `next` rewrites. */
type ExecuteDispatch = { -readonly [K in keyof Dispatch]: Dispatch[K] };

/**
 * The steps of an EXECUTE of one client statement. One per statement, rewritten by `next` for
 * each EXECUTE (the session runs one command at a time, so the last one is over by then).
 */
class ExecuteSteps implements CommandSteps {
  before: CommandSteps["before"] = undefined;
  settle: CommandSteps["settle"] = undefined;
  /** A prepared SET's own rewrite of its held OK (set.ts), when it has one. */
  private setHeld: NonNullable<CommandSteps["heldResponse"]> | null = null;
  /** MARIADB_CLIENT_CACHE_METADATA: the result's columns as the client and the connection see them. */
  private columns: ResultColumns | null = null;
  private tracked: ResultColumns | null = null;
  private pkt: Packet | null = null;
  private bound = false;
  private longData: readonly Buffer[] = NO_LONG_DATA;
  private cursorStmt = 0;
  /** The client's packets minus those sent for this EXECUTE (protocol/sequence-shift.ts). */
  private seqShift = 0;
  private readonly d: ExecuteDispatch;

  constructor(
    private readonly s: SessionPort,
    private readonly stmt: ClientStatement,
    plan: RoutePlan,
  ) {
    this.d = {
      command: Command.STMT_EXECUTE,
      kind: ResponseKind.RESULTSET,
      bytes: EMPTY,
      plan,
      label: null,
      statement: stmt.routed,
      steps: this,
      holdResponse: false,
    };
  }

  /** This EXECUTE's dispatch. */
  next(
    pkt: Packet,
    bound: boolean,
    longData: readonly Buffer[],
    cursorStmt: number,
    /** A prepared SET (PDO prepares everything), or a read of session_track_*: set.ts's steps too. */
    set: CommandSteps | null,
    plan: RoutePlan,
    label: string | null,
  ): Dispatch {
    this.pkt = pkt;
    this.bound = bound;
    this.longData = longData;
    this.cursorStmt = cursorStmt;
    // Only then: a plain EXECUTE must not take the async path for steps it does not have.
    this.before = set?.before !== undefined ? set.before.bind(set) : undefined;
    this.settle = set?.settle !== undefined ? set.settle.bind(set) : undefined;
    this.setHeld = set?.heldResponse !== undefined ? set.heldResponse.bind(set) : null;
    this.columns = null;
    if (this.s.mariadbCapabilities & MariadbCapability.CACHE_METADATA) {
      this.tracked ??= new ResultColumns(this.stmt);
      this.columns = this.tracked.reset();
    }
    const d = this.d;
    d.plan = plan;
    d.label = label;
    d.statement = this.stmt.routed;
    d.holdResponse = set?.holdsResponse === true;
    return d;
  }

  bytesFor(conn: BackendConnection): Buffer | null {
    const have = statementOn(this.stmt, conn);
    return have === undefined ? null : this.executeBytes(conn, have);
  }

  prepareOn(conn: BackendConnection): Promise<void> {
    return prepareOn(this.s, conn, this.stmt);
  }

  holdsFor(conn: BackendConnection): boolean {
    return this.seqShift !== 0 || (this.columns?.holds(conn) ?? false);
  }

  onColumns(conn: BackendConnection, type: Captured, payload: Buffer): void {
    this.columns?.onColumns(conn, type, payload);
  }

  heldResponse(
    held: Buffer,
    conn: BackendConnection,
    prepared: PrepareOkInfo | null,
    edits: readonly PacketEdit[],
  ): Buffer {
    const out =
      this.setHeld !== null
        ? this.setHeld(held, conn, prepared, edits)
        : (this.columns?.rewrite(held, conn, edits) ?? rewriteResponse(held, edits));
    return this.seqShift === 0 ? out : shiftSequenceIds(out, this.seqShift);
  }

  afterResponse(conn: BackendConnection, outcome: StatementOutcome, pins: number): number {
    // Sent: the client's bytes are not kept until the next EXECUTE.
    this.pkt = null;
    this.longData = NO_LONG_DATA;
    this.columns?.settle(conn, outcome.errno);
    if (this.cursorStmt === 0) return pins;
    return cursorResponse(this.s, conn, this.cursorStmt, "execute", outcome, pins);
  }

  /**
   * The client's EXECUTE rewritten in place for `conn`: its statement id there, and the parameter
   * types when the statement there does not hold this client statement's. Long data goes first.
   */
  private executeBytes(conn: BackendConnection, have: ConnectionStatement): Buffer {
    const { stmt, bound } = this;
    const pkt = this.pkt!;
    const p = pkt.payload;
    const flagAt = boundFlagOffset(stmt.numParams);
    let payload = p;
    // The server statement may hold other types than this client statement's last ones (another
    // client statement shares it, or this one sent new types on another connection).
    // Compared by content when not the same buffer: client statements of several sessions share
    // one server statement per connection (same SQL), each with its own copy of the same types.
    if (
      flagAt >= 0 &&
      !bound &&
      have.types !== stmt.paramTypes &&
      stmt.paramTypes !== null &&
      !(have.types?.equals(stmt.paramTypes) ?? false)
    ) {
      payload = withParamTypes(p, stmt.numParams, stmt.paramTypes);
    }
    if (flagAt >= 0 && (bound || payload !== p)) have.types = stmt.paramTypes;
    this.seqShift = payload === p ? 0 : sequenceShift(p.length, payload.length);
    payload.writeUInt32LE(have.id, 1);
    for (const ld of this.longData) {
      ld.writeUInt32LE(have.id, 5);
      conn.sendNoReply(ld);
    }
    return payload === p && pkt.frame !== null ? pkt.frame : toPackets(payload, pkt.seq);
  }
}

/**
 * Prepares a statement on a connection that lacks it (the client never sees this); past the
 * server's max_prepared_stmt_count, once more after closing cached statements.
 */
export async function prepareOn(
  s: SessionPort,
  conn: BackendConnection,
  stmt: ClientStatement,
): Promise<void> {
  // Under MARIADB_CLIENT_CACHE_METADATA the server remembers the columns it sends here.
  const columns = conn.cacheMetadata;
  let r = await conn.command(stmt.preparePayload, ResponseKind.PREPARE, columns);
  if (r.err?.errno === ER_MAX_PREPARED_STMT_COUNT_REACHED && (await makeRoomFor(s, conn, r.err.message))) {
    r = await conn.command(stmt.preparePayload, ResponseKind.PREPARE, columns);
  }
  if (r.err) throw new BackendStatementError(r.err);
  const ok = r.captured.find((c) => c.type === Captured.PREPARE_OK);
  if (ok === undefined)
    throw new RwsplitError("PROTOCOL_VIOLATION", "COM_STMT_PREPARE answered without PREPARE_OK");
  const prepared = decodeStmtPrepareOk(ok.payload);
  const cache = conn.statements;
  const entry = cache.prepared(stmt.key, prepared.statementId, prepared.numParams);
  if (columns && entry.id === prepared.statementId) {
    entry.columns = r.captured.filter((c) => c.type === Captured.COLUMN_DEF).map((c) => c.payload);
  }
  holdOn(stmt, cache, entry);
}

/** The columns tracking an EXECUTE needs: for clients with MARIADB_CLIENT_CACHE_METADATA. */
export function resultColumns(s: SessionPort, stmt: ClientStatement): ResultColumns | null {
  return s.mariadbCapabilities & MariadbCapability.CACHE_METADATA ? new ResultColumns(stmt) : null;
}

/**
 * COM_STMT_SEND_LONG_DATA: int<1> 0x18, int<4> stmt_id, int<2> param_id, data. Kept for the next
 * EXECUTE, which sends it to whichever connection runs it (with that connection's statement id
 * written in). No response, not even an error (the EXECUTE reports it).
 */
export function longData(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  const stmt = p.length >= 5 ? s.stmts.get(p.readUInt32LE(1)) : undefined;
  if (stmt === undefined) return;
  stmt.longData.push(Buffer.from(pkt.frame ?? toPackets(p, pkt.seq)));
}
