/** Turns bench results into a Markdown table and an SVG bar chart (no dependencies). */

export interface RunResult {
  queries: number;
  qps: number;
  tps: number;
  p99Ms: number;
  avgMs: number;
  errors: number;
  reconnects: number;
  cpuUsPerQuery: number | null;
  rssKb: number | null;
  /** sysbench's own output, kept so every figure can be traced. */
  raw: string;
}

export interface TargetResult {
  target: string;
  runs: RunResult[];
}

export interface ScenarioResult {
  scenario: string;
  targets: TargetResult[];
}

export interface Report {
  command: string;
  date: string;
  machine: Record<string, unknown>;
  settings: { rounds: number; seconds: number; threads: number };
  results: ScenarioResult[];
}

export function median(xs: number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : "–");

export function renderMarkdown(r: Report): string {
  const lines = [
    `## Benchmark: ${r.date.slice(0, 10)}`,
    "",
    `Command: \`${r.command}\` — sysbench, ${r.settings.threads} threads, ${r.settings.seconds} s per run, median of ${r.settings.rounds} interleaved round(s).`,
    `Machine: ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; ${r.machine.mariadb}; ${r.machine.haproxy}.`,
    "Targets: direct = the primary itself; haproxy = HAProxy in TCP mode in front of the primary; rwsplit = reads split over 2 replicas, writes to the primary.",
    "",
    "| scenario | target | qps | p99 ms | errors | CPU µs/query | RSS MB | vs direct | vs haproxy |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const s of r.results) {
    const qpsOf = (name: string) =>
      median(s.targets.find((t) => t.target === name)?.runs.map((x) => x.qps) ?? []);
    const direct = qpsOf("direct");
    const haproxy = qpsOf("haproxy");
    for (const t of s.targets) {
      const qps = median(t.runs.map((x) => x.qps));
      const cpu = median(t.runs.map((x) => x.cpuUsPerQuery ?? Number.NaN));
      const rss = median(t.runs.map((x) => (x.rssKb ?? Number.NaN) / 1024));
      lines.push(
        `| ${s.scenario} | ${t.target} | ${fmt(qps)} | ${fmt(median(t.runs.map((x) => x.p99Ms)), 2)} | ${fmt(median(t.runs.map((x) => x.errors)))} | ${fmt(cpu, 1)} | ${fmt(rss)} | ${fmt(qps / direct, 2)} | ${fmt(qps / haproxy, 2)} |`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export function renderChart(r: Report): string {
  const colors: Record<string, string> = { direct: "#888", rwsplit: "#2a7", haproxy: "#37c" };
  const rows = r.results.flatMap((s) =>
    s.targets.map((t) => ({
      label: `${s.scenario} · ${t.target}`,
      target: t.target,
      qps: median(t.runs.map((x) => x.qps)),
    })),
  );
  const max = Math.max(1, ...rows.map((x) => (Number.isFinite(x.qps) ? x.qps : 0)));
  const h = 22;
  const width = 900;
  const left = 380;
  const bars = rows
    .map((row, i) => {
      const w = Number.isFinite(row.qps) ? ((width - left - 80) * row.qps) / max : 0;
      const y = 30 + i * h;
      return `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${row.label}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${h - 6}" fill="${colors[row.target] ?? "#c73"}"/><text x="${(left + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${fmt(row.qps)} qps</text>`;
    })
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${40 + rows.length * h}" font-family="sans-serif"><text x="10" y="18" font-size="14">${r.command} — ${r.date.slice(0, 10)} — queries per second (median)</text>\n${bars}\n</svg>\n`;
}
