import { RwsplitError } from "../errors.js";
import { Capability, MariadbCapability, type ServerProtocol } from "../protocol/constants/capabilities.js";
import { Command } from "../protocol/constants/commands.js";
import { packet } from "../protocol/framing.js";
import { decodeErr, type ErrPacket } from "../protocol/packets/err.js";
import { decodeTextRow } from "../protocol/packets/text-row.js";
import {
  Captured,
  NOT_DONE,
  ResponseKind,
  ResponseScanner,
  type ScannerListener,
} from "../protocol/response-scanner.js";
import type { BackendLink } from "./backend-link.js";
import type { DrainSource } from "./session/transport.js";
import { StatementCache } from "./statement-cache.js";

/** Backend connection states (STYLE.md principle 4). */
export const BackendState = {
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

/** What the login established (backend-login.ts). */
export interface BackendLoginInfo {
  endpoint: BackendEndpoint;
  user: string;
  /** Client flags in the pool key: wire-format ones and login-only ones (session/login.ts). */
  wireFlags: number;
  /** MariaDB extended capabilities negotiated (MARIADB_WIRE_FORMAT_CAPABILITIES subset). */
  mariadbFlags: number;
  collation: number;
  schema: string | null;
  serverVersion: string;
  /** The server's thread id (for KILL). */
  threadId: number;
  /** Capabilities in force on this connection. */
  capabilities: number;
  /** What the server's greeting said of its protocol (MySQL or MariaDB, extended capabilities). */
  server?: ServerProtocol;
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

/** Bytes sent to a backend (`in`) and received from it (`out`): rwsplit_bytes_total, read at scrape time. */
export interface ByteCounts {
  in: number;
  out: number;
}

let nextLocalId = 1;

/**
 * One logged-in connection from the proxy to a MySQL/MariaDB server, as a client's user. It relays
 * response bytes to whichever session leases it (zero-copy: chunks are handed over as received,
 * with the scanner finding where the response ends), and runs the proxy's own small commands
 * (state sync, ping, prepare) in between. The bytes travel over a BackendLink (a TCP socket, or a
 * script in unit tests); backend-login.ts opens one.
 */
export class BackendConnection implements ScannerListener {
  readonly id = nextLocalId++;
  state: BackendState = BackendState.LEASED;
  readonly endpoint: BackendEndpoint;
  readonly user: string;
  readonly wireFlags: number;
  readonly mariadbFlags: number;
  readonly collation: number;
  /** The session-globals generation of the sessions it serves (pool key; proxy/server-globals.ts). */
  globals = 0;
  readonly serverVersion: string;
  readonly threadId: number;
  readonly capabilities: number;
  /** The server's protocol as its greeting said (null when not known: scripted tests). */
  readonly server: ServerProtocol | null;
  readonly scanner: ResponseScanner;
  /** Session state as the server holds it on this connection (kept in sync by the session). */
  readonly vars = new Map<string, string>();
  schema: string | null;
  /** Its @@collation_database is the global one, not its database's (SessionState's, synced). */
  globalDatabaseCharset = false;
  lastInsertId = 0;
  multiStatements: boolean;
  /** Which session state (owner object + version) this connection was last synced to. */
  syncedOwner: object | null = null;
  syncedVersion = -1;
  /** Prepared statements on this connection, held by client statements or cached (statement-cache.ts). */
  readonly statements = new StatementCache(this);
  lastUsedAt = Date.now();
  /**
   * Times the connection went back to its pool: a session that let it go after its statement
   * finds it untouched (the same count, still idle) for a statement about that one.
   */
  releases = 0;
  /**
   * Idle, but kept until then (ms, wall clock) for the session that let it go, which may ask
   * about its last statement (idle-connections.ts KEPT_FOR_MS); 0: not kept.
   */
  keptUntil = 0;
  lastError: string | null = null;
  /** Plain integers, bumped per chunk; the pool gives all its connections its own object. */
  bytes: ByteCounts = { in: 0, out: 0 };
  /** Called once when the connection closes (pool bookkeeping). */
  onClosed: ((conn: BackendConnection) => void) | null = null;

  private sink: RelaySink | null = null;
  private internal: {
    resolve: (r: InternalResult) => void;
    reject: (e: unknown) => void;
    result: InternalResult;
  } | null = null;
  /** The client this connection stopped reading for (backpressure), until it drains. */
  private congested: DrainSource | null = null;
  private readonly onCongestionDrained = (): void => {
    this.congested = null;
    if (this.state !== BackendState.CLOSED) this.link.resume();
  };

  constructor(
    private readonly link: BackendLink,
    info: BackendLoginInfo,
  ) {
    this.endpoint = info.endpoint;
    this.user = info.user;
    this.wireFlags = info.wireFlags;
    this.mariadbFlags = info.mariadbFlags;
    this.collation = info.collation;
    this.schema = info.schema;
    this.serverVersion = info.serverVersion;
    this.threadId = info.threadId;
    this.capabilities = info.capabilities;
    this.server = info.server ?? null;
    this.multiStatements = (info.wireFlags & Capability.MULTI_STATEMENTS) !== 0;
    this.scanner = new ResponseScanner(
      (info.capabilities & Capability.DEPRECATE_EOF) !== 0,
      this,
      this.cacheMetadata,
    );
    link.attach(
      (chunk) => this.onData(chunk),
      () => this.onLinkClosed(),
    );
  }

  /** MARIADB_CLIENT_CACHE_METADATA: prepared statements' results may skip their column definitions. */
  get cacheMetadata(): boolean {
    return (this.mariadbFlags & MariadbCapability.CACHE_METADATA) !== 0;
  }

  get sessionTracking(): boolean {
    return (this.capabilities & Capability.SESSION_TRACK) !== 0;
  }

  private onData(chunk: Buffer): void {
    this.bytes.out += chunk.length;
    const sink = this.sink;
    if (sink !== null) {
      let end: number;
      try {
        end = this.scanner.scan(chunk);
      } catch (e) {
        this.protocolError(String(e));
        return;
      }
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

  onPacket(type: Captured, buf: Buffer, start: number, end: number, at: number): void {
    if (this.sink !== null) {
      this.sink.onPacket(type, buf, start, end, at);
      return;
    }
    const internal = this.internal;
    if (internal === null) return;
    // Internal results outlive the chunk: copy what is kept.
    const copy = Buffer.from(buf.subarray(start, end));
    internal.result.captured.push({ type, payload: copy });
    if (type === Captured.OK) internal.result.ok = copy;
    else if (type === Captured.ERR) internal.result.err = decodeErr(copy);
  }

  /** Starts relaying the next response to `sink`, then writes the command bytes. */
  relay(kind: ResponseKind, sink: RelaySink, command: Buffer): void {
    // A pause belongs to one response: a new one is read from the start (the end of the last
    // already resumed reading; this holds even if that ever failed).
    this.endBackpressure();
    this.sink = sink;
    this.state = BackendState.RELAYING;
    this.scanner.begin(kind);
    this.bytes.in += command.length;
    this.link.write(command);
  }

  /**
   * The chunk being relayed is still referenced after `onRelayData` returns (a client write that
   * did not complete at once): the next read must not overwrite it.
   */
  lendReadBuffer(): void {
    this.link.lend();
  }

  /**
   * The client could not take a relayed chunk at once (`write()` returned false): stop reading
   * from the server until `out` drains, so a slow client pauses the backend instead of the proxy
   * buffering the result set. Reading resumes on the drain, or when the response ends, whichever
   * comes first.
   */
  pauseUntilDrained(out: DrainSource): void {
    if (this.congested !== null || this.state === BackendState.CLOSED) return;
    this.congested = out;
    this.link.pause();
    out.onceDrained(this.onCongestionDrained);
  }

  /** Whether reads are paused for a congested client (for /sessions and the stall watchdog). */
  get paused(): boolean {
    return this.congested !== null;
  }

  /** Reads again at once (the stall watchdog's remedy; normally a drain or the response's end does it). */
  endBackpressure(): void {
    const out = this.congested;
    if (out === null) return;
    this.congested = null;
    out.offDrained(this.onCongestionDrained);
    if (this.state !== BackendState.CLOSED) this.link.resume();
  }

  /** Forwards client bytes during a LOCAL INFILE transfer; `last` when the empty packet went. */
  forwardInfile(bytes: Buffer, last: boolean, sink: RelaySink): void {
    this.bytes.in += bytes.length;
    this.link.write(bytes);
    if (last) {
      this.sink = sink;
      this.scanner.infileSent();
    }
  }

  /**
   * Runs one command for the proxy itself and collects its OK/ERR (and column definitions, with
   * `captureColumns`).
   */
  command(
    payload: Buffer,
    kind: ResponseKind = ResponseKind.SIMPLE,
    captureColumns = false,
  ): Promise<InternalResult> {
    if (this.state === BackendState.CLOSED) {
      return Promise.reject(new RwsplitError("BACKEND_LOST", `${this.endpoint.name}: connection closed`));
    }
    // The proxy's own commands are never held back for a client.
    this.endBackpressure();
    return new Promise((resolve, reject) => {
      this.internal = { resolve, reject, result: { ok: null, err: null, captured: [] } };
      this.state = BackendState.INTERNAL;
      this.scanner.begin(kind, captureColumns);
      this.bytes.in += payload.length + 4;
      this.link.write(packet(0, payload));
    });
  }

  query(sql: string): Promise<InternalResult> {
    const payload = Buffer.allocUnsafe(1 + Buffer.byteLength(sql));
    payload[0] = Command.QUERY;
    payload.write(sql, 1, "utf8");
    return this.command(payload, ResponseKind.RESULTSET);
  }

  /** The proxy's own small query whose rows it reads (text protocol): each row's values. */
  async queryRows(sql: string): Promise<{ rows: (string | null)[][]; err: ErrPacket | null }> {
    this.scanner.captureRows = true;
    try {
      const r = await this.query(sql);
      const rows = r.captured.filter((c) => c.type === Captured.ROW).map((c) => decodeTextRow(c.payload));
      return { rows, err: r.err };
    } finally {
      this.scanner.captureRows = false;
    }
  }

  ping(): Promise<InternalResult> {
    return this.command(Buffer.from([Command.PING]));
  }

  /** Sends a command that has no response (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA). */
  sendNoReply(bytes: Buffer): void {
    this.bytes.in += bytes.length;
    this.link.write(bytes);
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
    this.link.destroy();
    this.onLinkClosed();
  }

  /** Polite close: COM_QUIT then end. */
  quit(): void {
    if (this.state === BackendState.CLOSED) return;
    this.link.end(packet(0, Buffer.from([Command.QUIT])));
    this.onLinkClosed();
  }

  private onLinkClosed(): void {
    if (this.state === BackendState.CLOSED) return;
    this.state = BackendState.CLOSED;
    this.statements.detach();
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
