import { CLIENT_ERRORS } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import { type KillScope, type KillStatement, processKill } from "../../routing/kill-statement.js";
import type { SessionHandle } from "../context.js";
import type { SessionPort } from "../session/session-port.js";
import { decideKill } from "./kill-policy.js";
import { type BackendKillOutcome, killOnBackend } from "./session-kill.js";

/** COM_PROCESS_KILL: int<1> 0x0c, int<4> connection id (one of rwsplit's, as KILL n). */
export function processKillCommand(s: SessionPort, pkt: Packet): void {
  const stmt = processKill(pkt.payload);
  if (stmt === null) {
    s.sendError(CLIENT_ERRORS.malformedPacket("COM_PROCESS_KILL needs int<4> connection id"), pkt.seq + 1);
    return;
  }
  kill(s, stmt, pkt.seq + 1);
}

/** KILL [QUERY|CONNECTION] n or COM_PROCESS_KILL, n one of rwsplit's connection ids (kill-policy.ts). */
export function kill(s: SessionPort, stmt: KillStatement, seq: number): void {
  const ctx = s.ctx;
  const target = stmt.kind === "thread" ? (ctx.session(stmt.id) ?? null) : null;
  const decision = decideKill(
    stmt,
    { id: s.connectionId, user: s.userName! },
    target === null ? null : { id: target.connectionId, user: target.userName },
  );
  if (decision.action === "refuse") {
    s.sendError(decision.error, seq);
    return;
  }
  const scope = decision.scope;
  if (decision.self) {
    // What the server answers its own connection's KILL: the KILL itself is what it interrupts.
    ctx.logger.info(
      { issuer: s.connectionId, target: s.connectionId, user: s.userName, scope },
      "KILL of the issuing connection",
    );
    if (scope === "query") {
      s.sendError(CLIENT_ERRORS.queryInterrupted(), seq);
      return;
    }
    s.sendError(CLIENT_ERRORS.connectionKilled(), seq);
    s.close();
    return;
  }
  s.suspend();
  void killOther(s, target!, scope, seq);
}

async function killOther(
  s: SessionPort,
  target: SessionHandle,
  scope: KillScope,
  seq: number,
): Promise<void> {
  const ctx = s.ctx;
  const running = target.runningStatement();
  // KILL CONNECTION: the client goes at once; its backend connections are destroyed with it,
  // and the thread that was running a statement is killed on the server below, so the statement
  // stops (a closed socket alone does not stop a running statement).
  if (scope === "connection") target.close();
  let outcome: BackendKillOutcome | null = null;
  if (running !== null) outcome = await killOnBackend(ctx, running, scope);
  const log = {
    issuer: s.connectionId,
    target: target.connectionId,
    user: s.userName,
    scope,
    backend: running?.pool.endpoint.name ?? null,
    backendThread: running?.threadId ?? null,
    outcome: outcome?.kind ?? "idle",
  };
  if (outcome?.kind === "error")
    ctx.logger.warn({ ...log, reason: outcome.reason }, "KILL could not reach the backend");
  else ctx.logger.info(log, "KILL");
  if (s.isClosed()) return;
  if (outcome?.kind === "error" && scope === "query") {
    // The statement may still be running: say so rather than OK.
    s.sendError(
      CLIENT_ERRORS.backendUnavailable(
        `KILL QUERY ${target.connectionId} did not reach it: ${outcome.reason}`,
      ),
      seq,
    );
  } else {
    s.replyOk(seq);
  }
  s.resume();
}
