import * as mariadb from "mariadb";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startProxy, type TestProxy, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// MARIADB_CLIENT_CACHE_METADATA against a real MariaDB 10.11, through MariaDB Connector/Node.js
// (issue #14). The server skips an EXECUTE's column definitions when they did not change since it
// last sent them for that statement on that connection; the connector then decodes the rows with
// the definitions it got last. rwsplit shares one backend statement between sessions, so after
// an ALTER TABLE the first session's EXECUTE gets the new definitions and the server then skips
// them for the second, whose connector still has the old ones: rwsplit must put them in
// (src/protocol/result-metadata.ts). One backend connection for the user (pool.max_per_backend
// 1) and no replicas make both sessions' statements meet on one connection.

let sb: TestSandbox;
let proxy: TestProxy;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 0 });
  const config = testConfig(sb.primary, []);
  config.pool = { ...config.pool, maxPerBackend: 1 };
  proxy = await startProxy(config);
  const root = await sb.connect(sb.primary);
  await root.query("CREATE TABLE app.mt (id INT PRIMARY KEY, v VARCHAR(20))");
  await root.query("INSERT INTO app.mt VALUES (1, 'one')");
  await root.end();
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

const open = (port: number) =>
  mariadb.createConnection({
    host: "127.0.0.1",
    port,
    user: "app",
    password: "app-pass",
    database: "app",
    socketTimeout: 10_000,
  });

describe("a statement shared by two sessions, and an ALTER TABLE between their executes", () => {
  test("both decode the new columns, as each would directly", async () => {
    const a = await open(proxy.port);
    const b = await open(proxy.port);
    try {
      // The connector negotiated metadata caching with rwsplit (the primary offers it).
      expect((a.info as unknown as { serverPermitSkipMeta: boolean }).serverPermitSkipMeta).toBe(true);
      const pa = await a.prepare("SELECT * FROM mt WHERE id = ?");
      const pb = await b.prepare("SELECT * FROM mt WHERE id = ?");
      expect(await pa.execute([1])).toEqual([{ id: 1, v: "one" }]);
      expect(await pb.execute([1])).toEqual([{ id: 1, v: "one" }]);
      await a.query("ALTER TABLE mt ADD COLUMN w INT NOT NULL DEFAULT 7, MODIFY v VARCHAR(30)");
      expect(await pa.execute([1])).toEqual([{ id: 1, v: "one", w: 7 }]);
      // The server sent the new columns to a's execute and skips them now; b had the old ones.
      expect(await pb.execute([1])).toEqual([{ id: 1, v: "one", w: 7 }]);
      expect(await pb.execute([1])).toEqual([{ id: 1, v: "one", w: 7 }]);
      expect(await pa.execute([1])).toEqual([{ id: 1, v: "one", w: 7 }]);
      pa.close();
      pb.close();
    } finally {
      await a.end();
      await b.end();
    }
  });

  test("execute() pipelines PREPARE and EXECUTE(-1); batch() uses COM_STMT_BULK_EXECUTE", async () => {
    const a = await open(proxy.port);
    try {
      expect(await a.execute("SELECT v FROM mt WHERE id = ?", [1])).toEqual([{ v: "one" }]);
      await a.query("CREATE TABLE bt (id INT PRIMARY KEY)");
      const r = (await a.batch("INSERT INTO bt VALUES (?)", [[1], [2], [3]])) as { affectedRows: number };
      expect(r.affectedRows).toBe(3);
      // One statement: a duplicate key fails the whole batch.
      await expect(a.batch("INSERT INTO bt VALUES (?)", [[4], [2]])).rejects.toThrow(/Duplicate/);
      expect(await a.query("SELECT COUNT(*) AS n FROM bt")).toEqual([{ n: 3n }]);
    } finally {
      await a.end();
    }
  });
});
