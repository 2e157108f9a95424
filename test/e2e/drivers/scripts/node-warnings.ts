import type { Recorder } from "../transcript.js";

/** A read whose rows the driver hands over (`rows`), with `@@server_id AS sid` noted apart. */
type Rows = () => Promise<unknown>;

/**
 * The `warnings` case for a Node driver that hands the application an OK packet's warning count
 * (warningStatus) and nothing of a result set's, and has no warnings call (mysql2, MariaDB
 * Connector/Node.js): the application runs SHOW WARNINGS. `q` runs and records one statement,
 * `rows` runs one and returns its rows; `prepared` are the driver's server-side prepared reads.
 */
export async function warningsCase(
  rec: Recorder,
  q: (sql: string) => Promise<unknown>,
  rows: (sql: string) => Promise<unknown>,
  prepared: [label: string, run: Rows][],
): Promise<void> {
  const read = (label: string, run: Rows) =>
    rec.step(label, async () => {
      const { sid, ...row } = ((await run()) as { sid: number }[])[0]!;
      rec.note("@where", sid);
      return row;
    });
  const show = () => q("SHOW WARNINGS");
  const count = () => q("SELECT @@warning_count AS w");
  for (const sql of [
    "SELECT 'a' + 1 AS x, @@server_id AS sid",
    "SELECT CAST('x' AS SIGNED) AS n, @@server_id AS sid FROM pdb",
  ]) {
    await read(sql, () => rows(sql));
    await show();
    await count();
  }
  for (const [label, run] of prepared) {
    await read(label, run);
    await show();
    await count();
  }
  // The server keeps the warnings list through a statement without a table.
  await read("SELECT 'b' + 1", () => rows("SELECT 'b' + 1 AS x, @@server_id AS sid"));
  await q("SELECT 1 AS one");
  await show();
  await count();
  await q("CREATE TABLE wn (id INT PRIMARY KEY)");
  await q("INSERT INTO wn VALUES (1)");
  await q("INSERT IGNORE INTO wn VALUES (1)");
  await show();
  await q("SELECT ROW_COUNT() AS rc");
  await q("INSERT IGNORE INTO wn VALUES (1), (2)");
  await q("SELECT ROW_COUNT() AS rc");
  await count();
  await show();
  await q("SELECT * FROM nosuch_table");
  await q("SHOW ERRORS");
  await q("SELECT @@error_count AS e, @@warning_count AS w");
}
