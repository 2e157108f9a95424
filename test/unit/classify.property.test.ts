import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { classify, classifyString } from "../../src/routing/classify.js";

/**
 * Generated statements from small grammars, dressed up with random whitespace, comments and
 * keyword case: simple SELECTs must stay reads, plain DML must stay writes, and nothing throws.
 */

const RUNS = 300;

const quoteSingle = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
const quoteDouble = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '""')}"`;
const quoteBacktick = (s: string) => `\`${s.replace(/`/g, "``")}\``;

/** Text that is harmless inside a comment of the given kind. */
const commentText = fc
  .string({ maxLength: 20 })
  .filter((s) => !s.includes("*/") && !s.startsWith("!") && !s.startsWith("M!"));
const lineText = fc.string({ maxLength: 20 }).map((s) => s.replace(/[\n]/g, " "));

/** What may separate two tokens. */
const gap = fc.oneof(
  fc.constantFrom(" ", "\n", "\t", "  ", "\r\n"),
  commentText.map((c) => ` /*${c}*/ `),
  commentText.map((c) => `/*${c}*/`),
  lineText.map((c) => ` -- ${c}\n`),
  lineText.map((c) => ` #${c}\n`),
);

/** A keyword in random letter case. */
const kw = (word: string) =>
  fc
    .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
    .map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""));

const ident = fc.oneof(
  fc.constantFrom(
    "a",
    "b",
    "col1",
    "user_id",
    "t",
    "orders",
    "x$y",
    "last_insert_id_col",
    "nextval_x",
    "forx",
  ),
  fc.string({ minLength: 1, maxLength: 12 }).map(quoteBacktick),
  fc.constantFrom("`for update`", "`select`", "`; delete from t`"),
);
const literal = fc.oneof(
  fc.nat().map(String),
  fc.string({ maxLength: 16 }).map(quoteSingle),
  fc.string({ maxLength: 16 }).map(quoteDouble),
  fc.string({ unit: "binary", maxLength: 8 }).map(quoteSingle),
  fc.constantFrom(
    "NULL",
    "'FOR UPDATE'",
    "'; DELETE FROM t; '",
    "'LAST_INSERT_ID()'",
    "'@x := 1'",
    "@@version",
  ),
);
const op = fc.constantFrom("=", "<", ">=", "<>", "!=");

type Parts = fc.Arbitrary<string[]>;
/** Token lists in sequence; a string is one fixed token, an Arbitrary<string> one generated token. */
const seq = (...parts: (Parts | fc.Arbitrary<string> | string)[]): Parts => {
  const lists = parts.map(
    (p): Parts =>
      typeof p === "string" ? fc.constant([p]) : (p as fc.Arbitrary<string | string[]>).map(asList),
  );
  return fc.tuple(...lists).map((xs) => xs.flat());
};
const asList = (x: string | string[]): string[] => (Array.isArray(x) ? x : [x]);
const optional = (p: Parts): Parts => fc.oneof(fc.constant<string[]>([]), p);

const column: Parts = fc.oneof(
  ident.map((i) => [i]),
  seq(kw("count"), "(", "*", ")"),
  seq(kw("max"), "(", ident, ")"),
  seq(kw("concat"), "(", ident, ",", literal, ")"),
  literal.map((l) => [l]),
);
const columns: Parts = fc.oneof(fc.constant<string[]>(["*"]), seq(column), seq(column, ",", column));
const where = seq(kw("where"), ident, op, literal);
const simpleSelect = seq(
  kw("select"),
  columns,
  kw("from"),
  ident,
  optional(where),
  optional(seq(kw("group"), kw("by"), ident)),
  optional(seq(kw("order"), kw("by"), ident, fc.constantFrom("ASC", "desc", "Desc"))),
  optional(seq(kw("limit"), fc.nat(1000).map(String))),
);
const read: Parts = fc.oneof(
  simpleSelect,
  seq("(", simpleSelect, ")"),
  seq(simpleSelect, kw("union"), simpleSelect),
  seq(kw("with"), "c", kw("as"), "(", simpleSelect, ")", simpleSelect),
  seq(kw("select"), ident, kw("from"), ident, kw("where"), ident, kw("in"), "(", simpleSelect, ")"),
  seq(kw("show"), kw("tables")),
  seq(kw("describe"), ident),
  seq(kw("explain"), simpleSelect),
);
const write: Parts = fc.oneof(
  seq(
    kw("insert"),
    kw("into"),
    ident,
    "(",
    ident,
    ",",
    ident,
    ")",
    kw("values"),
    "(",
    literal,
    ",",
    literal,
    ")",
  ),
  seq(kw("insert"), kw("into"), ident, simpleSelect),
  seq(kw("replace"), kw("into"), ident, kw("values"), "(", literal, ")"),
  seq(kw("update"), ident, kw("set"), ident, "=", literal, optional(where)),
  seq(kw("delete"), kw("from"), ident, optional(where)),
  seq(simpleSelect, kw("for"), kw("update")),
  seq(simpleSelect, kw("lock"), kw("in"), kw("share"), kw("mode")),
  seq(kw("select"), columns, kw("into"), "@v", kw("from"), ident),
  // LAST_INSERT_ID(expr) sets the value (LAST_INSERT_ID() alone is a read the router keeps on the primary).
  seq(kw("select"), kw("last_insert_id"), "(", literal, ")"),
  seq(kw("create"), kw("table"), ident, "(", ident, kw("int"), ")"),
);

