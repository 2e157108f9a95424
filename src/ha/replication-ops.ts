import type { Logger } from "pino";
import { gtidCovers, parseGtidPos } from "../monitor/gtid.js";
import { type AdminSession, type Credentials, withSession } from "./admin-session.js";
import { assessDivergence } from "./divergence.js";
import { type NodePosition, unreachablePosition } from "./node-position.js";
import { awaitStreaming, changeMaster, gtidsIn, supportsDemoteToSlave } from "./replica-stream.js";
import { DivergedError, describeCause, isDivergedIoError, ReplicationOpError } from "./replication-errors.js";
import { describeThreads, readSlaveStatus } from "./slave-status.js";

/**
 * The MariaDB statements behind failover, switchover and rejoin, one function per step, each
 * over its own short admin session (the failover user) with a deadline on connect and on every
 * statement. The HA manager decides WHEN; these decide nothing and refuse anything that would
 * lose a transaction (promoting over an unapplied relay log, rejoining a diverged node).
 *
 * Failover:    readPosition(each replica) → chooseCandidate → waitApplied → promote → repoint(others)
 * Switchover:  setReadOnly(old, true) → binlogPos(old) → waitForGtid(target) → promote(target)
 *              → repoint(others) → demote(old, target)
 * Rejoin:      checkDiverged(old, primary) → demote(old, primary)
 */

export type { Credentials } from "./admin-session.js";
export type { CandidateChoice } from "./candidate.js";
export { chooseCandidate } from "./candidate.js";
export type { NodePosition } from "./node-position.js";
export { DivergedError, ReplicationOpError } from "./replication-errors.js";

export interface NodeRef {
  name: string;
  host: string;
  port: number;
}

export interface OpsOptions {
  /** The account the operations run as (sandbox: `failover`, see FAILOVER_PRIVILEGES). */
  admin: Credentials;
  /** What replicas log in to their primary with (CHANGE MASTER TO MASTER_USER/MASTER_PASSWORD). */
  replication: Credentials;
  /** Deadline for connecting and for each statement. */
  timeoutMs: number;
  logger?: Logger;
}

/** MASTER_GTID_WAIT runs in slices this long, so a replication thread that stops fails the wait at once. */
const WAIT_SLICE_MS = 500;

/** A session on `node` for `op`; every failure becomes a ReplicationOpError naming both. */
async function onNode<T>(
  op: string,
  node: NodeRef,
  o: OpsOptions,
  fn: (s: AdminSession) => Promise<T>,
): Promise<T> {
  try {
    return await withSession(node, o.admin, o.timeoutMs, fn);
  } catch (e) {
    if (e instanceof ReplicationOpError) throw e;
    throw new ReplicationOpError(op, node.name, describeCause(e), { cause: e });
  }
}

function log(
  o: OpsOptions,
  op: string,
  node: NodeRef,
  msg: string,
  extra: Record<string, unknown> = {},
): void {
  o.logger?.info({ op, node: node.name, ...extra }, msg);
}

async function str(s: AdminSession, sql: string): Promise<string> {
  return String((await s.scalar(sql)) ?? "");
}

/**
 * Everything the failover logic looks at on one node. Never throws: a node that cannot be
 * asked (down, hung past the deadline, credentials refused) is `reachable: false` with why.
 */
export async function readPosition(node: NodeRef, o: OpsOptions): Promise<NodePosition> {
  const p: NodePosition = unreachablePosition(node.name);

  try {
    await withSession(node, o.admin, o.timeoutMs, async (s) => {
      const [v] = await s.query(
        "SELECT @@global.read_only AS ro, @@global.gtid_slave_pos AS sp, @@global.gtid_current_pos AS cp, @@global.gtid_binlog_pos AS bp",
      );
      const st = await readSlaveStatus(s);
      p.readOnly = Number(v?.ro) === 1;
      p.gtidSlavePos = String(v?.sp ?? "");
      p.gtidCurrentPos = String(v?.cp ?? "");
      p.gtidBinlogPos = String(v?.bp ?? "");
      if (st) {
        p.ioRunning = st.ioRunning;
        p.sqlRunning = st.sqlRunning;
        p.gtidIoPos = st.gtidIoPos;
        p.masterHost = st.masterHost;
        p.masterPort = st.masterPort;
        p.lastIoErrno = st.lastIoErrno;
        p.lastIoError = st.lastIoError;
        p.lastSqlErrno = st.lastSqlErrno;
        p.lastSqlError = st.lastSqlError;
      }
    });
    p.reachable = true;
  } catch (e) {
    p.error = describeCause(e);
  }
  return p;
}

