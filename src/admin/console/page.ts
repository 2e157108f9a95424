import { cardUpdates, layoutKey, topologySection } from "./cards.js";
import { clock, duration, esc, num, rate } from "./html.js";
import type { ConsoleSnapshot } from "./live.js";

/**
 * The status page at `/`, rendered on the server: the first paint is complete without
 * JavaScript (numbers, cards, tables; the five-minute lag range as text). With JavaScript, the
 * page's script (client.ts) draws the charts and applies `liveUpdate` messages from
 * `/console/stream` every second: the same renderers, so the page never shows two versions of a
 * number. Statement texts are digests (no literals); nothing on the page is a secret.
 */

function figure(label: string, value: string, field: string): string {
  return `<div><dt>${esc(label)}</dt><dd data-field="${esc(field)}">${value}</dd></div>`;
}

export function summarySection(s: ConsoleSnapshot): string {
  const t = s.traffic;
  const topo = s.topology;
  const figures = [
    figure("reads/s", rate(t.readsPerSec), "reads"),
    figure("writes/s", rate(t.writesPerSec), "writes"),
    figure("to replicas/s", rate(t.replicaPerSec), "replica-rate"),
    figure("to the primary/s", rate(t.primaryPerSec), "primary-rate"),
    figure("client connections", num(t.clients), "clients"),
    figure("backend connections", num(t.backendConnections), "backend-connections"),
    figure(
      "clients per backend connection",
      t.multiplexing === null ? "–" : num(t.multiplexing, 1),
      "multiplexing",
    ),
  ];
  if (topo !== null) {
    figures.unshift(
      figure("primary", esc(topo.primary), "primary"),
      figure("generation", num(topo.generation), "generation"),
      figure("topology", esc(topo.state), "topology-state"),
    );
  }
  return `<dl class="figures">${figures.join("")}</dl>`;
}

export function changesSection(s: ConsoleSnapshot): string {
  const topo = s.topology;
  if (topo === null) return `<p class="muted">No topology manager.</p>`;
  const head = `<p>Generation ${num(topo.generation)}, primary <strong>${esc(topo.primary)}</strong> since <time datetime="${esc(topo.changedAt)}">${esc(topo.changedAt)}</time> (${esc(topo.reason)}). Automatic failover ${topo.automaticFailover ? "on" : "off"}; primary: ${esc(topo.primaryVerdict)}.${topo.fenced.length > 0 ? ` Fenced: ${topo.fenced.map(esc).join(", ")}.` : ""}</p>`;
  if (topo.history.length === 0)
    return `${head}<p class="muted">No failover, switchover or rejoin since this instance started.</p>`;
  const items = topo.history.slice(0, 5).map((h) => {
    const status = h.ok ? `<span class="badge ok">done</span>` : `<span class="badge bad">failed</span>`;
    const steps = h.steps.map((x) => `<li>${esc(x)}</li>`).join("");
    return `<li><details><summary>${esc(h.kind)} ${status} ${esc(h.from)} → ${esc(h.to ?? "none")}, ${num(h.durationMs)} ms, <time datetime="${esc(h.startedAt)}">${esc(h.startedAt)}</time>${h.error === null ? "" : `: ${esc(h.error)}`}</summary><ol>${steps}</ol></details></li>`;
  });
  return `${head}<ul>${items.join("")}</ul>`;
}

function rateTable(caption: string, first: string, rows: ConsoleSnapshot["traffic"]["reasons"]): string {
  const body =
    rows.length === 0
      ? `<tr><td colspan="3" class="muted">none yet</td></tr>`
      : rows
          .map(
            (r) =>
              `<tr><td>${esc(r.name)}</td><td class="num">${rate(r.perSec)}</td><td class="num">${num(r.total)}</td></tr>`,
          )
          .join("");
  return `<div class="wrap"><table><caption class="muted">${esc(caption)}</caption><thead><tr><th>${esc(first)}</th><th class="num">per second</th><th class="num">total</th></tr></thead><tbody>${body}</tbody></table></div>`;
}

export function trafficSection(s: ConsoleSnapshot): string {
  return `<div class="two">${rateTable("Statements by routing reason", "reason", s.traffic.reasons)}${rateTable("Errors sent to clients, by code", "code", s.traffic.errors)}</div>`;
}

