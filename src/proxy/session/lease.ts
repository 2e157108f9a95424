import { CLIENT_ERRORS, type ClientErrorSpec, RwsplitError } from "../../errors.js";
import { describePins, Pin } from "../../routing/pins.js";
import type { RoutePlan } from "../../routing/router.js";
import type { BackendConnection } from "../backend-connection.js";
import type { BackendPool } from "../backend-pool.js";
import { waitForGtid } from "../consistency/gtid-wait.js";
import { sessionReadAfter } from "../consistency/user-write-log.js";
import type { ReplicaRequest } from "../upstreams.js";
import type { CommandSteps } from "./dispatch.js";
import type { SessionPort } from "./session-port.js";
import { inSync } from "./state-sync.js";

/**
 * Where one statement runs, and getting a connection there: the router's plan turned into a pool
 * (the pinned connection, the primary, or the replica the picker chose), a connection leased from
 * it (synchronously when an idle synced one is ready), and the moves a run may make afterwards
 * (retry a read elsewhere, redirect to the primary). One per session, reused.
 */
export class Lease {
  pool: BackendPool | null = null;
  route: "primary" | "replica" = "primary";
  /** The metrics label: the plan's reason, a command's label, or what happened (retry, fallback). */
  reason = "";
  /** For a read on a replica: what it asked of the replica (retry elsewhere, in-flight count). */
  replica: ReplicaRequest | null = null;
  /**
   * ryw: the GTID position the read must wait for on its replica (MASTER_GTID_WAIT) before it is
   * sent, when the monitor did not show it there yet; null: no wait.
   */
  waitFor: string | null = null;
  private readonly replicaReq: ReplicaRequest = { maxLagMs: null, minGtid: null, exclude: null, user: null };
  /** The previous statement's connection, leased again for a statement about it (plan "previous"). */
  private taken: BackendConnection | null = null;

  constructor(private readonly s: SessionPort) {}

  /**
   * Carries out the router's plan: which pool, reported how. Returns the error to answer instead
   * when the plan cannot be served (no replica and routing.read_fallback=error). After a
   * COM_STMT_PREPARE (`steps.prepares`) the server still answers about the statement before it.
   */
  choose(plan: RoutePlan, label: string | null, steps: CommandSteps | null = null): ClientErrorSpec | null {
    const s = this.s;
    const up = s.ctx.upstreams;
    const pin = s.pin;
    this.replica = null;
    this.waitFor = null; // ryw:
    this.taken = null;
    if (plan.target === "previous") {
      this.previous(plan, label);
      return null;
    }
    if (steps?.prepares === undefined) s.previous.forget();
    if (plan.target === "pinned") {
      this.reason = "pinned";
      if (pin.conn !== null && pin.pool !== null) {
        // The primary changed under a pinned session: the old primary must not be written to, and
        // the state held there (transaction, temp tables, variables) cannot follow. Closing the
        // connection makes `acquire` report exactly that.
        if (pin.tookPrimary && pin.pool !== up.primary) pin.conn.destroy();
        this.pool = pin.pool;
        this.route = pin.onReplica ? "replica" : "primary";
      } else {
        this.toPrimary("pinned");
      }
      return null;
    }
    if (plan.target === "replica") {
      const req = this.replicaReq;
      req.maxLagMs = plan.maxLagMs;
      const scope = s.ctx.config.routing.consistency; // ryw: the session's and (user) its user's writes
      req.minGtid = plan.requireCaughtUp
        ? sessionReadAfter(scope, s.ctx.userWrites, s.userName, s.state.lastWriteGtid)
        : null;
      req.exclude = null;
      req.user = s.login!.key.user;
      const choice = up.picker.pick(req);
      // ryw: no replica has applied it as far as the monitor's last checks saw: wait on the one
      // most likely to have it (wait-candidates.ts), else the primary below.
      const waitOn = choice.pool === null ? this.replicaToWaitOn(req) : null;
      if (choice.pool !== null || waitOn !== null) {
        this.pool = choice.pool ?? waitOn;
        this.route = "replica";
        this.reason = label ?? plan.reason;
        this.replica = req;
        this.waitFor = waitOn !== null ? req.minGtid : null; // ryw:
        return null;
      }
      // Read-your-writes that no replica can honour yet is served by the primary, whatever
      // routing.read_fallback says: that is what consistency asks. No replica at all: the setting.
      const consistency = req.minGtid !== null;
      if (!consistency && s.ctx.config.routing.readFallback === "error")
        return CLIENT_ERRORS.noReplica(choice.reason);
      this.toPrimary(consistency ? "consistency_fallback" : "no_replica");
      return null;
    }
    this.toPrimary(label ?? (plan.target === "primary" ? plan.reason : "session"));
    return null;
  }

