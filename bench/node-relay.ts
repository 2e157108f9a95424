/**
 * `node dist/bench/node-relay.js --listen HOST:PORT --upstream HOST:PORT [--mode onread|pipe]`:
 * the floor of a Node proxy (issue #15). It accepts a client, connects to the upstream, and copies
 * bytes both ways without looking at them: no MySQL parsing, no routing, no pool, no metrics. What
 * it costs per query is what Node's socket machinery costs for one read and one write per
 * direction, the part of rwsplit's CPU time that no change to rwsplit's own code can remove.
 *
 * Two ways to copy, `--mode`:
 *   onread (the default)  each socket reads into a buffer of its own (`onread`; the client's socket
 *                         is rebuilt over its accepted handle, since Node 20's net.Server has no
 *                         `onread`), and the callback writes the view to the other socket at once.
 *   pipe                  `a.pipe(b)` and `b.pipe(a)`: a fresh Buffer per read, a 'data' event
 *                         through the Readable stream, and Writable's bookkeeping for each write.
 * onread is the default because it is the cheaper of the two: it skips the per-read Buffer, the
 * Readable's 'data' dispatch and `maybeReadMore` on the next tick, and Writable's per-chunk state
 * behind pipe()'s 'data' handler, the same saving rwsplit made with it. Measured side by side
 * (sandbox primary, sysbench oltp_point_select, 8 threads, 8 s runs alternating, 2 shared and busy
 * cores), the relay's CPU per query: prepared 20.5 / 23.8 / 21.5 µs onread against 23.9 / 25.6 /
 * 25.2 µs pipe; text 20.8 / 22.9 against 25.5 / 27.8: onread is 3–5 µs cheaper in every round. The
 * floor must be the cheapest Node path, or a ratio to it would flatter rwsplit.
 */
import net from "node:net";
import { pathToFileURL } from "node:url";

export type RelayMode = "onread" | "pipe";

export interface RelayOptions {
  upstream: { host: string; port: number };
  mode: RelayMode;
}

/** Node's own read size: large enough that a point select's answer is one read. */
const READ_SIZE = 64 * 1024;

/**
 * One direction of a relay in onread mode: reads land in `buf`, and each chunk is written to
 * `dst` at once. A write that did not complete synchronously still points at the view
 * (`dst.writableLength > 0`), so the next read goes to a new buffer; when `dst` is full
 * (`write()` false), reading stops until it drains.
 */
class Direction {
  private buf = Buffer.allocUnsafeSlow(READ_SIZE);
  private lent = false;
  dst: net.Socket | null = null;
  src: net.Socket | null = null;
  private readonly resume = (): void => {
    this.src?.resume();
  };
  readonly onread: net.OnReadOpts = {
    buffer: () => {
      if (this.lent) {
        this.lent = false;
        this.buf = Buffer.allocUnsafeSlow(READ_SIZE);
      }
      return this.buf;
    },
    callback: (n, buf) => {
      const dst = this.dst!;
      const ok = dst.write((buf as Buffer).subarray(0, n));
      if (dst.writableLength > 0) this.lent = true;
      if (!ok) dst.once("drain", this.resume);
      // false: the socket stops reading until `resume()`.
      return ok;
    },
  };
}

/** Ends or destroys each side with the other, so neither outlives its peer. */
function couple(a: net.Socket, b: net.Socket): void {
  a.setNoDelay(true);
  b.setNoDelay(true);
  a.on("end", () => b.end());
  b.on("end", () => a.end());
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
  a.on("error", () => b.destroy());
  b.on("error", () => a.destroy());
}

function relayOnread(accepted: net.Socket, opts: RelayOptions): void {
  // The accepted socket never started reading (pauseOnConnect): its handle moves to a socket that
  // reads into our buffer; destroyed without a handle, the old object closes nothing.
  const old = accepted as net.Socket & { _handle?: unknown };
  const handle = old._handle;
  if (handle == null) {
    accepted.destroy();
    return;
  }
  old._handle = null;
  old.destroy();
  const up = new Direction();
  const down = new Direction();
  const server = net.connect({ ...opts.upstream, onread: down.onread });
  const client = new net.Socket({
    handle,
    onread: up.onread,
    readable: true,
    writable: true,
  } as net.SocketConstructorOpts);
  up.src = client;
  up.dst = server;
  down.src = server;
  down.dst = client;
  couple(client, server);
}

function relayPipe(client: net.Socket, opts: RelayOptions): void {
  const server = net.connect(opts.upstream);
  couple(client, server);
  // pipe() ends the destination on 'end' itself; couple()'s extra end() is a no-op then.
  client.pipe(server);
  server.pipe(client);
  client.resume();
}

/** A listening relay; resolves once it listens. */
export async function startRelay(
  listen: { host: string; port: number },
  opts: RelayOptions,
): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: true }, (socket) =>
    opts.mode === "onread" ? relayOnread(socket, opts) : relayPipe(socket, opts),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

function hostPort(v: string | undefined, flag: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(v ?? "");
  if (!m) throw new Error(`${flag}: expected HOST:PORT, got ${v ?? "nothing"}`);
  return { host: m[1]!, port: Number(m[2]) };
}

async function main(argv: string[]): Promise<void> {
  const flag = (name: string) => argv[argv.indexOf(name) + 1];
  const mode = (argv.includes("--mode") ? flag("--mode") : "onread") as RelayMode;
  if (mode !== "onread" && mode !== "pipe") throw new Error(`--mode: onread or pipe, got ${mode}`);
  await startRelay(hostPort(flag("--listen"), "--listen"), {
    upstream: hostPort(flag("--upstream"), "--upstream"),
    mode,
  });
  process.stdout.write(`node-relay: ${mode}, listening on ${flag("--listen")}\n`);
  // Nothing to drain: a relay's clients are the bench's, which is done with them when it stops us.
  process.once("SIGTERM", () => process.exit(0));
  process.once("SIGINT", () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`node-relay: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
