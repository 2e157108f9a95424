import type mysql from "mysql2/promise";
import { describe, expect, test } from "vitest";
import {
  binlogPos,
  checkDiverged,
  chooseCandidate,
  DivergedError,
  demote,
  type OpsOptions,
  promote,
  ReplicationOpError,
  readPosition,
  repoint,
  setReadOnly,
  waitApplied,
  waitForGtid,
} from "../../src/ha/replication-ops.js";
import type { SandboxUser } from "../../src/sandbox/credentials.js";
import { killNode, restartNode } from "../helpers/node-restart.js";
import { type SandboxNode, startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// The replication operations against the real sandbox (primary + 2 replicas, GTID strict mode,
// semi-sync, log_slave_updates), run as the sandbox's `failover` user, which holds the
// privileges an operator grants and no SUPER. Each test brings up its own sandbox (~3 s): a
// failover leaves a cluster no other test could start from.

const WAIT_MS = 15_000;
const CONNECTED_MS = 10_000;
const TABLE = "app.ha_rows";

function opsFor(sb: TestSandbox): OpsOptions {
  return { admin: sb.credentials.failover, replication: sb.credentials.replication, timeoutMs: 2000 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const since = (t: number) => Math.round(performance.now() - t);

async function sql(
  sb: TestSandbox,
  node: SandboxNode,
  query: string,
  params: unknown[] = [],
  user: SandboxUser = "root",
): Promise<Record<string, unknown>[]> {
  const c = await sb.connect(node, user);
  try {
    const [rows] = await c.query(query, params);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  } finally {
    await c.end();
  }
}

async function ids(sb: TestSandbox, node: SandboxNode): Promise<number[]> {
  const rows = await sql(sb, node, `SELECT id FROM ${TABLE} ORDER BY id`);
  return rows.map((r) => Number(r.id));
}

async function insert(sb: TestSandbox, node: SandboxNode, from: number, count: number): Promise<void> {
  for (let id = from; id < from + count; id++) {
    await sql(sb, node, `INSERT INTO ${TABLE} (id, writer) VALUES (?, 0)`, [id], "app");
  }
}

async function createTable(sb: TestSandbox): Promise<void> {
  await sql(sb, sb.primary, `CREATE TABLE ${TABLE} (id BIGINT PRIMARY KEY, writer INT NOT NULL)`);
  await sb.waitForReplicas();
}

interface Writers {
  /** Every id whose INSERT returned OK (autocommit: a committed, acknowledged row). */
  acked: Set<number>;
  /** The first error of each writer (it stops there). */
  errors: string[];
  stop(): Promise<void>;
}

/** `n` application connections inserting rows as fast as they can until stopped or refused. */
async function startWriters(sb: TestSandbox, node: SandboxNode, n: number): Promise<Writers> {
  const acked = new Set<number>();
  const errors: string[] = [];
  let stopping = false;
  const conns: mysql.Connection[] = await Promise.all(
    Array.from({ length: n }, () => sb.connect(node, "app")),
  );
  const loops = conns.map(async (c, w) => {
    c.on("error", () => {});
    for (let i = 1; !stopping; i++) {
      const id = (w + 1) * 1_000_000 + i;
      try {
        await c.query(`INSERT INTO ${TABLE} (id, writer) VALUES (?, ?)`, [id, w + 1]);
        acked.add(id);
      } catch (e) {
        errors.push((e as Error).message);
        return;
      }
    }
  });
  return {
    acked,
    errors,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
      for (const c of conns) c.destroy();
    },
  };
}

/** readPosition on every replica → chooseCandidate → waitApplied → promote → repoint the others. */
async function failover(sb: TestSandbox, o: OpsOptions): Promise<SandboxNode> {
  const positions = await Promise.all(sb.replicas.map((r) => readPosition(r, o)));
  const choice = chooseCandidate(positions, () => 0);
  const next = sb.replicas.find((r) => r.name === choice.name);
  if (!next) throw new Error(choice.reason);
  await waitApplied(next, { ...o, waitMs: WAIT_MS });
  await promote(next, o);
  for (const r of sb.replicas.filter((x) => x !== next)) {
    await repoint(r, next, { ...o, useGtid: "slave_pos", waitConnectedMs: CONNECTED_MS });
  }
  return next;
}

function report(what: string, timings: Record<string, number>): void {
  const parts = Object.entries(timings).map(([k, v]) => `${k} ${v} ms`);
  process.stdout.write(`[replication-ops] ${what}: ${parts.join(", ")}\n`);
}

describe("replication operations against the sandbox", () => {
  test("failover: SIGKILL the primary under writes; the replica that received the most is promoted and no acknowledged row is lost", async () => {
    await using sb = await startSandbox({ replicas: 2 });
    const o = opsFor(sb);
    const [r1, r2] = sb.replicas as [SandboxNode, SandboxNode];
    await createTable(sb);

    const writers = await startWriters(sb, sb.primary, 4);
    await sleep(300);
    // replica2 stops receiving, so it will have received less than replica1; replica1 keeps
    // receiving (and ACKing: semi-sync) but stops applying, so at the kill it holds received,
    // unapplied transactions that only waitApplied brings in.
    await sql(sb, r2, "STOP SLAVE IO_THREAD");
    await sql(sb, r1, "STOP SLAVE SQL_THREAD");
    await sleep(700);
    const killedAt = performance.now();
    await killNode(sb.primary);
    await writers.stop();
    const lostConnection = since(killedAt);
    expect(writers.acked.size).toBeGreaterThan(100);
    // Each writer stops at its first error (a lost connection), or found the stop flag first
    // when its last OK was read only after the kill.
    expect(writers.errors.every((e) => /ECONNRESET|Connection lost|closed state/.test(e))).toBe(true);

    const positions = await Promise.all([sb.primary, r1, r2].map((n) => readPosition(n, o)));
    const read = since(killedAt);
    const [dead, p1, p2] = positions as [(typeof positions)[0], (typeof positions)[0], (typeof positions)[0]];
    expect(dead).toMatchObject({ reachable: false });
    expect(dead.error).toMatch(/ECONNREFUSED|ECONNRESET/);
    expect(p1).toMatchObject({ reachable: true, sqlRunning: false, readOnly: true });
    expect(p1.gtidIoPos).not.toBe(p1.gtidSlavePos);
    expect(p2).toMatchObject({ reachable: true, ioRunning: "No", sqlRunning: true });

    const choice = chooseCandidate(positions, () => 0);
    expect(choice.name).toBe(r1.name);
    expect(choice.reason).toMatch(
      /replica1 received the most .*behind: replica2 .*skipped primary: unreachable/,
    );

    await waitApplied(r1, { ...o, waitMs: WAIT_MS });
    const applied = since(killedAt);
    const promoted = await promote(r1, o);
    const promotedMs = since(killedAt);
    await repoint(r2, r1, { ...o, useGtid: "slave_pos", waitConnectedMs: CONNECTED_MS });
    const repointed = since(killedAt);

    // Every row the old primary acknowledged is on the new one (semi-sync: it was in replica1's
    // relay log before the OK went out).
    const onNew = new Set(await ids(sb, r1));
    expect([...writers.acked].filter((id) => !onNew.has(id))).toEqual([]);
    expect(promoted.gtidBinlogPos).toBe((await readPosition(r1, o)).gtidBinlogPos);

    // The new primary takes writes without waiting out rpl_semi_sync_master_timeout (replica2 ACKs),
    // and replica2 receives them.
    const writeAt = performance.now();
    await insert(sb, r1, 1, 1);
    const firstWrite = since(writeAt);
    expect(firstWrite).toBeLessThan(5000);
    await waitForGtid(r2, await binlogPos(r1, o), { ...o, waitMs: WAIT_MS });
    expect(await ids(sb, r2)).toEqual(await ids(sb, r1));
    const [n1, n2] = await Promise.all([readPosition(r1, o), readPosition(r2, o)]);
    expect(n1).toMatchObject({ readOnly: false, masterHost: null, ioRunning: null });
    expect(n2).toMatchObject({ readOnly: true, masterPort: r1.port, ioRunning: "Yes", sqlRunning: true });
    const [semi] = await sql(sb, r1, "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'");
    expect(Number(semi?.Value)).toBe(1);

    // promote is idempotent.
    await expect(promote(r1, o)).resolves.toEqual({ gtidBinlogPos: await binlogPos(r1, o) });

    // What the old primary itself committed: restarted, it may hold the commits that were in
    // flight at the kill (rpl_semi_sync_master_wait_point=AFTER_COMMIT: in its binlog and engine,
    // not yet on a replica, never acknowledged). At most one per writer, none acknowledged, and
    // checkDiverged sees exactly those.
    await restartNode(sb, sb.primary);
    const onOld = await ids(sb, sb.primary);
    const extra = onOld.filter((id) => !onNew.has(id));
    expect(extra.length).toBeLessThanOrEqual(4);
    expect(extra.filter((id) => writers.acked.has(id))).toEqual([]);
    const d = await checkDiverged(sb.primary, r1, o);
    expect(d.diverged).toBe(extra.length > 0);

    report(
      `failover (${writers.acked.size} acknowledged rows, ${extra.length} unacknowledged only on the old primary)`,
      {
        "kill → writers saw it": lostConnection,
        "kill → positions read": read,
        "kill → relay log applied": applied,
        "kill → promoted": promotedMs,
        "kill → other replica repointed": repointed,
        "first write on the new primary": firstWrite,
      },
    );
  });

  test("switchover: fence the primary, let the target catch up, promote it, repoint, demote the old primary into a replica", async () => {
    await using sb = await startSandbox({ replicas: 2 });
    const o = opsFor(sb);
    const old = sb.primary;
    const [r1, r2] = sb.replicas as [SandboxNode, SandboxNode];
    await createTable(sb);
    const writers = await startWriters(sb, old, 2);
    await sleep(500);

    const t0 = performance.now();
    await setReadOnly(old, true, o);
    const fenced = since(t0);
    const pos = await binlogPos(old, o);
    await waitForGtid(r1, pos, { ...o, waitMs: WAIT_MS });
    await promote(r1, o);
    const promoted = since(t0);
    await repoint(r2, r1, { ...o, useGtid: "slave_pos", waitConnectedMs: CONNECTED_MS });
    await demote(old, r1, { ...o, waitConnectedMs: CONNECTED_MS });
    const done = since(t0);
    await writers.stop();

    // The application was refused once fenced (1290 ER_OPTION_PREVENTS_STATEMENT), and nothing
    // it was told had committed is missing on the new primary.
    expect(writers.errors.every((e) => /read-only/.test(e))).toBe(true);
    const onNew = new Set(await ids(sb, r1));
    expect([...writers.acked].filter((id) => !onNew.has(id))).toEqual([]);
    expect(await binlogPos(old, o)).toBe(pos);

    await insert(sb, r1, 1, 3);
    const next = await binlogPos(r1, o);
    await Promise.all([old, r2].map((n) => waitForGtid(n, next, { ...o, waitMs: WAIT_MS })));
    expect(await ids(sb, old)).toEqual(await ids(sb, r1));
    expect(await ids(sb, r2)).toEqual(await ids(sb, r1));
    const p = await readPosition(old, o);
    expect(p).toMatchObject({
      readOnly: true,
      masterHost: r1.host,
      masterPort: r1.port,
      ioRunning: "Yes",
      sqlRunning: true,
      lastIoErrno: 0,
    });
    const [semi] = await sql(sb, r1, "SHOW STATUS LIKE 'Rpl_semi_sync_master_clients'");
    expect(Number(semi?.Value)).toBe(2);
    const [noWait] = await sql(sb, old, "SELECT @@global.rpl_semi_sync_master_wait_no_slave AS v");
    expect(Number(noWait?.v)).toBe(0);

    // demote is idempotent on a node already replicating from the target.
    await demote(old, r1, { ...o, waitConnectedMs: CONNECTED_MS });
    expect(await readPosition(old, o)).toMatchObject({ ioRunning: "Yes", masterPort: r1.port });

    report(`switchover (${writers.acked.size} acknowledged rows)`, {
      "fence (read_only=ON)": fenced,
      "fence → promoted": promoted,
      "fence → old primary replicating": done,
    });
  });

  test("rejoin after failover: the restarted old primary has nothing the new one lacks and becomes its replica", async () => {
    await using sb = await startSandbox({ replicas: 2 });
    const o = opsFor(sb);
    const old = sb.primary;
    await createTable(sb);
    await insert(sb, old, 1, 20);
    await sb.waitForReplicas();
    await killNode(old);
    const primary = await failover(sb, o);
    await insert(sb, primary, 100, 5);

    const t0 = performance.now();
    await restartNode(sb, old);
    const restarted = since(t0);
    // A crashed primary comes back as configured: writable, nobody replicating to or from it.
    expect(await readPosition(old, o)).toMatchObject({ readOnly: false, masterHost: null });

    const d = await checkDiverged(old, primary, o);
    expect(d).toMatchObject({ diverged: false, extra: [] });
    expect(d.detail).toMatch(/contained in the primary's history/);
    const t1 = performance.now();
    await demote(old, primary, { ...o, waitConnectedMs: CONNECTED_MS });
    const demoted = since(t1);

    await insert(sb, primary, 200, 5);
    await waitForGtid(old, await binlogPos(primary, o), { ...o, waitMs: WAIT_MS });
    expect(await ids(sb, old)).toEqual(await ids(sb, primary));
    expect(await readPosition(old, o)).toMatchObject({
      readOnly: true,
      masterPort: primary.port,
      ioRunning: "Yes",
      sqlRunning: true,
    });
    report("rejoin", { "restart of the killed primary": restarted, "checkDiverged + demote": demoted });
  });

  test("rejoin refused: a write on the isolated old primary diverges it; checkDiverged says so and demote changes nothing", async () => {
    await using sb = await startSandbox({ replicas: 2 });
    const o = opsFor(sb);
    const old = sb.primary;
    await createTable(sb);
    await insert(sb, old, 1, 10);
    await sb.waitForReplicas();
    await killNode(old);
    const primary = await failover(sb, o);
    const other = sb.replicas.find((r) => r !== primary) as SandboxNode;
    await restartNode(sb, old);

    // Someone writes on the isolated old primary as root (READ_ONLY ADMIN: read_only is no
    // obstacle), and the new primary writes on past that sequence number: comparing positions
    // alone would call the old primary "behind"; its GTID is simply not in the new history.
    // (wait_no_slave=OFF first: a primary without replicas holds a commit for the whole
    // rpl_semi_sync_master_timeout, 10 s in the sandbox.)
    await sql(sb, old, "SET GLOBAL rpl_semi_sync_master_wait_no_slave = OFF");
    await sql(sb, old, `INSERT INTO ${TABLE} (id, writer) VALUES (777, 7)`);
    await insert(sb, primary, 100, 5);
    await waitForGtid(other, await binlogPos(primary, o), { ...o, waitMs: WAIT_MS });
    const oldBefore = await readPosition(old, o);
    const newBefore = await readPosition(primary, o);
    const errant = oldBefore.gtidBinlogPos as string;
    expect(errant).toMatch(/^0-1-\d+$/);

    const d = await checkDiverged(old, primary, o);
    expect(d.diverged).toBe(true);
    expect(d.extra).toEqual([errant]);
    expect(d.detail).toContain(`${errant} is not in the primary's history`);

    const err = await demote(old, primary, { ...o, waitConnectedMs: CONNECTED_MS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergedError);
    expect(err).toMatchObject({
      code: "REPLICATION_DIVERGED",
      op: "demote",
      node: old.name,
      extraGtids: [errant],
    });
    expect((err as Error).message).toMatch(/read_only and not replicating; restore it from a backup/);

    // Nothing damaged: the old primary is fenced and otherwise as it was, the new one untouched.
    const oldAfter = await readPosition(old, o);
    expect(oldAfter).toMatchObject({
      readOnly: true,
      masterHost: null,
      gtidBinlogPos: oldBefore.gtidBinlogPos,
      gtidSlavePos: oldBefore.gtidSlavePos,
    });
    expect((await sql(sb, old, `SELECT id FROM ${TABLE} WHERE id = 777`)).length).toBe(1);
    const newAfter = await readPosition(primary, o);
    expect(newAfter.gtidBinlogPos).toBe(newBefore.gtidBinlogPos);
    expect(newAfter.readOnly).toBe(false);
    expect(await readPosition(other, o)).toMatchObject({ ioRunning: "Yes", masterPort: primary.port });

    // The server's own check agrees: replicating without the pre-check (repoint, current_pos) is
    // refused by the new primary with 1236, and replication is stopped again.
    const io = await repoint(old, primary, {
      ...o,
      useGtid: "current_pos",
      waitConnectedMs: CONNECTED_MS,
    }).catch((e: unknown) => e);
    expect(io).toBeInstanceOf(DivergedError);
    expect(io).toMatchObject({ op: "repoint", extraGtids: [errant] });
    expect((io as Error).message).toMatch(/1236 .*not in the master's binlog/);
    expect(await readPosition(old, o)).toMatchObject({ ioRunning: "No", readOnly: true });
  });

  test("a commit waiting for its semi-sync ACK at the kill: never acknowledged nor visible, absent on the new primary, and it diverges the old one", async () => {
    await using sb = await startSandbox({ replicas: 2 });
    const o = opsFor(sb);
    const old = sb.primary;
    await createTable(sb);
    await insert(sb, old, 1, 3);
    await sb.waitForReplicas();
    // No replica receives: the next commit waits for an ACK (rpl_semi_sync_master_timeout).
    await Promise.all(sb.replicas.map((r) => sql(sb, r, "STOP SLAVE IO_THREAD")));
    const pending = sql(sb, old, `INSERT INTO ${TABLE} (id, writer) VALUES (42, 1)`, [], "app").then(
      () => "acknowledged",
      (e: Error) => e.message,
    );
    await sleep(300);
    // rpl_semi_sync_master_wait_point=AFTER_SYNC (the sandbox's lossless setting): in the binlog,
    // but invisible to other sessions until a replica ACKs it, so no one reads a row a failover
    // then takes back (with the default AFTER_COMMIT they would see it).
    expect(await sql(sb, old, `SELECT id FROM ${TABLE} WHERE id = 42`)).toHaveLength(0);
    await killNode(old);
    expect(await pending).toMatch(/ECONNRESET|Connection lost/);

    const primary = await failover(sb, o);
    expect(await ids(sb, primary)).toEqual([1, 2, 3]);
    await insert(sb, primary, 100, 2);
    await restartNode(sb, old);
    expect(await ids(sb, old)).toEqual([1, 2, 3, 42]);
    const oldPos = await binlogPos(old, o);
    const d = await checkDiverged(old, primary, o);
    expect(d).toMatchObject({ diverged: true, extra: [oldPos] });
    await expect(demote(old, primary, { ...o, waitConnectedMs: CONNECTED_MS })).rejects.toBeInstanceOf(
      DivergedError,
    );
  });

  test("a hung node costs the deadline, never more", async () => {
    await using sb = await startSandbox({ replicas: 1 });
    const o = { ...opsFor(sb), timeoutMs: 500 };
    const r1 = sb.replicas[0] as SandboxNode;
    process.kill(r1.pid, "SIGSTOP");
    try {
      let t = performance.now();
      const p = await readPosition(r1, o);
      expect(p).toMatchObject({ reachable: false });
      expect(p.error).toMatch(/(ETIMEDOUT|no answer within 500 ms) \(the node is hung or overloaded\)/);
      expect(since(t)).toBeLessThan(1500);
      t = performance.now();
      await expect(promote(r1, o)).rejects.toBeInstanceOf(ReplicationOpError);
      expect(since(t)).toBeLessThan(1500);
    } finally {
      process.kill(r1.pid, "SIGCONT");
    }
    expect(await readPosition(r1, o)).toMatchObject({ reachable: true, readOnly: true, ioRunning: "Yes" });
  });
});
