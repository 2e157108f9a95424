import { ERRNO } from "../../errors.js";
import type { KillScope } from "../../routing/kill-statement.js";
import type { BackendConnection } from "../backend-connection.js";
import { connectBackend } from "../backend-login.js";
import type { ProxyContext, RunningStatement } from "../context.js";

/**
 * Carrying out a client's KILL of another rwsplit session (who may kill whom: kill-policy.ts).
 *
 * The target's statement runs on one pooled backend connection. Stopping it takes the server's own
 * KILL, sent on *another* connection to that backend, as the target's user (the server lets a user
 * kill its own threads without PROCESS or CONNECTION ADMIN), naming the backend thread id rwsplit
 * learnt from that connection's handshake. The target's connection is left alone: after
 * KILL QUERY the server answers the target's statement with ERR 1317 and the connection goes on.
 *
 * The side connection is an idle pooled one of the target's pool key when there is one, else a
 * one-off login outside the pool: a KILL is most needed when the pool is exhausted (slow
 * statements, app timeouts firing), and must not queue behind the statements it is meant to stop.
 */

/**
 * - killed: the server accepted the KILL;
 * - finished: nothing left to stop (the statement ended before the KILL got there);
 * - error: the KILL could not be delivered (backend down, refused), with the reason.
 */
export type BackendKillOutcome =
  | { kind: "killed" }
  | { kind: "finished" }
  | { kind: "error"; reason: string };

/**
 * Runs `KILL QUERY|CONNECTION <threadId>` on the backend that runs `running`. For "query" it is
 * sent only while the statement still runs there: once its connection went back to the pool, the
 * thread may be serving another session (the server itself clears a pending KILL QUERY when the
 * next command starts, so only a KILL landing mid-way through a later statement could hit it).
 * "connection" is used only after the caller destroyed its side of that connection, so the
 * thread can serve nobody else.
 */
export async function killOnBackend(
  ctx: ProxyContext,
  running: RunningStatement,
  scope: KillScope,
): Promise<BackendKillOutcome> {
  const { pool, req } = running;
  let conn: BackendConnection | null = pool.tryAcquire(req.keyString, Date.now());
  const pooled = conn !== null;
  try {
    if (conn === null) {
      conn = await connectBackend({
        endpoint: pool.endpoint,
        credentials: req.credentials,
        wireFlags: 0,
        collation: req.key.collation,
        schema: null,
        connectTimeoutMs: ctx.config.pool.connectTimeoutMs,
      });
    }
    if (scope === "query" && !running.stillRunning()) return { kind: "finished" };
    const verb = scope === "query" ? "QUERY" : "CONNECTION";
    const r = await conn.query(`KILL ${verb} ${running.threadId}`);
    if (r.err === null) return { kind: "killed" };
    if (r.err.errno === ERRNO.ER_NO_SUCH_THREAD) return { kind: "finished" };
    return { kind: "error", reason: `${pool.endpoint.name} answered ${r.err.errno} ${r.err.message}` };
  } catch (e) {
    return { kind: "error", reason: (e as Error).message };
  } finally {
    if (conn !== null) {
      if (pooled) pool.release(conn, req.keyString);
      else conn.quit();
    }
  }
}
