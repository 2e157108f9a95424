import net from "node:net";
import { RwsplitError } from "../errors.js";
import { nativeToken, nativeTokenFromStage1 } from "../protocol/auth/native-password.js";
import {
  BACKEND_BASE_CAPABILITIES,
  Capability,
  MariadbCapability,
  type ServerProtocol,
  serverProtocolOf,
} from "../protocol/constants/capabilities.js";
import { PacketFramer, packet } from "../protocol/framing.js";
import { decodeAuthSwitchRequest } from "../protocol/packets/auth-switch-request.js";
import { decodeErr } from "../protocol/packets/err.js";
import { encodeHandshakeResponse41 } from "../protocol/packets/handshake-response41.js";
import { decodeHandshakeV10 } from "../protocol/packets/handshake-v10.js";
import { BackendConnection, type BackendCredentials, type BackendEndpoint } from "./backend-connection.js";
import { SocketLink } from "./backend-link.js";
import { ReadBuffer } from "./read-buffer.js";

export interface ConnectOptions {
  endpoint: BackendEndpoint;
  credentials: BackendCredentials;
  /** Client flags in the pool key: wire-format ones and login-only ones (session/login.ts). */
  wireFlags: number;
  /**
   * MariaDB extended capabilities the client negotiated (MARIADB_WIRE_FORMAT_CAPABILITIES
   * subset); a server that lacks one of them is refused (its bytes would not be what the
   * client expects). Default 0.
   */
  mariadbFlags?: number;
  collation: number;
  schema: string | null;
  connectTimeoutMs: number;
  /** A statement run once after login (session tracking setup). */
  initSql?: string;
}

/** Opens a backend connection: TCP, HandshakeV10, HandshakeResponse41 as the client's user. */
export type Connector = (opts: ConnectOptions) => Promise<BackendConnection>;

/**
 * The client side of the connection phase toward a MySQL/MariaDB server, with
 * mysql_native_password (from the plaintext or from SHA1(password)), then the optional init SQL.
 */
