/**
 * Micro-benchmark of query digests: what the data path pays per statement for them (issue #17:
 * at most 1 µs per point select). Not a test. Run: `npm run build && node dist/bench/digest.js`
 * (vite-node's transform makes the numbers several times worse). Prints a table of CPU µs per
 * operation and writes it, with the machine and Node version, to
 * bench/results/digest-<date>.json and bench/results/digest-latest.md.
 *
 * Per statement the data path runs `StatementSample.query` (COM_QUERY: hash the SQL) or
 * `StatementSample.prepared` (COM_STMT_EXECUTE: the statement's cached digest), then
 * `DigestStore.record` when the statement finishes. "per statement" adds those up for a store
 * that already knows the digest, the steady state. The first sight of a digest also builds its
 * text (`digestText`), once.
 */
import os from "node:os";
import { StatementSample } from "../src/digests/sample.js";
import { DigestStore } from "../src/digests/store.js";
import { classify } from "../src/routing/classify.js";
import { digestInto, digestText } from "../src/routing/digest.js";
import { writeResults } from "./results-files.js";

const cases: [string, string][] = [
  ["point select", "SELECT c FROM sbtest1 WHERE id=4242"],
  ["hinted read", "SELECT /* rwsplit: route=replica, max_lag=500ms */ * FROM t WHERE id = 1"],
  [
    "commented join",
    "/* app:orders */ SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.cid WHERE o.id IN (1, 2, 3) ORDER BY o.id LIMIT 10",
  ],
  [
    "IN list of 100",
    `SELECT * FROM t WHERE id IN (${Array.from({ length: 100 }, (_, i) => i * 7).join(", ")})`,
  ],
  ["update", "UPDATE sbtest1 SET k=k+1 WHERE id=5021"],
  [
    "100-row insert",
    `INSERT INTO sbtest1 (id, k, c, pad) VALUES ${Array.from({ length: 100 }, (_, i) => `(${i}, ${i * 3}, 'c-${i}-xxxxxxxxxxxxxxxx', 'pad-${i}')`).join(", ")}`,
  ],
];

/** CPU µs per call: CPU time, not wall time, so a busy shared machine skews it less. */
function perOp(fn: () => void, iterations: number): number {
  for (let i = 0; i < Math.min(iterations, 20_000); i++) fn(); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) fn();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / iterations;
}

interface Row {
  statement: string;
  bytes: number;
  classifyUs: number;
  digestUs: number;
  recordUs: number;
  perStatementUs: number;
  preparedPerStatementUs: number;
  firstSightTextUs: number;
}

function measure(name: string, sql: string): Row {
  const payload = Buffer.from(`\x03${sql}`, "latin1");
  const n = payload.length > 1000 ? 50_000 : 1_000_000;
  const out = { hi: 0, lo: 0 };
  const store = new DigestStore(5000);
  const sample = new StatementSample();
  sample.query(payload, 1, "read");
  sample.ran("sbtest", "sbtest", 1);
  store.record(sample, "replica", "replica1", "read", 180_000, 0);
  const stmt = {};
  const preparedPayload = Buffer.from(`\x16${sql}`, "latin1");
  return {
    statement: name,
    bytes: sql.length,
    classifyUs: perOp(() => classify(payload, 1), n),
    digestUs: perOp(() => digestInto(payload, 1, payload.length, out), n),
    recordUs: perOp(() => store.record(sample, "replica", "replica1", "read", 180_000, 0), n),
    perStatementUs: perOp(() => {
      sample.query(payload, 1, "read");
      sample.ran("sbtest", "sbtest", 1);
      store.record(sample, "replica", "replica1", "read", 180_000, 0);
    }, n),
    preparedPerStatementUs: perOp(() => {
      sample.prepared(stmt, preparedPayload, 1, "read");
      sample.ran("sbtest", "sbtest", 1);
      store.record(sample, "replica", "replica1", "read", 180_000, 0);
    }, n),
    firstSightTextUs: perOp(() => digestText(payload, 1), Math.max(1000, n / 20)),
  };
}

// Round 1 lets the JIT settle on all shapes; round 2 is what we report.
let rows: Row[] = [];
for (const round of [1, 2]) {
  const r = cases.map(([name, sql]) => measure(name, sql));
  if (round === 2) rows = r;
}

const f = (us: number) => us.toFixed(3);
const header =
  "| statement | bytes | classify µs | digest µs | store.record µs | per statement µs (COM_QUERY) | per statement µs (prepared) | first sight: text µs |";
const lines = [
  header,
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  ...rows.map(
    (r) =>
      `| ${r.statement} | ${r.bytes} | ${f(r.classifyUs)} | ${f(r.digestUs)} | ${f(r.recordUs)} | ${f(r.perStatementUs)} | ${f(r.preparedPerStatementUs)} | ${f(r.firstSightTextUs)} |`,
  ),
];
const cpu = os.cpus()[0]?.model ?? "unknown CPU";
const when = new Date().toISOString();
const md = [
  "# Query digest micro-benchmark",
  "",
  `\`node dist/bench/digest.js\`, ${when}, Node ${process.version}, ${cpu}, ${os.cpus().length} cores (shared).`,
  "CPU µs per operation (user + system time / iterations, after a warm-up round).",
  "",
  "- classify: the classifier's pass the data path already runs (for comparison);",
  "- digest: `digestInto`, the hash of the statement's shape;",
  "- store.record: one finished statement into a store that knows its digest;",
  "- per statement: what digests add to one COM_QUERY (hash + record), or to one COM_STMT_EXECUTE",
  "  (the statement's cached digest + record);",
  "- first sight: building the normalised text, once per new digest.",
  "",
  ...lines,
  "",
].join("\n");

const file = writeResults(
  "digest",
  when,
  { when, node: process.version, cpu, cores: os.cpus().length, rows },
  md,
);
process.stdout.write(`${lines.join("\n")}\n`);
process.stdout.write(`wrote ${file} and bench/results/digest-latest.md\n`);
