import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, test } from "vitest";

// The shape of src/ as STYLE.md draws it: imports point one way (cli → app → ha/proxy →
// routing/balancer/monitor → protocol/config → errors), so the import graph has no cycle, type
// imports included. Read from the sources themselves: every `import ... from "./x.js"` and
// `export ... from "./x.js"` between files of src/.

const SRC = resolve(import.meta.dirname, "../../src");

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s[^;]*?\sfrom\s+"(\.{1,2}\/[^"]+)"/gms;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, "utf8");
    const deps: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
      deps.push(relative(SRC, resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"))));
    }
    g.set(relative(SRC, file), deps);
  }
  return g;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/**
 * The packages `file` loads at run time through its static imports, and the chain of files that
 * first reaches each (`import type` and `export type` are erased, `import()` is not followed).
 */
function runtimePackages(roots: readonly string[]): Map<string, string[]> {
  const RUNTIME = /^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+"([^"]+)"|^\s*import\s+"([^"]+)"/gms;
  const via = new Map<string, string[]>(roots.map((r) => [r, [r]]));
  const packages = new Map<string, string[]>();
  const queue = [...roots];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const m of readFileSync(join(SRC, f), "utf8").matchAll(RUNTIME)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith(".")) {
        const dep = relative(SRC, resolve(dirname(join(SRC, f)), spec.replace(/\.js$/, ".ts")));
        if (!via.has(dep)) {
          via.set(dep, [...via.get(f)!, dep]);
          queue.push(dep);
        }
      } else if (!spec.startsWith("node:") && !packages.has(spec)) packages.set(spec, via.get(f)!);
    }
  }
  return packages;
}

/** Files of `from` that import files of `to`. */
function crossings(g: Map<string, string[]>, from: string, to: string): string[] {
  return [...g].flatMap(([file, deps]) =>
    file.startsWith(from) ? deps.filter((d) => d.startsWith(to)).map((d) => `${file} -> ${d}`) : [],
  );
}

describe("the import graph of src/", () => {
  const g = graph();

  test("sees the sources", () => {
    expect(g.size).toBeGreaterThan(100);
    expect(g.get("app.ts")?.length).toBeGreaterThan(5);
  });

  test("has no cycle", () => {
    expect(cycles(g)).toEqual([]);
  });

  test.each([
    ["protocol/", "proxy/"],
    ["protocol/", "routing/"],
    ["routing/", "proxy/"],
    ["balancer/", "proxy/"],
    ["monitor/", "proxy/"],
    ["metrics/", "admin/"],
    ["ha/", "proxy/"],
    ["config/", "proxy/"],
    ["proxy/commands/", "proxy/session/client-session.ts"],
    ["proxy/session/", "proxy/server.ts"],
  ])("%s does not import %s", (from, to) => {
    expect(crossings(g, from, to)).toEqual([]);
  });

  // What `rwsplit serve` loads stays in its memory for as long as it runs (issue #15): packages
  // only some configs need are imported when the config asks for them (src/app.ts).
  test.each([
    ["@aws-sdk/client-s3", "an S3 backup destination"],
    ["@aws-sdk/lib-storage", "an S3 backup destination"],
    ["ioredis", "redis.url"],
    ["selfsigned", "tls.enabled without tls.cert_file"],
    ["croner", "backup.schedule"],
    ["cli-progress", "the backup command"],
  ])("rwsplit serve does not import %s until it is needed (%s)", (pkg) => {
    // serve imports the side it runs once it knows which: one process, a supervisor or a worker.
    const reached = runtimePackages([
      "cli/commands/serve.ts",
      "app.ts",
      "workers/supervisor.ts",
      "workers/worker.ts",
    ]);
    expect(reached.size).toBeGreaterThan(3);
    expect(reached.get(pkg)?.join(" -> ")).toBeUndefined();
  });

  // A worker of `serve --workers N` serves clients only: the admin app, the monitor and its
  // mysql2 connections run once, in the supervisor.
  test.each(["fastify", "mysql2", "mysql2/promise"])("a worker process does not import %s", (pkg) => {
    const reached = runtimePackages(["cli/commands/serve.ts", "workers/worker.ts"]);
    expect(reached.has("prom-client")).toBe(true);
    expect(reached.get(pkg)?.join(" -> ")).toBeUndefined();
  });

  // STYLE.md: one concept per file; a file past ~400 lines is asking to be split.
  test("no file of src/ is over 450 lines", () => {
    const long = sources(SRC)
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, "utf8").split("\n").length - 1 }))
      .filter((f) => f.lines > 450);
    expect(long).toEqual([]);
  });

  test("the wire codec never touches a socket", () => {
    const offenders = sources(join(SRC, "protocol")).filter((f) =>
      /from\s+"node:(net|tls|dgram)"/.test(readFileSync(f, "utf8")),
    );
    expect(offenders).toEqual([]);
  });
});
