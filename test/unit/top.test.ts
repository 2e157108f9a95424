import { expect, test } from "vitest";
import { renderTop } from "../../src/cli/commands/top.js";
import { StatementSample } from "../../src/digests/sample.js";
import { DigestStore } from "../../src/digests/store.js";

test("rwsplit top: one line per digest, the costliest first, statements cut to the terminal's width", () => {
  const store = new DigestStore(10);
  const rec = (sql: string, ms: number, route: "primary" | "replica", errno = 0) => {
    const s = new StatementSample();
    s.query(Buffer.from(`\x03${sql}`), 1, "read");
    s.ran("app", "shop", 2);
    store.record(s, route, route, "read", ms * 1e6, errno);
  };
  for (let i = 0; i < 3; i++)
    rec(`SELECT * FROM orders WHERE customer_id = ${i} AND status IN ('a', 'b')`, 40, "replica");
  rec("UPDATE orders SET status = 'shipped' WHERE id = 7", 30, "primary", 1205);
  const out = renderTop(store.list("total_time", 10), 160, new Date("2025-01-01T12:00:00Z"));
  const lines = out.trimEnd().split("\n");
  expect(lines[0]).toMatch(
    /^rwsplit top {2}12:00:00 UTC {2}sort total_time {2}2\/10 digests, 0 evicted, 4 statements/,
  );
  expect(lines[2]).toMatch(/%time +total +count +avg +p99 +rows +err +replica +primary {2}statement/);
  expect(lines[3]).toMatch(
    /^ +80\.0 +120ms +3 +40\.0ms +[\d.]+ms +6 +0 +3 +0 {2}SELECT \* FROM orders WHERE customer_id = \? AND status IN \(\?\) {2}\(app@shop\)$/,
  );
  expect(lines[4]).toMatch(
    /^ +20\.0 +30\.0ms +1 .* 1 +0 +1 {2}UPDATE orders SET status = \? WHERE id = \? {2}\(app@shop\)$/,
  );
  for (const l of lines) expect(l.length).toBeLessThanOrEqual(160);
  expect(out).not.toMatch(/shipped|'a'/);
  const narrow = renderTop(store.list("total_time", 10), 100).trimEnd().split("\n");
  for (const l of narrow.slice(1)) expect(l.length).toBeLessThanOrEqual(100);
  expect(narrow[3]).toMatch(/SELECT \* FROM orders W.*…$/);
  expect(renderTop(new DigestStore(5).list(), 80)).toContain("no statements yet");
});
