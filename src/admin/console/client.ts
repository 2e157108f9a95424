/**
 * The status page's script, served at /console/console.js as `(consoleClient)()`: the function's
 * own source, so there is no frontend build step, yet the code is TypeScript the compiler checks.
 * It must therefore be self-contained (no imports, no module-level values; types are erased).
 * The DOM types it needs are declared here in the few members it uses: the project compiles
 * without the DOM library, whose globals would clash with Node's.
 *
 * What it does: draws the charts with uPlot (loaded before it as a global), opens
 * `/console/stream` (Server-Sent Events, sent with the page's cookie), and applies each update:
 * card bodies, sections and chart data; when the set of backends changes, the cards and their
 * sparklines are rebuilt.
 */

interface El {
  id: string;
  innerHTML: string;
  textContent: string | null;
  clientWidth: number;
  querySelector(selector: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}

interface Doc {
  getElementById(id: string): El | null;
  querySelectorAll(selector: string): ArrayLike<El>;
}

interface SSE {
  onmessage: ((ev: { data: string }) => void) | null;
  onerror: (() => void) | null;
  onopen: (() => void) | null;
}

interface Plot {
  setData(data: (number | null)[][]): void;
  setSize(size: { width: number; height: number }): void;
  destroy(): void;
}

interface PlotSeries {
  label?: string;
  stroke?: string;
  fill?: string;
  width?: number;
  spanGaps?: boolean;
  points?: { show: boolean };
}

interface Browser {
  document: Doc;
  EventSource: new (url: string) => SSE;
  uPlot?: new (
    opts: {
      width: number;
      height: number;
      series: PlotSeries[];
      axes?: { show?: boolean; stroke?: string; grid?: { stroke: string } }[];
      legend?: { show: boolean };
      cursor?: { show: boolean };
      scales?: Record<
        string,
        { time?: boolean; range?: (u: unknown, min: number, max: number) => [number, number] }
      >;
    },
    data: (number | null)[][],
    el: El,
  ) => Plot;
  addEventListener(type: "resize", listener: () => void): void;
  matchMedia(query: string): { matches: boolean };
}

interface Series {
  t: number[];
  lag: Record<string, (number | null)[]>;
  reads: number[];
  writes: number[];
  clients: number[];
  backendConnections: number[];
}

interface Update {
  at: string;
  layout: string;
  topology?: string;
  cards: { id: string; attrs: Record<string, string>; html: string }[];
  sections: Record<string, string>;
  series: Series;
}

export function consoleClient(): void {
  const w = globalThis as unknown as Browser;
  const doc = w.document;
  const state = doc.getElementById("live-state");
  const initial = JSON.parse(doc.getElementById("initial")?.textContent ?? "{}") as {
    layout: string;
    series: Series;
  };
  let layout = initial.layout;
  let series = initial.series;
  const dark = w.matchMedia("(prefers-color-scheme: dark)").matches;
  const axis = dark ? "#a8b3bf" : "#4d5560";
  const grid = dark ? "#2a333d" : "#e6eaef";
  const blue = dark ? "#5b9bff" : "#2f6fd0";
  const orange = dark ? "#ffa25c" : "#b54708";
  const sparks = new Map<string, { plot: Plot; el: El }>();
  const charts: { plot: Plot; el: El; data: (s: Series) => (number | null)[][]; height: number }[] = [];
  const zeroMin = (_u: unknown, _min: number, max: number): [number, number] => [0, Math.max(1, max)];

  function buildSparks(): void {
    for (const s of sparks.values()) s.plot.destroy();
    sparks.clear();
    if (w.uPlot === undefined) return;
    const els = doc.querySelectorAll("[data-spark]");
    for (let i = 0; i < els.length; i++) {
      const el = els[i]!;
      const name = el.getAttribute("data-spark")!;
      const plot = new w.uPlot(
        {
          width: Math.max(100, el.clientWidth),
          height: 70,
          series: [
            {},
            {
              stroke: blue,
              fill: dark ? "rgba(91,155,255,.15)" : "rgba(47,111,208,.12)",
              width: 1.5,
              points: { show: false },
            },
          ],
          axes: [{ show: false }, { stroke: axis, grid: { stroke: grid } }],
          legend: { show: false },
          cursor: { show: false },
          scales: { x: { time: true }, y: { range: zeroMin } },
        },
        [series.t, series.lag[name] ?? series.t.map(() => null)],
        el,
      );
      sparks.set(name, { plot, el });
    }
  }

  function buildChart(id: string, labels: [string, string], data: (s: Series) => (number | null)[][]): void {
    const el = doc.getElementById(id);
    if (el === null || w.uPlot === undefined) return;
    const height = 180;
    const plot = new w.uPlot(
      {
        width: Math.max(200, el.clientWidth - 16),
        height,
        series: [
          {},
          { label: labels[0], stroke: blue, width: 1.5, points: { show: false } },
          { label: labels[1], stroke: orange, width: 1.5, points: { show: false } },
        ],
        axes: [
          { stroke: axis, grid: { stroke: grid } },
          { stroke: axis, grid: { stroke: grid } },
        ],
        scales: { x: { time: true }, y: { range: zeroMin } },
      },
      data(series),
      el,
    );
    charts.push({ plot, el, data, height });
  }

  function apply(u: Update): void {
    series = u.series;
    if (u.layout !== layout && u.topology !== undefined) {
      const topo = doc.getElementById("topology");
      if (topo !== null) topo.innerHTML = u.topology;
      layout = u.layout;
      buildSparks();
    } else {
      for (const c of u.cards) {
        const el = doc.getElementById(c.id);
        const body = el?.querySelector(".card-body");
        if (el === null || el === undefined || body === null || body === undefined) continue;
        body.innerHTML = c.html;
        for (const [k, v] of Object.entries(c.attrs)) el.setAttribute(`data-${k}`, v);
      }
      for (const [name, s] of sparks)
        s.plot.setData([series.t, series.lag[name] ?? series.t.map(() => null)]);
    }
    for (const [id, html] of Object.entries(u.sections)) {
      const el = doc.getElementById(id);
      if (el !== null) el.innerHTML = html;
    }
    for (const c of charts) c.plot.setData(c.data(series));
    if (state !== null) state.textContent = `live, updated ${u.at.slice(11, 19)} UTC`;
  }

  buildSparks();
  buildChart("chart-rw", ["reads/s", "writes/s"], (s) => [s.t, s.reads, s.writes]);
  buildChart("chart-conns", ["client connections", "backend connections"], (s) => [
    s.t,
    s.clients,
    s.backendConnections,
  ]);
  w.addEventListener("resize", () => {
    for (const c of charts) c.plot.setSize({ width: Math.max(200, c.el.clientWidth - 16), height: c.height });
    for (const s of sparks.values()) s.plot.setSize({ width: Math.max(100, s.el.clientWidth), height: 70 });
  });
  const es = new w.EventSource("/console/stream");
  es.onopen = () => {
    if (state !== null) state.textContent = "live";
  };
  es.onerror = () => {
    if (state !== null) state.textContent = "connection lost, retrying…";
  };
  es.onmessage = (ev) => apply(JSON.parse(ev.data) as Update);
}
