import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Who may use the admin app. Probes and scrapers (`/healthz`, `/readyz`, `/metrics`) are always
 * open: a Kubernetes probe or a Prometheus job should not need a secret. Everything else:
 *
 * - `admin.token` set: `Authorization: Bearer <token>` on every other request (MaxScale's REST
 *   API likewise wants credentials for all but its ping); 401 otherwise.
 * - no token: reading (`GET /backends`, `/topology`, `/sessions`, the status page) is open as
 *   before, and changes (`POST /switchover`, `/rejoin`, `/failover`, `/digests/reset`,
 *   `/config/reload`, `/backends/NAME/drain`) are taken
 *   only from this machine (a loopback peer), so an admin app bound to 0.0.0.0 without a token
 *   cannot be used to move the primary from the network; 403 says to set a token.
 * - browsers cannot send a Bearer header when they open a page: `POST /login` with the token (a
 *   form on the page) sets an HttpOnly, SameSite=Strict cookie holding a hash of the token, not
 *   the token. The cookie is good for reading (GET and HEAD) only: every change still needs the
 *   header, so a page elsewhere cannot make a logged-in browser move the primary (CSRF).
 *   `/login`, `/logout` and the page's stylesheet are open.
 *
 * Pure: table-tested in test/unit/admin-auth.test.ts.
 */

export interface AdminRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  /** The TCP peer's address (`request.socket.remoteAddress`). */
  remoteAddress: string | undefined;
  /** The Authorization header, if any. */
  authorization: string | undefined;
  /** The Cookie header, if any. */
  cookie?: string | undefined;
}

export interface Denial {
  status: 401 | 403;
  error: string;
}

const OPEN = new Set(["/healthz", "/readyz", "/metrics", "/login", "/logout", "/console/console.css"]);

/** The status page's login cookie. */
export const ADMIN_COOKIE = "rwsplit_admin";
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** sha256 both sides: timingSafeEqual needs equal lengths, and the length must not leak either. */
function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** The cookie's value for `token`: a hash, so the browser never holds the token itself. */
export function adminCookieValue(token: string): string {
  return createHash("sha256").update(`rwsplit admin cookie\u0000${token}`).digest("hex");
}

/** `given` is the admin token (in constant time). */
export function tokenMatches(given: string, token: string): boolean {
  return same(given, token);
}

function cookieOf(header: string | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export function authorize(r: AdminRequest, token: string | undefined): Denial | null {
  if (OPEN.has(r.path)) return null;
  if (token !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(r.authorization ?? "");
    if (m !== null && same(m[1]!, token)) return null;
    const cookie = cookieOf(r.cookie, ADMIN_COOKIE);
    if (
      cookie !== null &&
      (r.method === "GET" || r.method === "HEAD") &&
      same(cookie, adminCookieValue(token))
    )
      return null;
    return {
      status: 401,
      error:
        r.authorization === undefined
          ? "admin.token is set: send the header `Authorization: Bearer <token>` (the rwsplit CLI: --token or RWSPLIT_ADMIN_TOKEN)"
          : "wrong admin token: send the value of admin.token as `Authorization: Bearer <token>`",
    };
  }
  if (r.method === "POST" && !LOOPBACK.test(r.remoteAddress ?? "")) {
    return {
      status: 403,
      error: `changes (switchover, rejoin, failover, digest reset, reload, drain) are taken from this machine only unless admin.token is set (request from ${r.remoteAddress ?? "unknown"}): set admin.token (or RWSPLIT_ADMIN_TOKEN) and send it as \`Authorization: Bearer <token>\``,
    };
  }
  return null;
}
