import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FastifyInstance, FastifyReply } from "fastify";
import { ADMIN_COOKIE, adminCookieValue, tokenMatches } from "../auth.js";
import { consoleClient } from "../console/client.js";
import type { LiveHistory } from "../console/live.js";
import { liveUpdate, renderLogin, renderPage } from "../console/page.js";
import { CONSOLE_CSS } from "../console/style.js";
import type { StatusSource } from "../status.js";

/**
 * The status page and what it loads:
 *
 *   GET  /                    the page, rendered on the server (useful without JavaScript)
 *   GET  /console.json        the same data as JSON (the snapshot the page shows)
 *   GET  /console/stream      Server-Sent Events: one update per second for the open page
 *   GET  /console/console.js  the page's script; /console/console.css its style
 *   GET  /console/uplot.js    uPlot (npm `uplot`), served from node_modules, and uplot.css
 *   GET  /events              recent events, newest first (`?limit=`, `?after=<id>`)
 *   POST /login, /logout      the browser's way in when admin.token is set (auth.ts)
 */

const require = createRequire(import.meta.url);

function asset(name: string): string {
  return readFileSync(require.resolve(`uplot/dist/${name}`), "utf8");
}

/** Seven days; the cookie stops working anyway as soon as admin.token changes. */
const COOKIE_MAX_AGE_S = 7 * 24 * 3600;

export interface ConsoleRouteOptions {
  status: StatusSource;
  live: LiveHistory;
  token: string | undefined;
}

export function registerConsoleRoutes(app: FastifyInstance, o: ConsoleRouteOptions): void {
  const { live, token } = o;
  const script = `(${consoleClient.toString()})();\n`;
  let uplotJs: string | null = null;
  let uplotCss: string | null = null;
  const streams = new Set<FastifyReply>();

  app.get("/", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return reply
      .type("text/html; charset=utf-8")
      .send(renderPage(live.snapshot(), { loggedIn: token !== undefined }));
  });

  app.get("/console.json", async (_request, reply) => {
    reply.header("cache-control", "no-store");
    return live.snapshot();
  });

  app.get("/console/console.js", async (_request, reply) =>
    reply.type("text/javascript; charset=utf-8").send(script),
  );
  app.get("/console/console.css", async (_request, reply) =>
    reply.type("text/css; charset=utf-8").send(CONSOLE_CSS),
  );
  app.get("/console/uplot.js", async (_request, reply) => {
    uplotJs ??= asset("uPlot.iife.min.js");
    return reply.type("text/javascript; charset=utf-8").header("cache-control", "max-age=3600").send(uplotJs);
  });
  app.get("/console/uplot.css", async (_request, reply) => {
    uplotCss ??= asset("uPlot.min.css");
    return reply.type("text/css; charset=utf-8").header("cache-control", "max-age=3600").send(uplotCss);
  });

  app.get("/console/stream", (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    // Cards are sent whole only when the set of backends changed since this page's last update.
    let layout: string | null = null;
    const send = (s: Parameters<typeof liveUpdate>[0]) => {
      const u = liveUpdate(s);
      const body = u.layout === layout ? { ...u, topology: undefined } : u;
      layout = u.layout;
      res.write(`data: ${JSON.stringify(body)}\n\n`);
    };
    send(live.snapshot());
    const unsubscribe = live.subscribe(send);
    streams.add(reply);
    request.raw.on("close", () => {
      unsubscribe();
      streams.delete(reply);
    });
  });

  // Open streams would keep app.close() waiting for ever.
  app.addHook("preClose", async () => {
    for (const r of streams) r.raw.end();
    streams.clear();
  });

  app.get("/events", async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const limit = Math.min(200, Math.max(1, Number(q.limit ?? 50) || 50));
    const after = Math.max(0, Number(q.after ?? 0) || 0);
    return { events: o.status.events?.list(limit, after) ?? [] };
  });

  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 4096 },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.get("/login", async (_request, reply) => {
    if (token === undefined) return reply.redirect("/", 303);
    return reply.type("text/html; charset=utf-8").send(renderLogin(null));
  });

  app.post("/login", async (request, reply) => {
    if (token === undefined) return reply.redirect("/", 303);
    const body = request.body as Record<string, unknown> | undefined;
    const given = typeof body?.token === "string" ? body.token : "";
    if (!tokenMatches(given, token)) {
      return reply
        .code(401)
        .type("text/html; charset=utf-8")
        .send(renderLogin("That is not the admin token."));
    }
    reply.header(
      "set-cookie",
      `${ADMIN_COOKIE}=${adminCookieValue(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${COOKIE_MAX_AGE_S}`,
    );
    return reply.redirect("/", 303);
  });

  app.post("/logout", async (_request, reply) => {
    reply.header("set-cookie", `${ADMIN_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return reply.redirect(token === undefined ? "/" : "/login", 303);
  });
}
