/**
 * Micro-benchmark of the statement classifier (the per-COM_QUERY cost on the proxy's hot path).
 * Not a test. Run: `npm run build && node dist/bench/classify.bench.js` (vite-node works too but
 * its transform makes the numbers several times worse). Prints CPU µs/op per statement shape, and
 * MB/s for a large INSERT.
 */
import { classify } from "../src/routing/classify.js";

const cases: [string, string][] = [
  ["point select", "SELECT c FROM sbtest1 WHERE id=4242"],
  [
    "commented join",
    "/* app:orders */ SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.cid WHERE o.id IN (1, 2, 3) ORDER BY o.id LIMIT 10",
  ],
  ["locking read", "SELECT * FROM t WHERE id = 7 FOR UPDATE"],
  ["set autocommit", "SET autocommit=0"],
  ["hinted read", "SELECT /* rwsplit: route=replica, max_lag=500ms */ * FROM t WHERE id = 1"],
  ["begin", "BEGIN"],
];

/** CPU µs per call: CPU time, not wall time, so a busy shared machine skews it less. */
function perOp(buf: Buffer, iterations: number): number {
  for (let i = 0; i < Math.min(iterations, 10_000); i++) classify(buf); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) classify(buf);
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / iterations;
}

// Round 1 lets the JIT settle on all shapes; round 2 is what we report.
for (const round of [1, 2]) {
  for (const [name, sql] of cases) {
    const us = perOp(Buffer.from(sql, "latin1"), 1_000_000);
    if (round === 2) console.log(`${name.padEnd(16)} ${us.toFixed(3)} µs/op  (${sql.length} bytes)`);
  }
}

const rows: string[] = [];
for (let i = 0; i < 20_000; i++) rows.push(`(${i}, 'name ${i} it''s', "x\\"y", 3.14, NULL)`);
const big = Buffer.from(`INSERT INTO t (a, b, c, d, e) VALUES ${rows.join(", ")}`, "latin1");
const us = perOp(big, 50);
console.log(
  `large insert     ${(us / 1000).toFixed(2)} ms/op  (${(big.length / 1e6).toFixed(2)} MB, ${(big.length / us).toFixed(0)} MB/s)`,
);
