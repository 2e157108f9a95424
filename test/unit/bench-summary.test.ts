import { describe, expect, test } from "vitest";
import type { RunResult, ScenarioResult } from "../../bench/report.js";
import { renderMarkdown, summarise } from "../../bench/report.js";

// The bench's summary: medians per target and the ratios issue #15's goals are stated in
// (rwsplit's CPU per query over node-relay's and HAProxy's, qps over HAProxy's).

const run = (qps: number, cpuUsPerQuery: number | null): RunResult => ({
  queries: qps * 2,
  qps,
  tps: qps,
  avgMs: 0.5,
  p50Ms: 0.4,
  p95Ms: 0.9,
  p99Ms: 1.2,
  errors: 0,
  reconnects: 0,
  cpuUsPerQuery,
  cpuMs: cpuUsPerQuery === null ? null : (cpuUsPerQuery * qps * 2) / 1000,
  rssKb: 80_000,
  raw: "",
});

const scenario: ScenarioResult = {
  scenario: "oltp_point_select (prepared)",
  targets: [
    { target: "direct", runs: [run(20_000, null)] },
    { target: "haproxy", runs: [run(16_000, 30), run(15_000, 34), run(17_000, 32)] },
    { target: "node-relay", runs: [run(15_000, 20), run(14_000, 24)] },
    { target: "rwsplit", runs: [run(12_000, 44), run(13_000, 44), run(11_000, 50)] },
  ],
};

describe("summarise", () => {
  test("medians and ratios to HAProxy and node-relay", () => {
    const s = summarise(scenario);
    const rw = s.find((x) => x.target === "rwsplit")!;
    expect(rw.qps).toBe(12_000);
    expect(rw.cpuUsPerQuery).toBe(44);
    expect(rw.qpsVsHaproxy).toBeCloseTo(12_000 / 16_000);
    // node-relay's median of two runs is their mean: 22.
    expect(rw.cpuVsNodeRelay).toBeCloseTo(2);
    expect(rw.cpuVsHaproxy).toBeCloseTo(44 / 32);
    const direct = s.find((x) => x.target === "direct")!;
    expect(direct.cpuUsPerQuery).toBeNull();
    expect(direct.cpuVsNodeRelay).toBeNull();
  });

  test("without node-relay (older results) the ratio is null, not NaN", () => {
    const s = summarise({ ...scenario, targets: scenario.targets.filter((t) => t.target !== "node-relay") });
    expect(s.find((x) => x.target === "rwsplit")!.cpuVsNodeRelay).toBeNull();
  });
});

describe("renderMarkdown", () => {
  const base = {
    command: "npm run bench -- --quick",
    date: "2026-12-07T00:00:00.000Z",
    machine: { cores: 2 },
    settings: { rounds: 1, seconds: 2, threads: 8 },
    results: [scenario],
  };

  test("the sysbench table shows CPU over node-relay's and HAProxy's", () => {
    const md = renderMarkdown(base);
    expect(md).toContain("CPU vs node-relay");
    expect(md).toMatch(/\| rwsplit \| 12000 \|.*\| 44\.0 \| 2\.00 \| 1\.38 \|/);
  });

  test("the proxy-bound section gives the scaling of the second workers setting over the first", () => {
    const md = renderMarkdown({
      ...base,
      proxyBound: {
        query: "SELECT 1",
        threads: 64,
        seconds: 2,
        rounds: 1,
        workers: [
          { target: "rwsplit-w1", workers: 1 },
          { target: "rwsplit-w2", workers: 2 },
        ],
        scenario: {
          scenario: "SELECT 1, 64 connections",
          targets: [
            { target: "node-relay", runs: [run(30_000, 20)] },
            { target: "rwsplit-w1", runs: [run(20_000, 40)] },
            { target: "rwsplit-w2", runs: [run(30_000, 44)] },
          ],
        },
      },
    });
    expect(md).toContain("Scaling, rwsplit-w2 over rwsplit-w1: 1.50× the qps at 1.10× the CPU per query.");
    // CPU cores: 40 µs × 40,000 queries over 2 s.
    expect(md).toMatch(/\| rwsplit-w1 \| 1 \| 20000 \|.*\| 40\.0 \| 0\.80 \| 2\.00 \|/);
  });

  test("a skipped proxy-bound phase says why", () => {
    const md = renderMarkdown({
      ...base,
      proxyBound: {
        query: "SELECT 1",
        threads: 64,
        seconds: 2,
        rounds: 1,
        workers: [{ target: "rwsplit-w2", workers: 2 }],
        skipped: "rwsplit rwsplit-w2 exited (code 1) before listening: workers: unknown key",
        scenario: { scenario: "SELECT 1, 64 connections", targets: [] },
      },
    });
    expect(md).toContain("Not run: rwsplit rwsplit-w2 exited");
  });
});
