import { describe, expect, test } from "vitest";
import { isoWeek, planRetention, type RetentionItem, timeOfId } from "../../src/backup/retention.js";

const at = (iso: string, over: Partial<RetentionItem> = {}): RetentionItem => ({
  id: iso,
  createdAt: new Date(iso),
  complete: true,
  verifiedOk: false,
  ...over,
});
const now = new Date("2026-12-20T12:00:00Z");
const removed = (items: RetentionItem[], daily: number, weekly: number) =>
  planRetention(items, { last: 1, daily, weekly }, now)
    .remove.map((r) => r.id)
    .sort();

describe("isoWeek", () => {
  test.each([
    ["2026-12-20T00:00:00Z", "2026-W51"], // a Sunday belongs to the week that began on Monday
    ["2026-12-21T00:00:00Z", "2026-W52"],
    ["2027-01-01T00:00:00Z", "2026-W53"], // Friday: still the last week of 2026
    ["2027-01-04T00:00:00Z", "2027-W01"],
    ["2024-12-30T00:00:00Z", "2025-W01"],
  ])("%s is %s", (d, w) => expect(isoWeek(new Date(d))).toBe(w));
});

describe("planRetention", () => {
  test("keeps the newest of each of the last N days", () => {
    const items = [
      at("2026-12-20T03:00:00Z"),
      at("2026-12-20T01:00:00Z"),
      at("2026-12-19T03:00:00Z"),
      at("2026-12-18T03:00:00Z"),
      at("2026-12-17T03:00:00Z"),
    ];
    expect(removed(items, 2, 0)).toEqual([
      "2026-12-17T03:00:00Z",
      "2026-12-18T03:00:00Z",
      "2026-12-20T01:00:00Z",
    ]);
  });

  test("weekly keeps the newest of each ISO week on top of the daily ones", () => {
    const items = [
      at("2026-12-20T03:00:00Z"), // W51
      at("2026-12-13T03:00:00Z"), // W50
      at("2026-12-12T03:00:00Z"), // W50
      at("2026-12-06T03:00:00Z"), // W49
      at("2026-11-29T03:00:00Z"), // W48
    ];
    expect(removed(items, 1, 3)).toEqual(["2026-11-29T03:00:00Z", "2026-12-12T03:00:00Z"]);
  });

  test("never deletes the newest verified backup, whatever the counts", () => {
    const items = [
      at("2026-12-20T03:00:00Z"),
      at("2026-12-19T03:00:00Z"),
      at("2026-12-01T03:00:00Z", { verifiedOk: true }),
    ];
    expect(removed(items, 1, 0)).toEqual(["2026-12-19T03:00:00Z"]);
    const plan = planRetention(items, { last: 1, daily: 1, weekly: 0 }, now);
    expect(plan.keep.find((k) => k.id === "2026-12-01T03:00:00Z")?.why).toContain("newest verified backup");
  });

  test("keep 0/0 still keeps the newest backup", () => {
    expect(removed([at("2026-12-20T03:00:00Z"), at("2026-12-19T03:00:00Z")], 0, 0)).toEqual([
      "2026-12-19T03:00:00Z",
    ]);
  });

  test("an incomplete backup is removed only after the grace period, and never counts as the newest", () => {
    const items = [
      at("2026-12-20T11:30:00Z", { complete: false }), // being written right now
      at("2026-12-18T11:00:00Z", { complete: false }), // a run killed two days ago
      at("2026-12-19T03:00:00Z"),
    ];
    expect(removed(items, 0, 0)).toEqual(["2026-12-18T11:00:00Z"]);
  });

  test("keep the last N whatever their days", () => {
    const items = [
      at("2026-12-20T03:00:00Z"),
      at("2026-12-20T02:00:00Z"),
      at("2026-12-20T01:00:00Z"),
      at("2026-12-20T00:30:00Z"),
    ];
    expect(planRetention(items, { last: 3, daily: 1, weekly: 0 }, now).remove.map((r) => r.id)).toEqual([
      "2026-12-20T00:30:00Z",
    ]);
  });

  test("an empty destination has nothing to do", () => {
    expect(planRetention([], { last: 1, daily: 7, weekly: 4 }, now)).toEqual({ keep: [], remove: [] });
  });
});

test("timeOfId reads the time in a backup id", () => {
  expect(timeOfId("20261206T181623Z-replica1")?.toISOString()).toBe("2026-12-06T18:16:23.000Z");
  expect(timeOfId("nonsense")).toBeNull();
});
