import pino from "pino";
import type { Config } from "../../src/config/types.js";
import { nativeToken } from "../../src/protocol/auth/native-password.js";
import {
  ASSUMED_MARIADB,
  Capability,
  type ServerProtocol,
} from "../../src/protocol/constants/capabilities.js";
import { Command } from "../../src/protocol/constants/commands.js";
import type { Packet } from "../../src/protocol/framing.js";
import { decodeErr, type ErrPacket } from "../../src/protocol/packets/err.js";
import { encodeHandshakeResponse41 } from "../../src/protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../../src/protocol/packets/handshake-v10.js";
import { decodeOk, type OkPacket } from "../../src/protocol/packets/ok.js";
import { UserWriteLog } from "../../src/proxy/consistency/user-write-log.js";
import type { ProxyContext, SessionHandle } from "../../src/proxy/context.js";
import { MARIADB_DEFAULTS } from "../../src/proxy/server-defaults.js";
import { ClientSession } from "../../src/proxy/session/client-session.js";
import { Upstreams } from "../../src/proxy/upstreams.js";
import { UserDirectory } from "../../src/proxy/user-directory.js";
import { MemoryTransport } from "./memory-transport.js";
import { testConfig } from "./proxy.js";
import { ScriptedServer } from "./scripted-backend.js";

/** What the data path reported through its hooks. */
export interface Reported {
  statements: { route: string; backend: string; reason: string; errno: number }[];
  clientErrors: number[];
  replicaWritesBlocked: { backend: string; reason: string }[];
  stalls: number;
  /** MASTER_GTID_WAITs before reads (routing.consistency_wait). */
  waits: { backend: string; result: string }[];
}

export interface LoginOptions {
  /** CLIENT_SESSION_TRACK (default on; PyMySQL, mysqli and others leave it off). */
  sessionTrack?: boolean;
  deprecateEof?: boolean;
  multiStatements?: boolean;
  database?: string | null;
  user?: string;
  password?: string;
  /**
   * MariaDB's extended capabilities to ask for (MariadbCapability): the response then clears
   * CLIENT_MYSQL, as MariaDB's connectors do in front of a MariaDB server.
   */
  mariadb?: number;
  /** The compressed protocol: CLIENT_COMPRESS (zlib) or CLIENT_ZSTD_COMPRESSION_ALGORITHM. */
  compress?: "zlib" | "zstd";
  /** CLIENT_IGNORE_SPACE, as mysql2 asks. */
  ignoreSpace?: boolean;
  /** CLIENT_INTERACTIVE, as the mariadb CLI asks on a terminal. */
  interactive?: boolean;
}

/**
 * A ClientSession over memory and scripted backends (a primary and two replicas): the session
 * core and its command handlers run exactly as in production, with no socket and no database.
 */
export class SessionHarness {
  readonly server = new ScriptedServer();
  readonly client = new MemoryTransport();
  readonly reported: Reported = {
    statements: [],
    clientErrors: [],
    replicaWritesBlocked: [],
    stalls: 0,
    waits: [],
  };
  readonly config: Config;
  readonly upstreams: Upstreams;
  readonly ctx: ProxyContext;
  readonly session: ClientSession;
  readonly sessions = new Map<number, SessionHandle>();
  private nextId = 1;
  /** What the primary's greeting said: MariaDB 10.11 unless a test says MySQL (`mysqlPrimary`). */
  readonly serverVersion: string;
  readonly serverProtocol: ServerProtocol;

  constructor(overrides: Partial<Config> = {}, opts: { mysqlPrimary?: boolean } = {}) {
    this.serverVersion = opts.mysqlPrimary ? "8.0.36-scripted" : "10.11.0-MariaDB-scripted";
    this.serverProtocol = opts.mysqlPrimary ? { mariadb: false, extended: 0 } : ASSUMED_MARIADB;
    const at = (port: number) => ({ host: "127.0.0.1", port });
    this.config = testConfig(at(1), [at(2), at(3)], overrides);
    this.upstreams = new Upstreams(this.config, this.server.connector);
    const r = this.reported;
    this.ctx = {
      config: this.config,
      users: new UserDirectory([...this.config.users, { name: "other", password: "other-pass" }]),
      upstreams: this.upstreams,
      tls: null,
      logger: pino({ level: "silent" }),
      hooks: {
        onStatement: (route, backend, reason, _ns, errno) =>
          r.statements.push({ route, backend, reason, errno }),
        onClientError: (errno) => r.clientErrors.push(errno),
        onReplicaWriteBlocked: (backend, reason) => r.replicaWritesBlocked.push({ backend, reason }),
        onRelayStall: () => r.stalls++,
        onConsistencyWait: (backend, result) => r.waits.push({ backend, result }),
      },
      serverVersion: () => this.serverVersion,
      serverProtocol: () => this.serverProtocol,
      serverDefaults: () => MARIADB_DEFAULTS,
      nextConnectionId: () => this.nextId++,
      session: (id) => this.sessions.get(id),
      draining: () => false,
      // routing.consistency: user — shared by every session of this harness, as by a proxy's.
      ...(this.config.routing.consistency === "user"
        ? { userWrites: new UserWriteLog(this.config.routing.consistencyWindowMs) }
        : {}),
    };
    this.session = this.open(this.client);
  }

  /** Another session of the same proxy (KILL tests). */
  open(client: MemoryTransport): ClientSession {
    const s = new ClientSession(client, this.ctx, (closed) => this.sessions.delete(closed.connectionId));
    this.sessions.set(s.connectionId, s);
    return s;
  }

