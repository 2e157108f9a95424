import { describe, expect, test } from "vitest";
import { Capability } from "../../../src/protocol/constants/capabilities.js";
import { SessionState, varsSyncSql } from "../../../src/proxy/session/session-state.js";

// The SET that brings a pooled backend connection to a session's variables. What the session never
// set goes back to what the connection's login gave it, which is not always the global value
// (DEFAULT): found by the session-state differential test.

const UNICODE_CI = { collation: 224, wireFlags: 0 }; // mysql2's handshake collation
const vars = (o: Record<string, string>) => new Map(Object.entries(o));

describe("varsSyncSql", () => {
  test.each([
    ["nothing differs", {}, {}, UNICODE_CI, null],
    ["a new value", { time_zone: "+01:00" }, {}, UNICODE_CI, "SET SESSION time_zone = '+01:00'"],
    [
      "a value the session never set: DEFAULT",
      {},
      { time_zone: "+01:00" },
      UNICODE_CI,
      "SET SESSION time_zone = DEFAULT",
    ],
    [
      "another session's SET NAMES latin1: back to the login's utf8mb4_unicode_ci (SET NAMES ... COLLATE, the one form that gives result columns 224 again), not the global utf8mb4_general_ci",
      {},
      {
        character_set_client: "latin1",
        character_set_connection: "latin1",
        character_set_results: "latin1",
        collation_connection: "latin1_swedish_ci",
      },
      UNICODE_CI,
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'",
    ],
    [
      "a collation id MariaDB does not have: DEFAULT",
      {},
      { character_set_results: "latin1", collation_connection: "latin1_bin" },
      { collation: 255, wireFlags: 0 },
      "SET SESSION character_set_results = DEFAULT, collation_connection = DEFAULT",
    ],
    [
      "the session's own character_set_results after the login's others",
      { character_set_results: "latin1" },
      { character_set_results: "utf8mb4", character_set_client: "latin1" },
      UNICODE_CI,
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci', SESSION character_set_results = 'latin1'",
    ],
    [
      "sql_mode of a CLIENT_IGNORE_SPACE login: the global one with IGNORE_SPACE",
      {},
      { sql_mode: "ANSI_QUOTES" },
      { collation: 224, wireFlags: Capability.IGNORE_SPACE },
      "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@GLOBAL.sql_mode, ''), 'IGNORE_SPACE')",
    ],
    [
      "character_set_results NULL (the tracker says ''): NULL, after the login's SET NAMES",
      {
        character_set_client: "utf8mb4",
        character_set_connection: "utf8mb4",
        character_set_results: "",
        collation_connection: "utf8mb4_unicode_ci",
      },
      {},
      UNICODE_CI,
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci', SESSION character_set_client = 'utf8mb4', character_set_connection = 'utf8mb4', character_set_results = NULL, collation_connection = 'utf8mb4_unicode_ci'",
    ],
    [
      "max_join_size sets sql_big_selects: the session's own sql_big_selects after it",
      { sql_big_selects: "1", max_join_size: "1000" },
      { sql_big_selects: "1" },
      UNICODE_CI,
      "SET SESSION max_join_size = 1000, sql_big_selects = 1",
    ],
    [
      "another session's sql_big_selects reset, the session's max_join_size kept: sql_big_selects still after it",
      { max_join_size: "1000", sql_big_selects: "0" },
      { max_join_size: "1000", sql_big_selects: "1" },
      UNICODE_CI,
      "SET SESSION sql_big_selects = 0",
    ],
    [
      "both another session's: max_join_size DEFAULT first",
      {},
      { sql_big_selects: "0", max_join_size: "1000" },
      UNICODE_CI,
      "SET SESSION max_join_size = DEFAULT, sql_big_selects = DEFAULT",
    ],
    ["an empty sql_mode stays ''", { sql_mode: "" }, {}, UNICODE_CI, "SET SESSION sql_mode = ''"],
    [
      "sql_mode of any other login: DEFAULT",
      {},
      { sql_mode: "ANSI_QUOTES" },
      UNICODE_CI,
      "SET SESSION sql_mode = DEFAULT",
    ],
    [
      "collations last: a character set assignment resets its collation",
      { collation_connection: "utf8mb4_bin", character_set_connection: "utf8mb4" },
      {},
      UNICODE_CI,
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci', SESSION character_set_connection = 'utf8mb4', collation_connection = 'utf8mb4_bin'",
    ],
    [
      "a session's SET NAMES ... COLLATE replayed as one (the collation result columns carry)",
      {
        character_set_client: "utf8mb4",
        character_set_connection: "utf8mb4",
        character_set_results: "utf8mb4",
        collation_connection: "utf8mb4_unicode_520_ci",
        time_zone: "+01:00",
      },
      { character_set_client: "latin1", time_zone: "+01:00" },
      { collation: 45, wireFlags: 0 },
      "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_520_ci'",
    ],
    [
      "an interactive login's wait_timeout is the global interactive_timeout, which DEFAULT is not",
      {},
      { wait_timeout: "77" },
      { collation: 45, wireFlags: Capability.INTERACTIVE },
      "SET SESSION wait_timeout = @@GLOBAL.interactive_timeout",
    ],
  ])("%s", (_, want, have, login, sql) => {
    expect(varsSyncSql(vars(want), vars(have), login)).toBe(sql);
  });

  // After COM_RESET_CONNECTION the session's database character set is the global one until the
  // next USE; the variable's DEFAULT is the current database's (what USE sets).
  test.each([
    ["to the global one", "global", {}, "SET SESSION collation_database = @@GLOBAL.collation_database"],
    ["back to the database's", "schema", {}, "SET SESSION collation_database = DEFAULT"],
    [
      "last, after the session's variables",
      "global",
      { time_zone: "+01:00" },
      "SET SESSION time_zone = '+01:00', collation_database = @@GLOBAL.collation_database",
    ],
  ] as const)("the database character set %s", (_, databaseCharset, want, sql) => {
    expect(varsSyncSql(vars(want), vars({}), UNICODE_CI, databaseCharset)).toBe(sql);
  });
});

describe("SET @@last_insert_id: what LAST_INSERT_ID() answers next", () => {
  test.each([
    {
      how: "read back after the SET",
      learn: (s: SessionState) => s.setVariable("last_insert_id", "7"),
      want: 7,
    },
    { how: "read back, @@identity", learn: (s: SessionState) => s.setVariable("identity", "12"), want: 12 },
    {
      how: "reported by the tracker",
      learn: (s: SessionState) => s.apply([{ type: "variable", name: "LAST_INSERT_ID", value: "9" }]),
      want: 9,
    },
    {
      how: "SET STATEMENT ... FOR: not the session's",
      learn: (s: SessionState) => s.apply([{ type: "variable", name: "last_insert_id", value: "9" }], false),
      want: 0,
    },
  ])("$how", ({ learn, want }) => {
    const s = new SessionState("app", false);
    learn(s);
    expect(s.lastInsertId).toBe(want);
    // Never replayed as a SET on another connection: the statement that reads it syncs it.
    expect(s.vars.has("last_insert_id") || s.vars.has("identity")).toBe(false);
  });
});
