import type { Command } from "commander";
import type { DigestListing, DigestRowView } from "../../digests/store.js";
import { RwsplitError } from "../../errors.js";
import { type Admin, type AdminOptions, adminOf, withAdmin } from "./topology.js";

/**
 * `rwsplit top`: the statements that cost the most, live in a terminal, like `top` for processes.
 * It polls the running proxy's `GET /digests` (as `rwsplit switchover` talks to the admin API)
 * and redraws a table every `--interval`; `--once` prints one table and exits (scripts, pipes).
 * Columns per digest: share of total time, total, count, avg, p99, rows, errors, where it went
 * (replica/primary counts) and the normalised statement (never a literal).
 */

interface TopOptions extends AdminOptions {
  sort: string;
  limit: string;
  interval: string;
  once?: boolean;
}

function fmtMs(v: number): string {
  if (v >= 10_000) return `${(v / 1000).toFixed(1)}s`;
  if (v >= 100) return `${Math.round(v)}ms`;
  return `${v.toFixed(v >= 10 ? 1 : 2)}ms`;
}

function fmtCount(v: number): string {
  if (v >= 10_000_000) return `${Math.round(v / 1e6)}M`;
  if (v >= 10_000) return `${Math.round(v / 1e3)}k`;
  return String(v);
}

const pad = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s);

/** The table for one listing, `width` columns wide (statements are cut to fit). Pure: unit-tested. */
export function renderTop(l: DigestListing, width: number, now = new Date()): string {
  const total = l.digests.reduce((s, d) => s + d.totalMs, 0);
  const head = `rwsplit top  ${now.toISOString().slice(11, 19)} UTC  sort ${l.sort}  ${l.size}/${l.max} digests, ${l.evicted} evicted, ${l.statements} statements since ${l.since.slice(0, 19).replace("T", " ")}`;
  const cols = ["%time", "total", "count", "avg", "p99", "rows", "err", "replica", "primary"];
  const widths = [6, 8, 7, 8, 8, 7, 5, 8, 8];
  // The number columns, the spaces between them, and two before the statement.
  const fixed = widths.reduce((a, b) => a + b, 0) + widths.length - 1 + 2;
  const textWidth = Math.max(20, width - fixed);
  const row = (cells: string[], text: string) =>
    `${cells.map((c, i) => pad(c, widths[i]!)).join(" ")}  ${text.length > textWidth ? `${text.slice(0, textWidth - 1)}…` : text}`;
  const lines = [head.slice(0, width), "", row(cols, "statement (user@schema)")];
  for (const d of l.digests) lines.push(row(cells(d, total), `${d.text}  (${d.user}@${d.schema ?? "-"})`));
  if (l.digests.length === 0) lines.push("  no statements yet");
  return `${lines.join("\n")}\n`;
}

function cells(d: DigestRowView, total: number): string[] {
  return [
    total > 0 ? `${((d.totalMs / total) * 100).toFixed(1)}` : "0.0",
    fmtMs(d.totalMs),
    fmtCount(d.count),
    fmtMs(d.avgMs),
    fmtMs(d.p99Ms),
    fmtCount(d.rows),
    fmtCount(d.errors),
    fmtCount(d.routes.replica),
    fmtCount(d.routes.primary),
  ];
}

/** One GET /digests; throws with the admin API's own message when refused. */
export async function fetchDigests(admin: Admin, sort: string, limit: number): Promise<DigestListing> {
  const res = await fetch(`${admin.base}/digests?sort=${encodeURIComponent(sort)}&limit=${limit}`, {
    headers: admin.headers,
  });
  const body = (await res.json().catch(() => ({}))) as DigestListing & { error?: string };
  if (!res.ok)
    throw new RwsplitError(
      "ADMIN_API_REFUSED",
      `GET /digests refused (${res.status}): ${body.error ?? res.statusText}`,
    );
  return body;
}

async function top(o: TopOptions): Promise<void> {
  let admin: Admin;
  try {
    admin = adminOf(o);
  } catch (e) {
    process.stderr.write(`rwsplit: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
    return;
  }
  const limit = Number(o.limit);
  const intervalMs = Number(o.interval) * 1000;
  if (!Number.isInteger(limit) || limit < 1 || !(intervalMs >= 100)) {
    process.stderr.write(
      "rwsplit: --limit must be a whole number >= 1 and --interval at least 0.1 (seconds)\n",
    );
    process.exitCode = 2;
    return;
  }
  const tty = process.stdout.isTTY === true;
  const once = o.once === true || !tty;
  let stop = false;
  let wake: (() => void) | null = null;
  // Ctrl-C ends the loop (and the process) at once, even mid-sleep.
  const onSignal = () => {
    stop = true;
    wake?.();
  };
  process.on("SIGINT", onSignal);
  try {
    for (;;) {
      let text: string;
      try {
        const rows = tty ? Math.max(5, (process.stdout.rows ?? 40) - 4) : limit;
        text = renderTop(
          await fetchDigests(admin, o.sort, Math.min(limit, rows)),
          tty ? (process.stdout.columns ?? 120) : 200,
        );
      } catch (e) {
        if (e instanceof RwsplitError && e.code === "ADMIN_API_REFUSED") {
          process.stderr.write(`rwsplit: ${e.message}\n`);
          process.exitCode = 1;
          return;
        }
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
        const unreachable = `rwsplit: cannot reach the admin API at ${admin.base} (${why})`;
        if (once) {
          process.stderr.write(`${unreachable}; is \`rwsplit serve\` running with admin enabled?\n`);
          process.exitCode = 1;
          return;
        }
        text = `${unreachable}; retrying every ${o.interval} s\n`;
      }
      // Home, clear screen: a full redraw per interval, as top(1) does.
      process.stdout.write(once ? text : `\u001b[H\u001b[2J${text}`);
      if (once || stop) return;
      await new Promise<void>((r) => {
        const t = setTimeout(r, intervalMs);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
      if (stop) return;
    }
  } finally {
    process.off("SIGINT", onSignal);
  }
}

export function register(program: Command): void {
  withAdmin(
    program
      .command("top")
      .description("the statements that take the most time, live (GET /digests of the running proxy)")
      .option(
        "--sort <key>",
        "total_time, count, avg_time, max_time, p99, errors, rows or last_seen",
        "total_time",
      )
      .option("--limit <n>", "at most this many statements", "20")
      .option("--interval <seconds>", "seconds between redraws", "2")
      .option("--once", "print one table and exit (the default when stdout is not a terminal)"),
  ).action(async (o: TopOptions) => top(o));
}
