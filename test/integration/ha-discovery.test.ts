import { afterEach, describe, expect, test } from "vitest";
import type { Config } from "../../src/config/types.js";
import { killNode, restartNode } from "../helpers/node-restart.js";
import { failoverConfig, startApp, type TestApp } from "../helpers/proxy.js";
import { type SandboxNode, startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// Topology discovery at startup, against the real sandbox: an rwsplit without Redis, restarted
// after a failover with its ORIGINAL config (backends.primary = the old primary), must find the
// new primary from the servers and fence the old one.

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

async function cluster(): Promise<TestSandbox> {
  const sb = await startSandbox({ replicas: 2 });
  cleanups.push(() => sb.down());
  await sql(sb, sb.primary, "CREATE TABLE app.marks (n INT PRIMARY KEY)");
  await sb.waitForReplicas();
  return sb;
}

function haConfig(sb: TestSandbox): Config {
  return failoverConfig(sb, { detectMs: 1000 });
}

async function proxy(config: Config): Promise<TestApp> {
  const p = await startApp(config);
  cleanups.push(() => p.close());
  return p;
}

async function sql(
  sb: TestSandbox,
  node: { host: string; port: number },
  query: string,
): Promise<Record<string, unknown>[]> {
  const c = await sb.connect(node);
  try {
    const [rows] = await c.query(query);
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
  } finally {
    await c.end();
  }
}

/** INSERTs `n` through the proxy as the app user (a write: routed to the primary). */
async function writeThrough(sb: TestSandbox, p: TestApp, n: number): Promise<void> {
  const c = await sb.connect({ host: p.host, port: p.port }, "app", "app");
  try {
    await c.query("INSERT INTO marks (n) VALUES (?)", [n]);
  } finally {
    await c.end();
  }
}

async function has(sb: TestSandbox, node: SandboxNode, n: number): Promise<boolean> {
  return (await sql(sb, node, `SELECT n FROM app.marks WHERE n = ${n}`)).length === 1;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("topology discovery at startup", () => {
  test("a fresh cluster: the configured primary is confirmed, nothing is published", async () => {
    const sb = await cluster();
    const p = await proxy(haConfig(sb));
    expect(p.app.ha.topology()).toMatchObject({ generation: 1, primary: "primary", reason: "initial" });
    const st = p.app.ha.status();
    expect(st.discovery).toMatchObject({ outcome: "configured", primary: "primary", fenced: [] });
    expect(st.discovery?.seen).toHaveLength(3);
    await writeThrough(sb, p, 1);
    expect(await has(sb, sb.primary, 1)).toBe(true);
  });

  test("restarted after a failover with the original config: writes go to the new primary, the old one is fenced", async () => {
    const sb = await cluster();
    const config = haConfig(sb);
    const first = await proxy(config);
    await until("monitor sees every backend", () => first.app.status.backends().every((b) => b.up), 10_000);
    await killNode(sb.primary);
    await until("the failover", () => first.app.ha.topology().generation > 1, 20_000);
    const promoted = first.app.ha.topology().primary;
    const newPrimary = sb.replicas.find((_, i) => `replica${i + 1}` === promoted)!;
    await first.close();

    // The old primary still down: it is skipped, the replica under the new primary is evidence.
    const second = await proxy(config);
    expect(second.app.ha.topology()).toMatchObject({
      generation: 2,
      primary: promoted,
      fenced: ["primary"],
      reason: "discovered",
    });
    await writeThrough(sb, second, 2);
    expect(await has(sb, newPrimary, 2)).toBe(true);
    await second.close();

    // The old primary back with its old options: writable and replicating from nobody, a split
    // brain. Nobody replicates from it: fenced, and set read_only by the new instance.
    await restartNode(sb, sb.primary);
    expect((await sql(sb, sb.primary, "SELECT @@read_only AS ro"))[0]?.ro).toBe(0);
    const third = await proxy(config);
    expect(third.app.ha.topology()).toMatchObject({ generation: 2, primary: promoted, fenced: ["primary"] });
    expect(third.app.ha.status().discovery?.reason).toMatch(/primary also writable with no replica: fenced/);
    await writeThrough(sb, third, 3);
    expect(await has(sb, newPrimary, 3)).toBe(true);
    expect(await has(sb, sb.primary, 3)).toBe(false);
    await until(
      "the fenced old primary set read_only",
      async () => Number((await sql(sb, sb.primary, "SELECT @@read_only AS ro"))[0]?.ro) === 1,
      10_000,
    );
    const old = third.app.status.backends().find((b) => b.name === "primary");
    expect(old).toMatchObject({ role: "fenced", eligible: false });
  });
});
