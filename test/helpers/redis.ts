import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/**
 * A throwaway redis-server per test file, on a port the OS picked, without persistence
 * (`--save "" --appendonly no`), in a temp dir that is always removed:
 *
 *   await using redis = await startRedis();   // stopped at the end of the scope
 *
 * `kill()` SIGKILLs it (an outage), `restart()` starts it again on the same port, empty (what a
 * Redis without persistence looks like after a crash), `freeze()`/`thaw()` SIGSTOP/SIGCONT it (a
 * Redis that accepts connections and never answers). Only the pid this helper started is
 * signalled; an exit hook SIGKILLs it if the test process ends without `stop()`.
 */

// Node 20.4+ defines it; older runtimes need it for `await using` to find the disposer.
(Symbol as { asyncDispose?: symbol }).asyncDispose ??= Symbol.for("Symbol.asyncDispose");

export interface TestRedis {
  url: string;
  port: number;
  /** The pid of the current redis-server (changes on restart; 0 while killed). */
  readonly pid: number;
  /** SIGTERM (SIGKILL after 5 s), removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL, and waits until the process is gone; the dir stays for `restart()`. */
  kill(): Promise<void>;
  /** Starts a fresh, empty redis-server on the same port (after `kill()`, or kills first). */
  restart(): Promise<void>;
  /** SIGSTOP: the port still accepts connections, nothing answers. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

const live = new Map<string, () => ChildProcess | null>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const [dir, proc] of live) {
      const p = proc();
      if (p?.pid !== undefined && p.exitCode === null && p.signalCode === null) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {}
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

function redisServerBinary(): string {
  for (const candidate of [
    "/usr/bin/redis-server",
    "/usr/local/bin/redis-server",
    "/usr/sbin/redis-server",
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("tests need redis-server: sudo apt-get install -y redis-server");
}

/** Attempts when a port the OS called free was taken before redis-server bound it. */
const PORT_ATTEMPTS = 3;

export async function startRedis(): Promise<TestRedis> {
  installExitHook();
  const bin = redisServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "rws-redis-"));
  let proc: ChildProcess | null = null;
  live.set(dir, () => proc);
  let port = 0;
  try {
    for (let attempt = 1; proc === null; attempt++) {
      port = await freePort();
      try {
        proc = await launch(bin, dir, port);
      } catch (e) {
        if (attempt >= PORT_ATTEMPTS) throw e;
      }
    }
  } catch (e) {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  let stopped = false;
  const kill = async () => {
    const p = proc;
    if (p === null) return;
    proc = null;
    await signalAndWait(p, "SIGKILL", 5_000);
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const p = proc;
    proc = null;
    if (p !== null) {
      // A frozen server ignores SIGTERM until continued.
      if (isRunning(p)) process.kill(p.pid!, "SIGCONT");
      if (!(await signalAndWait(p, "SIGTERM", 5_000))) await signalAndWait(p, "SIGKILL", 5_000);
    }
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const signal = (sig: NodeJS.Signals) => {
    if (proc === null || !isRunning(proc)) throw new Error(`redis-server is not running (${sig})`);
    process.kill(proc.pid!, sig);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return proc?.pid ?? 0;
    },
    stop,
    kill,
    restart: async () => {
      if (stopped) throw new Error("redis-server was stopped; start a new one");
      await kill();
      proc = await launch(bin, dir, port);
    },
    freeze: () => signal("SIGSTOP"),
    thaw: () => signal("SIGCONT"),
    [Symbol.asyncDispose]: stop,
  };
}

function isRunning(p: ChildProcess): boolean {
  return p.pid !== undefined && p.exitCode === null && p.signalCode === null;
}

/** Sends `sig` to `p` and waits up to `timeoutMs` for it to exit; true when it did. */
function signalAndWait(p: ChildProcess, sig: NodeJS.Signals, timeoutMs: number): Promise<boolean> {
  if (!isRunning(p)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      p.off("exit", onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    p.once("exit", onExit);
    process.kill(p.pid!, sig);
  });
}

/** Starts redis-server on `port` and resolves once it answers PING; on failure it is killed. */
async function launch(bin: string, dir: string, port: number): Promise<ChildProcess> {
  const logfile = join(dir, `redis-${port}.log`);
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
    "--logfile",
    logfile,
    "--daemonize",
    "no",
  ];
  const p = spawn(bin, args, { stdio: "ignore" });
  let exited = false;
  p.once("exit", () => {
    exited = true;
  });
  // A spawn failure is reported as an 'error' event; an unhandled one would crash the test run.
  p.once("error", () => {
    exited = true;
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !exited) {
    if (await pings(port)) return p;
    await new Promise((r) => setTimeout(r, 25));
  }
  await signalAndWait(p, "SIGKILL", 5_000);
  const log = existsSync(logfile)
    ? readFileSync(logfile, "utf8").trim().split("\n").slice(-5).join("\n")
    : "";
  throw new Error(`redis-server on port ${port} did not start${exited ? " (it exited)" : ""}: ${log}`);
}

/** One RESP PING over a fresh connection: true on +PONG. */
function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let reply = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("error", () => done(false));
    s.once("connect", () => s.write("PING\r\n"));
    s.on("data", (d) => {
      reply += d.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}
