import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runRelayStall } from "../../bench/connectorj/run.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #19 as it was reported: MariaDB Connector/J (useServerPrepStmts, socketTimeout 30 s), on
// one connection a few dozen ordinary statements, a 4 MiB BLOB inserted with a prepared
// statement and read back, then SELECT seq, REPEAT('x', 100) FROM seq_1_to_20000, whose result
// stalled until the socket timeout in about one run of three to eight. The Java program
// (bench/connectorj/RelayStall.java) loops inside one JVM, a fresh connection per run.
//
// The suite runs 20; the "done when" is 200 in a row:
//   RWSPLIT_CONNECTORJ_RUNS=200 npx vitest run test/e2e/connectorj-relay-stall.test.ts
// (or `npm run bench -- --only connectorj`, against `rwsplit serve` as its own process).
// RWSPLIT_CONNECTORJ_SOCKET_TIMEOUT_MS shortens the wait for a stall (on code that has one).

const RUNS = Number(process.env.RWSPLIT_CONNECTORJ_RUNS ?? 20);
const SOCKET_TIMEOUT_MS = Number(process.env.RWSPLIT_CONNECTORJ_SOCKET_TIMEOUT_MS ?? 30_000);

let sb: TestSandbox;
let proxy: TestApp;

beforeAll(async () => {
  sb = await startSandbox({ replicas: 2 });
  proxy = await startApp(testConfig(sb.primary, sb.replicas));
});

afterAll(async () => {
  await proxy?.close();
  await sb?.down();
});

describe("Connector/J through rwsplit (issue #19)", () => {
  test(
    `${RUNS} runs in a row: the result after a 4 MiB BLOB never stalls`,
    async () => {
      const r = await runRelayStall({
        host: proxy.host,
        port: proxy.port,
        user: "app",
        password: "app-pass",
        database: "app",
        runs: RUNS,
        socketTimeoutMs: SOCKET_TIMEOUT_MS,
        onLine: (line) => {
          if (!/: ok in /.test(line)) console.log(`connectorj: ${line}`);
        },
      });
      console.log(`connectorj: ${JSON.stringify(r.result)}`);
      expect(r.result.failures).toEqual([]);
      expect(r.result).toMatchObject({ runs: RUNS, ok: RUNS, stalls: 0, errors: 0 });
    },
    // A stall costs a whole socket timeout: room for every run to have one, so a failure reports.
    RUNS * (SOCKET_TIMEOUT_MS + 5000) + 60_000,
  );
});
