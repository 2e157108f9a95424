import { CLIENT_ERRORS } from "../../errors.js";
import { toPackets } from "../../protocol/buffer-writer.js";
import { MariadbCapability } from "../../protocol/constants/capabilities.js";
import { Command } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import type { Captured } from "../../protocol/response-scanner.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { type PacketEdit, rewriteResponse } from "../../protocol/result-metadata.js";
import { sequenceShift, shiftSequenceIds } from "../../protocol/sequence-shift.js";
import { route } from "../../routing/router.js";
import type { RoutedStatement } from "../../routing/statement.js";
import type { BackendConnection } from "../backend-connection.js";
import type { CommandSteps, StatementOutcome } from "../session/dispatch.js";
import { type ClientStatement, statementOn } from "../session/prepared-statements.js";
import type { SessionPort } from "../session/session-port.js";
import type { ConnectionStatement } from "../statement-cache.js";
import { prepareOn, resultColumns } from "./execute.js";
import type { ResultColumns } from "./result-columns.js";

/** COM_STMT_BULK_EXECUTE's bulk flags: the parameter types follow the flags. */
const SEND_TYPES_TO_SERVER = 128;
/** Offset of int<2> bulk flags; the types (2 bytes per parameter) follow them when sent. */
const FLAGS_AT = 5;
const TYPES_AT = 7;
/** The bytes are built per connection (`bytesFor`). */
const NO_BYTES = Buffer.alloc(0);

/**
 * COM_STMT_BULK_EXECUTE (MariaDB 10.2+, MARIADB_CLIENT_STMT_BULK_OPERATIONS): int<1> 0xfa,
 * int<4> stmt_id, int<2> bulk flags (128 SEND_TYPES_TO_SERVER, 64 SEND_UNIT_RESULTS), then if
 * SEND_TYPES_TO_SERVER the parameter types (byte<1> type, byte<1> flag, per parameter), then
 * until the end, per row and per parameter: byte<1> indicator (0 NONE, 1 NULL, 2 DEFAULT,
 * 3 IGNORE) and the binary value when NONE. The answer is an OK (affected rows of all rows,
 * the first insert id) or ERR: the whole batch is one statement (a duplicate key fails it all);
 * INSERT ... RETURNING answers a binary result set.
 *
 * It runs the statement for many rows: a write, to the primary (or the pinned connection),
 * whatever the statement is. The statement id is the connection's, as for COM_STMT_EXECUTE;
 * LAST_STATEMENT_ID (-1) names the last one prepared.
 */
export function bulkExecute(s: SessionPort, pkt: Packet): void {
  const p = pkt.payload;
  if (!(s.mariadbCapabilities & MariadbCapability.STMT_BULK_OPERATIONS)) {
    s.sendError(CLIENT_ERRORS.unsupportedPs(), pkt.seq + 1);
    return;
  }
  const given = p.length >= TYPES_AT ? p.readUInt32LE(1) : 0;
  const stmt = p.length >= TYPES_AT ? s.stmts.get(given) : undefined;
  if (stmt === undefined) {
    // The server names its EXECUTE function here too.
    s.sendError(CLIENT_ERRORS.unknownStatement(given, "mysqld_stmt_execute"), pkt.seq + 1);
    return;
  }
  const typesSent = (p.readUInt16LE(FLAGS_AT) & SEND_TYPES_TO_SERVER) !== 0;
  const typesLength = stmt.numParams * 2;
  if (typesSent && p.length >= TYPES_AT + typesLength) {
    stmt.paramTypes = Buffer.from(p.subarray(TYPES_AT, TYPES_AT + typesLength));
  }
  const routed = asWrite(stmt.routed);
  s.sample.prepared(stmt, stmt.preparePayload, 1, "write"); // digest:
  s.run({
    command: Command.STMT_BULK_EXECUTE,
    kind: ResponseKind.RESULTSET,
    bytes: NO_BYTES,
    plan: route(routed.route, s.routeSession()),
    label: null,
    statement: routed,
    steps: new BulkSteps(s, stmt, pkt, typesSent),
    holdResponse: false,
  });
}

/** The statement as a write: many rows at once go to the primary, whatever the SQL says. */
function asWrite(r: RoutedStatement): RoutedStatement {
  if (r.route.kind === "write" && r.route.hint === null) return r;
  return {
    ...r,
    route: {
      ...r.route,
      kind: "write",
      beginReadOnly: false,
      asks: null,
      readsLastInsertId: false,
      readOnlyTxnSafe: false,
      implicitCommit: false,
      hint: null,
    },
  };
}

class BulkSteps implements CommandSteps {
  private readonly columns: ResultColumns | null;
  /** The client's packets minus those sent for it (protocol/sequence-shift.ts). */
  private seqShift = 0;

  constructor(
    private readonly s: SessionPort,
    private readonly stmt: ClientStatement,
    private readonly pkt: Packet,
    private readonly typesSent: boolean,
  ) {
    // INSERT ... RETURNING answers a result set: MARIADB_CLIENT_CACHE_METADATA applies.
    this.columns = resultColumns(s, stmt);
  }

  bytesFor(conn: BackendConnection): Buffer | null {
    const have = statementOn(this.stmt, conn);
    return have === undefined ? null : this.bulkBytes(have);
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

  heldResponse(held: Buffer, conn: BackendConnection, _p: unknown, edits: readonly PacketEdit[]): Buffer {
    const out = this.columns?.rewrite(held, conn, edits) ?? rewriteResponse(held, edits);
    return this.seqShift === 0 ? out : shiftSequenceIds(out, this.seqShift);
  }

  afterResponse(conn: BackendConnection, outcome: StatementOutcome, pins: number): number {
    this.columns?.settle(conn, outcome.errno);
    return pins;
  }

  /**
   * The client's command for `conn`: its statement id there, and the parameter types when the
   * client relies on types this connection's statement never got (the client sent them with an
   * EXECUTE or bulk on another connection).
   */
  private bulkBytes(have: ConnectionStatement): Buffer {
    const { stmt, pkt } = this;
    let payload = pkt.payload;
    const types = stmt.paramTypes;
    if (!this.typesSent && types !== null && have.types !== types && stmt.numParams > 0) {
      payload = Buffer.concat([payload.subarray(0, TYPES_AT), types, payload.subarray(TYPES_AT)]);
      payload.writeUInt16LE(payload.readUInt16LE(FLAGS_AT) | SEND_TYPES_TO_SERVER, FLAGS_AT);
    }
    if (this.typesSent || payload !== pkt.payload) have.types = types;
    this.seqShift = payload === pkt.payload ? 0 : sequenceShift(pkt.payload.length, payload.length);
    payload.writeUInt32LE(have.id, 1);
    return payload === pkt.payload && pkt.frame !== null ? pkt.frame : toPackets(payload, pkt.seq);
  }
}