  /**
   * A statement about the previous one: on that one's connection if nobody leased it since (a
   * replica's only for a read), else on the primary, where it answers about whatever that
   * connection ran last (as before rwsplit remembered).
   */
  private previous(plan: RoutePlan & { target: "previous" }, label: string | null): void {
    const s = this.s;
    const primary = s.ctx.upstreams.primary;
    const onlyOn = plan.anyBackend ? null : primary;
    const there = s.previous.take(plan.asks, s.login!.keyString, onlyOn, Date.now());
    if (there === null) {
      this.toPrimary(label ?? "needs_primary");
      return;
    }
    this.pool = there.pool;
    this.route = there.pool === primary ? "primary" : "replica";
    this.reason = label ?? "previous";
    this.taken = there.conn;
  }

  /** Runs on the primary from now on, reported as `reason`. */
  toPrimary(reason: string): void {
    this.pool = this.s.ctx.upstreams.primary;
    this.route = "primary";
    this.reason = reason;
    this.replica = null;
    this.waitFor = null; // ryw:
  }

  /** ryw: the replica to wait on for `req.minGtid` (routing.consistency_wait), or null. */
  private replicaToWaitOn(req: ReplicaRequest): BackendPool | null {
    const waitMs = this.s.ctx.config.routing.consistencyWaitMs;
    const picker = this.s.ctx.upstreams.picker;
    if (req.minGtid === null || waitMs <= 0 || picker.pickToWait === undefined) return null;
    return picker.pickToWait(req, waitMs).pool;
  }

  /**
   * ryw: waits on the replica connection for `waitFor`. Caught up: the read goes there. Timed out
   * or failed: the connection goes back, the replica is not waited on again before its next check,
   * and the read goes to the primary (returns false); nothing was sent to the client yet.
   */
  private async caughtUp(conn: BackendConnection): Promise<boolean> {
    const s = this.s;
    const pool = this.pool!;
    const gtid = this.waitFor!;
    const result = await waitForGtid(conn, gtid, s.ctx.config.routing.consistencyWaitMs);
    s.ctx.hooks.onConsistencyWait?.(pool.endpoint.name, result);
    this.waitFor = null;
    const picker = s.ctx.upstreams.picker;
    if (result === "caught_up") {
      picker.waitSucceeded?.(pool, gtid);
      return true;
    }
    picker.waitFailed?.(pool);
    this.giveBack(conn, conn.state === "closed");
    this.readDone();
    this.toPrimary("consistency_fallback");
    return false;
  }

  /** A pinned or idle, already-synced connection, or null when async work is needed. `now`: Date.now(). */
  ready(now: number): BackendConnection | null {
    const s = this.s;
    const pin = s.pin;
    const pool = this.pool!;
    // Out of step (rare: it ran this session's previous statement): acquire() brings it in step.
    if (this.taken !== null) return inSync(this.taken, s.state) ? this.takeTaken() : null;
    if (this.waitFor !== null) return null; // ryw: the wait is async
    if (pin.conn !== null && pin.pool === pool) return pin.conn.state === "closed" ? null : pin.conn;
    const key = s.login!.keyString;
    const conn = pool.tryAcquire(key, now, s.state.schema === null);
    if (conn === null) return null;
    if (inSync(conn, s.state)) return conn;
    pool.release(conn, key);
    return null;
  }

