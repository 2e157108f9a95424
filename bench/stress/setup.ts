import type mysql from "mysql2/promise";
import { BLOB_SIZES } from "./plan.js";
import { randomBytes } from "./rng.js";

/**
 * The stress test's tables and procedure, created on the primary before a run (the caller then
 * waits for the replicas). Only app.stress_w is written during the run, each side of each client
 * epoch in rows of its own (side, c).
 */
export async function setupStressSchema(c: mysql.Connection): Promise<void> {
  await c.query("DROP TABLE IF EXISTS app.stress_blobs, app.stress_w");
  await c.query("CREATE TABLE app.stress_blobs (id INT PRIMARY KEY, b LONGBLOB)");
  for (const [i, size] of BLOB_SIZES.entries()) {
    // Fixed contents (not the run's seed): every run reads the same BLOBs.
    await c.query("INSERT INTO app.stress_blobs VALUES (?, ?)", [
      i + 1,
      size === null ? null : randomBytes(0x5eed + i, size),
    ]);
  }
  await c.query(
    "CREATE TABLE app.stress_w (side CHAR(1) NOT NULL, c INT NOT NULL, k INT NOT NULL, v LONGBLOB, PRIMARY KEY (side, c, k))",
  );
  await c.query("DROP PROCEDURE IF EXISTS app.stress_results");
  // `sets` result sets of n rows × w bytes, then the CALL's own OK (SERVER_MORE_RESULTS_EXISTS
  // chains them).
  await c.query(`CREATE PROCEDURE app.stress_results(IN sets INT, IN n INT, IN w INT)
BEGIN
  DECLARE i INT DEFAULT 0;
  WHILE i < sets DO
    SELECT i AS result_set, seq, RPAD(seq, w, MD5(seq + i)) AS pad FROM seq_1_to_1000000 WHERE seq <= n;
    SET i = i + 1;
  END WHILE;
END`);
}

/**
 * Server settings for a stress run, on every node as root, before the proxy connects: a server
 * flags a statement that ran longer than long_query_time (10 s) with SERVER_QUERY_WAS_SLOW in
 * its last OK/EOF. Through the proxy, a slow reader's backpressure reaches the server sooner than
 * on a direct TCP connection (whose kernel buffers take up to tens of MB first), so the same
 * statement can run longer there and the flag would differ for reasons of timing, not relaying.
 */
export const STRESS_SERVER_SETTINGS = [
  "SET GLOBAL long_query_time = 3600",
  // A 30-minute run writes tens of GB of BLOBs, twice (through the proxy and directly), and every
  // node logs them (log_slave_updates): kept whole, the binlogs filled a 250 GB disk. Small files,
  // purged two minutes after they close (never one a replica is still reading), keep a few.
  "SET GLOBAL max_binlog_size = 67108864",
  "SET GLOBAL binlog_expire_logs_seconds = 120",
];
