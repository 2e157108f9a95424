import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import {
  CLIENT_ERRORS,
  type ClientErrorSpec,
  clientErrorFor,
  DeadlineError,
  DivergedError,
  ERRNO,
  ERROR_CODES,
  HA_STATUS,
  HaError,
  isServerError,
  ReplicationOpError,
  RwsplitError,
  serverErrno,
} from "../../src/errors.js";
import { BackendStatementError } from "../../src/proxy/session/state-sync.js";

// The error catalog (src/errors.ts) is the one place errors are defined: internal errors are
// RwsplitError (or a subclass) with a stable code, client errors are ERR packets with the
// server's own numbers, and clientErrorFor() is the one mapping between the two. The scans below
// read src/ as import-graph.test.ts does.

const SRC = resolve(import.meta.dirname, "../../src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

/** The code of a file without its comments (a `//` inside a string cuts it short: only misses, never adds). */
function code(text: string): string[] {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ""))
    .split("\n")
    .map((line) => line.replace(/(^|[^:"'`])\/\/.*$/, "$1"));
}

/** `file:line: text` for every code line of src/ (errors.ts aside) that matches `re`. */
function offenders(re: RegExp): string[] {
  return sources(SRC)
    .filter((f) => relative(SRC, f) !== "errors.ts")
    .flatMap((f) =>
      code(readFileSync(f, "utf8")).flatMap((line, i) =>
        re.test(line) ? [`${relative(SRC, f)}:${i + 1}: ${line.trim()}`] : [],
      ),
    );
}

describe("src/ uses the catalog", () => {
  test("sees the sources", () => {
    expect(sources(SRC).length).toBeGreaterThan(100);
  });

  test("no plain Error is constructed: every error has a stable code", () => {
    expect(offenders(/\bnew (Type|Range|Syntax|Reference)?Error\(/)).toEqual([]);
  });

  test("no class extends Error itself: internal errors extend RwsplitError", () => {
    expect(offenders(/\bextends (Type|Range)?Error\b/)).toEqual([]);
  });

  test("no server error number is written as a literal: ERRNO names it", () => {
    const numbers = new Set<number>(Object.values(ERRNO));
    const literal = /(?<![\w.])(\d{4})(?![\w.])/g;
    const found = sources(SRC)
      .filter((f) => relative(SRC, f) !== "errors.ts")
      .flatMap((f) =>
        code(readFileSync(f, "utf8")).flatMap((line, i) =>
          [...line.matchAll(literal)].some((m) => numbers.has(Number(m[1])))
            ? [`${relative(SRC, f)}:${i + 1}: ${line.trim()}`]
            : [],
        ),
      );
    expect(found).toEqual([]);
  });

  test("the scans would see an offence", () => {
    expect(code('throw new Error("x"); // new Error(').join("")).toMatch(/new Error\(/);
    expect(code("/* new Error( */ ok").join("")).not.toMatch(/new Error\(/);
    expect(code("a(); // 1040").join("")).not.toMatch(/1040/);
    expect(code('fetch("http://x/1040")').join("")).toMatch(/1040/);
  });
});

describe("the catalog", () => {
  test("every error class carries a code from ERROR_CODES", () => {
    const errors: RwsplitError[] = [
      new RwsplitError("INTERNAL"),
      new DeadlineError("connect to db1:3306", 500),
      new HaError("HA_BUSY", "a failover is already running"),
      new ReplicationOpError("promote", "replica1", "read_only is still ON"),
      new DivergedError("demote", "db1", "db2", "0-1-43", ["0-1-43"], "0-1-43 is not on db2"),
      new BackendStatementError({ errno: 1049, sqlState: "42000", message: "Unknown database 'x'" }),
    ];
    for (const e of errors) {
      expect(e).toBeInstanceOf(RwsplitError);
      expect(Object.keys(ERROR_CODES)).toContain(e.code);
    }
    expect(errors.map((e) => e.code)).toEqual([
      "INTERNAL",
      "BACKEND_TIMEOUT",
      "HA_BUSY",
      "REPLICATION_OP_FAILED",
      "REPLICATION_DIVERGED",
      "BACKEND_REFUSED",
    ]);
  });

  test("a code without a message says what it means", () => {
    expect(new RwsplitError("SHUTTING_DOWN").message).toBe("proxy is shutting down");
  });

  test.each([
    ["HA_UNKNOWN_BACKEND", 400],
    ["HA_BAD_REQUEST", 400],
    ["HA_NOT_CONFIGURED", 409],
    ["HA_CONFLICT", 409],
    ["HA_BUSY", 409],
    ["HA_LEASE_HELD", 409],
    ["REPLICATION_DIVERGED", 409],
    ["HA_PUBLISH_FAILED", 500],
    ["HA_NO_CANDIDATE", 503],
  ] as const)("HaError %s answers the admin API with %i", (c, status) => {
    expect(new HaError(c, "why").status).toBe(status);
    expect(HA_STATUS[c]).toBe(status);
  });

  test("messages keep what the admin API and the logs show", () => {
    expect(new DeadlineError("SET GLOBAL read_only", 500).message).toBe(
      "SET GLOBAL read_only: no answer within 500 ms",
    );
    expect(new ReplicationOpError("promote", "r1", "read_only is still ON").message).toBe(
      "promote r1: read_only is still ON",
    );
  });

  test("every client error uses a named number and a five-character SQLSTATE", () => {
    const numbers = new Set<number>(Object.values(ERRNO));
    const specs: ClientErrorSpec[] = Object.values(CLIENT_ERRORS).map((f) =>
      (f as (...a: unknown[]) => ClientErrorSpec)("a", "b", ["c"]),
    );
    expect(specs.length).toBeGreaterThan(25);
    for (const s of specs) {
      expect(numbers.has(s.errno), `${s.errno} ${s.message}`).toBe(true);
      expect(s.sqlState).toMatch(/^[0-9A-Z]{5}$/);
      expect(s.message.length).toBeGreaterThan(10);
    }
  });

  test.each([
    ["accessDenied", 1045, "28000"],
    ["accountLocked", 4151, "HY000"],
    ["passwordExpired", 1862, "HY000"],
    ["accountRequiresTls", 1045, "28000"],
    ["authPluginNotRelayable", 1251, "08004"],
    ["tooManyConnections", 1040, "08004"],
    ["unknownCommand", 1047, "08S01"],
    ["malformedPacket", 1835, "HY000"],
    ["handshakeError", 1043, "08S01"],
    ["authPluginUnsupported", 1251, "08004"],
    ["secureTransportRequired", 3159, "HY000"],
    ["backendUnavailable", 2003, "HY000"],
    ["lostConnection", 2013, "HY000"],
    ["sessionLost", 2013, "HY000"],
    ["poolTimeout", 1040, "08004"],
    ["shuttingDown", 1053, "08S01"],
    ["unknownStatement", 1243, "HY000"],
    ["noOpenCursor", 1421, "HY000"],
    ["noSuchThread", 1094, "HY000"],
    ["killDenied", 1095, "HY000"],
    ["killNotSupported", 1235, "42000"],
    ["killSyntax", 1064, "42000"],
    ["queryInterrupted", 1317, "70100"],
    ["connectionKilled", 1927, "70100"],
    ["writeInReadOnlyTransaction", 1792, "25006"],
    ["noReplica", 2003, "HY000"],
    ["packetTooLarge", 1153, "08S01"],
  ] as const)("CLIENT_ERRORS.%s is %i (%s), as the server sends it", (name, errno, sqlState) => {
    const f = CLIENT_ERRORS[name] as (...a: unknown[]) => ClientErrorSpec;
    expect(f("a", "b", ["c"])).toMatchObject({ errno, sqlState });
  });
});

describe("clientErrorFor: the one mapping from an internal error to the client's ERR", () => {
  const refused = { errno: 1049, sqlState: "42000", message: "Unknown database 'nope'" };
  test.each([
    [
      "a pool that stayed full: 1040, its own message",
      new RwsplitError("POOL_EXHAUSTED", "no backend connection to db1 became free within 5000 ms"),
      { errno: 1040, sqlState: "08004", message: "no backend connection to db1 became free within 5000 ms" },
    ],
    ["shutting down: 1053", new RwsplitError("SHUTTING_DOWN"), CLIENT_ERRORS.shuttingDown()],
    [
      "a backend lost mid-statement: 2013, may or may not have run",
      new RwsplitError("BACKEND_LOST", "db1 closed the connection"),
      CLIENT_ERRORS.lostConnection("db1 closed the connection"),
    ],
    [
      "the connection holding the session's state is gone: 2013, did not run",
      new RwsplitError("SESSION_LOST", "the transaction's connection to db1 is gone"),
      CLIENT_ERRORS.sessionLost("the transaction's connection to db1 is gone"),
    ],
    [
      "a backend's own ERR for the proxy's statement passes unchanged",
      new BackendStatementError(refused),
      refused,
    ],
    ["anything carrying a clientError passes it", { clientError: refused }, refused],
    [
      "connect failed: 2003, with the reason",
      new RwsplitError("BACKEND_CONNECT_FAILED", "db1: connect ECONNREFUSED"),
      CLIENT_ERRORS.backendUnavailable("db1: connect ECONNREFUSED"),
    ],
    [
      "a deadline: 2003",
      new DeadlineError("connect to db1", 3000),
      CLIENT_ERRORS.backendUnavailable("connect to db1: no answer within 3000 ms"),
    ],
    [
      "any other code: 2003",
      new RwsplitError("NO_BACKEND", "no replica eligible"),
      CLIENT_ERRORS.backendUnavailable("no replica eligible"),
    ],
    [
      "not ours (a driver's error): 2003",
      new RangeError("boom"),
      CLIENT_ERRORS.backendUnavailable("RangeError: boom"),
    ],
    ["not even an error: 2003", "boom", CLIENT_ERRORS.backendUnavailable("boom")],
    ["null: 2003", null, CLIENT_ERRORS.backendUnavailable("null")],
  ] as const)("%s", (_name, e, want) => {
    expect(clientErrorFor(e)).toEqual(want);
  });
});

describe("server errors from mysql2", () => {
  test.each([
    ["an ERR reply", { errno: 1146, sqlState: "42S02", message: "x" }, true, 1146],
    ["a fatal one (the connection is gone)", { errno: 2013, sqlState: "HY000", fatal: true }, false, 2013],
    ["a socket error", Object.assign(new RangeError("x"), { code: "ECONNRESET" }), false, 0],
    ["nothing", null, false, 0],
  ])("%s", (_name, e, server, errno) => {
    expect(isServerError(e)).toBe(server);
    expect(serverErrno(e)).toBe(errno);
  });
});
