import net from "node:net";
import { Duplex } from "node:stream";
import { nativeToken } from "../../src/protocol/auth/native-password.js";
import { Capability } from "../../src/protocol/constants/capabilities.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";
import type { Reader } from "./plan.js";
import { MAX_PACKET, PacketHeads, ResponseEnd, type ResponseKind } from "./wire.js";

/** Where a stress client connects. */
export interface Target {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** One response exactly as received: every byte, headers included. */
export interface Recorded {
  bytes: Buffer;
  /** From writing the command to the response's last byte. */
  ms: number;
  /** 'data' events it came in. */
  chunks: number;
  /** How long the reader kept the socket paused during it. */
  pausedMs: number;
  status: number;
  errno: number;
  prepared: { id: number; columns: number; params: number } | null;
  resultSets: number;
}

/** What a response that is late has delivered so far (for the stall report). */
export interface Progress {
  bytes: number;
  chunks: number;
  /** The reader has the socket paused right now (its own pacing, not the proxy's doing). */
  readerPaused: boolean;
  msSinceLastChunk: number;
}

/** The physical packets of one logical payload: 0xFFFFFF-byte pieces, then a shorter one. */
export function framed(seq: number, payload: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  let s = seq;
  for (;;) {
    const len = Math.min(MAX_PACKET, payload.length - at);
    const h = Buffer.alloc(4);
    h.writeUIntLE(len, 0, 3);
    h[3] = s & 0xff;
    out.push(h, payload.subarray(at, at + len));
    at += len;
    s++;
    if (len < MAX_PACKET) return out;
  }
}

/**
 * The client's end of a connection. `hold(ms)` is the reader's pacing: take nothing more for
 * that long. Over TCP that pauses the socket (data backs up in the kernel first, so the sender
 * only notices once the buffers are full); over a congested stream it holds back the write
 * callback of the chunk just received, so the proxy's very next write finds a full socket.
 */
export interface Link {
  write(b: Buffer): void;
  hold(ms: number): void;
  readonly holding: boolean;
  /** COM_QUIT, then close. */
  close(): void;
  onData: (chunk: Buffer) => void;
  onEnd: (e: Error) => void;
}

const COM_QUIT_PACKET = Buffer.from([1, 0, 0, 0, 0x01]);

class TcpLink implements Link {
  onData: (chunk: Buffer) => void = () => {};
  onEnd: (e: Error) => void = () => {};
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: net.Socket,
    what: string,
  ) {
    socket.on("data", (c: Buffer) => this.onData(c));
    socket.on("error", (e) => this.onEnd(new Error(`${what}: ${e.message}`)));
    socket.on("close", () => this.onEnd(new Error(`${what}: connection closed`)));
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  get holding(): boolean {
    return this.timer !== null;
  }

  hold(ms: number): void {
    this.socket.pause();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.socket.resume();
    }, ms);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.socket.destroyed) return;
    this.socket.end(COM_QUIT_PACKET);
    this.socket.destroySoon();
  }
}

/**
 * What the proxy gets in place of a TCP socket (its accept path takes any Duplex, as
 * test/integration/relay-backpressure.test.ts does): every write it makes is "not flushed"
 * (writableHighWaterMark 1) until the client took the chunk, on the next turn of the event loop
 * or after the reader's pause. So every relayed chunk, a response's last one included, goes down
 * the proxy's backpressure path.
 */
export class CongestedStream extends Duplex {
  readonly remoteAddress = "127.0.0.1";

  constructor(private readonly link: StreamLink) {
    super({ writableHighWaterMark: 1, allowHalfOpen: false });
  }

  setNoDelay(): this {
    return this;
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.link.deliver(chunk, done);
  }
}

export class StreamLink implements Link {
  onData: (chunk: Buffer) => void = () => {};
  onEnd: (e: Error) => void = () => {};
  readonly stream: CongestedStream;
  private holdMs = 0;
  private held = false;

  constructor(what: string) {
    this.stream = new CongestedStream(this);
    this.stream.on("error", (e) => this.onEnd(new Error(`${what}: ${e.message}`)));
    this.stream.on("close", () => this.onEnd(new Error(`${what}: connection closed`)));
  }

