/**
 * `npm run bench:failover [-- --reps N]`: time from SIGKILL of the primary's mariadbd to the first
 * write acknowledged through rwsplit, over N fresh sandbox clusters (default 10), with a write
 * load running. Also records rwsplit's own view (first failed check → new primary taking writes)
 * and the acknowledged writes lost (must be 0). Writes bench/results/failover-<stamp>.json (every
 * repetition's raw figures) and .md, and prints the table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import mysql from "mysql2/promise";
import pino from "pino";
import { startRwsplit } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { sandboxDown, sandboxUp } from "../src/sandbox/cluster.js";
import { freePort } from "../src/sandbox/ports.js";

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf("--reps") + 1] ?? 0) || 10;
const WRITERS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rep {
  rep: number;
  /** SIGKILL → first write acknowledged afterwards (end of the longest gap from the kill on). */
  killToWriteMs: number;
  /** rwsplit's own figure: first failed check of the primary → new primary published. */
  detectToPromotedMs: number | null;
  promoted: string;
  acknowledged: number;
  failedWrites: number;
  lostAcknowledged: number;
  steps: string[];
}

async function oneRep(rep: number, work: string): Promise<Rep> {
  const dir = join(work, `rep${rep}`);
  const sb = await sandboxUp({
    dir,
    ports: [await freePort(), await freePort(), await freePort()],
    replicas: 2,
  });
  let app: Awaited<ReturnType<typeof startRwsplit>> | null = null;
  try {
    const root = await mysql.createConnection({ ...sb.primary, ...sb.credentials.root });
    await root.query("CREATE TABLE app.ids (id BIGINT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL, KEY (n))");
    await root.end();
    const c = sb.credentials;
    const config = loadConfig({
      env: {
        RWSPLIT__FAILOVER__USER: c.failover.user,
        RWSPLIT__FAILOVER__PASSWORD: c.failover.password,
        RWSPLIT__FAILOVER__REPLICATION_USER: c.replication.user,
        RWSPLIT__FAILOVER__REPLICATION_PASSWORD: c.replication.password,
        RWSPLIT__TLS__ENABLED: "false",
        RWSPLIT__ADMIN__ENABLED: "false",
      },
      flags: {
        listen: "127.0.0.1:0",
        primary: `${sb.primary.host}:${sb.primary.port}`,
        replica: sb.replicas.map((r) => `${r.host}:${r.port}`),
        user: [`${c.app.user}:${c.app.password}`],
        monitorUser: `${c.monitor.user}:${c.monitor.password}`,
        logLevel: "silent",
      },
    });
    app = await startRwsplit(config, pino({ level: "silent" }));
    const started = app;
    const deadline = Date.now() + 15_000;
    while (!started.status.backends().every((b) => b.up) && Date.now() < deadline) await sleep(50);
    const acked: number[] = [];
    const okTimes: number[] = [];
    let failed = 0;
    let next = 1;
    let running = true;
    const writer = async () => {
      let conn: mysql.Connection | null = null;
      while (running) {
        try {
          conn ??= await mysql.createConnection({
            host: started.listen.host,
            port: started.listen.port,
            user: c.app.user,
            password: c.app.password,
            database: "app",
          });
          const n = next++;
          await conn.query("INSERT INTO ids (n) VALUES (?)", [n]);
          acked.push(n);
          okTimes.push(Date.now());
        } catch (e) {
          failed++;
          if ((e as { fatal?: boolean }).fatal) conn = null;
          await sleep(10);
        }
      }
      await conn?.end().catch(() => {});
    };
    const writers = Array.from({ length: WRITERS }, writer);
    await sleep(1000);
    const killedAt = Date.now();
    process.kill(sb.primary.pid, "SIGKILL");
    while (started.ha.topology().generation < 2 && Date.now() < killedAt + 30_000) await sleep(20);
    await sleep(1000);
    running = false;
    await Promise.all(writers);
    let resumed = killedAt;
    let gap = -1;
    let prev = killedAt;
    for (const t of okTimes.filter((x) => x >= killedAt)) {
      if (t - prev > gap) {
        gap = t - prev;
        resumed = t;
      }
      prev = t;
    }
    const t = started.ha.topology();
    const report = started.ha.status().history[0];
    const promotedNode = sb.replicas.find((_, i) => `replica${i + 1}` === t.primary) ?? sb.replicas[0]!;
    const check = await mysql.createConnection({ ...promotedNode, ...c.root });
    const [rows] = await check.query("SELECT DISTINCT n FROM app.ids");
    await check.end();
    const have = new Set((rows as { n: number }[]).map((r) => Number(r.n)));
    return {
      rep,
      killToWriteMs: resumed - killedAt,
      detectToPromotedMs: report?.sinceDownMs ?? null,
      promoted: t.primary,
      acknowledged: acked.length,
      failedWrites: failed,
      lostAcknowledged: acked.filter((n) => !have.has(n)).length,
      steps: report?.steps ?? [],
    };
  } finally {
    await app?.stop();
    await sandboxDown(dir);
  }
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { median: q(0.5), p90: q(0.9), max: s[s.length - 1]!, min: s[0]! };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(os.tmpdir(), "rwsplit-bench-failover-"));
  const results: Rep[] = [];
  try {
    for (let i = 1; i <= reps; i++) {
      const r = await oneRep(i, work);
      results.push(r);
      process.stdout.write(
        `rep ${i}/${reps}: kill → first write ${r.killToWriteMs} ms (rwsplit: ${r.detectToPromotedMs} ms), ` +
          `${r.acknowledged} acked, ${r.failedWrites} failed, ${r.lostAcknowledged} lost\n`,
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const k = stats(results.map((r) => r.killToWriteMs));
  const d = stats(results.map((r) => r.detectToPromotedMs ?? Number.NaN));
  const lost = results.reduce((a, r) => a + r.lostAcknowledged, 0);
  const failed = results.reduce((a, r) => a + r.failedWrites, 0);
  const md = [
    `# Failover benchmark (${new Date().toISOString()})`,
    "",
    `Command: \`npm run bench:failover -- --reps ${reps}\`. Machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}.`,
    `Each repetition: a fresh 3-node semi-sync sandbox, ${WRITERS} clients inserting through rwsplit, SIGKILL of the primary's mariadbd; failover.detect = 2 s (default).`,
    "",
    "| figure | median | p90 | max | min |",
    "|---|---:|---:|---:|---:|",
    `| SIGKILL → first acknowledged write (ms) | ${k.median} | ${k.p90} | ${k.max} | ${k.min} |`,
    `| rwsplit: first failed check → new primary (ms) | ${d.median} | ${d.p90} | ${d.max} | ${d.min} |`,
    "",
    `Acknowledged writes lost: **${lost}**. Writes that failed around the kill (held writes retried on the new primary instead): ${failed}.`,
    "",
  ].join("\n");
  const outDir = resolve("bench/results");
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(outDir, `failover-${stamp}.json`), JSON.stringify({ reps, results }, null, 2));
  writeFileSync(join(outDir, `failover-${stamp}.md`), md);
  writeFileSync(join(outDir, "failover-latest.md"), md);
  process.stdout.write(`\n${md}`);
}

main().catch((e) => {
  process.stderr.write(`bench:failover failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
