import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import {
  type SandboxInfo,
  type SandboxNode,
  sandboxDown,
  sandboxUp,
  waitForReplicas,
} from "../../src/sandbox/cluster.js";

// `await using` needs Symbol.asyncDispose, which Node 20 may lack.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for("Symbol.asyncDispose");

export interface TestSandbox extends SandboxInfo {
  down(): Promise<void>;
  /** A root connection to a node (mysql2/promise). */
  connect(node: { host: string; port: number }): Promise<mysql.Connection>;
  waitForReplicas(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** A sandbox on free ports in a fresh temp dir; `down()` stops it and removes the dir. */
export async function startSandbox(opts: { replicas?: number } = {}): Promise<TestSandbox> {
  const dir = mkdtempSync(join(tmpdir(), "rws-"));
  const count = opts.replicas ?? 2;
  const ports: number[] = [];
  while (ports.length < count + 1) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const info = await sandboxUp({ dir, ports, replicas: count });
  const down = () => sandboxDown(dir);
  return {
    ...info,
    down,
    connect: (node) =>
      mysql.createConnection({
        host: node.host,
        port: node.port,
        user: "root",
        password: info.credentials.root.password,
      }),
    waitForReplicas: () => waitForReplicas(info),
    [Symbol.asyncDispose]: down,
  };
}

export type { SandboxNode };
