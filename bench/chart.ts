/** The results as an SVG of horizontal bar panels, one per figure, each with its own scale (no dependencies). */
import type { LagRun, Report } from "./report.js";
import { fmt, holdTitle, median, summarise } from "./report.js";

interface Bar {
  label: string;
  /** Picks the colour: direct, rwsplit, haproxy, node-relay, or another. */
  target: string;
  value: number;
  text: string;
}

const COLORS: Record<string, string> = {
  direct: "#888",
  rwsplit: "#2a7",
  haproxy: "#37c",
  "node-relay": "#a6b",
};
const WIDTH = 900;
const LEFT = 380;
const BAR_H = 22;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function colorOf(target: string): string {
  if (COLORS[target]) return COLORS[target]!;
  return target.startsWith("rwsplit") ? COLORS.rwsplit! : "#c73";
}

/** One panel: a title and its bars; returns the SVG and its height. */
function panel(title: string, bars: Bar[], y0: number): { svg: string; height: number } {
  const max = Math.max(Number.MIN_VALUE, ...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const parts = [`<text x="10" y="${y0 + 16}" font-size="13" font-weight="bold">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const w = Number.isFinite(b.value) && max > 0 ? ((WIDTH - LEFT - 110) * b.value) / max : 0;
    const y = y0 + 26 + i * BAR_H;
    parts.push(
      `<text x="${LEFT - 8}" y="${y + 14}" text-anchor="end" font-size="12">${esc(b.label)}</text>`,
      `<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H - 6}" fill="${colorOf(b.target)}"/>`,
      `<text x="${(LEFT + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${esc(b.text)}</text>`,
    );
  });
  return { svg: parts.join("\n"), height: 36 + bars.length * BAR_H };
}

function lagBars(runs: LagRun[]): Bar[] {
  return runs.map((x) => ({
    label: x.policy,
    target:
      x.policy.startsWith("rwsplit") || x.policy.startsWith("fixed") ? "rwsplit" : x.policy.split(" ")[0]!,
    value: 100 * x.result.all.staleRate,
    text: `${fmt(100 * x.result.all.staleRate, 1)}% stale, ${fmt(x.result.all.readsPerSec)} reads/s`,
  }));
}

export function renderChart(r: Report): string {
  const panels: [string, Bar[]][] = [
    [
      "sysbench: queries per second (median)",
      r.results.flatMap((s) =>
        s.targets.map((t) => {
          const qps = median(t.runs.map((x) => x.qps));
          return {
            label: `${s.scenario} · ${t.target}`,
            target: t.target,
            value: qps,
            text: `${fmt(qps)} qps`,
          };
        }),
      ),
    ],
  ];
  const pb = r.proxyBound;
  if (pb !== undefined && pb.skipped === undefined) {
    panels.push([
      `proxy-bound: ${pb.threads} connections sending ${pb.query}, queries per second (median)`,
      summarise(pb.scenario).map((x) => ({
        label: x.target,
        target: x.target,
        value: x.qps ?? Number.NaN,
        text: `${fmt(x.qps)} qps, ${fmt(x.cpuUsPerQuery, 1)} µs CPU/query`,
      })),
    ]);
  }
  const l = r.loadgen;
  if (l !== undefined) {
    panels.push(
      [
        "connection storm: connections per second (connect + SELECT 1 + quit)",
        l.storm.runs.map((x) => ({
          label: x.target,
          target: x.target,
          value: x.result.connectionsPerSec,
          text: `${fmt(x.result.connectionsPerSec)}/s, p99 ${fmt(x.result.cycle.p99Ms, 1)} ms`,
        })),
      ],
      [
        "idle connections: proxy memory per connection (KB, lower is better)",
        l.idle.runs
          .filter((x) => x.result.rssPerConnectionBytes !== null)
          .map((x) => ({
            label: `${x.target} (${x.result.opened})`,
            target: x.target,
            value: (x.result.rssPerConnectionBytes ?? Number.NaN) / 1024,
            text: `${fmt((x.result.rssPerConnectionBytes ?? Number.NaN) / 1024, 1)} KB`,
          })),
      ],
      [
        "large streamed result: MB per second",
        l.largeResult.runs.map((x) => ({
          label: x.target,
          target: x.target,
          value: x.result.mbPerSec,
          text: `${fmt(x.result.mbPerSec, 1)} MB/s${x.result.proxy ? `, peak RSS ${fmt(x.result.proxy.rssPeakKb / 1024)} MB` : ""}`,
        })),
      ],
    );
    for (const lag of l.lag) {
      panels.push([
        `stale reads, one replica ${holdTitle(lag.hold)} (%, lower is better)`,
        lagBars(lag.runs),
      ]);
    }
  }
  let y = 30;
  const body: string[] = [];
  for (const [title, bars] of panels) {
    const p = panel(title, bars, y);
    body.push(p.svg);
    y += p.height + 10;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/><text x="10" y="18" font-size="14">${esc(r.command)} — ${r.date.slice(0, 10)}</text>\n${body.join("\n")}\n</svg>\n`;
}
