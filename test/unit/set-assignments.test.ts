import { describe, expect, test } from "vitest";
import { setAssignments } from "../../src/routing/set-assignments.js";

const parse = (sql: string) => setAssignments(Buffer.from(sql, "utf8"), 0, Buffer.byteLength(sql));
const charset = [
  "character_set_client",
  "character_set_results",
  "character_set_connection",
  "collation_connection",
];

describe("setAssignments", () => {
  const cases: [string, { name: string; literal: string | null }[], boolean][] = [
    ["SET sql_mode = 'ANSI_QUOTES'", [{ name: "sql_mode", literal: "ANSI_QUOTES" }], false],
    ["SET @@sql_mode='ANSI_QUOTES'", [{ name: "sql_mode", literal: "ANSI_QUOTES" }], false],
    ["SET @@session.wait_timeout = 1", [{ name: "wait_timeout", literal: "1" }], false],
    ["SET @@LOCAL.`time_zone` = '+01:00'", [{ name: "time_zone", literal: "+01:00" }], false],
    ["SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI')", [{ name: "sql_mode", literal: null }], false],
    [
      "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_nopad_ci",
      charset.map((name) => ({ name, literal: null })),
      false,
    ],
    ["SET CHARACTER SET latin1", charset.map((name) => ({ name, literal: null })), false],
    [
      "SET collation_connection = utf8mb4_bin",
      [{ name: "collation_connection", literal: "utf8mb4_bin" }],
      false,
    ],
    [
      "SET a = 1, @@b = 'x', SESSION c = DEFAULT",
      [
        { name: "a", literal: "1" },
        { name: "b", literal: "x" },
        { name: "c", literal: "default" },
      ],
      false,
    ],
    ["SET @u = 1, sql_mode = ''", [{ name: "sql_mode", literal: "" }], true],
    ["SET GLOBAL max_connections = 10, wait_timeout = 5", [{ name: "wait_timeout", literal: "5" }], true],
    ["SET @@global.x = 1", [], true],
    ["SET session_track_state_change = ON", [{ name: "session_track_state_change", literal: "on" }], false],
    [
      "SET session_track_system_variables = 'autocommit,sql_mode'",
      [{ name: "session_track_system_variables", literal: "autocommit,sql_mode" }],
      false,
    ],
    [
      "SET sql_mode = 'it''s', x = \"a\\\"b\"",
      [
        { name: "sql_mode", literal: "it's" },
        { name: "x", literal: 'a"b' },
      ],
      false,
    ],
    ["SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ ONLY", [], true],
    ["SET keycache1.key_buffer_size = 1024", [], false],
    ["SET x := 1", [{ name: "x", literal: "1" }], false],
  ];
  test.each(cases)("%s", (sql, session, other) => {
    expect(parse(sql)).toEqual({ session, other });
  });

  test("what is not a SET, or not understood, is null", () => {
    expect(parse("SELECT 1")).toBeNull();
    expect(parse("SET")).toBeNull();
    expect(parse("SET = 1")).toBeNull();
  });
});