export function topSection(s: ConsoleSnapshot): string {
  const d = s.digests;
  if (d === null) return `<p class="muted">Query digests are off (digests.max: 0).</p>`;
  const rows = s.top.map((r) => {
    const reasons = Object.entries(r.reasons)
      .map(([k, v]) => `${esc(k)} ${num(v)}`)
      .join(", ");
    return `<tr data-digest="${esc(r.digest)}"><td><code>${esc(r.text)}</code><div class="muted">${esc(r.user)}${r.schema === null ? "" : ` · ${esc(r.schema)}`} · ${esc(r.digest)}</div></td><td class="num">${num(r.count)}</td><td class="num">${duration(r.totalMs)}</td><td class="num">${duration(r.avgMs)}</td><td class="num">${duration(r.p99Ms)}</td><td class="num">${num(r.rows)}</td><td class="num">${num(r.errors)}</td><td>primary ${num(r.routes.primary)}, replica ${num(r.routes.replica)}<div class="muted">${reasons}</div></td></tr>`;
  });
  const body =
    rows.length === 0 ? `<tr><td colspan="8" class="muted">No statements yet.</td></tr>` : rows.join("");
  return `<div class="wrap"><table><thead><tr><th>statement</th><th class="num">count</th><th class="num">total</th><th class="num">avg</th><th class="num">p99</th><th class="num">rows</th><th class="num">errors</th><th>routed</th></tr></thead><tbody>${body}</tbody></table></div><p class="muted">${num(d.size)} of at most ${num(d.max)} digests held, ${num(d.evicted)} evicted, ${num(d.statements)} statements since <time datetime="${esc(d.since)}">${esc(d.since)}</time>. All of them: <a href="/digests">/digests</a>.</p>`;
}

export function eventsSection(s: ConsoleSnapshot): string {
  if (s.events.length === 0) return `<p class="muted">No events since this instance started.</p>`;
  const cls = { info: "info", warn: "warn", error: "bad" } as const;
  const items = s.events.map(
    (e) =>
      `<li><time datetime="${esc(e.at)}" title="${esc(e.at)}">${esc(clock(e.at))}</time> <span class="badge ${cls[e.level]}">${esc(e.kind)}</span> ${esc(e.message)}</li>`,
  );
  return `<ul class="events">${items.join("")}</ul>`;
}

/** What `/console/stream` sends each second. */
export interface LiveUpdate {
  at: string;
  layout: string;
  /** Rendered only when the layout changed since the client's last update (the client asks). */
  topology: string;
  cards: ReturnType<typeof cardUpdates>;
  sections: Record<"summary" | "changes" | "traffic" | "top" | "events", string>;
  series: ConsoleSnapshot["series"];
}

export function liveUpdate(s: ConsoleSnapshot): LiveUpdate {
  return {
    at: s.at,
    layout: layoutKey(s),
    topology: topologySection(s),
    cards: cardUpdates(s),
    sections: {
      summary: summarySection(s),
      changes: changesSection(s),
      traffic: trafficSection(s),
      top: topSection(s),
      events: eventsSection(s),
    },
    series: s.series,
  };
}

/** JSON inside a <script> element: `<` escaped so no `</script>` can end it early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c");
}

export interface PageOptions {
  /** admin.token is set: offer "log out". */
  loggedIn: boolean;
}

export function renderPage(s: ConsoleSnapshot, o: PageOptions): string {
  const logout = o.loggedIn
    ? `<form method="post" action="/logout"><button type="submit">Log out</button></form>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rwsplit status</title>
<link rel="stylesheet" href="/console/uplot.css">
<link rel="stylesheet" href="/console/console.css">
</head>
<body>
<header class="top"><h1>rwsplit</h1><span class="live-state" id="live-state" role="status">as of <time datetime="${esc(s.at)}">${esc(s.at)}</time> (reload for newer numbers)</span>${logout}</header>
<main>
<section aria-labelledby="h-summary"><h2 id="h-summary" class="muted">Now</h2><div id="summary">${summarySection(s)}</div></section>
<section aria-labelledby="h-topology"><h2 id="h-topology">Topology</h2><div id="topology">${topologySection(s)}</div></section>
<section aria-labelledby="h-traffic"><h2 id="h-traffic">Traffic</h2><div class="two"><div class="chart" id="chart-rw" role="img" aria-label="reads and writes per second, last 5 minutes"></div><div class="chart" id="chart-conns" role="img" aria-label="client and backend connections, last 5 minutes"></div></div><div id="traffic" style="margin-top:.75rem">${trafficSection(s)}</div></section>
<section aria-labelledby="h-top"><h2 id="h-top">Top statements by total time</h2><div id="top">${topSection(s)}</div></section>
<section aria-labelledby="h-changes"><h2 id="h-changes">Topology changes</h2><div id="changes">${changesSection(s)}</div></section>
<section aria-labelledby="h-events"><h2 id="h-events">Recent events</h2><div id="events">${eventsSection(s)}</div></section>
</main>
<script id="initial" type="application/json">${scriptJson({ layout: layoutKey(s), series: s.series })}</script>
<script src="/console/uplot.js"></script>
<script src="/console/console.js"></script>
</body>
</html>
`;
}

/** Shown instead of the page when admin.token is set and the browser has not logged in. */
export function renderLogin(error: string | null): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rwsplit status: log in</title>
<link rel="stylesheet" href="/console/console.css">
</head>
<body>
<form class="login" method="post" action="/login">
<h1>rwsplit</h1>
<p>This proxy's admin API has a token (<code>admin.token</code>). Enter it to see the status page; the browser keeps an HttpOnly cookie derived from it (the token itself is not stored).</p>
${error === null ? "" : `<p class="badge bad" role="alert">${esc(error)}</p>`}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</body>
</html>
`;
}
