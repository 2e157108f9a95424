/** Small helpers for the server-rendered status page: escaping and number formats. */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text or attribute value, HTML-escaped: every dynamic string on the page goes through this. */
export function esc(v: unknown): string {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A DOM id from a backend name (names may hold any character). */
export function slug(name: string): string {
  return `b-${[...name].map((c) => (/[A-Za-z0-9_-]/.test(c) ? c : `_${c.charCodeAt(0).toString(16)}`)).join("")}`;
}

export function num(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Per-second rates: one decimal below 10, whole numbers above. */
export function rate(n: number): string {
  return n < 10 ? num(n, 1) : num(n);
}

export function ms(n: number | null): string {
  if (n === null) return "unknown";
  if (n >= 10_000) return `${num(n / 1000, 1)} s`;
  return `${num(n)} ms`;
}

/** Durations of statements (ms, fractional). */
export function duration(msValue: number): string {
  if (msValue >= 1000) return `${num(msValue / 1000, 2)} s`;
  if (msValue >= 10) return `${num(msValue, 0)} ms`;
  return `${num(msValue, 2)} ms`;
}

/** "12:03:04" in UTC, for lists of recent things (the full ISO time is the title). */
export function clock(iso: string): string {
  return iso.slice(11, 19);
}
