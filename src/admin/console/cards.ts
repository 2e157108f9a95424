import { esc, ms, num, rate, slug } from "./html.js";
import type { BackendLive, ConsoleSnapshot } from "./live.js";

/**
 * The topology as cards: one per backend, the primary first. A card's body is re-rendered every
 * second; its sparkline (a uPlot chart the page's script draws into `.spark`) stays. Numbers also
 * sit in data attributes (`data-lag-ms`, `data-eligible`, ...) for scripts and tests.
 */

function badge(cls: "ok" | "bad" | "warn" | "info", text: string): string {
  return `<span class="badge ${cls}">${esc(text)}</span>`;
}

function weightBar(b: BackendLive): string {
  const share = b.weight > 0 ? Math.max(0, Math.min(1, b.effectiveWeight / b.weight)) : 0;
  const label = `weight ${num(b.effectiveWeight, 2)} of ${num(b.weight, 2)}`;
  return `<div class="bar" role="img" aria-label="${esc(label)}" title="${esc(label)}"><span style="width:${(share * 100).toFixed(1)}%"></span></div>`;
}

/** The part of a card that changes: everything but the sparkline. */
export function cardBody(b: BackendLive): string {
  const replica = b.role === "replica";
  const badges = [
    badge(b.role === "primary" ? "info" : b.role === "fenced" ? "warn" : "info", b.role),
    b.up ? badge("ok", "up") : badge("bad", "down"),
  ];
  if (replica) badges.push(b.eligible ? badge("ok", "eligible") : badge("bad", "excluded"));
  if (b.readOnly !== null)
    badges.push(badge(b.readOnly ? "info" : "warn", b.readOnly ? "read_only" : "writable"));
  const rows: [string, string][] = [["address", `${esc(b.host)}:${b.port}`]];
  if (replica) {
    rows.push([
      "weight",
      `${weightBar(b)} <span class="muted">${num(b.effectiveWeight, 2)} / ${num(b.weight, 2)}</span>`,
    ]);
    rows.push(["eligible", b.eligible ? "yes" : `no: ${esc(b.reason ?? "unknown")}`]);
    rows.push([
      "lag, 5 min",
      b.lagMinMs === null ? "unknown" : `${esc(ms(b.lagMinMs))} – ${esc(ms(b.lagMaxMs))}`,
    ]);
  } else if (b.reason !== null) {
    rows.push(["why", esc(b.reason)]);
  }
  rows.push(["in flight", `<span data-field="in-flight">${b.inFlight}</span>`]);
  rows.push(["queries/s", `<span data-field="qps">${rate(b.qps)}</span>`]);
  rows.push(["connections", `${b.pool.open} open, ${b.pool.busy} busy, ${b.pool.idle} idle`]);
  rows.push(["GTID", `<code data-field="gtid">${esc(b.gtidPosition ?? "unknown")}</code>`]);
  if (b.lastError !== null) rows.push(["last error", esc(b.lastError)]);
  const lag = replica
    ? `<div class="lag-now" data-field="lag">${b.up ? esc(ms(b.lagMs)) : "down"}<span class="muted" style="font-size:.8rem"> lag${b.lagSource === null ? "" : ` (${esc(b.lagSource)})`}</span></div>`
    : "";
  return [
    `<h3>${esc(b.name)} ${badges.join(" ")}</h3>`,
    lag,
    `<dl>${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join("")}</dl>`,
  ].join("");
}

/** The card's numbers as `data-*` attributes (without the prefix). */
function cardAttributes(b: BackendLive): Record<string, string> {
  const attrs: Record<string, string | number | boolean | null> = {
    backend: b.name,
    role: b.role,
    up: b.up,
    "read-only": b.readOnly,
    "lag-ms": b.lagMs,
    eligible: b.eligible,
    "effective-weight": b.effectiveWeight,
    "in-flight": b.inFlight,
  };
  return Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

function dataAttributes(b: BackendLive): string {
  return Object.entries(cardAttributes(b))
    .map(([k, v]) => `data-${k}="${esc(v)}"`)
    .join(" ");
}

/** One whole card (first paint, or when the set of backends changed). */
export function card(b: BackendLive): string {
  const spark =
    b.role === "replica"
      ? `<div class="spark" data-spark="${esc(b.name)}" aria-label="${esc(`${b.name} lag, last 5 minutes`)}" role="img"></div>`
      : "";
  return `<article class="card" id="${slug(b.name)}" ${dataAttributes(b)}><div class="card-body">${cardBody(b)}</div>${spark}</article>`;
}

/** For the live stream: each card's id, attributes and body. */
export function cardUpdates(
  s: ConsoleSnapshot,
): { id: string; attrs: Record<string, string>; html: string }[] {
  return s.backends.map((b) => ({ id: slug(b.name), attrs: cardAttributes(b), html: cardBody(b) }));
}

/** Which backends in which roles: when this changes the page rebuilds the cards and their charts. */
export function layoutKey(s: ConsoleSnapshot): string {
  return s.backends.map((b) => `${b.name}:${b.role}`).join(",");
}

export function topologySection(s: ConsoleSnapshot): string {
  return `<div class="cards" data-layout="${esc(layoutKey(s))}">${s.backends.map(card).join("")}</div>`;
}
