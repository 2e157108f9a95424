import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import { stringify } from "yaml";
import { type Rwsplit, startRwsplit } from "../../src/app.js";
import { loadConfig } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";

/**
 * A config file on disk for the reload tests (issue #18): written from a plain object, rewritten
 * by the test, read again by the proxy on a reload. The temp dir goes with `remove()`.
 *
 *   const file = configFile(yamlFor(sb, { replicas: 2 }));
 *   file.write({ ...file.data, lag: { max: "5s" } });
 */

export interface Endpoint {
  host: string;
  port: number;
}

export type FileData = Record<string, unknown>;

export const ADMIN_TOKEN = "reload-test-token-0123456789";

/** A complete file for the sandbox: its primary, the first `replicas` replicas, the app user. */
export function yamlFor(
  sb: { primary: Endpoint; replicas: Endpoint[] },
  opts: { replicas: number; extra?: FileData },
): FileData {
  return {
    listen: "127.0.0.1:0",
    admin: { listen: "127.0.0.1:0", token: ADMIN_TOKEN },
    log: { level: "info" },
    backends: {
      primary: { host: sb.primary.host, port: sb.primary.port, name: "primary" },
      replicas: sb.replicas.slice(0, opts.replicas).map((r, i) => backendEntry(r, i)),
    },
    users: [{ name: "app", password: "app-pass" }],
    monitor: { user: "monitor", password: "monitor-pass" },
    tls: { enabled: false },
    // Sessions of one user share nothing: a writer does not steer the readers' reads.
    routing: { consistency: "session" },
    drain_timeout: "5s",
    ...opts.extra,
  };
}

/** backends.replicas[] entry for the sandbox's replica `i` (named replica1, replica2, ...). */
export function backendEntry(r: Endpoint, i: number): FileData {
  return { host: r.host, port: r.port, name: `replica${i + 1}` };
}

export interface ConfigFile {
  path: string;
  data: FileData;
  /** Rewrites the file (what an operator's editor or config management does). */
  write(data: FileData): void;
  /** Writes text as is (a broken file). */
  writeText(text: string): void;
  remove(): void;
}

export function configFile(data: FileData): ConfigFile {
  const dir = mkdtempSync(join(tmpdir(), "rws-conf-"));
  const path = join(dir, "rwsplit.yaml");
  const f: ConfigFile = {
    path,
    data,
    write(next) {
      f.data = next;
      writeFileSync(path, stringify(next));
    },
    writeText(text) {
      writeFileSync(path, text);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  f.write(data);
  return f;
}

/** Log lines an in-process rwsplit wrote, parsed. */
export function captureLogger(level = "info"): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: createLogger({ level }, stream), lines };
}

/** rwsplit in-process from the file, reloadable as `rwsplit serve --config FILE` is. */
export async function startFromFile(file: ConfigFile, logger: Logger): Promise<Rwsplit> {
  const load = () => loadConfig({ file: file.path, env: {} });
  return startRwsplit(load(), logger, { file: file.path, load });
}

/** The admin API of `app` with the test token. */
export function adminApi(app: Rwsplit) {
  const base = `http://127.0.0.1:${app.adminListen!.port}`;
  const headers = { authorization: `Bearer ${ADMIN_TOKEN}` };
  return {
    base,
    async get<T = Record<string, unknown>>(path: string): Promise<T> {
      const res = await fetch(`${base}${path}`, { headers });
      return (await res.json()) as T;
    },
    async post<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }> {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: "{}",
      });
      return { status: res.status, body: (await res.json()) as T };
    },
  };
}

/** Polls `check` every `everyMs` until it returns a value other than null/false, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => T | null | false | Promise<T | null | false>,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