export const connectBackend: Connector = (opts) =>
  new Promise((resolve, reject) => {
    const { endpoint, credentials } = opts;
    // Login packets are queued in the framer across reads: they are copied out of the read buffer.
    const reader = new ReadBuffer((chunk) => onData(Buffer.from(chunk)));
    const socket = net.connect({ host: endpoint.host, port: endpoint.port, onread: reader.onread });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const framer = new PacketFramer();
    let conn: BackendConnection | null = null;
    let settled = false;
    const fail = (err: RwsplitError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (conn !== null) {
        conn.lastError = err.message;
        conn.destroy();
      } else socket.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new RwsplitError(
            "BACKEND_CONNECT_FAILED",
            `${endpoint.name}: no login within ${opts.connectTimeoutMs} ms (pool.connect_timeout)`,
          ),
        ),
      opts.connectTimeoutMs,
    );
    socket.once("error", (e) =>
      fail(new RwsplitError("BACKEND_CONNECT_FAILED", `${endpoint.name}: ${e.message}`, { cause: e })),
    );
    socket.once("close", () =>
      fail(new RwsplitError("BACKEND_CONNECT_FAILED", `${endpoint.name}: closed during login`)),
    );
    let phase: "greeting" | "auth" = "greeting";
    let serverVersion = "";
    let threadId = 0;
    let capabilities = 0;
    let server: ServerProtocol = { mariadb: false, extended: 0 };
    const mariadbFlags = opts.mariadbFlags ?? 0;
    const onData = (chunk: Buffer) => {
      framer.push(chunk);
      try {
        for (let pkt = framer.next(); pkt !== null; pkt = framer.next()) {
          const p = pkt.payload;
          if (phase === "greeting") {
            if (p[0] === 0xff) {
              const e = decodeErr(p);
              return fail(
                new RwsplitError("BACKEND_CONNECT_FAILED", `${endpoint.name}: ${e.errno} ${e.message}`),
              );
            }
            const hs = decodeHandshakeV10(p);
            serverVersion = hs.serverVersion;
            threadId = hs.connectionId;
            capabilities = (BACKEND_BASE_CAPABILITIES | opts.wireFlags) & hs.capabilities;
            if (opts.schema === null) capabilities &= ~Capability.CONNECT_WITH_DB;
            server = serverProtocolOf(hs.capabilities, hs.mariadbCapabilities);
            if (mariadbFlags !== 0) {
              const missing = mariadbFlags & ~server.extended;
              if (missing !== 0) {
                return fail(
                  new RwsplitError(
                    "BACKEND_CONNECT_FAILED",
                    `${endpoint.name} (${hs.serverVersion}) lacks ${mariadbCapabilityNames(missing)}, which the client negotiated with rwsplit (the primary offers it): run the same MariaDB version on every backend`,
                  ),
                );
              }
              // MariaDB reads the extended capabilities only from a client that clears CLIENT_MYSQL.
              capabilities &= ~Capability.LONG_PASSWORD;
            }
            socket.write(
              encodeHandshakeResponse41(pkt.lastSeq + 1, {
                capabilities,
                mariadbCapabilities: mariadbFlags,
                maxPacketSize: 0x40000000,
                characterSet: opts.collation,
                username: credentials.user,
                authResponse: authToken(credentials, hs.scramble),
                database: opts.schema,
                authPlugin: "mysql_native_password",
                attributes: { _client_name: "rwsplit", program_name: "rwsplit" },
              }),
            );
            phase = "auth";
            continue;
          }
          if (p[0] === 0x00) return loggedIn();
          if (p[0] === 0xff) {
            const e = decodeErr(p);
            return fail(
              new RwsplitError(
                "BACKEND_AUTH_FAILED",
                `${endpoint.name} refused user '${credentials.user}': ${e.errno} ${e.message}`,
              ),
            );
          }
          if (p[0] === 0xfe) {
            const sw = decodeAuthSwitchRequest(p);
            if (sw.plugin !== "mysql_native_password") {
              return fail(
                new RwsplitError(
                  "BACKEND_AUTH_FAILED",
                  `${endpoint.name} asks for auth plugin ${sw.plugin}; rwsplit logs in to backends with mysql_native_password`,
                ),
              );
            }
            socket.write(packet(pkt.lastSeq + 1, authToken(credentials, sw.data.subarray(0, 20))));
            continue;
          }
          return fail(
            new RwsplitError(
              "PROTOCOL_VIOLATION",
              `${endpoint.name}: unexpected packet 0x${p[0]?.toString(16)} during login`,
            ),
          );
        }
      } catch (e) {
        fail(e instanceof RwsplitError ? e : new RwsplitError("PROTOCOL_VIOLATION", String(e)));
      }
    };
    const loggedIn = () => {
      if (framer.drain().length > 0) {
        return fail(new RwsplitError("PROTOCOL_VIOLATION", `${endpoint.name}: bytes after login OK`));
      }
      conn = new BackendConnection(new SocketLink(socket, reader), {
        endpoint,
        user: credentials.user,
        wireFlags: opts.wireFlags,
        mariadbFlags,
        collation: opts.collation,
        schema: opts.schema,
        serverVersion,
        server,
        threadId,
        capabilities,
      });
      const done = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(conn!);
      };
      if (opts.initSql === undefined) return done();
      conn.query(opts.initSql).then(
        (r) => {
          if (r.err) fail(new RwsplitError("BACKEND_CONNECT_FAILED", `${endpoint.name}: ${r.err.message}`));
          else done();
        },
        (e) => fail(new RwsplitError("BACKEND_CONNECT_FAILED", String(e))),
      );
    };
  });

function mariadbCapabilityNames(flags: number): string {
  const names = Object.entries(MariadbCapability)
    .filter(([, bit]) => flags & bit)
    .map(([name]) => `MARIADB_CLIENT_${name}`);
  return names.join(", ");
}

function authToken(c: BackendCredentials, scramble: Buffer): Buffer {
  if (c.password !== null) return nativeToken(c.password, scramble);
  if (c.stage1 !== null && c.stage2 !== null) return nativeTokenFromStage1(c.stage1, c.stage2, scramble);
  return Buffer.alloc(0);
}