  /**
   * The connection for the statement. One for the primary (not pinned) waits while a failover or
   * switchover holds writes, and when the primary refuses connections while a failover may
   * replace it, keeps retrying on whatever is primary: up to `failover.holdWritesMs` in all.
   * Nothing has been sent at this point, so waiting and retrying are safe.
   */
  async acquire(): Promise<BackendConnection> {
    const s = this.s;
    const up = s.ctx.upstreams;
    if (this.taken !== null) return this.takeTaken();
    if (this.replica !== null) {
      const conn = await this.acquireReplica();
      // ryw: a connect failure moved the read elsewhere (waitFor cleared); else wait here first.
      if (this.waitFor === null || (await this.caughtUp(conn))) return conn;
      return this.acquire();
    }
    if (this.route !== "primary" || s.pin.conn !== null) return this.acquireFrom(this.pool!);
    const fo = s.ctx.config.failover;
    const deadline = Date.now() + fo.holdWritesMs;
    const mayFailOver = fo.automatic && fo.admin !== undefined;
    for (;;) {
      if (up.writesHeld && !(await up.writesReady(Math.max(0, deadline - Date.now())))) {
        throw new RwsplitError(
          "NO_BACKEND",
          `writes were held ${fo.holdWritesMs} ms for a primary change that has not finished; retry, and check /backends`,
        );
      }
      this.pool = up.primary;
      try {
        return await this.acquireFrom(this.pool);
      } catch (e) {
        const refused = e instanceof RwsplitError && e.code === "BACKEND_CONNECT_FAILED";
        if (refused) s.ctx.hooks.onBackendFailure?.(this.pool.endpoint.name);
        const retry = mayFailOver && refused && Date.now() < deadline;
        if (!retry || s.isClosed()) throw e;
        await up.topologyChange(Math.min(250, deadline - Date.now()));
      }
    }
  }

  /**
   * A replica connection for a read. A replica that refuses connections is marked down at once
   * and the read goes to another replica, else to the primary: nothing was sent yet.
   */
  private async acquireReplica(): Promise<BackendConnection> {
    const s = this.s;
    const picker = s.ctx.upstreams.picker;
    for (;;) {
      const pool = this.pool!;
      try {
        return await this.acquireFrom(pool);
      } catch (e) {
        if (!(e instanceof RwsplitError && e.code === "BACKEND_CONNECT_FAILED") || s.isClosed()) throw e;
        s.ctx.hooks.onBackendFailure?.(pool.endpoint.name);
        picker.done(pool);
        picker.markDown(pool, e.message);
        if (!this.elsewhere(pool)) return this.acquire();
      }
    }
  }

  /**
   * After `failed` failed a read before anything was sent or relayed: another replica, else the
   * primary (returns false then). The picker's in-flight count for `failed` is the caller's.
   */
  elsewhere(failed: BackendPool): boolean {
    const up = this.s.ctx.upstreams;
    const choice = up.picker.pick({ ...this.replica!, exclude: failed.endpoint.name });
    if (choice.pool === null) {
      this.toPrimary("retry");
      return false;
    }
    this.pool = choice.pool;
    this.reason = "retry";
    this.waitFor = null; // ryw: the picker chose one that has applied it
    return true;
  }

  private async acquireFrom(pool: BackendPool): Promise<BackendConnection> {
    const s = this.s;
    const pin = s.pin;
    if (pin.conn !== null && pin.pool === pool) {
      if (pin.conn.state !== "closed") return pin.conn;
      const primaryChanged = pin.tookPrimary && pin.pool !== s.ctx.upstreams.primary;
      const lost = pin.bits & ~Pin.LOCAL_INFILE;
      s.unpin(true);
      if (lost !== 0) throw lostPinError(lost, primaryChanged);
      if (primaryChanged) {
        pool = s.ctx.upstreams.primary;
        this.pool = pool;
      }
    }
    return pool.acquire({ ...s.login!, schema: s.state.schema });
  }

  private takeTaken(): BackendConnection {
    const conn = this.taken!;
    this.taken = null;
    return conn;
  }

  /** A leased connection the statement will not use: back to its pool, or closed when `broken`. */
  giveBack(conn: BackendConnection, broken: boolean): void {
    if (this.s.pin.conn === conn) return;
    if (broken) conn.destroy();
    else this.pool!.release(conn, this.s.login!.keyString);
  }

  /** The read counted in flight by the picker is over (ran, failed, or never sent). */
  readDone(): void {
    if (this.replica !== null) this.s.ctx.upstreams.picker.done(this.pool!);
  }
}

function lostPinError(lost: number, primaryChanged: boolean): RwsplitError {
  const change = primaryChanged ? "the primary changed (failover or switchover), and " : "";
  if (lost === Pin.CURSOR) {
    return new RwsplitError(
      "SESSION_LOST",
      `${change}the backend connection holding this session's open cursor was lost: the cursor is gone; execute the statement again`,
    );
  }
  return new RwsplitError(
    "SESSION_LOST",
    `${change}the backend connection holding this session's ${describePins(lost).join(", ")} was lost: an open transaction was rolled back (nothing since BEGIN was committed) and session state set on it is gone; start the transaction again`,
  );
}
