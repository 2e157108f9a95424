import { randomInt } from "node:crypto";
import { describe, expect, test } from "vitest";
import { seededRandom } from "../../../src/balancer/seeded-random.js";
import { Command } from "../../../src/protocol/constants/commands.js";
import { isInternal } from "../../helpers/scripted-backend.js";
import { errOf, SessionHarness } from "../../helpers/session-harness.js";

// Issue #12's property: random statement sequences × client capability sets never send a write,
// anything in a read-write transaction or with autocommit off, or anything unclassifiable to a
// replica, and the router alone keeps it so (the send-time guard never has to). The session core
// runs over scripted backends; a model of the session (transaction, autocommit) says what the
// server would consider each statement part of.
//
// Replay a failure: RWSPLIT_PROPERTY_SEED=<seed> npx vitest run test/unit/session/no-write-on-replica.property.test.ts

const SEED = process.env.RWSPLIT_PROPERTY_SEED
  ? Number(process.env.RWSPLIT_PROPERTY_SEED)
  : randomInt(2 ** 31);
const SEQUENCES = 150;
const CONSISTENCIES = ["user", "eventual"] as const;
const STEPS = 30;

/**
 * read: a plain read; write: anything a replica must never run; session: a session setting (runs
 * anywhere, replayed on every connection); pinning: state that ties the session to its connection.
 */
type Kind =
  | "read"
  | "write"
  | "begin"
  | "begin_ro"
  | "end"
  | "autocommit_off"
  | "autocommit_on"
  | "session"
  | "pinning";

const STATEMENTS: readonly (readonly [string, Kind])[] = [
  ["SELECT 1", "read"],
  ["SELECT c FROM t WHERE id = 7", "read"],
  ["select  c from t", "read"],
  ["/* rwsplit: route=replica */ SELECT 2", "read"],
  ["/* rwsplit: max_lag=500ms */ SELECT 3", "read"],
  ["SELECT c FROM t WHERE id = 1 FOR UPDATE", "write"],
  ["SELECT c FROM t LOCK IN SHARE MODE", "write"],
  ["INSERT INTO t VALUES (1)", "write"],
  ["insert into t values (2)", "write"],
  ["UPDATE t SET c = 1", "write"],
  ["DELETE FROM t WHERE id = 3", "write"],
  ["REPLACE INTO t VALUES (4)", "write"],
  ["CREATE TABLE t2 (i INT)", "write"],
  ["DROP TABLE IF EXISTS t2", "write"],
  ["ALTER TABLE t ADD COLUMN d INT", "write"],
  ["/* rwsplit: route=replica */ INSERT INTO t VALUES (5)", "write"],
  ["-- rwsplit: route=replica\nUPDATE t SET c = 2", "write"],
  ["/* a comment */ DELETE FROM t", "write"],
  ["WITH x AS (SELECT 1) UPDATE t SET c = 3", "write"],
  ["SELECT 1 INTO @v", "write"],
  ["CALL p()", "write"],
  ["FROBNICATE the table", "write"],
  ["BEGIN", "begin"],
  ["START TRANSACTION", "begin"],
  ["START TRANSACTION READ ONLY", "begin_ro"],
  ["COMMIT", "end"],
  ["ROLLBACK", "end"],
  ["SET autocommit=0", "autocommit_off"],
  ["SET autocommit=1", "autocommit_on"],
  ["SET @a = 1", "pinning"],
  ["CREATE TEMPORARY TABLE tmp (i INT)", "pinning"],
  ["SELECT GET_LOCK('x', 1)", "pinning"],
  ["SET sql_mode = 'ANSI_QUOTES'", "session"],
  ["SET wait_timeout = 100", "session"],
  ["USE app", "session"],
];

const READS = STATEMENTS.filter(([, kind]) => kind === "read");

/** Whether a replica may run a statement of `kind`, given what the server holds the session to. */
function mayRunOnAReplica(
  kind: Kind,
  m: { inTxn: boolean; readOnlyTxn: boolean; autocommit: boolean },
): boolean {
  const readWrite = (m.inTxn && !m.readOnlyTxn) || !m.autocommit;
  switch (kind) {
    case "read":
    case "session":
      return !readWrite;
    case "begin_ro":
      return m.autocommit;
    case "end":
    case "pinning":
      return m.readOnlyTxn && m.autocommit;
    default:
      return false;
  }
}

describe(`no write on a replica, whatever the sequence (seed ${SEED})`, () => {
  test(`${SEQUENCES} random sequences of ${STEPS} statements × capability sets`, async () => {
    const rnd = seededRandom(SEED);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const violations: string[] = [];
    let onReplicas = 0;
    for (let n = 0; n < SEQUENCES; n++) {
      const login = { sessionTrack: rnd() < 0.5, multiStatements: rnd() < 0.5, deprecateEof: rnd() < 0.5 };
      // Half the sequences with consistency eventual, so reads after writes still reach replicas.
      const consistency = CONSISTENCIES[n % CONSISTENCIES.length]!;
      const h = new SessionHarness({
        routing: { consistency, consistencyWindowMs: 10_000, consistencyWaitMs: 50, readFallback: "primary" },
      });
      await h.login(login);
      // The model: what the server holds this session to before each statement.
      let inTxn = false;
      let readOnlyTxn = false;
      let autocommit = true;
      const trail: string[] = [];
      for (let i = 0; i < STEPS; i++) {
        // Reads more often than the rest, so sessions spend time unpinned.
        const [sql, kind] = rnd() < 0.4 ? pick(READS) : pick(STATEMENTS);
        const before = h.server.log.length;
        const answer = await h.query(sql);
        trail.push(sql);
        const ran = h.server.log
          .slice(before)
          .filter((c) => c.command === Command.QUERY && c.sql === sql && !isInternal(c.sql));
        const model = { inTxn, readOnlyTxn, autocommit };
        for (const c of ran) {
          if (c.backend !== "primary") onReplicas++;
          if (c.backend !== "primary" && !mayRunOnAReplica(kind, model)) {
            violations.push(
              `${JSON.stringify(login)}: ${JSON.stringify(sql)} ran on ${c.backend} after ${JSON.stringify(trail.slice(0, -1))}`,
            );
          }
        }
        // What the server does with the session. In a READ ONLY transaction on a replica rwsplit
        // refuses what is not safe there with 1792 (README: What a client sees), and the
        // transaction goes on.
        if (errOf(answer)?.errno === 1792) continue;
        if (kind === "begin") {
          inTxn = true;
          readOnlyTxn = false;
        } else if (kind === "begin_ro") {
          inTxn = true;
          readOnlyTxn = true;
        } else if (kind === "end") {
          inTxn = !autocommit;
          readOnlyTxn = false;
        } else if (kind === "autocommit_off") {
          autocommit = false;
          inTxn = true;
        } else if (kind === "autocommit_on") {
          autocommit = true;
          inTxn = false;
          readOnlyTxn = false;
        }
      }
      expect(h.reported.replicaWritesBlocked, `seed ${SEED}, sequence ${n}: the guard had to act`).toEqual(
        [],
      );
    }
    // The property means something only if replicas did serve.
    expect(onReplicas).toBeGreaterThan(SEQUENCES * 2);
    expect(violations.slice(0, 5), `seed ${SEED} (RWSPLIT_PROPERTY_SEED=${SEED} replays it)`).toEqual([]);
  });
});