/** `@@gtid_binlog_pos` of `node`: after setReadOnly(node, true), the last write it will ever have. */
export function binlogPos(node: NodeRef, o: OpsOptions): Promise<string> {
  return onNode("binlogPos", node, o, (s) => str(s, "SELECT @@global.gtid_binlog_pos"));
}

/**
 * Waits until gtid_slave_pos covers `target`, MASTER_GTID_WAIT slice by slice. Between slices
 * the replication threads are checked, so a stopped SQL thread (with its error) or an IO thread
 * that gave up fails the wait at once instead of at the deadline. `startSql`: a SQL thread that
 * was stopped without an error is started (waitApplied drains a relay log whatever stopped it).
 */
async function waitUntilApplied(
  s: AdminSession,
  op: string,
  node: NodeRef,
  target: string,
  waitMs: number,
  o: OpsOptions,
  startSql: boolean,
): Promise<void> {
  const want = parseGtidPos(target);
  if (!want) throw new ReplicationOpError(op, node.name, `not a GTID position: "${target}"`);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const applied = await str(s, "SELECT @@global.gtid_slave_pos");
    if (gtidCovers(parseGtidPos(applied) ?? new Map(), want)) return;
    const st = await readSlaveStatus(s);
    const fail = (why: string) =>
      new ReplicationOpError(op, node.name, `has applied ${applied || "nothing"}, not yet ${target}: ${why}`);
    if (!st) throw fail("no master configured, nothing will bring it further");
    if (!st.sqlRunning) {
      if (st.lastSqlErrno) throw fail(`the SQL thread stopped with an error (${describeThreads(st)})`);
      if (!startSql) throw fail("the SQL thread is stopped (START SLAVE to resume)");
      log(o, op, node, "SQL thread stopped without an error: START SLAVE SQL_THREAD to apply the relay log");
      await s.query("START SLAVE SQL_THREAD");
    }
    if (!startSql && st.ioRunning === "No") throw fail(`the IO thread is stopped (${describeThreads(st)})`);
    const left = deadline - Date.now();
    if (left <= 0) throw fail(`still not there after ${waitMs} ms (${describeThreads(st)})`);
    const slice = Math.min(WAIT_SLICE_MS, left);
    // 0 once reached, -1 on timeout (MariaDB KB, MASTER_GTID_WAIT); the loop re-checks either way.
    await s.scalar("SELECT MASTER_GTID_WAIT(?, ?)", [target, slice / 1000], o.timeoutMs + slice);
  }
}

/**
 * Failover, before promote: waits until `node` applied everything its IO thread had received
 * when called (Gtid_IO_Pos), starting a SQL thread stopped without an error. Throws on timeout
 * or on a SQL error (such a node must not be promoted: its relay log cannot be applied).
 */
export function waitApplied(node: NodeRef, o: OpsOptions & { waitMs: number }): Promise<void> {
  return onNode("waitApplied", node, o, async (s) => {
    const st = await readSlaveStatus(s);
    if (!st) throw new ReplicationOpError("waitApplied", node.name, "not a replica (no master configured)");
    if (st.gtidIoPos === "") return;
    log(o, "waitApplied", node, "waiting for the relay log to be applied", { received: st.gtidIoPos });
    await waitUntilApplied(s, "waitApplied", node, st.gtidIoPos, o.waitMs, o, true);
  });
}

/** Switchover: waits until `node` applied `pos` (the fenced primary's binlog position). */
export function waitForGtid(node: NodeRef, pos: string, o: OpsOptions & { waitMs: number }): Promise<void> {
  return onNode("waitForGtid", node, o, (s) =>
    waitUntilApplied(s, "waitForGtid", node, pos, o.waitMs, o, false),
  );
}

/**
 * Makes `node` a primary. Idempotent (a node without a master skips to the settings).
 * 1. STOP SLAVE IO_THREAD, so what it received is final; refuse if the SQL thread has not applied
 *    all of it (RESET SLAVE ALL deletes the relay log: those transactions would be lost).
 * 2. STOP SLAVE; RESET SLAVE ALL: forget the old primary entirely (not just the position), so no
 *    restart or START SLAVE reconnects to it. gtid_slave_pos is kept.
 * 3. Semi-sync master ON with rpl_semi_sync_master_wait_no_slave=ON before read_only=OFF, so the
 *    first write it accepts already waits for a replica's ACK (or rpl_semi_sync_master_timeout).
 * 4. read_only=OFF.
 */
