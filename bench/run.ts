/**
 * `npm run bench [-- --quick] [-- --target NAME=HOST:PORT]`: sysbench scenarios against direct
 * MariaDB, rwsplit and HAProxy (TCP mode), interleaved round by round so drift favours no one,
 * on a local sandbox cluster. Writes bench/results/<stamp>.json (every raw sysbench output kept),
 * a Markdown summary and an SVG chart, and prints the table.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import cliProgress from "cli-progress";
import { sandboxDown, sandboxUp } from "../src/sandbox/cluster.js";
import { renderChart, renderMarkdown, type ScenarioResult, type TargetResult } from "./report.js";

const run = promisify(execFile);
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const extraTargets = args
  .filter((_, i) => args[i - 1] === "--target")
  .map((t) => {
    const [name, addr] = t.split("=");
    const [host, port] = (addr ?? "").split(":");
    return { name: name!, host: host!, port: Number(port) };
  });

const ROUNDS = quick ? 1 : 3;
const SECONDS = quick ? 8 : 20;
const THREADS = 8;
const SCENARIOS = quick
  ? [
      { name: "oltp_point_select", ps: "auto" },
      { name: "oltp_point_select", ps: "disable" },
      { name: "oltp_read_only", ps: "auto", extra: ["--skip_trx=on"] },
    ]
  : [
      { name: "oltp_point_select", ps: "auto" },
      { name: "oltp_point_select", ps: "disable" },
      { name: "oltp_read_only", ps: "auto" },
      { name: "oltp_read_only", ps: "auto", extra: ["--skip_trx=on"] },
      { name: "oltp_read_write", ps: "auto" },
      { name: "oltp_write_only", ps: "auto" },
    ];

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

async function waitPort(port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        r(true);
      });
      s.once("error", () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} did not open`);
}

function parseSysbench(out: string) {
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? Number.NaN);
  return {
    queries: num(/queries:\s+(\d+)/),
    qps: num(/queries:\s+\d+\s+\(([\d.]+) per sec/),
    tps: num(/transactions:\s+\d+\s+\(([\d.]+) per sec/),
    p99Ms: num(/99th percentile:\s+([\d.]+)/),
    avgMs: num(/avg:\s+([\d.]+)/),
    errors: num(/ignored errors:\s+(\d+)/),
    reconnects: num(/reconnects:\s+(\d+)/),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const work = mkdtempSync(join(os.tmpdir(), "rwsplit-bench-"));
  const children: ChildProcess[] = [];
  const dir = join(work, "sandbox");
  const clk = Number((await run("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
  try {
    process.stdout.write("bench: starting the sandbox cluster...\n");
    const sb = await sandboxUp({ dir, basePort: await freePort(), replicas: 2 });
    const app = sb.credentials.app;
    const sysbenchBase = (host: string, port: number) => [
      "--db-driver=mysql",
      `--mysql-host=${host}`,
      `--mysql-port=${port}`,
      `--mysql-user=${app.user}`,
      `--mysql-password=${app.password}`,
      "--mysql-db=app",
      "--tables=4",
      `--table-size=${quick ? 10_000 : 50_000}`,
    ];
    await run(
      "sysbench",
      [...sysbenchBase(sb.primary.host, sb.primary.port), "--threads=4", "oltp_read_write", "prepare"],
      {
        timeout: 300_000,
      },
    );
    // rwsplit as its own process, built output, so its CPU time is its own.
    const rwPort = await freePort();
    const rw = spawn(
      process.execPath,
      [
        resolve("dist/src/cli/main.js"),
        "serve",
        "--listen",
        `127.0.0.1:${rwPort}`,
        "--admin",
        `127.0.0.1:${await freePort()}`,
        "--primary",
        `${sb.primary.host}:${sb.primary.port}`,
        ...sb.replicas.flatMap((r) => ["--replica", `${r.host}:${r.port}`]),
        "--user",
        `${app.user}:${app.password}`,
        "--monitor-user",
        `${sb.credentials.monitor.user}:${sb.credentials.monitor.password}`,
        "--log-level",
        "warn",
      ],
      // No TLS: libmariadb (sysbench) upgrades to TLS whenever the server offers it, and neither
      // MariaDB nor HAProxy here offers it, so TLS would be the only thing measured apart.
      { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, RWSPLIT__TLS__ENABLED: "false" } },
    );
    children.push(rw);
    // HAProxy in TCP mode in front of the primary: the floor of what a proxy costs.
    const haPort = await freePort();
    const haCfg = join(work, "haproxy.cfg");
    writeFileSync(
      haCfg,
      [
        "global",
        "  maxconn 4000",
        "defaults",
        "  mode tcp",
        "  timeout connect 5s",
        "  timeout client 1h",
        "  timeout server 1h",
        "listen mysql",
        `  bind 127.0.0.1:${haPort}`,
        `  server primary ${sb.primary.host}:${sb.primary.port}`,
        "",
      ].join("\n"),
    );
    const ha = spawn("haproxy", ["-f", haCfg, "-db"], { stdio: ["ignore", "ignore", "inherit"] });
    children.push(ha);
    await waitPort(rwPort);
    await waitPort(haPort);
    const targets = [
      { name: "direct", host: sb.primary.host, port: sb.primary.port, pid: null as number | null },
      { name: "rwsplit", host: "127.0.0.1", port: rwPort, pid: rw.pid ?? null },
      { name: "haproxy", host: "127.0.0.1", port: haPort, pid: ha.pid ?? null },
      ...extraTargets.map((t) => ({ ...t, pid: null as number | null })),
    ];
    const results: ScenarioResult[] = SCENARIOS.map((s) => ({
      scenario: `${s.name}${s.ps === "disable" ? " (text)" : " (prepared)"}${s.extra ? ` ${s.extra.join(" ")}` : ""}`,
      targets: targets.map((t) => ({ target: t.name, runs: [] }) as TargetResult),
    }));
    const bar = new cliProgress.SingleBar(
      { format: "bench [{bar}] {value}/{total} {scenario} → {target}", hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(ROUNDS * SCENARIOS.length * targets.length, 0, { scenario: "", target: "" });
    for (let round = 0; round < ROUNDS; round++) {
      for (const [si, s] of SCENARIOS.entries()) {
        // Rotate the order each round so no target always runs first (cache warmth, drift).
        const order = targets.map((_, i) => targets[(i + round + si) % targets.length]!);
        for (const t of order) {
          bar.increment(0, { scenario: results[si]!.scenario, target: t.name });
          const before = t.pid !== null ? cpuTicks(t.pid) : 0;
          const { stdout } = await run(
            "sysbench",
            [
              ...sysbenchBase(t.host, t.port),
              `--threads=${THREADS}`,
              `--time=${SECONDS}`,
              `--db-ps-mode=${s.ps}`,
              "--percentile=99",
              ...(s.extra ?? []),
              s.name,
              "run",
            ],
            { timeout: (SECONDS + 60) * 1000, maxBuffer: 1 << 24 },
          );
          const parsed = parseSysbench(stdout);
          const cpuMs = t.pid !== null ? ((cpuTicks(t.pid) - before) * 1000) / clk : null;
          const tr = results[si]!.targets.find((x) => x.target === t.name)!;
          tr.runs.push({
            ...parsed,
            cpuUsPerQuery: cpuMs !== null && parsed.queries > 0 ? (cpuMs * 1000) / parsed.queries : null,
            rssKb: t.pid !== null ? rssKb(t.pid) : null,
            raw: stdout,
          });
          bar.increment(1);
        }
      }
    }
    bar.stop();
    const machine = {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      mariadb: (await run("mariadbd", ["--version"]).catch(() => ({ stdout: "?" }))).stdout.trim(),
      haproxy: (await run("haproxy", ["-v"]).catch(() => ({ stdout: "?" }))).stdout.split("\n")[0],
      sysbench: (await run("sysbench", ["--version"]).catch(() => ({ stdout: "?" }))).stdout.trim(),
    };
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const outDir = resolve("bench/results");
    mkdirSync(outDir, { recursive: true });
    const report = {
      command: `npm run bench${quick ? " -- --quick" : ""}`,
      date: new Date().toISOString(),
      machine,
      settings: { rounds: ROUNDS, seconds: SECONDS, threads: THREADS },
      results,
      durationSeconds: Math.round((Date.now() - started) / 1000),
    };
    writeFileSync(join(outDir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
    const md = renderMarkdown(report);
    writeFileSync(join(outDir, `${stamp}.md`), md);
    writeFileSync(join(outDir, "latest.md"), md);
    writeFileSync(join(outDir, "latest.svg"), renderChart(report));
    process.stdout.write(`\n${md}\nresults: bench/results/${stamp}.json\n`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)),
    );
    await sandboxDown(dir).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