  /** A chunk the proxy wrote: copied (the proxy's read buffer is reused), handed on, then taken. */
  deliver(chunk: Buffer, done: () => void): void {
    this.holdMs = 0;
    this.onData(Buffer.from(chunk));
    const ms = this.holdMs;
    if (ms <= 0) {
      setImmediate(done);
      return;
    }
    this.held = true;
    setTimeout(() => {
      this.held = false;
      done();
    }, ms);
  }

  write(b: Buffer): void {
    this.stream.push(b);
  }

  get holding(): boolean {
    return this.held;
  }

  hold(ms: number): void {
    this.holdMs = Math.max(this.holdMs, ms);
  }

  close(): void {
    if (this.stream.destroyed) return;
    this.stream.push(COM_QUIT_PACKET);
    this.stream.push(null);
    setImmediate(() => this.stream.destroy());
  }
}

interface Pending {
  end: ResponseEnd;
  reader: Reader;
  chunks: Buffer[];
  length: number;
  started: number;
  lastChunkAt: number;
  sinceBurst: number;
  bursts: number;
  slowDebtMs: number;
  pausedMs: number;
  resolve: (r: Recorded) => void;
  reject: (e: Error) => void;
}

/**
 * A MySQL client that speaks packets itself and keeps every response byte for comparison. It
 * reads at the pace a step's Reader says (see Link.hold).
 */
export class StressConnection {
  private readonly heads = new PacketHeads();
  private pending: Pending | null = null;
  private failure: Error | null = null;
  private loginWaiter: ((b: Buffer) => void) | null = null;
  private loginBuf = Buffer.alloc(0);
  private loggingIn = true;

  private constructor(
    private readonly link: Link,
    readonly deprecateEof: boolean,
    readonly what: string,
  ) {
    link.onData = (c) => this.onData(c);
    link.onEnd = (e) => this.fail(e);
  }

