import net from "node:net";
import type { Writable } from "node:stream";
import { RwsplitError } from "../errors.js";
import { nativeToken, nativeTokenFromStage1 } from "../protocol/auth/native-password.js";
import { BACKEND_BASE_CAPABILITIES, Capability } from "../protocol/constants/capabilities.js";
import { Command } from "../protocol/constants/commands.js";
import { PacketFramer, packet } from "../protocol/framing.js";
import { decodeAuthSwitchRequest } from "../protocol/packets/auth-switch-request.js";
import { decodeErr, type ErrPacket } from "../protocol/packets/err.js";
import { encodeHandshakeResponse41 } from "../protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../protocol/packets/handshake-v10.js";
import {
  type Captured,
  NOT_DONE,
  ResponseKind,
  ResponseScanner,
  type ScannerListener,
} from "../protocol/response-scanner.js";
import { ReadBuffer } from "./read-buffer.js";

/** Backend connection states (STYLE.md principle 4). */
export const BackendState = {
  CONNECTING: "connecting",
  AUTHENTICATING: "authenticating",
  /** In a pool, no command in flight. */
  IDLE: "idle",
  /** Lent to a client session, no command in flight. */
  LEASED: "leased",
  /** A command's response is being relayed to a client. */
  RELAYING: "relaying",
  /** The proxy's own command (state sync, ping, re-prepare) is in flight. */
  INTERNAL: "internal",
  CLOSED: "closed",
} as const;
export type BackendState = (typeof BackendState)[keyof typeof BackendState];

export interface BackendEndpoint {
  name: string;
  host: string;
  port: number;
}

/** Who logs in: the client's user, with the secret the proxy holds for it. */
export interface BackendCredentials {
  user: string;
  /** Plaintext password, or null when only stage1 (SHA1(password)) is known. */
  password: string | null;
  /** SHA1(password) and SHA1(SHA1(password)) for mysql_native_password without the plaintext. */
  stage1: Buffer | null;
  stage2: Buffer | null;
}

export interface ConnectOptions {
  endpoint: BackendEndpoint;
  credentials: BackendCredentials;
  /** Wire-format flags the client negotiated (WIRE_FORMAT_CAPABILITIES subset). */
  wireFlags: number;
  collation: number;
  schema: string | null;
  connectTimeoutMs: number;
  /** A statement run once after login (session tracking setup). */
  initSql?: string;
}

/** Receives a relayed response. */
export interface RelaySink extends ScannerListener {
  /**
   * Response bytes; `end` is the offset past the response's end, or NOT_DONE. `chunk` is a view
   * of the connection's read buffer, valid only during the call: a sink that keeps it (a write
   * still pending) calls `conn.lendReadBuffer()`, or copies it.
   */
  onRelayData(chunk: Buffer, end: number): void;
  /** The backend connection failed while this sink was attached. */
  onRelayError(err: RwsplitError): void;
}

/** Result of an internal command: the final OK payload or the ERR. */
export interface InternalResult {
  ok: Buffer | null;
  err: ErrPacket | null;
  /** Captured packets by type, for callers that need them (prepare). */
  captured: { type: Captured; payload: Buffer }[];
}

/** A statement prepared on one backend connection. */
export interface ConnectionStatement {
  /** The server's statement id on this connection. */
  id: number;
  numParams: number;
  /** An EXECUTE with the parameter types (new_params_bound_flag=1) went to this connection. */
  typesSent: boolean;
}

let nextLocalId = 1;

/**
 * One TCP connection from the proxy to a MySQL/MariaDB server, logged in as a client's user.
 * It relays response bytes to whichever session leases it (zero-copy: chunks are handed over as
 * received, with the scanner finding where the response ends), and runs the proxy's own small
 * commands (state sync, ping, prepare) in between.
 */
export class BackendConnection implements ScannerListener {
  readonly id = nextLocalId++;
  state: BackendState = BackendState.CONNECTING;
  serverVersion = "";
  /** The server's thread id (for KILL). */
  threadId = 0;
  capabilities = 0;
  readonly scanner: ResponseScanner;
  /** Session state as the server holds it on this connection (kept in sync by the session). */
  readonly vars = new Map<string, string>();
  schema: string | null;
  lastInsertId = 0;
  multiStatements: boolean;
  /** Which session state (owner object + version) this connection was last synced to. */
  syncedOwner: object | null = null;
  syncedVersion = -1;
  /** Prepared statements on this connection, by SQL text → server statement id. */
  readonly statements = new Map<string, ConnectionStatement>();
  lastUsedAt = Date.now();
  lastError: string | null = null;
  /** Called once when the connection closes (pool bookkeeping). */
  onClosed: ((conn: BackendConnection) => void) | null = null;