export function promote(node: NodeRef, o: OpsOptions): Promise<{ gtidBinlogPos: string }> {
  return onNode("promote", node, o, async (s) => {
    let st = await readSlaveStatus(s);
    if (st) {
      if (st.ioRunning !== "No") await s.query("STOP SLAVE IO_THREAD");
      st = await readSlaveStatus(s);
      const received = st?.gtidIoPos ?? "";
      const applied = await str(s, "SELECT @@global.gtid_slave_pos");
      const want = parseGtidPos(received);
      if (!want || !gtidCovers(parseGtidPos(applied) ?? new Map(), want)) {
        throw new ReplicationOpError(
          "promote",
          node.name,
          `received ${received} but applied only ${applied || "nothing"}; RESET SLAVE ALL would discard the rest of its relay log. Run waitApplied first (the IO thread is left stopped; ${describeThreads(st)})`,
        );
      }
      await s.query("STOP SLAVE");
      await s.query("RESET SLAVE ALL");
      log(o, "promote", node, "replication stopped and reset (RESET SLAVE ALL)", { applied });
    }
    await s.query("SET GLOBAL rpl_semi_sync_master_enabled = ON");
    await s.query("SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON");
    await s.query("SET GLOBAL read_only = OFF");
    const gtidBinlogPos = await str(s, "SELECT @@global.gtid_binlog_pos");
    log(o, "promote", node, "promoted: read_only=OFF, semi-sync master on", { gtidBinlogPos });
    return { gtidBinlogPos };
  });
}

/** Fences (ON) or opens (OFF) a node for writes, and checks the server took it. */
export function setReadOnly(node: NodeRef, on: boolean, o: OpsOptions): Promise<void> {
  return onNode("setReadOnly", node, o, async (s) => {
    // ON waits for running commits and for locks (bounded by the session's lock_wait_timeout);
    // afterwards a transaction that wrote fails at COMMIT with 1290 unless READ_ONLY ADMIN.
    await s.query(`SET GLOBAL read_only = ${on ? "ON" : "OFF"}`);
    const now = Number(await s.scalar("SELECT @@global.read_only")) === 1;
    if (now !== on)
      throw new ReplicationOpError("setReadOnly", node.name, `read_only is still ${now ? "ON" : "OFF"}`);
    log(o, "setReadOnly", node, `read_only=${on ? "ON" : "OFF"}`);
  });
}

/**
 * Makes a replica replicate from `primary`: STOP SLAVE; CHANGE MASTER TO ... MASTER_USE_GTID;
 * START SLAVE; then waits until the binlog dump runs (awaitStreaming). slave_pos for replicas
 * (resume after the last applied GTID, ignoring anything written locally); current_pos is
 * deprecated since MariaDB 10.10 (MDEV-20122; demote uses MASTER_DEMOTE_TO_SLAVE instead).
 * On failure replication is stopped again (no retry loop against a primary that refused it);
 * a 1236 "not in the master's binlog" is a DivergedError.
 */
export async function repoint(
  node: NodeRef,
  primary: NodeRef,
  o: OpsOptions & { useGtid: "slave_pos" | "current_pos"; waitConnectedMs: number },
): Promise<void> {
  if (o.useGtid !== "slave_pos" && o.useGtid !== "current_pos") {
    throw new ReplicationOpError(
      "repoint",
      node.name,
      `useGtid must be slave_pos or current_pos, got ${o.useGtid}`,
    );
  }
  return await onNode("repoint", node, o, async (s) => {
    if (await readSlaveStatus(s)) await s.query("STOP SLAVE");
    await changeMaster(s, primary, o.replication, `MASTER_USE_GTID=${o.useGtid}`);
    await s.query("START SLAVE");
    const r = await awaitStreaming(s, o.waitConnectedMs);
    if (r.ok) {
      log(o, "repoint", node, `replicating from ${primary.name}`, { useGtid: o.useGtid });
      return;
    }
    await s.query("STOP SLAVE");
    if (isDivergedIoError(r.st?.lastIoErrno ?? null, r.st?.lastIoError ?? null)) {
      const pos = await str(s, "SELECT @@global.gtid_binlog_pos");
      throw new DivergedError(
        "repoint",
        node.name,
        primary.name,
        pos,
        gtidsIn(r.st?.lastIoError ?? ""),
        r.why,
      );
    }
    throw new ReplicationOpError(
      "repoint",
      node.name,
      `cannot replicate from ${primary.name} (${primary.host}:${primary.port}): ${r.why}; replication left stopped`,
    );
  });
}

