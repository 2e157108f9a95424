import { ServerStatus } from "../../protocol/constants/server-status.js";
import { Pin } from "../../routing/pins.js";
import type { BackendConnection } from "../backend-connection.js";
import type { BackendPool } from "../backend-pool.js";
import type { Dispatch, StatementOutcome } from "./dispatch.js";
import { REPLICA_PINS, SessionPin } from "./pin.js";
import type { SessionPort } from "./session-port.js";

/** Pin bits recomputed from the server's status flags after every statement. */
const STATUS_PINS = Pin.TRANSACTION | Pin.AUTOCOMMIT_OFF | Pin.LOCAL_INFILE;

/**
 * The session's pin bits after a statement on `conn` (from `pool`): the transaction and
 * autocommit as the server's status says, what the statement itself leaves on the connection
 * (classifier), what its command says (cursors).
 */
export function pinsAfter(
  s: SessionPort,
  conn: BackendConnection,
  pool: BackendPool,
  d: Dispatch,
  outcome: StatementOutcome,
): number {
  let pins = s.pin.bits & ~STATUS_PINS;
  if (outcome.status & ServerStatus.IN_TRANS) pins |= Pin.TRANSACTION;
  if (!(outcome.status & ServerStatus.AUTOCOMMIT)) pins |= Pin.AUTOCOMMIT_OFF;
  if (outcome.errno === 0 && d.statement !== null) pins |= d.statement.pinAfter;
  if (d.steps?.afterResponse !== undefined) pins = d.steps.afterResponse(conn, outcome, pins);
  if (pins & Pin.CURSOR && !(pins & Pin.TRANSACTION) && pool !== s.ctx.upstreams.primary) {
    // Cursors on a replica were opened inside a READ ONLY transaction pinned there: they end
    // with it, or the session's next statements would stay on the replica.
    dropCursorsOn(s, conn);
    pins &= ~Pin.CURSOR;
  }
  return pins;
}

/**
 * What the session is tied to after a statement ran on `conn` (from `pool`, as `plan` said), now
 * that its pin bits are `pins`:
 *
 *   pins = 0                     free: the connection goes back to its pool, remembered for a
 *                                statement about this one (previous-statement.ts)
 *   already held on `conn`       stays, unless a READ ONLY transaction on a replica ended and left
 *                                other state there: that moves to the primary
 *   on the primary               held
 *   on a replica                 held only for the READ ONLY transaction the router sent there;
 *                                any other pin (state the server reported) moves to the primary,
 *                                so that no later statement, a write above all, follows it there
 */
export function placeAfter(
  s: SessionPort,
  conn: BackendConnection,
  pool: BackendPool,
  d: Dispatch,
  outcome: StatementOutcome,
  pins: number,
  now = Date.now(),
): void {
  const pin = s.pin;
  // What the session may ask about this statement next (SHOW WARNINGS, ROW_COUNT(), ...) is there.
  const keep = s.previous.ran(conn, pool, d, outcome, pins === 0);
  if (pins === 0) {
    if (pin.conn !== null) s.unpin(false);
    else pool.release(conn, s.login!.keyString, now, keep);
    return;
  }
  const plan = d.plan;
  if (pin.conn === conn) {
    if (pin.onReplica && !(pins & Pin.TRANSACTION) && (pins & ~REPLICA_PINS) !== 0) {
      moveToPrimary(s, conn, pool, pins);
    }
    return;
  }
  const primary = s.ctx.upstreams.primary;
  const mayStay = plan.target === "replica" && plan.pinOnReplica && (pins & ~REPLICA_PINS) === 0;
  if (pool !== primary && !mayStay) {
    moveToPrimary(s, conn, pool, pins);
    return;
  }
  pin.hold(conn, pool, primary);
}

/** The pin becomes pending on the primary; the replica connection goes (closed if it holds state). */
function moveToPrimary(s: SessionPort, conn: BackendConnection, pool: BackendPool, pins: number): void {
  if (s.pin.conn === conn) s.pin.letGo();
  if (SessionPin.holdsState(pins)) {
    // The state lives on that replica connection and cannot follow; keeping the session there
    // would send its writes there too.
    s.ctx.logger.warn(
      { session: s.connectionId, backend: pool.endpoint.name, pins },
      "session state arose on a replica connection; the session continues on the primary without it",
    );
    conn.destroy();
  } else {
    pool.release(conn, s.login!.keyString);
  }
  s.pin.bits = pins;
}

/** Closes every open cursor on `conn` (their backend statements too); a later FETCH gets 1421. */
export function dropCursorsOn(s: SessionPort, conn: BackendConnection): void {
  const cursors = s.cursors;
  for (const id of cursors.ids()) {
    const backendId = cursors.backendId(id);
    if (backendId !== undefined) conn.statements.closeId(backendId);
  }
  cursors.clear();
}