  private sink: RelaySink | null = null;
  /** The client socket this connection stopped reading for (backpressure), until it drains. */
  private congested: Writable | null = null;
  private readonly onCongestionDrained = (): void => {
    this.congested = null;
    if (this.state !== BackendState.CLOSED) this.socket.resume();
  };
  private internal: {
    resolve: (r: InternalResult) => void;
    reject: (e: unknown) => void;
    result: InternalResult;
  } | null = null;

  private constructor(
    readonly socket: net.Socket,
    private readonly reader: ReadBuffer,
    readonly endpoint: BackendEndpoint,
    readonly user: string,
    readonly wireFlags: number,
    readonly collation: number,
    schema: string | null,
  ) {
    this.schema = schema;
    this.multiStatements = (wireFlags & Capability.MULTI_STATEMENTS) !== 0;
    this.scanner = new ResponseScanner((wireFlags & Capability.DEPRECATE_EOF) !== 0, this);
  }

  get sessionTracking(): boolean {
    return (this.capabilities & Capability.SESSION_TRACK) !== 0;
  }

  static connect(opts: ConnectOptions): Promise<BackendConnection> {
    return new Promise((resolve, reject) => {
      // Login packets are queued in the framer across reads: they are copied out of the read buffer.
      const reader = new ReadBuffer((chunk) => onData(Buffer.from(chunk)));
      const socket = net.connect({
        host: opts.endpoint.host,
        port: opts.endpoint.port,
        onread: reader.onread,
      });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      const conn = new BackendConnection(
        socket,
        reader,
        opts.endpoint,
        opts.credentials.user,
        opts.wireFlags,
        opts.collation,
        opts.schema,
      );
      const framer = new PacketFramer();
      let settled = false;
      const fail = (err: RwsplitError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.lastError = err.message;
        conn.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new RwsplitError(
              "BACKEND_CONNECT_FAILED",
              `${opts.endpoint.name}: no login within ${opts.connectTimeoutMs} ms (pool.connect_timeout)`,
            ),
          ),
        opts.connectTimeoutMs,
      );
      socket.once("error", (e) =>
        fail(new RwsplitError("BACKEND_CONNECT_FAILED", `${opts.endpoint.name}: ${e.message}`, { cause: e })),
      );
      socket.once("close", () =>
        fail(new RwsplitError("BACKEND_CONNECT_FAILED", `${opts.endpoint.name}: closed during login`)),
      );
      let phase: "greeting" | "auth" = "greeting";
      let scramble: Buffer = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        framer.push(chunk);
        try {
          for (let pkt = framer.next(); pkt !== null; pkt = framer.next()) {
            const p = pkt.payload;
            if (phase === "greeting") {
              if (p[0] === 0xff) {
                const e = decodeErr(p);
                return fail(
                  new RwsplitError(
                    "BACKEND_CONNECT_FAILED",
                    `${opts.endpoint.name}: ${e.errno} ${e.message}`,
                  ),
                );
              }
              const hs = decodeHandshakeV10(p);
              conn.serverVersion = hs.serverVersion;
              conn.threadId = hs.connectionId;
              scramble = hs.scramble;
              conn.capabilities = (BACKEND_BASE_CAPABILITIES | opts.wireFlags) & hs.capabilities;
              if (opts.schema === null) conn.capabilities &= ~Capability.CONNECT_WITH_DB;
              conn.scanner.setDeprecateEof((conn.capabilities & Capability.DEPRECATE_EOF) !== 0);
              socket.write(
                encodeHandshakeResponse41(pkt.lastSeq + 1, {
                  capabilities: conn.capabilities,
                  maxPacketSize: 0x40000000,
                  characterSet: opts.collation,
                  username: opts.credentials.user,
                  authResponse: authToken(opts.credentials, scramble),
                  database: opts.schema,
                  authPlugin: "mysql_native_password",
                  attributes: { _client_name: "rwsplit", program_name: "rwsplit" },
                }),
              );
              conn.state = BackendState.AUTHENTICATING;
              phase = "auth";
              continue;
            }
            if (p[0] === 0x00) {
              socket.removeAllListeners("error");
              socket.removeAllListeners("close");
              conn.attach();
              const rest = framer.drain();
              if (rest.length > 0) {
                return fail(
                  new RwsplitError("PROTOCOL_VIOLATION", `${opts.endpoint.name}: bytes after login OK`),
                );
              }
              const done = () => {
                if (settled) return;
                settled = true;
                clearTimeout(timer);
                conn.state = BackendState.IDLE;
                resolve(conn);
              };
              if (opts.initSql === undefined) return done();
              conn.query(opts.initSql).then(
                (r) => {
                  if (r.err) {
                    fail(
                      new RwsplitError("BACKEND_CONNECT_FAILED", `${opts.endpoint.name}: ${r.err.message}`),
                    );
                  } else done();
                },
                (e) => fail(new RwsplitError("BACKEND_CONNECT_FAILED", String(e))),
              );
              return;
            }
            if (p[0] === 0xff) {
              const e = decodeErr(p);
              return fail(
                new RwsplitError(
                  "BACKEND_AUTH_FAILED",
                  `${opts.endpoint.name} refused user '${opts.credentials.user}': ${e.errno} ${e.message}`,
                ),
              );
            }
            if (p[0] === 0xfe) {
              const sw = decodeAuthSwitchRequest(p);
              if (sw.plugin !== "mysql_native_password") {
                return fail(
                  new RwsplitError(
                    "BACKEND_AUTH_FAILED",
                    `${opts.endpoint.name} asks for auth plugin ${sw.plugin}; rwsplit logs in to backends with mysql_native_password`,
                  ),
                );
              }
              socket.write(packet(pkt.lastSeq + 1, authToken(opts.credentials, sw.data.subarray(0, 20))));
              continue;
            }
            return fail(
              new RwsplitError(
                "PROTOCOL_VIOLATION",
                `${opts.endpoint.name}: unexpected packet 0x${p[0]?.toString(16)} during login`,
              ),
            );
          }
        } catch (e) {
          fail(e instanceof RwsplitError ? e : new RwsplitError("PROTOCOL_VIOLATION", String(e)));
        }
      };
    });
  }

  /** Switches from login handling to the command phase handlers. */
  private attach(): void {
    this.reader.onChunk = (chunk) => this.onData(chunk);
    this.socket.on("error", (e) => {
      this.lastError = e.message;
    });
    this.socket.on("close", () => this.onSocketClose());
  }

  private onData(chunk: Buffer): void {
    const sink = this.sink;
    if (sink !== null) {
      const end = this.scanner.scan(chunk);
      if (end !== NOT_DONE && end < chunk.length) {
        this.protocolError(`${chunk.length - end} unexpected bytes after a response`);
        return;
      }
      const ended = end !== NOT_DONE && !this.scanner.awaitingInfile;
      if (ended) this.sink = null;
      sink.onRelayData(chunk, end);
      // The response is complete: nothing more to hold back. A pause taken for its last chunk
      // must not outlive it, or the next response on this connection (whoever leases it) would
      // sit unread in the socket while its client waits (issue #19).
      if (ended) this.endBackpressure();
      return;
    }
    const internal = this.internal;
    if (internal !== null) {
      let end: number;
      try {
        end = this.scanner.scan(chunk);
      } catch (e) {
        this.protocolError(String(e));
        return;
      }
      if (end === NOT_DONE) return;
      this.internal = null;
      this.state = BackendState.LEASED;
      if (end < chunk.length) {
        internal.reject(new RwsplitError("PROTOCOL_VIOLATION", "unexpected bytes after a response"));
        this.destroy();
        return;
      }
      internal.resolve(internal.result);
      return;
    }
    // Unsolicited bytes: the server closing an idle connection sends an ERR first (wait_timeout).
    this.lastError = chunk[4] === 0xff ? decodeErr(chunk.subarray(4)).message : "unsolicited bytes";
    this.destroy();
  }

  onPacket(type: Captured, payload: Buffer, inChunk: boolean): void {
    if (this.sink !== null) {
      this.sink.onPacket(type, payload, inChunk);
      return;
    }
    const internal = this.internal;
    if (internal === null) return;
    // Internal results outlive the chunk: copy what is kept.
    const copy = Buffer.from(payload);
    internal.result.captured.push({ type, payload: copy });
    if (type === 1 /* OK */) internal.result.ok = copy;
    else if (type === 2 /* ERR */) internal.result.err = decodeErr(copy);
  }

  /** Starts relaying the next response to `sink`, then writes the command bytes. */
  relay(kind: ResponseKind, sink: RelaySink, command: Buffer): void {
    this.sink = sink;
    this.state = BackendState.RELAYING;
    this.scanner.begin(kind);
    this.socket.write(command);
  }

  /**
   * The chunk being relayed is still referenced after `onRelayData` returns (a client write that
   * did not complete at once): the next read must not overwrite it.
   */
  lendReadBuffer(): void {
    this.reader.lend();
  }

  /**
   * The client could not take a relayed chunk at once (`write()` returned false): stop reading
   * from the server until `out` drains, so a slow client pauses the backend instead of the proxy
   * buffering the result set. Reading resumes on the drain, or when the response ends, whichever
   * comes first.
   */
  pauseUntilDrained(out: Writable): void {
    if (this.congested !== null || this.state === BackendState.CLOSED) return;
    this.congested = out;
    this.socket.pause();
    out.once("drain", this.onCongestionDrained);
  }

  /** Whether reads are paused for a congested client (for /sessions and the stall watchdog). */
  get paused(): boolean {
    return this.congested !== null;
  }

  private endBackpressure(): void {
    const out = this.congested;
    if (out === null) return;
    this.congested = null;
    out.off("drain", this.onCongestionDrained);
    if (this.state !== BackendState.CLOSED) this.socket.resume();
  }

  /** Forwards client bytes during a LOCAL INFILE transfer; `last` when the empty packet went. */
  forwardInfile(bytes: Buffer, last: boolean, sink: RelaySink): void {
    this.socket.write(bytes);
    if (last) {
      this.sink = sink;
      this.scanner.infileSent();
    }
  }

  /** Runs one command for the proxy itself and collects its OK/ERR. */
  command(payload: Buffer, kind: ResponseKind = ResponseKind.SIMPLE): Promise<InternalResult> {
    if (this.state === BackendState.CLOSED) {
      return Promise.reject(new RwsplitError("BACKEND_LOST", `${this.endpoint.name}: connection closed`));
    }
    return new Promise((resolve, reject) => {
      this.internal = { resolve, reject, result: { ok: null, err: null, captured: [] } };
      this.state = BackendState.INTERNAL;
      this.scanner.begin(kind);
      this.socket.write(packet(0, payload));
    });
  }

  query(sql: string): Promise<InternalResult> {
    const payload = Buffer.allocUnsafe(1 + Buffer.byteLength(sql));
    payload[0] = Command.QUERY;
    payload.write(sql, 1, "utf8");
    return this.command(payload, ResponseKind.RESULTSET);
  }

  ping(): Promise<InternalResult> {
    return this.command(Buffer.from([Command.PING]));
  }

  /** Sends a command that has no response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA). */
  sendNoReply(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  get busy(): boolean {
    return this.sink !== null || this.internal !== null;
  }

  private protocolError(detail: string): void {
    this.lastError = `protocol error: ${detail}`;
    this.destroy();
  }

  destroy(): void {
    if (this.state === BackendState.CLOSED) return;
    this.socket.destroy();
    this.onSocketClose();
  }

  /** Polite close: COM_QUIT then end. */
  quit(): void {
    if (this.state === BackendState.CLOSED) return;
    this.socket.end(packet(0, Buffer.from([Command.QUIT])));
    this.onSocketClose();
  }

  private onSocketClose(): void {
    if (this.state === BackendState.CLOSED) return;
    this.state = BackendState.CLOSED;
    this.endBackpressure();
    const err = new RwsplitError(
      "BACKEND_LOST",
      `${this.endpoint.name} closed the connection${this.lastError ? ` (${this.lastError})` : ""}`,
    );
    const sink = this.sink;
    this.sink = null;
    const internal = this.internal;
    this.internal = null;
    sink?.onRelayError(err);
    internal?.reject(err);
    this.onClosed?.(this);
  }
}

function authToken(c: BackendCredentials, scramble: Buffer): Buffer {
  if (c.password !== null) return nativeToken(c.password, scramble);
  if (c.stage1 !== null && c.stage2 !== null) return nativeTokenFromStage1(c.stage1, c.stage2, scramble);
  return Buffer.alloc(0);
}
