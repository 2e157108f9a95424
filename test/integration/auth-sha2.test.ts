import { execFile } from "node:child_process";
import net from "node:net";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startProxy, type TestProxy, testConfig } from "../helpers/proxy.js";
import { startSandbox, type TestSandbox } from "../helpers/sandbox.js";

// The real `mariadb` CLI (libmariadb 3.3 and its caching_sha2_password.so plugin) logging in
// through the proxy, which announces mysql_native_password in its greeting. A TCP tap between
// the CLI and the proxy records the packets so each test can check the exact exchange when the
// link is in clear (--skip-ssl).

const APP = { user: "app", password: "app-pass" };
const SHA2 = "--default-auth=caching_sha2_password";
const TLS = ["--ssl", "--ssl-verify-server-cert=0"];

let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ replicas: 1 });
});

afterAll(async () => {
  await sandbox?.down();
});

/** A fresh proxy: its caching_sha2 cache is empty, so the first login is a full authentication. */
function freshProxy(tls: boolean): Promise<TestProxy> {
  return startProxy(testConfig(sandbox.primary, sandbox.replicas), { tls });
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mariadb` against `port` (no option files, so only these options apply). */
function cli(port: number, args: string[], password = APP.password): Promise<CliResult> {
  const argv = [
    "--no-defaults",
    "-h127.0.0.1",
    `-P${port}`,
    `-u${APP.user}`,
    `-p${password}`,
    "--connect-timeout=10",
    ...args,
    "-N",
    "-s",
    "-e",
    "SELECT 'logged-in'",
  ];
  return new Promise((resolve) => {
    execFile("mariadb", argv, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/** Payloads of the complete packets in a byte stream (int<3> length, int<1> sequence id). */
function packets(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= stream.length) {
    const len = stream.readUIntLE(off, 3);
    if (off + 4 + len > stream.length) break;
    out.push(stream.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

interface Conversation {
  client: Buffer;
  server: Buffer;
}

/** A relay on a free port that records both directions of the last connection through it. */
async function startTap(target: number) {
  let last: Conversation = { client: Buffer.alloc(0), server: Buffer.alloc(0) };
  const server = net.createServer((down) => {
    const rec: Conversation = { client: Buffer.alloc(0), server: Buffer.alloc(0) };
    last = rec;
    const up = net.connect(target, "127.0.0.1");
    down.on("data", (d: Buffer) => {
      rec.client = Buffer.concat([rec.client, d]);
      up.write(d);
    });
    up.on("data", (d: Buffer) => {
      rec.server = Buffer.concat([rec.server, d]);
      down.write(d);
    });
    down.on("end", () => up.end());
    up.on("end", () => down.end());
    down.on("error", () => up.destroy());
    up.on("error", () => down.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    last: () => ({ client: packets(last.client), server: packets(last.server) }),
    lastRawClient: () => last.client,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** AuthSwitchRequest: 0xFE, plugin name NUL-terminated, plugin data. */
function authSwitch(p: Buffer): { plugin: string; data: Buffer } | null {
  if (p[0] !== 0xfe) return null;
  const nul = p.indexOf(0, 1);
  return { plugin: p.subarray(1, nul).toString("latin1"), data: p.subarray(nul + 1) };
}

const isOk = (p: Buffer | undefined) => p !== undefined && p[0] === 0x00;

describe("mariadb --default-auth=caching_sha2_password, plain TCP", () => {
  let proxy: TestProxy;
  let tap: Awaited<ReturnType<typeof startTap>>;

  beforeAll(async () => {
    proxy = await freshProxy(true);
    tap = await startTap(proxy.port);
  });

  afterAll(async () => {
    await tap?.close();
    await proxy?.close();
  });

  test("first login: switch to caching_sha2, full authentication with the RSA public key", async () => {
    const r = await cli(tap.port, [SHA2, "--skip-ssl"]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
    const { client, server } = tap.last();
    expect(server[0]!.includes("mysql_native_password")).toBe(true);
    expect(client[0]!.includes("caching_sha2_password")).toBe(true);
    // The switch carries a fresh 20-byte scramble plus the NUL libmariadb checks for (21 bytes).
    const sw = authSwitch(server[1]!);
    expect(sw?.plugin).toBe("caching_sha2_password");
    expect(sw?.data.length).toBe(21);
    expect(sw?.data[20]).toBe(0);
    expect(client[1]!.length).toBe(32); // the SHA-256 scramble response
    expect([...server[2]!]).toEqual([0x01, 0x04]); // perform_full_authentication
    expect([...client[2]!]).toEqual([0x02]); // request_public_key
    expect(server[3]!.subarray(1).toString()).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(client[3]!.length).toBe(256); // RSA-2048 OAEP ciphertext
    expect(isOk(server[4])).toBe(true);
    expect(proxy.server.users.sha2Cached(APP.user)).toBe(true);
  });

  test("second login: fast path (fast_auth_success, then OK)", async () => {
    const r = await cli(tap.port, [SHA2, "--skip-ssl"]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
    const { client, server } = tap.last();
    expect(authSwitch(server[1]!)?.plugin).toBe("caching_sha2_password");
    expect(client[1]!.length).toBe(32);
    expect([...server[2]!]).toEqual([0x01, 0x03]);
    expect(isOk(server[3])).toBe(true);
  });

  test("a wrong password is refused with 1045 / 28000", async () => {
    const r = await cli(tap.port, [SHA2, "--skip-ssl"], "wrong-pass");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERROR 1045 \(28000\): Access denied for user 'app'.*using password: YES/);
  });

  test("an unknown user is switched too, and refused after its answer", async () => {
    const r = await cli(tap.port, [SHA2, "--skip-ssl", "-unobody"]);
    expect(r.stderr).toMatch(/ERROR 1045 \(28000\): Access denied for user 'nobody'.*using password: YES/);
  });
});

describe("mariadb --default-auth=caching_sha2_password over TLS", () => {
  let proxy: TestProxy;
  let tap: Awaited<ReturnType<typeof startTap>>;

  beforeAll(async () => {
    proxy = await freshProxy(true);
    tap = await startTap(proxy.port);
  });

  afterAll(async () => {
    await tap?.close();
    await proxy?.close();
  });

  /** The client sent an SSLRequest (32-byte payload) followed by a TLS handshake record (0x16). */
  function usedTls(): boolean {
    const raw = tap.lastRawClient();
    return raw.length > 36 && raw.readUIntLE(0, 3) === 32 && raw[36] === 0x16;
  }

  test("a wrong password during full authentication is refused with 1045 / 28000", async () => {
    const r = await cli(tap.port, [SHA2, ...TLS], "wrong-pass");
    expect(r.stderr).toMatch(/ERROR 1045 \(28000\): Access denied for user 'app'.*using password: YES/);
    expect(proxy.server.users.sha2Cached(APP.user)).toBe(false);
  });

  test("first login: full authentication with the password in clear inside TLS", async () => {
    const r = await cli(tap.port, [SHA2, ...TLS]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
    expect(usedTls()).toBe(true);
    expect(proxy.server.users.sha2Cached(APP.user)).toBe(true);
  });

  test("second login: fast path", async () => {
    const r = await cli(tap.port, [SHA2, ...TLS]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
  });
});

describe("mysql_native_password still works", () => {
  let proxy: TestProxy;
  let tap: Awaited<ReturnType<typeof startTap>>;

  beforeAll(async () => {
    proxy = await freshProxy(true);
    tap = await startTap(proxy.port);
  });

  afterAll(async () => {
    await tap?.close();
    await proxy?.close();
  });

  test("plain mariadb logs in with the greeting's scramble, no switch", async () => {
    const r = await cli(tap.port, ["--skip-ssl"]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
    const { client, server } = tap.last();
    expect(client[0]!.includes("mysql_native_password")).toBe(true);
    expect(isOk(server[1])).toBe(true);
  });

  test("plain mariadb with its default TLS upgrade", async () => {
    expect(await cli(proxy.port, [])).toMatchObject({ code: 0, stdout: "logged-in" });
  });

  test("mysql2, with and without TLS, and COM_CHANGE_USER", async () => {
    for (const ssl of [undefined, { rejectUnauthorized: false }]) {
      const c = await mysql.createConnection({ host: proxy.host, port: proxy.port, ...APP, ssl });
      const [rows] = await c.query("SELECT 'logged-in' AS r");
      expect(rows).toEqual([{ r: "logged-in" }]);
      await c.changeUser({ ...APP });
      const [again] = await c.query("SELECT 2 AS n");
      expect(again).toEqual([{ n: 2 }]);
      await c.end();
    }
  });
});

describe("caching_sha2 clients when the proxy has no TLS (and so no RSA key)", () => {
  let proxy: TestProxy;
  let tap: Awaited<ReturnType<typeof startTap>>;

  beforeAll(async () => {
    proxy = await freshProxy(false);
    tap = await startTap(proxy.port);
  });

  afterAll(async () => {
    await tap?.close();
    await proxy?.close();
  });

  test("are switched to mysql_native_password, which needs neither", async () => {
    const r = await cli(tap.port, [SHA2, "--skip-ssl"]);
    expect(r).toMatchObject({ code: 0, stdout: "logged-in" });
    const { client, server } = tap.last();
    const sw = authSwitch(server[1]!);
    expect(sw?.plugin).toBe("mysql_native_password");
    expect(sw?.data.length).toBe(21);
    expect(client[1]!.length).toBe(20);
    expect(isOk(server[2])).toBe(true);
  });
});