/** Joins tokens with random gaps, and random whitespace/comments around the statement. */
const dressed = (parts: Parts) =>
  parts.chain((tokens) =>
    fc
      .tuple(
        fc.array(gap, { minLength: tokens.length + 1, maxLength: tokens.length + 1 }),
        fc.constantFrom("", ";", " ; "),
      )
      .map(([gaps, end]) => gaps[0] + tokens.map((t, i) => t + gaps[i + 1]).join("") + end),
  );

describe("classify: properties", () => {
  test("generated reads stay reads", () => {
    fc.assert(
      fc.property(dressed(read), (sql) => {
        expect(classifyString(sql).kind, sql).toBe("read");
      }),
      { numRuns: RUNS },
    );
  });

  test("generated writes stay writes", () => {
    fc.assert(
      fc.property(dressed(write), (sql) => {
        expect(classifyString(sql).kind, sql).toBe("write");
      }),
      { numRuns: RUNS },
    );
  });

  test("a read followed by a write is a write", () => {
    fc.assert(
      fc.property(dressed(read), dressed(write), (r, w) => {
        expect(classifyString(`${r};${w}`).kind).toBe("write");
      }),
      { numRuns: RUNS / 3 },
    );
  });

  test("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const c = classify(Buffer.from(bytes), a % (bytes.length + 2), b % (bytes.length + 2));
        expect(["read", "write", "session"]).toContain(c.kind);
      }),
      { numRuns: RUNS },
    );
  });

  const fragments = fc.constantFrom(
    "SELECT",
    "set",
    "with",
    "as",
    "(",
    ")",
    ";",
    ",",
    "'",
    '"',
    "`",
    "\\",
    "/*",
    "*/",
    "/*!",
    "/*M!50000",
    "--",
    "-- ",
    "#",
    "\n",
    " ",
    "@",
    "@@",
    "@@session.",
    ":=",
    "=",
    "FOR",
    "UPDATE",
    "INTO",
    "autocommit",
    "0",
    "1",
    "NEXT",
    "VALUE",
    "LOCK",
    "IN",
    "SHARE",
    "begin",
    "START",
    "TRANSACTION",
    "READ",
    "ONLY",
    "COMMIT",
    "AND",
    "CHAIN",
    "xa",
    "rwsplit:",
    "route=primary",
    "max_lag=2s",
    "STATEMENT",
    "NAMES",
    "get_lock",
    "last_insert_id",
    ".",
    "t",
    "GLOBAL",
    "EXPLAIN",
    "SHOW",
    "WARNINGS",
    "CREATE",
    "TEMPORARY",
  );
  const soup = fc.array(fragments, { maxLength: 30 }).map((xs) => xs.join(""));

  test("never throws on SQL-shaped soup", () => {
    fc.assert(
      fc.property(soup, (sql) => {
        expect(["read", "write", "session"]).toContain(classifyString(sql).kind);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test("classify on a Buffer slice equals classifyString on the same text", () => {
    fc.assert(
      fc.property(
        fc.oneof(soup, dressed(read), dressed(write), fc.string({ unit: "grapheme", maxLength: 40 })),
        fc.uint8Array({ maxLength: 8 }),
        fc.uint8Array({ maxLength: 8 }),
        (sql, before, after) => {
          const body = Buffer.from(sql, "utf8");
          const buf = Buffer.concat([before, body, after]);
          expect(classify(buf, before.length, before.length + body.length)).toEqual(classifyString(sql));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
