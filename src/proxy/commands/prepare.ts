import { toPackets } from "../../protocol/buffer-writer.js";
import { Capability } from "../../protocol/constants/capabilities.js";
import { Command } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import { decodeErr } from "../../protocol/packets/err.js";
import { STMT_ID_OFFSET } from "../../protocol/packets/stmt-prepare-ok.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { prepareResponseColumns } from "../../protocol/result-metadata.js";
import { routeCommand } from "../../routing/router.js";
import { type RoutedStatement, routeStatement } from "../../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../../routing/statement-flags.js";
import type { BackendConnection } from "../backend-connection.js";
import { type CommandSteps, dispatch, type PrepareOkInfo } from "../session/dispatch.js";
import { holdOn, statementKey } from "../session/prepared-statements.js";
import type { SessionPort } from "../session/session-port.js";
import { ER_MAX_PREPARED_STMT_COUNT_REACHED } from "../statement-budget.js";
import { preparedKillRefusal } from "./kill-policy.js";

/**
 * COM_STMT_PREPARE: int<1> 0x16, string<EOF> the statement. Prepared on the primary (or the
 * pinned connection); the statement is classified once here and every EXECUTE routes by it. The
 * client gets the proxy's own statement id: the response is held back whole and rewritten.
 */
export function prepare(s: SessionPort, pkt: Packet): void {
  // Whatever happens next, the statement prepared before is no longer the last one.
  s.stmts.preparing();
  const routed = routeStatement(pkt.payload, 1);
  if (hasFlag(routed.flags, F.KILL)) {
    s.sendError(preparedKillRefusal(), pkt.seq + 1);
    return;
  }
  const steps = new PrepareSteps(s, pkt.payload.toString("utf8", 1), Buffer.from(pkt.payload), routed);
  const bytes = pkt.frame ?? toPackets(pkt.payload, pkt.seq);
  const plan = routeCommand(s.routeSession());
  s.run(
    dispatch(Command.STMT_PREPARE, ResponseKind.PREPARE, bytes, plan, {
      label: "prepare",
      steps,
      holdResponse: true,
    }),
  );
}

class PrepareSteps implements CommandSteps {
  constructor(
    private readonly s: SessionPort,
    private readonly sql: string,
    private readonly payload: Buffer,
    private readonly routed: RoutedStatement,
  ) {}

  get prepares(): RoutedStatement {
    return this.routed;
  }

  heldResponse(held: Buffer, conn: BackendConnection, prepared: PrepareOkInfo | null): Buffer {
    // PREPARE_OK is the first packet: 4 header bytes, then 0x00 and int<4> statement_id.
    if (prepared === null || held[4] !== 0x00) return held;
    const key = statementKey(this.s.state.schema, this.sql);
    const fresh = conn.statements.get(key) === undefined;
    const stmt = this.s.stmts.add(
      key,
      this.sql,
      this.payload,
      prepared.numParams,
      prepared.numColumns,
      this.routed,
    );
    const entry = conn.statements.prepared(key, prepared.backendId, prepared.numParams);
    if (conn.cacheMetadata) {
      // MARIADB_CLIENT_CACHE_METADATA: the client keeps these columns; so does the server, for
      // the statement it just prepared (when it duplicates one prepared here before, that one
      // stays, with the columns it was sent: result-metadata.ts).
      const deprecateEof = (conn.capabilities & Capability.DEPRECATE_EOF) !== 0;
      const columns = prepareResponseColumns(held, deprecateEof);
      stmt.columns = columns;
      if (fresh) entry.columns = columns;
    }
    holdOn(stmt, conn.statements, entry);
    held.writeUInt32LE(stmt.id, 4 + STMT_ID_OFFSET);
    return held;
  }

  /** ERR 1461: the server is at max_prepared_stmt_count; closing cached statements may make room. */
  retryAfter(conn: BackendConnection, held: Buffer, errno: number): Promise<boolean> | null {
    if (errno !== ER_MAX_PREPARED_STMT_COUNT_REACHED) return null;
    return makeRoomFor(this.s, conn, decodeErr(held.subarray(4)).message);
  }
}

/**
 * A PREPARE on `conn` failed with 1461 (`message`): the statements nobody holds on that backend
 * are closed (statement-budget.ts). Resolves true when the PREPARE should be tried once more.
 */
export function makeRoomFor(s: SessionPort, conn: BackendConnection, message: string): Promise<boolean> {
  const pool = s.ctx.upstreams.pools.get(conn.endpoint.name);
  return pool === undefined ? Promise.resolve(false) : pool.statementBudget.makeRoom(conn, message);
}
