import { toPackets } from "../../protocol/buffer-writer.js";
import { Command } from "../../protocol/constants/commands.js";
import type { Packet } from "../../protocol/framing.js";
import { ResponseKind } from "../../protocol/response-scanner.js";
import { embedsKill, parseKill } from "../../routing/kill-statement.js";
import { route } from "../../routing/router.js";
import { type RoutedStatement, routeStatement } from "../../routing/statement.js";
import { StatementFlag as F, hasFlag } from "../../routing/statement-flags.js";
import type { CommandSteps, Dispatch } from "../session/dispatch.js";
import type { SessionPort } from "../session/session-port.js";
import { kill } from "./kill.js";
import { embeddedKillRefusal } from "./kill-policy.js";
import { multiStatementWithKill } from "./multi-statement.js";
import { setSteps } from "./set.js";

/** Statements that carry SQL for the server to run later: PREPARE s FROM '...', EXECUTE IMMEDIATE '...'. */
const EMBEDS_SQL = F.PREPARE_SQL | F.EXECUTE_SQL;

/** COM_QUERY: int<1> 0x03, string<EOF> the statement(s). Classified, routed, run. */
export function query(s: SessionPort, pkt: Packet): void {
  const stmt = routeStatement(pkt.payload, 1);
  s.sample.query(pkt.payload, 1, stmt.route.kind); // digest:
  // KILL names one of rwsplit's connection ids: never forwarded (the classifier's flag: other
  // statements pay one bit test, and PREPARE/EXECUTE IMMEDIATE a look into their literal).
  if (hasFlag(stmt.flags, F.KILL)) {
    if (hasFlag(stmt.flags, F.MULTI) && multiStatementWithKill(s, pkt)) return;
    kill(s, parseKill(pkt.payload, 1), pkt.seq + 1);
    return;
  }
  if ((stmt.flags & EMBEDS_SQL) !== 0 && embedsKill(pkt.payload, 1)) {
    s.sendError(embeddedKillRefusal(), pkt.seq + 1);
    return;
  }
  const steps = setSteps(s, stmt, pkt.payload);
  s.run(routedDispatch(s, stmt, Command.QUERY, pkt.frame ?? toPackets(pkt.payload, pkt.seq), steps));
}

/** The dispatch for classified SQL (COM_QUERY, or the statement a COM_STMT_EXECUTE runs). */
export function routedDispatch(
  s: SessionPort,
  stmt: RoutedStatement,
  command: number,
  bytes: Buffer,
  steps: CommandSteps | null,
): Dispatch {
  return {
    command,
    kind: ResponseKind.RESULTSET,
    bytes,
    plan: route(stmt.route, s.routeSession()),
    label: null,
    statement: stmt,
    steps,
    holdResponse: steps?.holdsResponse === true,
  };
}