  /**
   * Connects (over TCP to `t`, or through `accept` with a congested stream) and logs in with
   * mysql_native_password.
   */
  static async open(
    t: Target,
    opts: {
      deprecateEof: boolean;
      multiStatements: boolean;
      what: string;
      /** The proxy's accept path: connect with a CongestedStream instead of TCP. */
      accept?: (s: Duplex) => void;
    },
  ): Promise<StressConnection> {
    let c: StressConnection;
    if (opts.accept) {
      const link = new StreamLink(opts.what);
      c = new StressConnection(link, opts.deprecateEof, opts.what);
      // The greeting may be written during accept: the connection listens before.
      opts.accept(link.stream);
    } else {
      const socket = net.connect({ host: t.host, port: t.port, noDelay: true });
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      });
      c = new StressConnection(new TcpLink(socket, opts.what), opts.deprecateEof, opts.what);
    }
    try {
      await c.login(t, opts);
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  private async login(t: Target, opts: { deprecateEof: boolean; multiStatements: boolean }): Promise<void> {
    const greeting = await this.loginPacket();
    if (greeting[4] === 0xff) throw new Error(`${this.what}: refused: ${greeting.toString("utf8", 13)}`);
    const hs = decodeHandshakeV10(greeting.subarray(4));
    const caps =
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.LONG_PASSWORD |
      Capability.TRANSACTIONS |
      Capability.MULTI_RESULTS |
      Capability.PS_MULTI_RESULTS |
      Capability.SESSION_TRACK |
      Capability.CONNECT_WITH_DB |
      (opts.multiStatements ? Capability.MULTI_STATEMENTS : 0) |
      (opts.deprecateEof ? Capability.DEPRECATE_EOF : 0);
    this.link.write(
      encodeHandshakeResponse41(1, {
        capabilities: caps,
        maxPacketSize: 1 << 30,
        characterSet: 45,
        username: t.user,
        authResponse: nativeToken(t.password, hs.scramble),
        database: t.database,
        authPlugin: "mysql_native_password",
        attributes: {},
      }),
    );
    let reply = await this.loginPacket();
    if (reply[4] === 0xfe) {
      // AuthSwitchRequest: 0xFE, plugin name NUL, new scramble (NUL-terminated).
      const nul = reply.indexOf(0, 5);
      const scramble = reply.subarray(nul + 1, reply.length - (reply.at(-1) === 0 ? 1 : 0));
      this.link.write(Buffer.concat(framed(reply[3]! + 1, nativeToken(t.password, scramble))));
      reply = await this.loginPacket();
    }
    if (reply[4] !== 0x00) throw new Error(`${this.what}: login failed: ${reply.toString("utf8", 13)}`);
    if (this.loginBuf.length > 0) throw new Error(`${this.what}: unexpected bytes after the login`);
    this.loggingIn = false;
  }

  /** During login, whole packets (header included) one at a time. */
  private loginPacket(): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.what}: no answer during login`)), 10_000);
      this.loginWaiter = (b) => {
        clearTimeout(t);
        resolve(b);
      };
      this.takeLoginPacket();
    });
  }

  private takeLoginPacket(): void {
    const b = this.loginBuf;
    if (this.loginWaiter === null || b.length < 4) return;
    const len = b.readUIntLE(0, 3);
    if (b.length < 4 + len) return;
    const w = this.loginWaiter;
    this.loginWaiter = null;
    this.loginBuf = b.subarray(4 + len);
    w(Buffer.from(b.subarray(0, 4 + len)));
  }

  private onData(chunk: Buffer): void {
    if (this.loggingIn) {
      this.loginBuf = Buffer.concat([this.loginBuf, chunk]);
      this.takeLoginPacket();
      return;
    }
    const p = this.pending;
    if (p === null) {
      this.fail(new Error(`${this.what}: ${chunk.length} bytes while no command was running`));
      return;
    }
    const now = performance.now();
    p.lastChunkAt = now;
    const used = this.heads.push(chunk, 0, (h) => p.end.push(h));
    p.chunks.push(chunk);
    p.length += chunk.length;
    if (!p.end.done) {
      this.pace(p, chunk.length);
      return;
    }
    if (used < chunk.length) {
      this.fail(new Error(`${this.what}: ${chunk.length - used} bytes after the end of a response`));
      return;
    }
    this.pending = null;
    p.resolve({
      bytes: p.chunks.length === 1 ? p.chunks[0]! : Buffer.concat(p.chunks, p.length),
      ms: now - p.started,
      chunks: p.chunks.length,
      pausedMs: p.pausedMs,
      status: p.end.status,
      errno: p.end.errno,
      prepared: p.end.prepared,
      resultSets: p.end.resultSets,
    });
  }

  /** The reader's pause after a chunk, if any. */
  private pace(p: Pending, n: number): void {
    const r = p.reader;
    let ms = 0;
    if (r.kind === "slow") {
      p.slowDebtMs += n / r.bytesPerMs;
      // Timers are ~1 ms coarse: pause once the debt is worth it.
      if (p.slowDebtMs >= 2) {
        ms = p.slowDebtMs;
        p.slowDebtMs = 0;
      }
    } else if (r.kind === "burst" && p.bursts < r.pauses) {
      p.sinceBurst += n;
      if (p.sinceBurst >= r.everyBytes) {
        p.sinceBurst = 0;
        p.bursts++;
        ms = r.pauseMs;
      }
    } else if (r.kind === "late" && p.chunks.length === 1) {
      ms = r.pauseMs;
    }
    if (ms <= 0) return;
    p.pausedMs += ms;
    this.link.hold(ms);
  }

  /** Sends a command (several packets past 16 MiB) and records its response. */
  command(payload: Buffer, kind: ResponseKind, reader: Reader): Promise<Recorded> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error(`${this.what}: a command is already running`));
    const end = new ResponseEnd(this.deprecateEof);
    end.begin(kind);
    return new Promise((resolve, reject) => {
      const now = performance.now();
      this.pending = {
        end,
        reader,
        chunks: [],
        length: 0,
        started: now,
        lastChunkAt: now,
        sinceBurst: 0,
        bursts: 0,
        slowDebtMs: 0,
        pausedMs: 0,
        resolve,
        reject,
      };
      for (const b of framed(0, payload)) this.link.write(b);
    });
  }

  /** A command the server does not answer (COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE). */
  send(payload: Buffer): void {
    if (this.failure) throw this.failure;
    for (const b of framed(0, payload)) this.link.write(b);
  }

  /** How far the running command's response has come. */
  progress(): Progress {
    const p = this.pending;
    return {
      bytes: p?.length ?? 0,
      chunks: p?.chunks.length ?? 0,
      readerPaused: this.link.holding,
      msSinceLastChunk: p ? performance.now() - p.lastChunkAt : 0,
    };
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    const p = this.pending;
    this.pending = null;
    p?.reject(e);
  }

  close(): void {
    this.fail(new Error(`${this.what}: closed`));
    this.link.close();
  }
}
