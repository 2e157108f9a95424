/** The fleet's runtime record (src/cluster/runtime-record.ts): one rule for every change. */
import { expect, test } from "vitest";
import {
  applyChange,
  EMPTY_RECORD,
  parseRuntimeRecord,
  type RuntimeOp,
  type RuntimeRecord,
} from "../../src/cluster/runtime-record.js";

const by = (i: number) => ({ instance: `i${i}`, who: "SIGHUP", at: 1000 * i });

test.each<[string, RuntimeOp[], Pick<RuntimeRecord, "version" | "reloads" | "drained" | "change">]>([
  ["a reload", [{ kind: "reload", removed: [] }], { version: 1, reloads: 1, drained: [], change: "reload" }],
  [
    "two drains and an undrain",
    [
      { kind: "drain", backend: "r1" },
      { kind: "drain", backend: "r2" },
      { kind: "undrain", backend: "r1" },
    ],
    { version: 3, reloads: 0, drained: ["r2"], change: "undrain r1" },
  ],
  [
    "a drain asked twice is listed once (and still counts as a change)",
    [
      { kind: "drain", backend: "r1" },
      { kind: "drain", backend: "r1" },
    ],
    { version: 2, reloads: 0, drained: ["r1"], change: "drain r1" },
  ],
  [
    "a reload that removed a drained backend forgets its drain",
    [
      { kind: "drain", backend: "r1" },
      { kind: "drain", backend: "r2" },
      { kind: "reload", removed: ["r1"] },
    ],
    { version: 3, reloads: 1, drained: ["r2"], change: "reload" },
  ],
])("%s", (_name, ops, expected) => {
  const r = ops.reduce((rec, op, i) => applyChange(rec, op, by(i + 1)), EMPTY_RECORD);
  expect(r).toMatchObject(expected);
  expect(r.by).toBe(`i${ops.length}`);
  expect(parseRuntimeRecord(JSON.stringify(r))).toEqual(r);
});

test("a malformed record is not one", () => {
  expect(parseRuntimeRecord("{")).toBeNull();
  expect(parseRuntimeRecord(JSON.stringify({ ...EMPTY_RECORD, version: -1 }))).toBeNull();
});
