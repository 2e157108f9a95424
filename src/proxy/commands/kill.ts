import { CLIENT_ERRORS, type ClientErrorSpec } from "../../errors.js";
import type { Packet } from "../../protocol/framing.js";
import { type KillScope, type KillStatement, processKill } from "../../routing/kill-statement.js";
import type { PeerKillResult, ProxyContext, SessionHandle, ThreadKill } from "../context.js";
import type { SessionPort } from "../session/session-port.js";
import { decideKill, type KillIssuer } from "./kill-policy.js";
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

/** What a KILL came to: OK, or the server's error; `closeSelf` when it killed its own connection. */
export interface KillResult {
  error: ClientErrorSpec | null;
  closeSelf: boolean;
}

/** KILL [QUERY|CONNECTION] n or COM_PROCESS_KILL, n one of rwsplit's connection ids (kill-policy.ts). */
export function kill(s: SessionPort, stmt: KillStatement, seq: number): void {
  s.suspend();
  void performKill(s, stmt).then((r) => {
    if (s.isClosed()) return;
    if (r.error === null) s.replyOk(seq);
    else s.sendError(r.error, seq);
    if (r.closeSelf) s.close();
    else s.resume();
  });
}

/** Carries a KILL out (or refuses it as the server would) and says how it went; replies nothing. */
export async function performKill(s: SessionPort, stmt: KillStatement): Promise<KillResult> {
  const ctx = s.ctx;
  const issuer = { id: s.connectionId, user: s.userName! };
  const target = stmt.kind === "thread" ? (ctx.session(stmt.id) ?? null) : null;
  if (target === null && stmt.kind === "thread" && ctx.peers !== undefined) {
    // Not one of this worker's: the worker that holds it carries the KILL out.
    const remote = await ctx.peers.kill(stmt, issuer);
    if (remote !== null) return { error: remote.error, closeSelf: false };
  }
  const decision = decideKill(
    stmt,
    issuer,
    target === null ? null : { id: target.connectionId, user: target.userName },
  );
  if (decision.action === "refuse") return { error: decision.error, closeSelf: false };
  const scope = decision.scope;
  if (decision.self) {
    // What the server answers its own connection's KILL: the KILL itself is what it interrupts.
    ctx.logger.info(
      { issuer: s.connectionId, target: s.connectionId, user: s.userName, scope },
      "KILL of the issuing connection",
    );
    if (scope === "query") return { error: CLIENT_ERRORS.queryInterrupted(), closeSelf: false };
    return { error: CLIENT_ERRORS.connectionKilled(), closeSelf: true };
  }
  return killOther(ctx, issuer, target!, scope);
}

/**
 * A KILL from another worker process for session `stmt.id`: carried out here when this process
 * holds it (the same rules as a local KILL); null when it does not.
 */
export async function killForPeer(
  ctx: ProxyContext,
  stmt: ThreadKill,
  issuer: KillIssuer,
): Promise<PeerKillResult | null> {
  const target = ctx.session(stmt.id) ?? null;
  if (target === null) return null;
  const decision = decideKill(stmt, issuer, { id: target.connectionId, user: target.userName });
  if (decision.action === "refuse") return { error: decision.error };
  const r = await killOther(ctx, issuer, target, decision.scope);
  return { error: r.error };
}

async function killOther(
  ctx: ProxyContext,
  issuer: KillIssuer,
  target: SessionHandle,
  scope: KillScope,
): Promise<KillResult> {
  const running = target.runningStatement();
  // KILL CONNECTION: the client goes at once; its backend connections are destroyed with it,
  // and the thread that was running a statement is killed on the server below, so the statement
  // stops (a closed socket alone does not stop a running statement).
  if (scope === "connection") target.close();
  let outcome: BackendKillOutcome | null = null;
  if (running !== null) outcome = await killOnBackend(ctx, running, scope);
  const log = {
    issuer: issuer.id,
    target: target.connectionId,
    user: issuer.user,
    scope,
    backend: running?.pool.endpoint.name ?? null,
    backendThread: running?.threadId ?? null,
    outcome: outcome?.kind ?? "idle",
  };
  if (outcome?.kind === "error")
    ctx.logger.warn({ ...log, reason: outcome.reason }, "KILL could not reach the backend");
  else ctx.logger.info(log, "KILL");
  if (outcome?.kind === "error" && scope === "query") {
    // The statement may still be running: say so rather than OK.
    const detail = `KILL QUERY ${target.connectionId} did not reach it: ${outcome.reason}`;
    return { error: CLIENT_ERRORS.backendUnavailable(detail), closeSelf: false };
  }
  return { error: null, closeSelf: false };
}