/** Old's binlog against the primary's history (divergence.ts), read over two sessions. */
async function divergence(op: string, node: NodeRef, primary: NodeRef, o: OpsOptions) {
  const nodeBinlogPos = await onNode(op, node, o, (s) => str(s, "SELECT @@global.gtid_binlog_pos"));
  const [p] = await onNode(op, primary, o, (s) =>
    s.query("SELECT @@global.gtid_binlog_state AS st, @@global.gtid_current_pos AS cur"),
  );
  const d = assessDivergence({
    nodeBinlogPos,
    primaryBinlogState: String(p?.st ?? ""),
    primaryCurrentPos: String(p?.cur ?? ""),
  });
  return { ...d, nodeBinlogPos };
}

/**
 * Before a former primary rejoins: does its binlog hold transactions `primary` never had? (It
 * was killed after committing but before a replica received the commit, or someone wrote to it
 * while it was fenced, as a user with READ_ONLY ADMIN.) Throws only if a node cannot be read.
 */
export async function checkDiverged(
  node: NodeRef,
  primary: NodeRef,
  o: OpsOptions,
): Promise<{ diverged: boolean; detail: string; extra: string[] }> {
  const d = await divergence("checkDiverged", node, primary, o);
  return { diverged: d.diverged, detail: `${node.name}: ${d.detail} of ${primary.name}`, extra: d.extra };
}

/**
 * Turns a former primary into a replica of `primary`:
 * 1. read_only=ON first (fenced whatever happens next), rpl_semi_sync_master_wait_no_slave=OFF
 *    (its SQL thread's commits, binlogged through log_slave_updates, must not wait for ACKs no
 *    replica sends), rpl_semi_sync_slave_enabled=ON (it ACKs to the new primary).
 * 2. checkDiverged: a diverged node is not touched further → DivergedError.
 * 3. CHANGE MASTER TO ..., MASTER_USE_GTID=slave_pos, MASTER_DEMOTE_TO_SLAVE=1 (10.10+: merges
 *    its gtid_binlog_pos into gtid_slave_pos once; older: MASTER_USE_GTID=current_pos); START
 *    SLAVE; wait for the binlog dump (awaitStreaming).
 * 4. If the primary still refuses the position (1236, a divergence the check could not see):
 *    STOP SLAVE, RESET SLAVE ALL, gtid_slave_pos put back as it was, DivergedError.
 * Already replicating from `primary` with both threads running: only step 1.
 */
export function demote(
  node: NodeRef,
  primary: NodeRef,
  o: OpsOptions & { waitConnectedMs: number },
): Promise<void> {
  return onNode("demote", node, o, async (s) => {
    await s.query("SET GLOBAL read_only = ON");
    await s.query("SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF");
    await s.query("SET GLOBAL rpl_semi_sync_slave_enabled = ON");
    log(o, "demote", node, "fenced: read_only=ON");
    const st = await readSlaveStatus(s);
    if (
      st?.masterHost === primary.host &&
      st.masterPort === primary.port &&
      st.ioRunning === "Yes" &&
      st.sqlRunning
    ) {
      log(o, "demote", node, `already replicating from ${primary.name}`);
      return;
    }

    const d = await divergence("demote", node, primary, o);
    if (d.diverged)
      throw new DivergedError("demote", node.name, primary.name, d.nodeBinlogPos, d.extra, d.detail);

    const priorSlavePos = await str(s, "SELECT @@global.gtid_slave_pos");
    const version = await str(s, "SELECT @@version");
    if (st) await s.query("STOP SLAVE");
    const gtid = supportsDemoteToSlave(version)
      ? "MASTER_USE_GTID=slave_pos, MASTER_DEMOTE_TO_SLAVE=1"
      : "MASTER_USE_GTID=current_pos";
    await changeMaster(s, primary, o.replication, gtid);
    await s.query("START SLAVE");
    const r = await awaitStreaming(s, o.waitConnectedMs);
    if (r.ok) {
      log(o, "demote", node, `replicating from ${primary.name}`, { binlogPos: d.nodeBinlogPos });
      return;
    }
    await s.query("STOP SLAVE");
    if (isDivergedIoError(r.st?.lastIoErrno ?? null, r.st?.lastIoError ?? null)) {
      await s.query("RESET SLAVE ALL");
      // MASTER_DEMOTE_TO_SLAVE rewrote gtid_slave_pos; leave the node as it was found.
      await s.query("SET GLOBAL gtid_slave_pos = ?", [priorSlavePos]);
      throw new DivergedError(
        "demote",
        node.name,
        primary.name,
        d.nodeBinlogPos,
        gtidsIn(r.st?.lastIoError ?? ""),
        r.why,
      );
    }
    throw new ReplicationOpError(
      "demote",
      node.name,
      `read_only=ON, but cannot replicate from ${primary.name} (${primary.host}:${primary.port}): ${r.why}; replication left stopped`,
    );
  });
}
