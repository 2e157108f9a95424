import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { BackendStatus } from "../../src/admin/status.js";
import { fetchDigests, renderTop } from "../../src/cli/commands/top.js";
import type { DigestListing, DigestRowView } from "../../src/digests/store.js";
import { type HeldReplica, holdReplicaBehind } from "../helpers/lag.js";
import { startApp, type TestApp, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Issue #17 acceptance, one sandbox and one proxy for both parts (the e2e layer's runtime):
// 1. a known mix of statements through the proxy, then /digests: counts, routes, rows, errors,
//    one digest per shape, no literal anywhere;
// 2. the status page in headless Chromium (Debian's `chromium`, driven by playwright-core):
//    log in with the admin token, cards match /backends, a replica held behind shows on its card
//    within 2 s of /backends showing it; a screenshot for the README (docs/console.png, with RWSPLIT_UPDATE_SCREENSHOT=1).

const TOKEN = "console-e2e-token-0123456789";
/**
 * The README's picture is refreshed only on request (RWSPLIT_UPDATE_SCREENSHOT=1): a test run
 * leaves the checkout as it found it.
 */
const SCREENSHOT = process.env.RWSPLIT_UPDATE_SCREENSHOT
  ? join(import.meta.dirname, "..", "..", "docs", "console.png")
  : null;
/** Flags for a headless Chromium that talks to nothing but the page under test. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let sb: TestSandbox;
let proxy: TestApp;
let held: HeldReplica;
let base: string;
const auth = { authorization: `Bearer ${TOKEN}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: proxy.host,
    port: proxy.port,
    user: "app",
    password: "app-pass",
    database: "app",
  });
}

async function backends(): Promise<BackendStatus[]> {
  const res = await fetch(`${base}/backends`, { headers: auth });
  return ((await res.json()) as { backends: BackendStatus[] }).backends;
}

beforeAll(async () => {
  const started = performance.now();
  sb = await startSandbox({ replicas: 2 });
  const cfg = testConfig(sb.primary, sb.replicas, {
    // A low lag.max: the held replica is excluded a second or so after its delay starts.
    lag: { softMs: 200, maxMs: 1000, readmitBelowMs: 800, readmitChecks: 2, minServing: 0 },
  });
  cfg.admin = { listen: { host: "127.0.0.1", port: 0 }, enabled: true, token: TOKEN };
  held = await holdReplicaBehind(sb.primary, sb.replicas[1]!, 0);
  proxy = await startApp(cfg);
  base = `http://127.0.0.1:${proxy.app.adminListen!.port}`;
  for (;;) {
    const list = await backends();
    if (list.every((b) => b.up && (b.role !== "replica" || (b.eligible && b.lagSource === "heartbeat"))))
      break;
    if (performance.now() - started > 60_000) throw new Error(`backends not ready: ${JSON.stringify(list)}`);
    await sleep(100);
  }
  console.log(`sandbox and proxy ready in ${Math.round(performance.now() - started)} ms`);
});

afterAll(async () => {
  await proxy?.close();
  await held?.release().catch(() => {});
  await sb?.down();
});

describe("query digests through the proxy", () => {
  test("a known mix: /digests counts, routes, rows and errors match it, and no literal shows", async () => {
    const setup = await connect();
    await setup.query("CREATE TABLE console_t (id INT PRIMARY KEY, name VARCHAR(50))");
    await setup.end();
    await sb.waitForReplicas();
    expect((await fetch(`${base}/digests/reset`, { method: "POST", headers: auth })).status).toBe(200);

    const writer = await connect();
    // 20 single-row inserts and 5 multi-row inserts of 1..5 rows: one shape (VALUES folded).
    for (let i = 1; i <= 20; i++)
      await writer.query(`INSERT INTO console_t (id, name) VALUES (${i}, 'secret-${i}')`);
    let id = 100;
    for (let n = 1; n <= 5; n++) {
      const rows = Array.from({ length: n }, () => `(${++id}, 'secret-${id}')`);
      await writer.query(`INSERT INTO console_t (id, name) VALUES ${rows.join(", ")}`);
    }
    await writer.end();
    await sb.waitForReplicas();

    // A connection that never wrote reads from the replicas (no read-your-writes wait).
    const reader = await connect();
    let pointRows = 0;
    for (let i = 1; i <= 30; i++) {
      const [r] = await reader.query(`SELECT name FROM console_t WHERE id = ${i}`);
      pointRows += (r as unknown[]).length;
    }
    // The same shape with a hint: routed to the primary, counted with the others.
    for (let i = 1; i <= 5; i++) {
      const [r] = await reader.query(
        `SELECT /* rwsplit: route=primary */ name FROM console_t WHERE id = -${i}`,
      );
      pointRows += (r as unknown[]).length;
    }
    let inRows = 0;
    for (let n = 1; n <= 10; n++) {
      const ids = Array.from({ length: n }, (_, k) => k * 2 + 1);
      const [r] = await reader.query(`SELECT name FROM console_t WHERE id IN (${ids.join(", ")})`);
      inRows += (r as unknown[]).length;
    }
    for (let i = 0; i < 3; i++)
      await reader.query(`SELECT * FROM no_such_table WHERE id = ${i}`).catch(() => {});
    // Prepared statements count by their SQL.
    for (let i = 1; i <= 10; i++) await reader.execute("SELECT id, name FROM console_t WHERE id = ?", [i]);
    await reader.end();

    const listing = (await (
      await fetch(`${base}/digests?sort=count&limit=50`, { headers: auth })
    ).json()) as DigestListing;
    const byText = (text: string): DigestRowView => {
      const row = listing.digests.find((d) => d.text === text);
      if (row === undefined)
        throw new Error(`no digest "${text}" in ${JSON.stringify(listing.digests.map((d) => d.text))}`);
      return row;
    };
    expect(listing.statements).toBe(25 + 35 + 10 + 3 + 10);
    expect(listing.digests).toHaveLength(5);
    expect(byText("INSERT INTO console_t (id, name) VALUES (?)")).toMatchObject({
      kind: "write",
      user: "app",
      schema: "app",
      count: 25,
      errors: 0,
      rows: 0,
      routes: { primary: 25, replica: 0 },
      reasons: { write: 25 },
      backends: { primary: 25 },
    });
    const point = byText("SELECT name FROM console_t WHERE id = ?");
    expect(point).toMatchObject({
      kind: "read",
      count: 35,
      rows: pointRows,
      errors: 0,
      routes: { primary: 5, replica: 30 },
      reasons: { read: 30, hint: 5 },
    });
    expect(pointRows).toBe(20);
    expect(Object.keys(point.backends).sort()).toEqual(["primary", "replica1", "replica2"]);
    expect(byText("SELECT name FROM console_t WHERE id IN (?)")).toMatchObject({
      count: 10,
      rows: inRows,
      routes: { primary: 0, replica: 10 },
    });
    expect(byText("SELECT * FROM no_such_table WHERE id = ?")).toMatchObject({ count: 3, errors: 3 });
    expect(byText("SELECT id, name FROM console_t WHERE id = ?")).toMatchObject({
      count: 10,
      rows: 10,
      routes: { primary: 0, replica: 10 },
    });
    for (const d of listing.digests) {
      expect(d.minMs).toBeGreaterThan(0);
      expect(d.maxMs).toBeGreaterThanOrEqual(d.p99Ms);
      expect(d.p99Ms).toBeGreaterThanOrEqual(d.minMs);
      expect(d.digest).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(JSON.stringify(listing)).not.toMatch(/secret-|no_such_table WHERE id = [0-9]/);

    // `rwsplit top` renders the same listing; the costliest statement by total time comes first.
    const top = renderTop(await fetchDigests({ base, headers: auth }, "total_time", 10), 200);
    const totalFirst = [...listing.digests].sort((a, b) => b.totalMs - a.totalMs)[0]!;
    expect(top.split("\n")[3]).toContain(totalFirst.text);
    expect(top).not.toContain("secret-");
  });
});

describe("the status page in headless Chromium", () => {
  let context: BrowserContext;
  let profile: string;
  let page: Page;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), "rwsplit-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("log in, cards match /backends, a replica held behind shows on its card within 2 s", async () => {
    // Some traffic for the charts and the top statements while the page is open.
    let running = true;
    const load = (async () => {
      const c = await connect();
      let i = 0;
      while (running) {
        await c.query(`SELECT name FROM console_t WHERE id = ${(i % 20) + 1}`);
        if (i % 10 === 0) await c.query(`UPDATE console_t SET name = 'v${i}' WHERE id = ${(i % 20) + 1}`);
        i++;
        await sleep(20);
      }
      await c.end();
    })();
    try {
      await page.goto(base);
      // Not logged in: the form.
      expect(new URL(page.url()).pathname).toBe("/login");
      await page.fill("#token", TOKEN);
      await Promise.all([page.waitForURL(`${base}/`), page.click("button[type=submit]")]);
      await page.locator("#live-state", { hasText: /^live/ }).waitFor();

      // Cards against /backends: the same backends, roles, up, read_only, eligibility, addresses.
      const api = await backends();
      const cards = await page.$$eval("article.card", (els) =>
        els.map((e) => ({
          name: e.getAttribute("data-backend"),
          role: e.getAttribute("data-role"),
          up: e.getAttribute("data-up"),
          readOnly: e.getAttribute("data-read-only"),
          eligible: e.getAttribute("data-eligible"),
          lagMs: e.getAttribute("data-lag-ms"),
          weight: Number(e.getAttribute("data-effective-weight")),
          text: e.textContent ?? "",
        })),
      );
      expect(cards.map((c) => c.name)).toEqual(api.map((b) => b.name));
      for (const b of api) {
        const c = cards.find((x) => x.name === b.name)!;
        expect(c).toMatchObject({
          role: b.role,
          up: String(b.up),
          readOnly: String(b.readOnly),
          eligible: String(b.eligible),
        });
        expect(c.text).toContain(`${b.host}:${b.port}`);
        expect(c.text).toContain(b.up ? "up" : "down");
        expect(c.text).toMatch(/GTID\d+-\d+-\d+/);
        // Numbers that move (the heartbeat's lag, the weight it gives): the page is at most one
        // sample (1 s) older than /backends, and the lag jitters by the heartbeat period (250 ms).
        if (b.role === "replica") {
          expect(Math.abs(Number(c.lagMs) - b.lagMs!), `${b.name} lag`).toBeLessThan(500);
          expect(Math.abs(c.weight - b.effectiveWeight), `${b.name} weight`).toBeLessThanOrEqual(0.5);
          expect(c.text).toContain(`/ ${b.weight.toFixed(2)}`);
        } else expect(c.lagMs).toBe("");
      }
      const topology = (await (await fetch(`${base}/topology`, { headers: auth })).json()) as {
        topology: { generation: number; primary: string };
      };
      expect(await page.locator('#summary [data-field="primary"]').textContent()).toBe(
        topology.topology.primary,
      );
      expect(await page.locator('#summary [data-field="generation"]').textContent()).toBe(
        String(topology.topology.generation),
      );
      expect(await page.locator("[data-spark] canvas").count()).toBe(2);
      expect(await page.locator("#chart-rw canvas").count()).toBe(1);
      await page.locator("#top tbody tr[data-digest]").first().waitFor();

      // Hold replica2 behind: lag grows past lag.max (1 s) and the balancer excludes it.
      const card = page.locator('article.card[data-backend="replica2"]');
      expect(await card.getAttribute("data-eligible")).toBe("true");
      held.setDelay(2500);
      let apiAt = 0;
      while (apiAt === 0) {
        const r2 = (await backends()).find((b) => b.name === "replica2")!;
        if (!r2.eligible && r2.lagMs !== null && r2.lagMs > 1000) apiAt = performance.now();
        else await sleep(50);
      }
      await card.locator("text=excluded").waitFor({ timeout: 5000 });
      const pageAt = performance.now();
      const lagOnCard = Number(await card.getAttribute("data-lag-ms"));
      console.log(
        `replica2 excluded: on the card ${Math.round(pageAt - apiAt)} ms after /backends said so (lag ${lagOnCard} ms)`,
      );
      expect(pageAt - apiAt).toBeLessThanOrEqual(2000);
      expect(await card.getAttribute("data-eligible")).toBe("false");
      expect(lagOnCard).toBeGreaterThan(1000);
      expect(await card.textContent()).toMatch(/no: lag \d+ ?ms > max 1000 ?ms/);
      // The event feed shows the exclusion.
      await page.locator("#events", { hasText: "replica2 excluded from reads" }).waitFor({ timeout: 3000 });
      // A few seconds of lag on the sparkline, then the picture for the README.
      if (SCREENSHOT !== null) {
        await sleep(3000);
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }
      // A phone's width: one column, nothing wider than the screen.
      await page.setViewportSize({ width: 390, height: 844 });
      await sleep(300);
      if (process.env.CONSOLE_PHONE_SHOT)
        await page.screenshot({ path: process.env.CONSOLE_PHONE_SHOT, fullPage: true });
      const overflow = (await page.evaluate(
        "document.documentElement.scrollWidth - window.innerWidth",
      )) as number;
      expect(overflow).toBeLessThanOrEqual(0);
    } finally {
      running = false;
      await load;
      held.setDelay(0);
    }
  });
});