  /** Logs `client` in (this harness's client unless given); resolves with the final packet. */
  async login(o: LoginOptions = {}, client: MemoryTransport = this.client): Promise<Packet> {
    const greeting = decodeHandshakeV10(client.take()[0]!.payload);
    const caps =
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      (o.mariadb === undefined ? Capability.LONG_PASSWORD : 0) |
      Capability.TRANSACTIONS |
      Capability.MULTI_RESULTS |
      Capability.LOCAL_FILES |
      (o.sessionTrack === false ? 0 : Capability.SESSION_TRACK) |
      (o.deprecateEof ? Capability.DEPRECATE_EOF : 0) |
      (o.multiStatements ? Capability.MULTI_STATEMENTS : 0) |
      (o.ignoreSpace ? Capability.IGNORE_SPACE : 0) |
      (o.interactive ? Capability.INTERACTIVE : 0) |
      (o.database === null ? 0 : Capability.CONNECT_WITH_DB) |
      (o.compress === "zlib" ? Capability.COMPRESS : 0) |
      (o.compress === "zstd" ? Capability.ZSTD_COMPRESSION_ALGORITHM : 0);
    const response = encodeHandshakeResponse41(1, {
      capabilities: caps,
      mariadbCapabilities: o.mariadb ?? 0,
      maxPacketSize: 1 << 24,
      characterSet: 45,
      username: o.user ?? "app",
      authResponse: nativeToken(o.password ?? "app-pass", greeting.scramble),
      database: o.database === null ? null : (o.database ?? "app"),
      authPlugin: "mysql_native_password",
      attributes: {},
      ...(o.compress === "zstd" ? { zstdLevel: 5 } : {}),
    });
    client.send(1, response.subarray(4));
    await settle();
    return client.take()[0]!;
  }

  /** Sends a command and waits until the session is idle again; returns what the client got. */
  async command(command: number, body: Buffer | string = Buffer.alloc(0)): Promise<Packet[]> {
    return commandOn(this.client, this.session, command, body);
  }

  query(sql: string): Promise<Packet[]> {
    return this.command(Command.QUERY, sql);
  }

  /** The first column of a one-row text result (our scripted SELECT names its backend). */
  async value(sql: string): Promise<string> {
    return firstValue(sql, await this.query(sql));
  }

  /** Waits until the session has no command in flight. */
  async idle(timeoutMs = 2000): Promise<void> {
    return idleOf(this.session, timeoutMs);
  }

  /** Another client connection to the same proxy (same backends, same per-user records), logged in. */
  async connect(o: LoginOptions = {}): Promise<HarnessClient> {
    const client = new MemoryTransport();
    const session = this.open(client);
    const ok = await this.login(o, client);
    if (ok.payload[0] !== 0x00) throw new Error("login failed");
    const query = (sql: string) => commandOn(client, session, Command.QUERY, sql);
    return {
      session,
      query,
      value: async (sql) => firstValue(sql, await query(sql)),
      close: () => session.close(),
    };
  }
}

/** A further client connection of a harness (`connect()`). */
export interface HarnessClient {
  session: ClientSession;
  query(sql: string): Promise<Packet[]>;
  value(sql: string): Promise<string>;
  close(): void;
}

async function commandOn(
  client: MemoryTransport,
  session: ClientSession,
  command: number,
  body: Buffer | string,
): Promise<Packet[]> {
  client.command(command, body);
  await idleOf(session, 2000);
  return client.take();
}

function firstValue(sql: string, packets: readonly Packet[]): string {
  const err = errOf(packets);
  if (err !== null) throw new Error(`${sql}: ${err.errno} ${err.message}`);
  return textValue(packets);
}

async function idleOf(session: ClientSession, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await settle();
  while (session.phase === "busy" || session.phase === "infile") {
    if (Date.now() > deadline) throw new Error(`session still ${session.phase} after ${timeoutMs} ms`);
    await settle();
  }
}

/** Lets replies that were scheduled (setImmediate) arrive and be relayed. */
/**
 * A COM_CHANGE_USER body (without the command byte) for `session`'s client: `user` with
 * `password` (mysql_native_password, answering the scramble of the session's greeting), into
 * database `app`, collation 45.
 */
export function changeUserBody(session: ClientSession, user: string, password: string): Buffer {
  const scramble = (session.auth as unknown as { scramble(): Buffer }).scramble();
  const token = nativeToken(password, scramble);
  return Buffer.concat([
    Buffer.from(`${user}\0`),
    Buffer.from([token.length]),
    token,
    Buffer.from("app\0"),
    Buffer.from([45, 0]),
    Buffer.from("mysql_native_password\0"),
  ]);
}

export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export function errOf(packets: readonly Packet[]): ErrPacket | null {
  const first = packets[0];
  return first !== undefined && first.payload[0] === 0xff ? decodeErr(first.payload) : null;
}

export function okOf(packets: readonly Packet[], capabilities = Capability.SESSION_TRACK): OkPacket | null {
  const first = packets[0];
  return first !== undefined && first.payload[0] === 0x00 ? decodeOk(first.payload, capabilities) : null;
}

/** The value of a one-column, one-row text result: column count, definition, EOF, row, EOF. */
export function textValue(packets: readonly Packet[]): string {
  const row = packets.find(
    (p, i) => i >= 2 && p.payload[0] !== 0xfe && p.payload[0] !== 0xff && p.payload[0]! < 0xfb,
  );
  if (row === undefined) throw new Error("no row in the result");
  return row.payload.toString("utf8", 1, 1 + row.payload[0]!);
}
